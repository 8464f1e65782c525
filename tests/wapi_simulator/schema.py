"""``_schema``: the WAPI's description of itself, derived from the field flags in objtypes.py.

``GET /wapi/vX/?_schema`` ->
    {"requested_version": "X", "supported_objects": [...], "supported_versions": [...]}
    (plus ``"schema_version": "2"`` when ``_schema_version=2`` is given).
``GET /wapi/vX/<objtype>?_schema`` ->
    {"cloud_additional_restrictions": [], "fields": [...], "restrictions": [...],
     "type": objtype, "version": "X"}
    each field {"is_array", "name", "standard_field", "supports", "type": [...]} plus
    "searchable_by" (searchable fields), "enum_values" (enums), "overridden_by" (fields with a
    ``use_`` flag) and, with ``_get_doc=1``, "doc".
    ``_schema_version=2`` adds ``"wapi_primitive": "struct"`` + the struct's ``"schema"`` to struct
    fields, and the object's functions as fields with ``"wapi_primitive": "funccall"``;
    ``_schema_searchable=1`` (with version 2) also lists search-only fields (supports "s").

Sources: the Infoblox blog post "WAPI Schema Fetching" (the parameters and the root answer),
Posh-IBWAPI Get-IBSchema (the keys it reads, ``supports`` letters, ``searchable_by`` modifiers,
functions in ``fields`` with version 2), Get-NIOSSchema output (dtc:lbdn example), clients that
read it: ibx-sdk ``Gift.max_wapi_ver``/``object_fields`` (``supported_versions``, fields whose
``supports`` contains "r"), octoblox (``supported_versions``, ``supported_objects``).
"""
from . import errors, objtypes

# WAPI versions a NIOS 8.6 grid lists (WAPI 2.12.x). The 1.x/2.x prefix is documented; the exact
# list of point releases is [unverified]. Any version 1.0 <= v < 3.0 is *accepted* (server.py).
SUPPORTED_VERSIONS = [
    "1.0", "1.1", "1.2", "1.2.1", "1.3", "1.4", "1.4.1", "1.4.2", "1.5", "1.6", "1.6.1", "1.7",
    "1.7.1", "1.7.2", "1.7.3", "1.7.4", "1.7.5", "2.0", "2.1", "2.1.1", "2.1.2", "2.2", "2.2.1",
    "2.2.2", "2.3", "2.3.1", "2.4", "2.5", "2.6", "2.6.1", "2.7", "2.7.1", "2.7.2", "2.7.3", "2.8",
    "2.9", "2.9.1", "2.9.5", "2.9.7", "2.10", "2.10.1", "2.10.2", "2.10.3", "2.10.5", "2.11",
    "2.11.1", "2.11.2", "2.11.3", "2.11.5", "2.12", "2.12.1", "2.12.2", "2.12.3",
]
SCHEMA_VERSION_2 = "2"

DOCS = {
    "name": "The name of the object in FQDN format.",
    "view": "The name of the DNS view in which the object resides.",
    "ttl": "The Time To Live (TTL) value for the record, in seconds.",
    "use_ttl": "Use flag for: ttl",
    "comment": "Comment for the object; maximum 256 characters.",
    "extattrs": "Extensible attributes associated with the object.",
    "disable": "Determines if the object is disabled or not. False means that it is enabled.",
    "zone": "The name of the zone in which the record resides.",
    "creator": "The record creator.",
    "creation_time": "The time of the record creation in Epoch seconds format.",
    "dns_name": "The name for the record in punycode format.",
    "ipv4addr": "The IPv4 Address of the record.",
    "ipv6addr": "The IPv6 Address of the record.",
    "canonical": "Canonical name in FQDN format.",
    "text": "Text associated with the record.",
    "fqdn": "The name of this DNS zone.",
    "target_name": "Target name in FQDN format.",
    "target_type": "Target type.",
}

# Sub-fields of struct fields (_schema_version=2 "schema": {"fields": [...]})
STRUCTS = {
    "ipv4": [("ipv4addr", "string", "rwu"), ("configure_for_dhcp", "bool", "rwu"), ("mac", "string", "rwu"),
             ("host", "string", "r")],
    "ipv6": [("ipv6addr", "string", "rwu"), ("configure_for_dhcp", "bool", "rwu"), ("duid", "string", "rwu"),
             ("host", "string", "r")],
}

# Functions per object type (_schema_version=2, "wapi_primitive": "funccall")
FUNCTIONS = {
    "grid": [
        ("restartservices", "gridrestartservices", [
            ("restart_option", "enum", ("RESTART_IF_NEEDED", "FORCE_RESTART"), False),
            ("services", "enum", ("ALL", "DNS", "DHCP", "DHCPV4", "DHCPV6"), True),
            ("mode", "enum", ("GROUPED", "SEQUENTIAL", "SIMULTANEOUS"), False),
            ("members", "string", None, True),
            ("groups", "string", None, True),
        ]),
        ("requestrestartservicestatus", "requestrestartservicestatus", [
            ("service_option", "enum", ("ALL", "DNS", "DHCP", "DHCPV4", "DHCPV6"), False),
        ]),
    ],
}


