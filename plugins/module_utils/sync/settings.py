# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one schema of the zone sync's settings: every ``consul_dns_*`` variable and every zone key.

It owns each setting's name, type, default, description, allowed values and whether a zone may
override it. Everything else derives from it: the action plugin ``geant.consul_dns.zone_sync`` and the
watch service validate with :func:`load_settings`; the ``zone_sync_settings`` and
``zone_sync_secrets`` options of role ``zone_sync``'s ``meta/argument_specs.yml`` are generated from it
(:func:`role_options`, written by ``scripts/settings_docs.py``); the settings tables of docs/zone_sync.md
are checked against it (both by unit tests, so in CI).

Validation happens before anything is written. An unknown key is an error that names where it is
(the zone), the key and the nearest valid key; a missing required key names the zone and the key.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib

from ansible.module_utils.parsing.convert_bool import boolean

PREFIX = "consul_dns_"
# consul_dns_* variables that are not settings of the sync: the playbook's host pattern, and role
# consul's dns_config block (an inventory that serves both must not fail the sync).
NOT_SETTINGS = frozenset(["consul_dns_sync_hosts", "consul_dns_config"])


class SettingsError(ValueError):
    """The settings cannot be used; the message names the setting (and the zone)."""


class Setting(object):
    """One ``consul_dns_<name>`` variable.

    ``zone_key``: the key of a ``consul_dns_zones`` entry that overrides it for one zone (None: global
    only). ``secret``: never logged, belongs in a vault / AWX credential. ``credential``: part of a
    credential (AWX credential types inject it; role zone_sync accepts it in ``zone_sync_secrets``);
    every secret is one. ``section``: its table in the docs.
    """

    def __init__(self, name, type, default, description, section, choices=None, zone_key=None, secret=False,
                 minimum=None, maximum=None, elements=None, null_is_off=False, credential=False):
        self.name = name
        self.type = type
        self.default = default
        self.description = description
        self.section = section
        self.null_is_off = null_is_off  # null turns it off (as ""), instead of meaning "the default"
        self.choices = choices
        self.zone_key = zone_key
        self.secret = secret
        self.credential = credential or secret
        self.minimum = minimum
        self.maximum = maximum
        self.elements = elements

    @property
    def variable(self):
        return PREFIX + self.name


class ZoneKey(object):
    """A key of one ``consul_dns_zones`` entry that exists only per zone (no global variable)."""

    def __init__(self, name, type, default, description, required=False, choices=None, elements=None,
                 minimum=None, maximum=None):
        self.name = name
        self.type = type
        self.default = default
        self.description = description
        self.required = required
        self.choices = choices
        self.elements = elements
        self.minimum = minimum
        self.maximum = maximum
        self.zone_key = name


