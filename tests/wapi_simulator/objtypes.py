"""Object type schemas: which fields exist, how they are validated, searched and returned.

Flags per field (a string of letters):
  r readable (may appear in _return_fields)      b basic (returned without _return_fields)
  w writable on create (POST)                    u updatable (PUT); w without u -> "not allowed for update"
  s searchable (GET field=value)                 q required on create
  = not updatable, but a PUT may repeat the current value
A field with only ``s`` (like record ``zone``) is search-only for writes.
"""
import ipaddress
import re

from . import errors

DNS_RECORD_TYPES = ("record:a", "record:aaaa", "record:cname", "record:txt", "record:srv", "record:host",
                    "record:alias")
SHARED_TYPES = ("sharedrecordgroup", "sharedrecord:cname")
ALIAS_TARGET_TYPES = ("A", "AAAA", "MX", "NAPTR", "PTR", "SPF", "SRV", "TXT")
RESTART_STATUS = ("CONFIG_ERROR", "DISABLED", "NO", "NO_PERMISSION", "NO_REQUEST", "OFFLINE", "REQUESTING",
                  "RESTART_PENDING", "YES")
NAME_RE = re.compile(r"^[a-z0-9_*]([a-z0-9_\-*]*[a-z0-9_*])?$")


class Field:
    """One field of an object type.

    ``wtype``/``array``/``search``/``doc`` only feed the ``_schema`` answer (schema.py): the WAPI
    type name(s), whether the value is a list, the search modifiers NIOS lists in
    ``searchable_by`` and the field's documentation (``_get_doc=1``). Left out, they are derived
    from the normalizer.
    """

    def __init__(self, normalize, flags, default=None, wtype=None, array=None, search=None, doc=None,
                 struct=None):
        self.normalize = normalize
        self.flags = set(flags)
        self.default = default
        self.wtype = wtype
        self.array = array
        self.search = search
        self.doc = doc
        self.struct = struct  # sub-field schema of a struct field (schema.py, _schema_version=2)

    def has(self, flag):
        return flag in self.flags


# ---------------------------------------------------------------- normalizers (write values)

def norm_dns_name(field, value):
    """FQDN without trailing dot, lower-case (NIOS stores and returns names that way)."""
    if not isinstance(value, str) or not value.strip().rstrip("."):
        raise errors.invalid_value(field, value, "a non-empty domain name is required")
    name = value.strip().rstrip(".").lower()
    for label in name.split("."):
        if not label or len(label) > 63 or not NAME_RE.match(label):
            raise errors.invalid_value(field, value, "invalid domain name")
    return name


def norm_zone_fqdn(field, value):
    """Forward zones are domain names; reverse zones may be given as a CIDR (e.g. 10.0.0.0/24)."""
    if isinstance(value, str) and "/" in value:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise errors.invalid_value(field, value, "invalid network")
    return norm_dns_name(field, value)


def norm_dns_names(field, value):
    if not isinstance(value, list):
        raise errors.invalid_value(field, value, "expected a list")
    return [norm_dns_name(field, item) for item in value]


def norm_zone_associations(field, value):
    """sharedrecordgroup zone_associations: zone names (WAPI 2.12) or {fqdn, view} (NIOS 9.0.6+),
    stored as {fqdn, view} (view "default" when not given)."""
    if not isinstance(value, list):
        raise errors.invalid_value(field, value, "expected a list")
    result = []
    for item in value:
        if isinstance(item, dict):
            if "fqdn" not in item:
                raise errors.invalid_value(field, item, "each item needs fqdn")
            zone = {"fqdn": norm_zone_fqdn(field, item["fqdn"]), "view": norm_string(field, item.get("view", "default"))}
        else:
            zone = {"fqdn": norm_zone_fqdn(field, item), "view": "default"}
        if zone not in result:
            result.append(zone)
    return result


def norm_ipv4(field, value):
    try:
        return str(ipaddress.IPv4Address(value))
    except (ValueError, TypeError):
        raise errors.invalid_value(field, value, "invalid IPv4 address")


def norm_ipv6(field, value):
    try:
        return ipaddress.IPv6Address(value).compressed
    except (ValueError, TypeError):
        raise errors.invalid_value(field, value, "invalid IPv6 address")


