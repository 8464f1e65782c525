"""Search arguments, return fields and rendering of objects as WAPI returns them."""
import copy
import re

from . import errors, objtypes

# Arguments with a leading underscore that the simulator understands (anything else -> 400).
CONTROL_ARGS = {
    "_return_fields", "_return_fields+", "_max_results", "_paging", "_return_as_object",
    "_return_type", "_proxy_search", "_page_id", "_function", "_inheritance", "_schema",
    "_schema_version", "_get_doc", "_schema_searchable",
}
MODIFIERS = "~:!<>"
DEFAULT_MAX_RESULTS = -1000


class Criterion:
    """One ``field[modifiers]=value`` search argument (``*Name`` for an extensible attribute)."""

    def __init__(self, key, value):
        field = key.rstrip(MODIFIERS)
        self.mods = set(key[len(field):])
        self.is_ea = field.startswith("*")
        self.field = field[1:] if self.is_ea else field
        self.value = value
        self.regex = None
        if "~" in self.mods:
            try:
                self.regex = re.compile(value, re.IGNORECASE if ":" in self.mods else 0)
            except re.error as exc:
                raise errors.proto_error("Invalid regular expression %r: %s" % (value, exc))

    @property
    def exact(self):
        return not self.mods and not self.is_ea

    def matches(self, stored):
        """True if the stored value (scalar, list, or None when unset) satisfies the criterion."""
        values = stored if isinstance(stored, list) else ([] if stored is None else [stored])
        hit = any(self._one(v) for v in values)
        return not hit if "!" in self.mods else hit

    def _one(self, stored):
        if self.regex is not None:
            return self.regex.search(_as_text(stored)) is not None
        if "<" in self.mods or ">" in self.mods:
            return _compare(stored, self.value, "<" in self.mods)
        if ":" in self.mods:
            return _as_text(stored).lower() == self.value.lower()
        return _as_text(stored) == self.value


def _as_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _compare(stored, wanted, less_or_equal):
    """NIOS ``<``/``>`` modifiers are less-or-equal / greater-or-equal."""
    try:
        left, right = float(stored), float(wanted)
    except (TypeError, ValueError):
        left, right = _as_text(stored), wanted
    return left <= right if less_or_equal else left >= right


def parse_search(objtype, args):
    """Split args into search criteria (validated against the schema) and control args."""
    schema = objtypes.schema(objtype)
    criteria, control = [], {}
    for key, values in args.items():
        if key.startswith("_"):
            if key not in CONTROL_ARGS:
                raise errors.unknown_field(key)
            control[key] = values[-1]
            continue
        for value in values:
            crit = Criterion(key, value)
            if not crit.is_ea:
                spec = schema.get(crit.field)
                if spec is None:
                    raise errors.unknown_field(crit.field)
                if not spec.has("s"):
                    raise errors.not_searchable(crit.field)
                if crit.exact:
                    crit.value = objtypes.normalize_search_value(objtype, crit.field, value)
            criteria.append(crit)
    return criteria, control


def return_fields(objtype, control):
    """Fields to render: basic fields, replaced by _return_fields or extended by _return_fields+."""
    schema = objtypes.schema(objtype)
    fields = objtypes.basic_fields(objtype)
    if "_return_fields" in control:
        fields = []
        extra = control["_return_fields"]
    else:
        extra = control.get("_return_fields+", "")
    for item in [f.strip() for f in extra.split(",") if f.strip()]:
        base = item.split(".", 1)[0]  # "ipv4addrs.ipv4addr" -> the whole ipv4addrs struct
        spec = schema.get(base)
        if spec is None or not spec.has("r"):
            raise errors.unknown_field(item)
        if base not in fields:
            fields.append(base)
    return fields


def max_results(control):
    raw = control.get("_max_results")
    if raw is None:
        return DEFAULT_MAX_RESULTS
    try:
        value = int(raw)
    except ValueError:
        raise errors.invalid_value("_max_results", raw)
    if value == 0:
        raise errors.invalid_value("_max_results", raw, "must not be 0")
    return value


def flag(control, name):
    return str(control.get(name, "0")).lower() in ("1", "true", "yes")


def render(store, obj, fields):
    """Object as WAPI returns it: _ref first, then requested fields that have a value."""
    out = {"_ref": make_ref(obj)}
    for field in sorted(fields):  # NIOS lists fields alphabetically after _ref
        value = field_value(store, obj, field)
        if value is not None:
            out[field] = copy.deepcopy(value)
    return out


def field_value(store, obj, field):
    """Stored value, with the few computed fields NIOS derives."""
    kind = obj["_type"]
    if field == "zone" and objtypes.is_record(kind):
        return store.zone_of(obj["view"], obj["name"])  # the deepest authoritative zone
    if field == "parent" and kind == "zone_auth":
        # the closest enclosing authoritative zone of the same view (sub-zones), if any
        labels = obj["fqdn"].split(".", 1)
        return store.zone_of(obj["view"], labels[1]) if len(labels) == 2 and "/" not in obj["fqdn"] else None
    if field == "dns_name" and (objtypes.is_record(kind) or kind == "sharedrecord:cname"):
        return obj["name"]
    if field in ("dns_target_name", "dns_canonical"):
        return obj.get(field[4:])  # punycode form: names are ASCII here
    if field == "zone_associations":
        return [z["fqdn"] for z in obj.get(field, [])]  # WAPI 2.12: zone names
    if field == "ttl" and not obj.get("use_ttl"):
        return None  # inherited TTL: not returned (choice documented in docs/wapi-simulator.md)
    if field in ("ipv4addrs", "ipv6addrs") and kind == "record:host":
        return [_host_addr(obj, a, field) for a in obj.get(field, [])]
    if field in ("ipv4addr", "ipv6addr") and kind == "record:host":
        return None
    value = obj.get(field)
    if value is None:
        spec = objtypes.SCHEMAS[kind].get(field)
        if spec is not None and spec.default is not None:
            return copy.deepcopy(spec.default)  # e.g. disable: false on objects from an old state file
    return value


def _host_addr(obj, addr, field):
    key = "ipv4addr" if field == "ipv4addrs" else "ipv6addr"
    sub_type = "record:host_%s" % key
    ref = "%s/%s:%s/%s/%s" % (sub_type, obj["_opaque"], addr[key], obj["name"], obj["view"])
    return dict({"_ref": ref, "host": obj["name"]}, **addr)


def make_ref(obj):
    kind = obj["_type"]
    suffix_fields = objtypes.REF_SUFFIX.get(kind, ("name", "view"))
    suffix = "/".join(_as_text(obj.get(f, "")) for f in suffix_fields)
    return "%s/%s:%s" % (kind, obj["_opaque"], suffix)