S = Setting
SETTINGS = [
    # --- Consul
    S("consul_address", "str", "http://127.0.0.1:8500", "HTTP API of an agent (a local client agent, or a server).",
      "consul"),
    S("consul_token", "str", None, "ACL token (see the ACL policy below).", "consul", secret=True),
    S("consul_datacenter", "str", None, "Datacenter; default the agent's own.", "consul"),
    S("consul_validate_certs", "bool", True, "Verify Consul's TLS certificate.", "consul"),
    S("consul_ca_path", "path", None, "CA bundle for Consul's certificate.", "consul"),
    S("consul_client_cert", "path", None, "Client certificate for Consul (TLS).", "consul"),
    S("consul_client_key", "path", None, "Key of the client certificate.", "consul"),
    S("consul_timeout", "float", 10, "Seconds per HTTP call to Consul.", "consul", minimum=1),
    S("consul_consistency", "str", "default", "Consistency mode of the health reads.", "consul",
      choices=["default", "consistent", "stale"]),
    # --- Zones
    S("zones", "list", [], "The zones: a list of dicts, one per zone; at least one.", "zones",
      elements="dict"),
    S("zone_dir", "path", "/var/lib/consul_dns/zones",
      "Zone files go here (created if missing) unless a zone sets zone_file.", "zones"),
    S("zone_file_mode", "str", "0644", "Mode of the zone files (octal).", "zones"),
    S("zone_validate", "str", "auto", "Check every new zone file with named-checkzone.", "zones",
      choices=["auto", "always", "never"]),
    S("zone_backup", "bool", False,
      "Keep a copy of a replaced zone file (ZONEFILE.PID.YYYY-MM-DD@HH:MM:SS~, as Ansible's backup).", "zones"),
    S("record_ttl", "int", 300, "TTL of the records of services without a dns_ttl meta.", "zones", zone_key="ttl",
      minimum=0, maximum=2147483647),
    # --- Flap damping
    S("hold_down", "float", 60, "Seconds a new or recovered address must be healthy before it is published "
      "(0 = at once).", "damping", zone_key="hold_down", minimum=0),
    S("grace", "float", 0, "Seconds a published address may fail before it is withdrawn (0 = at once).",
      "damping", zone_key="grace", minimum=0),
    S("flap_penalty", "float", 1000, "Added each time an address falls from healthy to failing.", "damping",
      minimum=0),
    S("flap_half_life", "float", 900, "Seconds in which the penalty halves.", "damping", minimum=1),
    S("flap_suppress_limit", "float", 2000, "An address whose penalty exceeds this is suppressed.", "damping",
      minimum=0),
    S("flap_reuse_limit", "float", 750, "A suppressed address is reused below this.", "damping", minimum=0),
    S("flap_max_suppress", "float", 3600, "Longest suppression after the last flap, seconds.", "damping",
      minimum=0),
    S("all_failing", "str", "withdraw", "A name whose instances all fail: withdraw it, or keep the addresses "
      "published last.", "damping", zone_key="all_failing", choices=["withdraw", "keep"]),
    S("all_failing_meta_key", "str", "dns_all_failing", "Service meta key with a per-service all_failing policy.",
      "damping"),
    S("state_prefix", "str", "consul-dns/state", "Consul KV prefix of the damping state (one key per zone).",
      "damping"),
    # --- Safety
    S("max_shrink_ratio", "float", 0.5, "Refuse a zone that lost more than this share of its published address "
      "records since the last run.", "safety", zone_key="max_shrink_ratio", minimum=0, maximum=1),
    S("min_records_for_shrink", "int", 4, "... once the last published zone had at least this many.", "safety",
      zone_key="min_records_for_shrink", minimum=0),
    S("force", "bool", False, "Publish anyway, this run only (shrink guard and the Infoblox safety valves).",
      "safety"),
    # --- Lock
    S("lock_enabled", "bool", True, "Take the Consul session lock (one writer at a time).", "lock"),
    S("lock_key", "str", "consul-dns/lock/zone_sync", "KV key of the lock; one key for all zones of a job.",
      "lock"),
    S("lock_ttl", "int", 120, "Session TTL of a run, seconds; a dead holder blocks the others for up to twice this.",
      "lock", minimum=10, maximum=86400),
    S("lock_delay", "int", 15, "Seconds the key stays blocked after a holder's session was invalidated.", "lock",
      minimum=0, maximum=60),
    S("lock_holder", "str", None, "How the others name this run; default user@host, the ansible-playbook "
      "process or the AWX job.", "lock"),
    # --- Infoblox
    S("infoblox_server", "str", "", "Grid master, host or https://host[:port]; empty: zone files only, no push.",
      "infoblox"),
    S("infoblox_username", "str", None, "WAPI user; required with a server.", "infoblox", credential=True),
    S("infoblox_password", "str", None, "WAPI password; required with a server. Keep it in a vault.", "infoblox",
      secret=True),
    S("infoblox_view", "str", "default", "DNS view of the zones.", "infoblox", zone_key="infoblox_view"),
    S("infoblox_wapi_version", "str", "2.12", "WAPI version.", "infoblox"),
    S("infoblox_validate_certs", "bool", True, "Verify the grid master's TLS certificate.", "infoblox"),
    S("infoblox_ca_path", "path", None, "CA bundle for the grid master's certificate.", "infoblox"),
    S("infoblox_timeout", "float", 30, "Seconds per WAPI read.", "infoblox", minimum=1),
    S("infoblox_write_timeout", "float", 120, "Seconds per WAPI write (a request of many changes); a write that "
      "times out is not re-sent, NIOS is read again to report what applied.", "infoblox", minimum=1),
    S("infoblox_create_owner_ea", "bool", False, "Define the ManagedBy extensible attribute when it is missing "
      "(only a NIOS superuser may; see docs/permissions.md).", "infoblox"),
    S("infoblox_adopt_unowned", "bool", False, "Take over unowned A/AAAA records of the names a zone publishes "
      "(healthy address: marked owned; other: deleted). Per zone; check with --check --diff first.", "infoblox",
      zone_key="infoblox_adopt_unowned"),
    S("infoblox_inherit_ttl", "bool", False, "Records in NIOS inherit the zone's TTL instead of carrying their own.",
      "infoblox", zone_key="infoblox_inherit_ttl"),
    S("infoblox_on_conflict", "str", "warn", "A record the collection does not own blocks a desired one or serves "
      "an unhealthy address: warn (report it), or also fail the run (the rest is published).", "infoblox",
      choices=["warn", "fail"]),
    S("infoblox_owner_value", "str", "geant.consul_dns", "Value of the ManagedBy extensible attribute on the "
      "records this sync owns.", "infoblox"),
    S("infoblox_max_change_ratio", "float", 0.3, "Refuse a push that deletes or changes more than this share of "
      "the owned records ...", "infoblox", minimum=0, maximum=1),
    S("infoblox_min_records_for_ratio", "int", 10, "... once the zone has at least this many owned records.",
      "infoblox", minimum=0),
    S("infoblox_allow_name_removal", "bool", True, "Allow a push that leaves a name with no address (the damping's "
      "all_failing policy decides instead).", "infoblox"),
    S("infoblox_max_batch", "int", 500, "Most operations in one WAPI request.", "infoblox", minimum=1),
    S("infoblox_max_request_bytes", "int", 131072, "Largest JSON body of one WAPI request.", "infoblox",
      minimum=1024),
    S("infoblox_restart_services", "bool", False, "Restart the grid's DNS service where NIOS says it is needed, "
      "after a change.", "infoblox"),
    # --- Report
    S("report_file", "str", "auto", "JSON summary of each run; auto: last_sync.json next to consul_dns_zone_dir "
      "(/var/lib/consul_dns/last_sync.json); null or empty: none.", "report", null_is_off=True),
    S("metrics_file", "str", None, "Prometheus textfile (name ending in .prom), e.g. "
      "/var/lib/prometheus/node-exporter/consul_dns.prom; null: none.", "report"),
    S("report_mode", "str", "playbook", "How runs are started, recorded in the report (the watch service "
      "writes watch).", "report", choices=["playbook", "timer", "awx"]),
    # --- Watch mode
    S("watch_wait", "int", 300, "Longest blocking query, seconds (Consul caps it at 600).", "watch", minimum=1,
      maximum=600),
    S("watch_settle", "float", 0.1, "Gather a burst of changes within this many seconds into one sync.", "watch",
      minimum=0),
    S("watch_min_interval", "float", 1, "At most one sync per this many seconds.", "watch", minimum=0),
    S("watch_resync", "float", 300, "A full sync at least this often, seconds (it also repairs hand edits in "
      "Infoblox).", "watch", minimum=1),
    S("watch_retry_max", "float", 30, "Longest wait before retrying a failed sync, seconds.", "watch", minimum=1),
    S("watch_lock_ttl", "int", 15, "Session TTL while watching, renewed every third of it (10 is Consul's "
      "minimum).", "watch", minimum=10, maximum=86400),
]