def _uint(bits):
    def norm(field, value):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2 ** bits:
            raise errors.invalid_value(field, value, "expected an unsigned %d-bit integer" % bits)
        return value
    return norm


def norm_bool(field, value):
    if not isinstance(value, bool):
        raise errors.invalid_value(field, value, "expected a boolean")
    return value


def norm_string(field, value):
    if not isinstance(value, str):
        raise errors.invalid_value(field, value, "expected a string")
    if field == "comment" and len(value) > 256:
        raise errors.invalid_value(field, value, "maximum 256 characters")
    return value


def norm_any(field, value):
    return value


def norm_list(field, value):
    if not isinstance(value, list):
        raise errors.invalid_value(field, value, "expected a list")
    return value


def _enum(*choices):
    def norm(field, value):
        if value not in choices:
            raise errors.invalid_value(field, value, "expected one of %s" % ", ".join(choices))
        return value
    norm.choices = choices
    return norm


def norm_host_addrs(family):
    """record:host ipv4addrs/ipv6addrs: list of structs with at least the address."""
    key = "ipv4addr" if family == 4 else "ipv6addr"
    norm_addr = norm_ipv4 if family == 4 else norm_ipv6

    def norm(field, value):
        if not isinstance(value, list):
            raise errors.invalid_value(field, value, "expected a list")
        result = []
        for item in value:
            if not isinstance(item, dict) or key not in item:
                raise errors.invalid_value(field, item, "each item needs %s" % key)
            clean = {k: v for k, v in item.items() if k not in ("_ref", "host")}
            clean[key] = norm_addr(key, item[key])
            clean.setdefault("configure_for_dhcp", False)
            result.append(clean)
        return result
    return norm


uint16 = _uint(16)
uint32 = _uint(32)


# ---------------------------------------------------------------- schemas

def _record_common():
    return {
        "name": Field(norm_dns_name, "rwusbq"),
        "view": Field(norm_string, "rwsb", default="default", search="="),
        "ttl": Field(uint32, "rwu"),
        "use_ttl": Field(norm_bool, "rwu", default=False),
        "comment": Field(norm_string, "rwus"),
        "extattrs": Field(norm_any, "rwu", default={}, wtype="extattr"),
        "disable": Field(norm_bool, "rwu", default=False),
        "creator": Field(_enum("STATIC", "DYNAMIC", "SYSTEM"), "rwus", default="STATIC"),
        "zone": Field(norm_dns_name, "rs", search="="),
        "creation_time": Field(norm_any, "r", wtype="timestamp"),
        "dns_name": Field(norm_any, "r", wtype="string"),
        "ddns_protected": Field(norm_bool, "rwu", default=False),
        "forbid_reclamation": Field(norm_bool, "rwu", default=False),
        "ddns_principal": Field(norm_string, "rwus"),
        "reclaimable": Field(norm_bool, "rs", default=False),
    }


def _alias_record():
    fields = _record_common()
    for name in ("ddns_protected", "forbid_reclamation", "ddns_principal", "reclaimable", "creation_time"):
        del fields[name]
    fields.update(
        target_name=Field(norm_dns_name, "rwusbq"),
        target_type=Field(_enum(*ALIAS_TARGET_TYPES), "rwusbq"),
        dns_target_name=Field(norm_any, "r", wtype="string"),
    )
    return fields


def _with(base, **extra):
    base.update(extra)
    return base