def supported_objects():
    """Object types served, plus ``request`` (POST only; no object schema)."""
    return sorted(list(objtypes.SCHEMAS) + ["request"])


def root_schema(version, args):
    result = {"requested_version": version, "supported_objects": supported_objects(),
              "supported_versions": list(SUPPORTED_VERSIONS)}
    if _schema_version(args) == 2:
        result["schema_version"] = SCHEMA_VERSION_2
    return result


def object_schema(objtype, version, args):
    schema = objtypes.schema(objtype)
    v2 = _schema_version(args) == 2
    with_doc = v2 and _flag(args, "_get_doc")  # "applicable only when _schema_version is 2"
    search_only = v2 and _flag(args, "_schema_searchable")
    fields = []
    for name, spec in schema.items():
        if not (spec.flags & set("rwu")) and not search_only:
            continue  # search-only fields are listed only with _schema_searchable=1
        fields.append(_field(objtype, name, spec, schema, v2, with_doc))
    if v2:
        fields.extend(_function(name, wtype, inputs, with_doc) for name, wtype, inputs in FUNCTIONS.get(objtype, ()))
    return {
        "cloud_additional_restrictions": [],
        "fields": fields,
        "restrictions": restrictions(objtype),
        "type": objtype,
        "version": version,
    }


def restrictions(objtype):
    """Operations the type does not support (NIOS also lists e.g. "csv", "scheduling": not modelled)."""
    result = []
    if objtype not in objtypes.CREATABLE:
        result += ["create", "delete"]
    if not any(spec.has("u") for spec in objtypes.SCHEMAS[objtype].values()):
        result.append("update")
    return result


def supports(spec):
    return "".join(letter for letter in "rwus" if spec.has(letter))


def field_type(spec):
    """(WAPI type list, is_array, enum values or None) of a field."""
    norm = spec.normalize
    choices = getattr(norm, "choices", None)
    if spec.wtype:
        wtype = spec.wtype
    elif choices:
        wtype = "enum"
    elif norm is objtypes.norm_bool:
        wtype = "bool"
    elif norm in (objtypes.uint16, objtypes.uint32):
        wtype = "uint"
    else:
        wtype = "string"
    array = spec.array if spec.array is not None else norm is objtypes.norm_list or wtype == "memberserver"
    return [wtype], bool(array), list(choices) if choices else None


def searchable_by(spec):
    if not spec.has("s"):
        return None
    if spec.search is not None:
        return spec.search
    wtype, _array, choices = field_type(spec)
    if choices or wtype == ["bool"]:
        return "="
    if wtype == ["uint"]:
        return "<=>"
    return ":=~"


def _field(objtype, name, spec, schema, v2, with_doc):
    wtype, array, choices = field_type(spec)
    out = {"is_array": array, "name": name, "standard_field": spec.has("b"), "supports": supports(spec),
           "type": wtype}
    search = searchable_by(spec)
    if search:
        out["searchable_by"] = search
    if choices:
        out["enum_values"] = choices
    if "use_%s" % name in schema:
        out["overridden_by"] = "use_%s" % name
    if with_doc:
        out["doc"] = spec.doc or DOCS.get(name) or "The %s of the %s object." % (name.replace("_", " "), objtype)
    if v2 and spec.struct:
        out["wapi_primitive"] = "struct"
        out["schema"] = {"fields": [_sub_field(n, t, s) for n, t, s in STRUCTS[spec.struct]]}
    return out


def _sub_field(name, wtype, letters):
    return {"is_array": False, "name": name, "supports": letters, "type": [wtype]}


def _function(name, wtype, inputs, with_doc):
    fields = []
    for field, ftype, choices, array in inputs:
        item = {"is_array": array, "name": field, "supports": "w", "type": [ftype]}
        if choices:
            item["enum_values"] = list(choices)
        fields.append(item)
    out = {"is_array": False, "name": name, "schema": {"input_fields": fields, "output_fields": []},
           "standard_field": False, "supports": "rwu", "type": [wtype], "wapi_primitive": "funccall"}
    if with_doc:
        out["doc"] = "The %s function." % name
    return out


def _schema_version(args):
    raw = (args.get("_schema_version") or ["1"])[-1]
    try:
        value = int(raw)
    except ValueError:
        raise errors.invalid_value("_schema_version", raw)
    if value not in (1, 2):
        raise errors.invalid_value("_schema_version", raw, "expected 1 or 2")
    return value


def _flag(args, name):
    return str((args.get(name) or ["0"])[-1]).lower() in ("1", "true", "yes")