Z = ZoneKey
ZONE_KEYS = [
    Z("name", "str", None, "The zone, e.g. geant.services.", required=True),
    Z("nameservers", "list", None, "Apex NS records; the first is the SOA MNAME.", required=True, elements="str"),
    Z("hostmaster", "str", None, "SOA RNAME; default hostmaster@<zone>."),
    Z("zone_file", "path", None, "Path of the zone file; default <consul_dns_zone_dir>/<name>.zone."),
    Z("services", "list", None, "Only these services are published; default every service.", elements="str"),
    Z("exclude_services", "list", ["consul"], "Services never published.", elements="str"),
    Z("tags", "list", [], "An instance is published only when it carries all these tags.", elements="str"),
    Z("service_meta", "dict", {}, "An instance is published only when its service meta has these key/values."),
    Z("dns_name_meta_key", "str", "dns_name", "Service meta key that chooses the DNS name."),
    Z("dns_ttl_meta_key", "str", "dns_ttl", "Service meta key that chooses the TTL."),
    Z("invalid_names", "str", "fail", "A service whose DNS name is invalid: fail the zone, or skip it with a "
      "warning.", choices=["fail", "skip"]),
    Z("warning_is_healthy", "bool", False, "Count checks in warning as passing."),
    Z("default_ttl", "int", 300, "SOA: the zone's $TTL.", minimum=0),
    Z("refresh", "int", 3600, "SOA refresh.", minimum=0),
    Z("retry", "int", 600, "SOA retry.", minimum=0),
    Z("expire", "int", 1209600, "SOA expire.", minimum=0),
    Z("negative_ttl", "int", 300, "SOA minimum (negative caching TTL).", minimum=0),
    Z("allow_empty", "bool", False, "Allow an empty zone (zone file and Infoblox)."),
]