SCHEMAS = {
    "record:a": _with(_record_common(), ipv4addr=Field(norm_ipv4, "rwusbq", search="=~")),
    "record:aaaa": _with(_record_common(), ipv6addr=Field(norm_ipv6, "rwusbq", search="=~")),
    "record:cname": _with(_record_common(), canonical=Field(norm_dns_name, "rwusbq")),
    "record:txt": _with(_record_common(), text=Field(norm_string, "rwusbq")),
    "record:srv": _with(
        _record_common(),
        port=Field(uint16, "rwusbq"), priority=Field(uint16, "rwusbq"),
        weight=Field(uint16, "rwusbq"), target=Field(norm_dns_name, "rwusbq"),
    ),
    "record:host": _with(
        _record_common(),
        ipv4addrs=Field(norm_host_addrs(4), "rwub", default=[], wtype="record:host_ipv4addr", array=True,
                        struct="ipv4"),
        ipv6addrs=Field(norm_host_addrs(6), "rwub", default=[], wtype="record:host_ipv6addr", array=True,
                        struct="ipv6"),
        # search-only helpers: any of the host's addresses
        ipv4addr=Field(norm_ipv4, "s"), ipv6addr=Field(norm_ipv6, "s"),
        configure_for_dns=Field(norm_bool, "rwu", default=True),
        # served as CNAMEs: the CNAME rules apply to each alias (engine._check_cname_rules)
        aliases=Field(norm_dns_names, "rwu", default=[], wtype="string", array=True),
        mac=Field(norm_string, "s"),
        network_view=Field(norm_string, "rws", default="default"),
        device_description=Field(norm_string, "rwus"), device_location=Field(norm_string, "rwus"),
        device_type=Field(norm_string, "rwus"), device_vendor=Field(norm_string, "rwus"),
    ),
    # ALIAS record (fields: wapidoc record:alias as the NIOS Terraform provider documents them)
    "record:alias": _alias_record(),
    # Shared records: a group's records appear in every zone associated with the group.
    "sharedrecordgroup": {
        "name": Field(norm_string, "rwusbq", search="=~:"),
        "comment": Field(norm_string, "rwusb"),
        "zone_associations": Field(norm_zone_associations, "rwu", default=[], wtype="string", array=True),
        "extattrs": Field(norm_any, "rwu", default={}, wtype="extattr"),
        "record_name_policy": Field(norm_string, "rwu"),
        "use_record_name_policy": Field(norm_bool, "rwu", default=False),
    },
    "sharedrecord:cname": {
        "name": Field(norm_dns_name, "rwusbq"),  # relative to each associated zone
        "canonical": Field(norm_dns_name, "rwusbq"),
        "shared_record_group": Field(norm_string, "rwusbq", search="="),
        "ttl": Field(uint32, "rwu"),
        "use_ttl": Field(norm_bool, "rwu", default=False),
        "comment": Field(norm_string, "rwus"),
        "extattrs": Field(norm_any, "rwu", default={}, wtype="extattr"),
        "disable": Field(norm_bool, "rwu", default=False),
        "dns_name": Field(norm_any, "r", wtype="string"),
        "dns_canonical": Field(norm_any, "r", wtype="string"),
    },
    "zone_auth": {
        "fqdn": Field(norm_zone_fqdn, "rwsbq"),
        # "=": may be re-sent unchanged on PUT (nios_zone does so on every update) but not changed
        "view": Field(norm_string, "rwsb=", default="default", search="="),
        "zone_format": Field(_enum("FORWARD", "IPV4", "IPV6"), "rws", default="FORWARD"),
        "comment": Field(norm_string, "rwus"),
        "extattrs": Field(norm_any, "rwu", default={}, wtype="extattr"),
        "disable": Field(norm_bool, "rwu", default=False),
        "grid_primary": Field(norm_list, "rwu", default=[], wtype="memberserver"),
        "grid_secondaries": Field(norm_list, "rwu", default=[], wtype="memberserver"),
        "ns_group": Field(norm_string, "rwus"),
        "soa_default_ttl": Field(uint32, "rwu", default=28800),
        "prefix": Field(norm_string, "rwu"),  # RFC 2317 prefix of classless reverse zones
        "parent": Field(norm_dns_name, "rs", search="="),  # computed (query.field_value)
        # write-only in NIOS: accepted on POST/PUT, never returned
        "restart_if_needed": Field(norm_bool, "wu"),
    },
    "view": {
        "name": Field(norm_string, "rwusbq"),
        "comment": Field(norm_string, "rwusb"),
        "is_default": Field(norm_bool, "rsb", default=False),
        "network_view": Field(norm_string, "rws", default="default"),
        "extattrs": Field(norm_any, "rwu", default={}, wtype="extattr"),
    },
    "extensibleattributedef": {
        "name": Field(norm_string, "rwusbq"),
        "type": Field(_enum("STRING", "INTEGER", "ENUM", "EMAIL", "URL", "DATE"), "rwsbq"),
        "comment": Field(norm_string, "rwusb"),
        "default_value": Field(norm_any, "rwub"),
        "flags": Field(norm_string, "rwu"),
        "list_values": Field(norm_list, "rwu", wtype="extensibleattributedef:listvalues"),
        "allowed_object_types": Field(norm_list, "rwu"),
        "min": Field(norm_any, "rwu"),
        "max": Field(norm_any, "rwu"),
        "namespace": Field(norm_string, "rs", default="default"),
    },
    "grid": {
        "name": Field(norm_string, "rus", default="Infoblox"),
    },
    # One per grid member (the simulated grid has one); read-only. Field names and enum values:
    # wapidoc restartservicestatus as mirrored by the BAMCIS InfobloxGrid SDK. Values: engine.py.
    "restartservicestatus": {
        "member": Field(norm_string, "rsb", search="="),
        "dns_status": Field(_enum(*RESTART_STATUS), "rb"),
        "dhcp_status": Field(_enum(*RESTART_STATUS), "rb"),
        "reporting_status": Field(_enum(*RESTART_STATUS), "rb"),
    },
}