SETTINGS_BY_VARIABLE = dict((s.variable, s) for s in SETTINGS)
OVERRIDES_BY_ZONE_KEY = dict((s.zone_key, s) for s in SETTINGS if s.zone_key)
ZONE_ONLY_BY_KEY = dict((k.name, k) for k in ZONE_KEYS)
ALL_ZONE_KEYS = sorted(set(OVERRIDES_BY_ZONE_KEY) | set(ZONE_ONLY_BY_KEY))
SECRET_VARIABLES = frozenset(s.variable for s in SETTINGS if s.secret)


def defaults():
    """``{consul_dns_<name>: default}`` of every setting (new containers each call)."""
    return dict((s.variable, _copy(s.default)) for s in SETTINGS)


def _copy(value):
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def nearest(key, valid):
    """`` (did you mean X?)`` for the closest valid key, or ``""``."""
    match = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return " (did you mean %s?)" % match[0] if match else ""


def convert(spec, value, where):
    """``value`` as ``spec.type`` (strings from extra vars are converted as Ansible does); SettingsError if not."""
    if value is None:
        return None
    kind = spec.type
    try:
        if kind == "bool":
            value = boolean(value, strict=True)
        elif kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and value != int(value)):
                raise ValueError
            value = int(value)
        elif kind == "float":
            if isinstance(value, bool):
                raise ValueError
            value = float(value)
        elif kind in ("str", "path"):
            if isinstance(value, (dict, list, bool)):
                raise ValueError
            value = str(value)
            if kind == "path" and spec.default is None and not value.strip():
                return None  # an optional path left empty (an AWX credential without a CA, say): unset
        elif kind == "list":
            if isinstance(value, str):
                value = [part.strip() for part in value.split(",") if part.strip()]
            if not isinstance(value, (list, tuple)):
                raise ValueError
            value = list(value)
            if spec.elements == "str":
                if any(isinstance(item, (dict, list)) for item in value):
                    raise ValueError
                value = [str(item) for item in value]
        elif kind == "dict":
            if not isinstance(value, dict):
                raise ValueError
            value = dict(value)
    except (TypeError, ValueError):
        raise SettingsError("%s must be %s, got %r" % (where, _type_words(spec), value))
    if spec.choices and value not in spec.choices:
        raise SettingsError("%s must be one of %s, got %r" % (where, ", ".join(spec.choices), value))
    if spec.minimum is not None and value < spec.minimum:
        raise SettingsError("%s must be at least %s, got %r" % (where, spec.minimum, value))
    if spec.maximum is not None and value > spec.maximum:
        raise SettingsError("%s must be at most %s, got %r" % (where, spec.maximum, value))
    return value


def _type_words(spec):
    words = {"bool": "a boolean", "int": "a whole number", "float": "a number", "str": "a string",
             "path": "a path", "list": "a list", "dict": "a dict"}[spec.type]
    if spec.type == "list" and spec.elements:
        words += " of %ss" % spec.elements
    return words


class _Values(object):
    """Read-only access by name to validated values."""

    def __init__(self, values):
        self.values = values

    def __getitem__(self, key):
        return self.values[key]

    def get(self, key, default=None):
        return self.values.get(key, default)


class ZoneConfig(_Values):
    """One entry of ``consul_dns_zones``, validated, with every key resolved (zone value or global)."""

    @property
    def name(self):
        return self.values["name"]


class SyncSettings(_Values):
    """Validated settings: ``settings[name]`` for globals (without the prefix), ``zones`` for the zones."""

    def __init__(self, values, zones):
        super(SyncSettings, self).__init__(values)
        self.zones = zones

    def as_variables(self):
        """``{consul_dns_<name>: value}`` (zones as given after validation)."""
        out = dict((PREFIX + name, value) for name, value in self.values.items())
        out[PREFIX + "zones"] = [dict(zone.values) for zone in self.zones]
        return out


def load_settings(variables, source="settings"):
    """Validate ``{consul_dns_*: value}`` over the defaults; returns :class:`SyncSettings`.

    Keys not starting with ``consul_dns_`` are ignored (an inventory has plenty); an unknown
    ``consul_dns_*`` key is an error, as is any unknown key in a zone.
    """
    given = dict((k, v) for k, v in (variables or {}).items() if k.startswith(PREFIX) and k not in NOT_SETTINGS)
    unknown = sorted(set(given) - set(SETTINGS_BY_VARIABLE))
    if unknown:
        raise SettingsError("; ".join("unknown setting %s in %s%s" % (k, source, nearest(k, SETTINGS_BY_VARIABLE))
                                      for k in unknown))
    values = {}
    for spec in SETTINGS:
        raw = given.get(spec.variable, _copy(spec.default))
        if raw is None and spec.null_is_off:
            raw = ""
        elif raw is None or (raw == "" and spec.type != "str"):
            raw = _copy(spec.default)
        values[spec.name] = convert(spec, raw, spec.variable)
    zones_raw = values.pop("zones") or []
    if not zones_raw:
        raise SettingsError("consul_dns_zones must list at least one zone (a dict with name and nameservers)")
    zones, seen = [], set()
    for position, item in enumerate(zones_raw, 1):
        zone = _zone(item, position, values)
        if zone.name in seen:
            raise SettingsError("consul_dns_zones: zone %s is listed twice" % zone.name)
        seen.add(zone.name)
        zones.append(zone)
    if values["infoblox_server"] and "//" in values["infoblox_server"] and \
            not values["infoblox_server"].strip().lower().startswith("https://"):
        raise SettingsError("consul_dns_infoblox_server must use https:// (WAPI sends the password with HTTP Basic)")
    if values["infoblox_server"] and not (values["infoblox_username"] and values["infoblox_password"]):
        raise SettingsError("with consul_dns_infoblox_server set, consul_dns_infoblox_username and "
                            "consul_dns_infoblox_password are needed too")
    try:
        int(values["zone_file_mode"], 8)
    except ValueError:
        raise SettingsError("consul_dns_zone_file_mode must be an octal mode such as 0644, got %r"
                            % values["zone_file_mode"])
    return SyncSettings(values, zones)