# Fields that identify a record: two records with equal identity conflict.
IDENTITY = {
    "record:a": ("name", "ipv4addr"),
    "record:aaaa": ("name", "ipv6addr"),
    "record:cname": ("name",),
    "record:txt": ("name", "text"),
    "record:srv": ("name", "priority", "weight", "port", "target"),
    "record:host": ("name",),
    "record:alias": ("name", "target_name", "target_type"),
    "sharedrecordgroup": ("name",),
    "sharedrecord:cname": ("name", "shared_record_group"),
    "zone_auth": ("fqdn",),
    "view": ("name",),
    "extensibleattributedef": ("name",),
}

# Ref layout: <type>/<opaque>:<suffix fields joined by '/'> (NIOS style).
REF_SUFFIX = {
    "zone_auth": ("fqdn", "view"),
    "view": ("name", "is_default"),
    "extensibleattributedef": ("name",),
    "grid": ("name",),
    "restartservicestatus": ("member",),
    "sharedrecordgroup": ("name",),
    "sharedrecord:cname": ("name", "shared_record_group"),
}
# Internal key prefix that the base64 opaque part decodes to (mimics NIOS, e.g. dns.bind_a$...).
OPAQUE_PREFIX = {
    "record:a": "dns.bind_a", "record:aaaa": "dns.bind_aaaa", "record:cname": "dns.bind_cname",
    "record:txt": "dns.bind_txt", "record:srv": "dns.bind_srv", "record:host": "dns.host",
    "zone_auth": "dns.zone", "view": "dns.view", "extensibleattributedef": "extensible_attributes_def",
    "grid": "one.cluster", "restartservicestatus": "one.member_restart_status",
    "record:alias": "dns.alias_record", "sharedrecordgroup": "dns.srg", "sharedrecord:cname": "dns.srg_bind_cname",
}
# Types a client may create/delete (grid and the default view are fixed).
CREATABLE = set(SCHEMAS) - {"grid", "restartservicestatus"}
NAME_FIELDS = {"zone_auth": "fqdn", "restartservicestatus": "member"}


def schema(objtype):
    try:
        return SCHEMAS[objtype]
    except KeyError:
        raise errors.unknown_object_type(objtype)


def is_record(objtype):
    return objtype in DNS_RECORD_TYPES


def name_field(objtype):
    return NAME_FIELDS.get(objtype, "name")


def has_view(objtype):
    """Objects of the type live in a DNS view (records, zones), as opposed to global ones."""
    return "view" in SCHEMAS[objtype]


def basic_fields(objtype):
    return [f for f, spec in SCHEMAS[objtype].items() if spec.has("b")]


def normalize_search_value(objtype, field, value):
    """Normalize an exact-match search value like the stored value (names lower-case, etc.)."""
    spec = SCHEMAS[objtype].get(field)
    if spec is None or spec.normalize in (norm_any, norm_string, norm_bool, norm_list):
        return value
    if spec.normalize in (uint16, uint32):
        return value
    try:
        return spec.normalize(field, value)
    except errors.WapiError:
        return value