def _zone(item, position, values):
    where = "consul_dns_zones[%d]" % position
    if not isinstance(item, dict):
        raise SettingsError("%s must be a dict with name and nameservers, got %r" % (where, item))
    label = item.get("name") or where
    if item.get("name"):
        where = "zone %s" % item["name"]
    unknown = sorted(set(item) - set(ALL_ZONE_KEYS))
    if unknown:
        raise SettingsError("; ".join("%s: unknown key %s%s" % (where, k, nearest(k, ALL_ZONE_KEYS)) for k in unknown))
    resolved = {}
    for key in ALL_ZONE_KEYS:
        spec = ZONE_ONLY_BY_KEY.get(key) or OVERRIDES_BY_ZONE_KEY[key]
        raw = item.get(key)
        if raw is None:
            if getattr(spec, "required", False):
                raise SettingsError("%s: key %s is required%s" % (where, key,
                                    "" if label != where else " (every zone needs name and nameservers)"))
            resolved[key] = values[spec.name] if key in OVERRIDES_BY_ZONE_KEY else _copy(spec.default)
            continue
        resolved[key] = convert(spec, raw, "%s: %s" % (where, key))
    if not resolved["nameservers"]:
        raise SettingsError("%s: key nameservers must list at least one name server" % where)
    return ZoneConfig(resolved)


def _bounds_words(spec):
    if spec.minimum is not None and spec.maximum is not None:
        return "Between %s and %s." % (spec.minimum, spec.maximum)
    if spec.minimum is not None:
        return "At least %s." % spec.minimum
    if spec.maximum is not None:
        return "At most %s." % spec.maximum
    return None


def _option(spec, description, with_default=True):
    """An argument_specs option (role meta/argument_specs.yml format) for ``spec``."""
    option = {"type": spec.type, "description": description}
    if spec.type == "list" and spec.elements:
        option["elements"] = spec.elements
    if spec.choices:
        option["choices"] = list(spec.choices)
    if getattr(spec, "required", False):
        option["required"] = True
    if getattr(spec, "secret", False):
        option["no_log"] = True
    if with_default and spec.default not in (None, [], {}):
        option["default"] = _copy(spec.default)
    return option


def _descriptions(spec, *extra):
    lines = [spec.description] + [line for line in extra if line]
    return lines[0] if len(lines) == 1 else lines


def zone_key_options():
    """The keys of one ``consul_dns_zones`` entry as argument_specs options."""
    options = {}
    for key in ALL_ZONE_KEYS:
        if key in ZONE_ONLY_BY_KEY:
            spec = ZONE_ONLY_BY_KEY[key]
            options[key] = _option(spec, _descriptions(spec, _bounds_words(spec)))
        else:
            spec = OVERRIDES_BY_ZONE_KEY[key]
            options[key] = _option(spec, _descriptions(spec, "Overrides %s for this zone."
                                                       % spec.variable, _bounds_words(spec)), with_default=False)
    return options


def role_options():
    """``(zone_sync_settings options, zone_sync_secrets options)`` for role zone_sync's argument_specs.

    Settings take every setting that is not secret, secrets every credential setting (so a secret in the
    settings file, which is not root-only, is an error).
    """
    settings, secrets = {}, {}
    for spec in SETTINGS:
        option = _option(spec, _descriptions(spec, _bounds_words(spec)))
        if spec.name == "zones":
            option["options"] = zone_key_options()
        if spec.credential:
            secrets[spec.variable] = dict(option)
        if not spec.secret:
            settings[spec.variable] = option
    return settings, secrets
