"""WAPI semantics, independent of HTTP: search, create, update, delete, functions, /request.

Everything runs under one lock: requests are serialized, which keeps the all-or-nothing
multi-object request simple and is fast enough for tens of thousands of records.
"""
import copy
import json
import os
import secrets
import threading
import time
from collections import OrderedDict

from . import errors, objtypes, query, schema
from . import permissions as access
from .faults import FaultInjector, RequestLog
from .store import Store

MAX_CURSORS = 1000
DEFAULT_VERSION = "2.12"
GRID_MEMBER = "infoblox.localdomain"  # NIOS's default member host name
RESTART_OPTIONS = ("RESTART_IF_NEEDED", "FORCE_RESTART")
RESTART_SERVICES = ("ALL", "DNS", "DHCP", "DHCPV4", "DHCPV6")
RESTART_MODES = ("GROUPED", "SEQUENTIAL", "SIMULTANEOUS")
# resource record types as NIOS names them in "Write permission for the resource record type 'A'
# in the zone ..." (A and TXT are attested; the others follow the permission resource_type names)
RR_TYPE_NAMES = {"record:a": "A", "record:aaaa": "AAAA", "record:cname": "CNAME", "record:txt": "TXT",
                 "record:srv": "SRV", "record:host": "HOST", "record:alias": "ALIAS"}


class Cursor:
    """A paged search: the matching ids are fixed when the first page is asked for."""

    def __init__(self, ids, size, fields):
        self.ids, self.size, self.fields, self.pos = ids, size, fields, 0


class Simulator:
    def __init__(self, ea_definitions=()):
        self.lock = threading.RLock()
        self.log = RequestLog()
        self.faults = FaultInjector()
        self._seed_eas = list(ea_definitions)
        self.on_change = None  # callback after committed writes (persistence)
        self._version = DEFAULT_VERSION  # WAPI version of the call being handled
        self._user = None  # the User of the call being handled (None: internal, a superuser)
        self.users = {}  # name -> permissions.User; kept across reset() (configuration)
        # multi-object request failing at item N: undo items 0..N-1 (True) or keep them (False);
        # a setting, kept across reset()
        self.request_rollback = True
        self.reset()

    # ================================================================ state management
    def reset(self):
        """Back to a fresh appliance: default view, grid object, seeded EA definitions."""
        with self.lock:
            self.store = Store()
            self.cursors = OrderedDict()
            self.restarts = []
            self.restart_needed = False
            self.store.insert({"_type": "view", "name": "default", "is_default": True, "extattrs": {}})
            self.store.insert({"_type": "grid", "name": "Infoblox"})
            self._ensure_restart_status()
            for name in self._seed_eas:
                self.define_ea(name)
        self.log.clear()
        self.faults.clear()

    def define_ea(self, name, ea_type="STRING", **fields):
        """Create an extensible attribute definition (helper for tests and the demo)."""
        body = dict(fields, name=name, type=ea_type)
        with self.lock:
            if not self.store.by_name("extensibleattributedef", "", name):
                self.create("extensibleattributedef", {}, body)

    def objects(self, objtype):
        """All objects of a type as WAPI would render them with every readable field."""
        with self.lock:
            self._update_restart_status()
            fields = [f for f, s in objtypes.schema(objtype).items() if s.has("r")]
            return [query.render(self.store, o, fields) for o in self.store.of_type(objtype)]

    def save(self, path):
        with self.lock:
            data = {"store": self.store.dump(), "restarts": self.restarts,
                    "restart_needed": self.restart_needed}
        tmp = "%s.tmp" % path
        with open(tmp, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)

    def load(self, path):
        with open(path) as handle:
            data = json.load(handle)
        with self.lock:
            self.store.load(data["store"])
            self.restarts = data.get("restarts", [])
            self.restart_needed = data.get("restart_needed", False)
            self._ensure_restart_status()

    def _ensure_restart_status(self):
        if not list(self.store.of_type("restartservicestatus")):
            self.store.insert({"_type": "restartservicestatus", "member": GRID_MEMBER})
        self._update_restart_status()

    def _update_restart_status(self):
        """restartservicestatus of the one member: DNS "YES" while a restart is needed (changes not
        yet published), "NO" after a restart; DHCP and reporting are not simulated: "NO".
        [unverified] mapping of the documented enum values to the simulator's state."""
        for status in self.store.of_type("restartservicestatus"):
            status["dns_status"] = "YES" if self.restart_needed else "NO"
            status["dhcp_status"] = "NO"
            status["reporting_status"] = "NO"

    def _changed(self, objtype):
        if objtypes.is_record(objtype) or objtype == "zone_auth" or objtype in objtypes.SHARED_TYPES:
            self.restart_needed = True

    # ================================================================ entry point
    def handle(self, method, target, args, body, version=DEFAULT_VERSION, user=None):
        """Run one WAPI call. ``target`` is the decoded path after /wapi/vX/ (type or ref).

        ``version`` is the WAPI version of the path (only ``_schema`` answers depend on it).
        ``user``: the name (or ``permissions.User``) whose permissions apply; None = superuser.
        Returns (HTTP status, JSON-able payload); raises WapiError (``errors.Forbidden``: 403).
        """
        with self.lock:
            self._version = version
            self._user = self.users[user] if isinstance(user, str) else user
            try:
                if self._user is not None and not self._user.api:
                    raise errors.forbidden()  # the admin group has no API access
                if target == "request":
                    if method != "POST":
                        raise errors.proto_error("The request object supports only POST")
                    return self.multi_request(body)
                status, payload, changed = self._dispatch(method, target, args, body)
                if changed and self.on_change:
                    self.on_change()
                return status, payload
            finally:
                self._user, self._version = None, DEFAULT_VERSION

    # ================================================================ users and permissions
    def add_user(self, name, password, superuser=False, permissions=(), group=None, access_method=("API",)):
        """Add (or replace) an API user; see permissions.py for the permission format.
        ``access_method`` without ``"API"``: every WAPI call answers 403 (HTML)."""
        new = access.User(name, password, superuser, permissions, group, access_method)
        with self.lock:
            self.users[name] = new
        return new

    def authenticate(self, name, password):
        """The User for a name and password, or None."""
        with self.lock:
            found = self.users.get(name)
        return found if found is not None and found.password == password else None

    def _level(self, obj):
        """The current user's permission level on ``obj`` (access.DENY/READ/WRITE).

        Extensible attribute definitions: any user reads them, only superusers change them (NIOS
        admin guide). ``restartservicestatus`` counts as the grid. Records are scoped by the zone
        they reside in, zones by their own name."""
        user = self._user
        if user is None or user.superuser:
            return access.WRITE
        kind = obj["_type"]
        if kind == "extensibleattributedef":
            return access.READ
        zone = None
        if objtypes.is_record(kind):
            zone = self.store.zone_of(obj["view"], obj["name"])
        elif kind == "zone_auth":
            zone = obj["fqdn"]
        return user.level(kind, zone, obj.get("view"))

    def _require_read(self, obj):
        """A read by reference of an object the user may not read: 403 HTML (a choice: NIOS's
        answer is [unverified]; searches leave such objects out instead)."""
        if self._level(obj) < access.READ:
            raise errors.forbidden()

    def _require_write(self, obj, action):
        """A write (``action``: create/modify/delete) the user may not make: 400 JSON
        ``Client.Ibap.Data.Conflict`` "Write permission for ... is required for this operation."
        (external-dns#1370); EA definitions: "Only superusers can manage ..." (t-p-infoblox#346)."""
        if self._level(obj) >= access.WRITE:
            return
        kind = obj["_type"]
        if kind == "extensibleattributedef":
            raise errors.ea_definition_forbidden(action, obj.get("name"))
        if objtypes.is_record(kind):
            zone = self.store.zone_of(obj["view"], obj["name"])
            if zone is None:
                raise errors.parent_not_found()  # no zone to hold permissions: the record cannot exist
            raise errors.write_forbidden("the resource record type '%s' in the zone '%s'"
                                         % (RR_TYPE_NAMES[kind], zone))
        if kind == "zone_auth":
            raise errors.write_forbidden("zone '%s'" % obj["fqdn"])
        if kind == "sharedrecord:cname":
            raise errors.write_forbidden("the shared record type 'CNAME' in the shared record group '%s'"
                                         % obj.get("shared_record_group"))
        label = {"sharedrecordgroup": "shared record group", "restartservicestatus": "grid member"}.get(kind, kind)
        raise errors.write_forbidden("the %s '%s'" % (label, obj.get(objtypes.name_field(kind))))

    def _readable(self, objs):
        if self._user is None or self._user.superuser:
            return objs
        return [o for o in objs if self._level(o) >= access.READ]

    def _dispatch(self, method, target, args, body):
        """Returns (status, payload, changed)."""
        objtype, _sep, rest = target.partition("/")
        if method == "GET" and "_schema" in args:
            return 200, self.get_schema(objtype, args), False
        objtypes.schema(objtype)  # unknown type -> 400
        if objtype == "restartservicestatus":
            self._update_restart_status()  # computed when read
        control = {k: v[-1] for k, v in args.items() if k.startswith("_")}
        if method in ("PUT", "POST") and "_function" not in control:
            args, body = _body_arguments(args, body)
        if method == "GET":
            payload = self.get_ref(target, args) if rest else self.get_objects(objtype, args)
            return 200, payload, False
        if method == "POST" and "_function" in control:
            return 200, self.call_function(target, args, body), True
        if method == "POST":
            if rest:
                raise errors.proto_error("POST on an object reference needs _function")
            return 201, self.create(objtype, args, body), True
        if method == "PUT" and rest:
            return 200, self.update(target, args, body), True
        if method == "DELETE" and rest:
            return 200, self.delete(target, args), True
        raise errors.proto_error("Method %s not allowed on %s" % (method, target))

    # ================================================================ read
    def get_schema(self, objtype, args):
        """``?_schema`` on the version root (``objtype`` empty) or on an object type (schema.py)."""
        if not objtype:
            return schema.root_schema(self._version, args)
        return schema.object_schema(objtype, self._version, args)

    def get_objects(self, objtype, args):
        if "_page_id" in args:
            return self._next_page(args["_page_id"][-1])
        criteria, control = query.parse_search(objtype, args)
        fields = query.return_fields(objtype, control)
        self._check_search_names(objtype, criteria)
        found = self._readable(self.search(objtype, criteria))  # NIOS filters silently
        limit = query.max_results(control)
        if query.flag(control, "_paging"):
            if not query.flag(control, "_return_as_object"):
                raise errors.proto_error("_return_as_object must be set to 1 for paging requests")
            return self._first_page(found, abs(limit), fields)
        if limit < 0 and len(found) > -limit:
            raise errors.result_set_too_large(-limit)
        found = found[:abs(limit)]
        result = [query.render(self.store, o, fields) for o in found]
        return self._wrap(result, control)

    def get_ref(self, ref, args):
        obj = self._lookup(ref)
        self._require_read(obj)
        criteria, control = query.parse_search(obj["_type"], args)
        if criteria:
            raise errors.unknown_field(criteria[0].field)
        if query.flag(control, "_paging"):
            # infoblox-client#186, Posh-IBWAPI#34
            raise errors.proto_error("Paging is not supported for object reference read operations")
        return self._wrap(query.render(self.store, obj, query.return_fields(obj["_type"], control)), control)

    def _check_search_names(self, objtype, criteria):
        """NIOS resolves names in a search first. An undefined extensible attribute (``*X=``) is
        400 "Unknown extensible attribute: X", not ``[]``. An unknown view is 404 "View X not
        found" (theforeman/smart_proxy_dhcp_infoblox#38: the trace runs through viewname2view)."""
        for crit in criteria:
            if crit.is_ea and not self.store.by_name("extensibleattributedef", "", crit.field):
                raise errors.unknown_extattr(crit.field)
            if objtype != "view" and crit.field == "view" and crit.exact and not self.store.by_name("view", "", crit.value):
                raise errors.not_found("View %s not found" % crit.value)

    def search(self, objtype, criteria):
        if any(c.field == "zone" and not c.is_ea for c in criteria) and \
                not any(c.field == "view" for c in criteria):
            # WAPI: "If a view is not specified when searching by zone, the default view is used."
            criteria = criteria + [query.Criterion("view", "default")]
        candidates = self._candidates(objtype, criteria)
        return [o for o in candidates if all(c.matches(self._search_value(o, c)) for c in criteria)]

    def _candidates(self, objtype, criteria):
        """Use an index for an exact name (+view) or address criterion; scan the type otherwise."""
        exact = {c.field: c.value for c in criteria if c.exact}
        name = exact.get(objtypes.name_field(objtype))
        if name is not None:
            if not objtypes.has_view(objtype):
                return self.store.by_name(objtype, "", name)
            views = [exact["view"]] if "view" in exact else [v["name"] for v in self.store.of_type("view")]
            return [o for view in views for o in self.store.by_name(objtype, view, name)]
        for field in ("ipv4addr", "ipv6addr"):
            if field in exact:
                return self.store.by_addr(objtype, exact[field])
        return list(self.store.of_type(objtype))

    def _search_value(self, obj, crit):
        if crit.is_ea:
            return obj.get("extattrs", {}).get(crit.field, {}).get("value")
        if obj["_type"] == "record:host" and crit.field in ("ipv4addr", "ipv6addr"):
            return [a[crit.field] for a in obj.get(crit.field + "s", [])]
        return query.field_value(self.store, obj, crit.field)

    def _first_page(self, found, size, fields):
        cursor = Cursor([o["_id"] for o in found], size, fields)
        return self._page(secrets.token_hex(16), cursor)

    def _next_page(self, page_id):
        cursor = self.cursors.pop(page_id, None)
        if cursor is None:
            raise errors.proto_error("Invalid or expired page id: %s" % page_id)
        return self._page(page_id, cursor)

    def _page(self, page_id, cursor):
        ids = cursor.ids[cursor.pos:cursor.pos + cursor.size]
        cursor.pos += cursor.size
        objs = [self.store.get(i) for i in ids]
        result = {"result": [query.render(self.store, o, cursor.fields) for o in objs if o is not None]}
        if cursor.pos < len(cursor.ids):
            # a fresh id per page, like NIOS; the previous one is no longer valid
            next_id = "789c" + secrets.token_hex(24)
            self.cursors[next_id] = cursor
            while len(self.cursors) > MAX_CURSORS:
                self.cursors.popitem(last=False)
            result["next_page_id"] = next_id
        return result

    @staticmethod
    def _wrap(result, control):
        return {"result": result} if query.flag(control, "_return_as_object") else result

    def _lookup(self, ref):
        objtype, _sep, rest = ref.partition("/")
        opaque = rest.split(":", 1)[0]
        obj = self.store.by_opaque(opaque) if opaque else None
        if obj is None or obj["_type"] != objtype:
            raise errors.ref_not_found(ref)
        return obj

    # ================================================================ write
    def create(self, objtype, args, body):
        control = self._write_control(objtype, args)
        if objtype not in objtypes.CREATABLE:
            raise errors.proto_error("Object type %s cannot be created" % objtype)
        body = self._body_dict(body)
        schema = objtypes.schema(objtype)
        obj = {"_type": objtype}
        for field, value in body.items():
            spec = schema.get(field)
            if spec is None:
                raise errors.unknown_field(field)
            if not spec.has("w"):
                raise errors.not_writable(field)
            obj[field] = spec.normalize(field, value)
        for field, spec in schema.items():
            if spec.has("q") and field not in obj:
                raise errors.required_missing(field)
            if field not in obj and spec.default is not None:
                obj[field] = copy.deepcopy(spec.default)
        if "ttl" in body and "use_ttl" not in body:
            obj["use_ttl"] = True  # writing a value switches its use flag on (see docs)
        obj.pop("restart_if_needed", None)
        self._require_write(obj, "create")
        self._validate(obj, exclude_id=None)
        if "creation_time" in schema:
            obj["creation_time"] = int(time.time())
        self.store.insert(obj)
        self._changed(objtype)
        return self._write_result(obj, control)

    def update(self, ref, args, body):
        old = self._lookup(ref)
        self._require_write(old, "modify")
        control = self._write_control(old["_type"], args)
        if old["_type"] == "view" and old.get("is_default") and "name" in (body or {}):
            raise errors.proto_error("The default view cannot be renamed")
        new = copy.deepcopy(old)
        for field, value in self._body_dict(body).items():
            self._apply_update(new, field, value)
        if "ttl" in (body or {}) and "use_ttl" not in body:
            new["use_ttl"] = True
        new.pop("restart_if_needed", None)
        self._require_write(new, "modify")  # e.g. renamed into another zone
        self._validate(new, exclude_id=old["_id"])
        self.store.replace(old["_id"], new)
        if new["_type"] == "sharedrecordgroup" and new["name"] != old["name"]:
            self._move_shared_records(old["name"], new["name"])
        self._changed(new["_type"])
        return self._write_result(new, control)

    def _move_shared_records(self, old_group, new_group):
        """A renamed shared record group keeps its records (they name the group)."""
        for rec in list(self.store.of_type("sharedrecord:cname")):
            if rec["shared_record_group"] == old_group:
                self.store.replace(rec["_id"], dict(rec, shared_record_group=new_group))

    def _apply_update(self, obj, field, value):
        """PUT replaces whole fields; ``extattrs+``/``extattrs-`` merge into / remove from extattrs."""
        if field in ("extattrs+", "extattrs-"):
            if not isinstance(value, dict):
                raise errors.invalid_value(field, value, "expected an object")
            current = obj.setdefault("extattrs", {})
            for name, item in value.items():
                if field == "extattrs+":
                    current[name] = item
                else:
                    current.pop(name, None)
            return
        spec = objtypes.schema(obj["_type"]).get(field)
        if spec is None:
            raise errors.unknown_field(field)
        if not spec.has("u"):
            if spec.has("=") and spec.normalize(field, value) == obj.get(field):
                return
            raise errors.not_updatable(field) if spec.has("w") else errors.not_writable(field)
        obj[field] = spec.normalize(field, value)

    def delete(self, ref, args):
        obj = self._lookup(ref)
        self._require_write(obj, "delete")
        kind = obj["_type"]
        for key in args:
            if key.startswith("_") and key not in query.CONTROL_ARGS:
                raise errors.unknown_field(key)
        if kind not in objtypes.CREATABLE or (kind == "view" and obj.get("is_default")):
            raise errors.proto_error("Object %s cannot be deleted" % ref)
        if kind == "view" and any(z["view"] == obj["name"] for z in self.store.of_type("zone_auth")):
            raise errors.conflict("The view %s still contains zones." % obj["name"])
        if kind == "zone_auth":
            self._delete_zone_contents(obj)
        if kind == "sharedrecordgroup":
            for rec in list(self.store.of_type("sharedrecord:cname")):
                if rec["shared_record_group"] == obj["name"]:
                    self.store.remove(rec["_id"])
        result = query.make_ref(obj)
        self.store.remove(obj["_id"])
        self._changed(kind)
        return result

    def _delete_zone_contents(self, zone):
        """Deleting a zone deletes the records whose closest zone it is (sub-zones stay)."""
        for kind in objtypes.DNS_RECORD_TYPES:
            for rec in list(self.store.of_type(kind)):
                if rec["view"] == zone["view"] and self.store.zone_of(rec["view"], rec["name"]) == zone["fqdn"]:
                    self.store.remove(rec["_id"])
        gone = {"fqdn": zone["fqdn"], "view": zone["view"]}
        for group in list(self.store.of_type("sharedrecordgroup")):
            if gone in group["zone_associations"]:
                kept = [z for z in group["zone_associations"] if z != gone]
                self.store.replace(group["_id"], dict(group, zone_associations=kept))

    def _write_control(self, objtype, args):
        control = {}
        for key, values in args.items():
            if key not in query.CONTROL_ARGS:
                raise errors.unknown_field(key)
            control[key] = values[-1]
        query.return_fields(objtype, control)  # validate early
        return control

    def _write_result(self, obj, control):
        if "_return_fields" in control or "_return_fields+" in control:
            result = query.render(self.store, obj, query.return_fields(obj["_type"], control))
        else:
            result = query.make_ref(obj)
        return self._wrap(result, control)

    @staticmethod
    def _body_dict(body):
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise errors.proto_error("The request body must be a JSON object")
        return body

    # ================================================================ validation rules
    def _validate(self, obj, exclude_id):
        kind = obj["_type"]
        if "extattrs" in obj:
            obj["extattrs"] = self._check_extattrs(obj["extattrs"])
        if "view" in obj and kind != "view" and not self.store.by_name("view", "", obj["view"]):
            raise errors.not_found("View %s not found" % obj["view"])
        if objtypes.is_record(kind) and self.store.zone_of(obj["view"], obj["name"]) is None:
            raise errors.parent_not_found()
        self._check_duplicate(obj, exclude_id)
        if objtypes.is_record(kind):
            self._check_cname_rules(obj, exclude_id)
            self._check_host_vs_a(obj, exclude_id)
        if kind == "sharedrecord:cname":
            self._check_shared_cname(obj, exclude_id)
        if kind == "sharedrecordgroup":
            self._check_shared_group(obj, exclude_id)

    def _same_name(self, kind, obj, exclude_id):
        view = obj.get("view", "") if objtypes.has_view(kind) else ""
        name = obj.get(objtypes.name_field(obj["_type"]))
        return [o for o in self.store.by_name(kind, view, name) if o["_id"] != exclude_id]

    def _check_duplicate(self, obj, exclude_id):
        kind = obj["_type"]
        identity = objtypes.IDENTITY.get(kind, ())
        for other in self._same_name(kind, obj, exclude_id):
            if all(other.get(f) == obj.get(f) for f in identity):
                name = obj.get(objtypes.name_field(kind))
                if kind == "zone_auth":
                    raise errors.conflict("Zone '%s' already exists." % name)
                raise errors.already_exists(name)

    def _check_cname_rules(self, obj, exclude_id):
        """A CNAME cannot share its name with any other record, and vice versa. Host aliases are
        served as CNAMEs (NIOS admin guide, about host records), so each alias counts as one."""
        kind, view, name = obj["_type"], obj["view"], obj["name"]
        if kind == "record:cname":
            if self._records_at(view, name, exclude_id, skip="record:cname") or self._aliases_at(view, name, exclude_id):
                raise errors.conflict(
                    "The name '%s' is already used by a record of another type; "
                    "a CNAME record cannot be added." % name)
        elif self._same_name("record:cname", obj, exclude_id) or self._aliases_at(view, name, exclude_id):
            raise errors.conflict("A CNAME record with the name '%s' already exists." % name)
        if self._shared_cnames_at(view, name):
            raise errors.conflict("A shared CNAME record with the name '%s' already exists." % name)
        if kind == "record:host" and obj.get("configure_for_dns", True):
            seen = set()
            for alias in obj.get("aliases") or []:
                if self.store.zone_of(view, alias) is None:
                    raise errors.parent_not_found()
                if alias == name or alias in seen or self._records_at(view, alias, exclude_id) \
                        or self._aliases_at(view, alias, exclude_id) or self._shared_cnames_at(view, alias):
                    raise errors.conflict(
                        "The name '%s' is already used by another record; "
                        "the alias (a CNAME record) cannot be added." % alias)
                seen.add(alias)

    def _shared_cnames_at(self, view, name, exclude_id=None, exclude_group=None):
        """Shared CNAMEs that appear as ``name`` in ``view``: ``<record name>.<zone>`` for every zone
        associated with the record's group."""
        found = []
        for rec in self.store.of_type("sharedrecord:cname"):
            if rec["_id"] == exclude_id or rec["shared_record_group"] == exclude_group:
                continue
            for group in self.store.by_name("sharedrecordgroup", "", rec["shared_record_group"]):
                if any(z["view"] == view and "%s.%s" % (rec["name"], z["fqdn"]) == name
                       for z in group["zone_associations"]):
                    found.append(rec)
        return found

    def _check_shared_cname(self, obj, exclude_id):
        """A shared CNAME is a CNAME in each associated zone: same rules as a CNAME there."""
        groups = self.store.by_name("sharedrecordgroup", "", obj["shared_record_group"])
        if not groups:
            raise errors.not_found("Shared record group %s not found" % obj["shared_record_group"])
        for zone in groups[0]["zone_associations"]:
            self._check_shared_name(obj["name"], zone, exclude_id=exclude_id)

    def _check_shared_group(self, group, exclude_id):
        """Zones must exist; the group's CNAMEs must be free in each newly associated zone."""
        old = self.store.get(exclude_id) if exclude_id is not None else None
        for zone in group["zone_associations"]:
            if not self.store.has_zone(zone["view"], zone["fqdn"]):
                raise errors.not_found("Zone %s not found in view %s" % (zone["fqdn"], zone["view"]))
            if old is not None and zone in old["zone_associations"] and old["name"] == group["name"]:
                continue
            for rec in self.store.of_type("sharedrecord:cname"):
                if old is not None and rec["shared_record_group"] == old["name"]:
                    self._check_shared_name(rec["name"], zone, exclude_group=old["name"])

    def _check_shared_name(self, name, zone, exclude_id=None, exclude_group=None):
        full = "%s.%s" % (name, zone["fqdn"])
        view = zone["view"]
        if self._records_at(view, full, None) or self._aliases_at(view, full, None) or \
                self._shared_cnames_at(view, full, exclude_id=exclude_id, exclude_group=exclude_group):
            raise errors.conflict(
                "The name '%s' is already used by another record; the shared CNAME record cannot be "
                "added." % full)

    def _records_at(self, view, name, exclude_id, skip=None):
        """DNS records of any type (but ``skip``) named ``name`` in ``view``."""
        return [o for kind in objtypes.DNS_RECORD_TYPES if kind != skip
                for o in self.store.by_name(kind, view, name) if o["_id"] != exclude_id]

    def _aliases_at(self, view, name, exclude_id):
        """Host records (other than ``exclude_id``) with ``name`` among their aliases."""
        return [o for o in self.store.by_alias(view, name) if o["_id"] != exclude_id]

    def _check_host_vs_a(self, obj, exclude_id):
        """A host record and an A/AAAA record with the same name and address conflict."""
        kind = obj["_type"]
        pairs = {"record:a": ("record:host", "ipv4addr"), "record:aaaa": ("record:host", "ipv6addr")}
        if kind in pairs:
            other_kind, key = pairs[kind]
            for host in self._same_name(other_kind, obj, exclude_id):
                if obj[key] in [a[key] for a in host.get(key + "s", [])]:
                    raise errors.already_exists(obj["name"])
        elif kind == "record:host":
            addrs = {a["ipv4addr"] for a in obj.get("ipv4addrs", [])} | \
                    {a["ipv6addr"] for a in obj.get("ipv6addrs", [])}
            for other_kind, key in (("record:a", "ipv4addr"), ("record:aaaa", "ipv6addr")):
                if any(o[key] in addrs for o in self._same_name(other_kind, obj, exclude_id)):
                    raise errors.already_exists(obj["name"])

    def _check_extattrs(self, extattrs):
        if not isinstance(extattrs, dict):
            raise errors.invalid_value("extattrs", extattrs, "expected an object")
        clean = {}
        for name, item in extattrs.items():
            defs = self.store.by_name("extensibleattributedef", "", name)
            if not defs:
                raise errors.unknown_extattr(name)
            if not isinstance(item, dict) or "value" not in item:
                raise errors.invalid_value("extattrs", {name: item}, "expected {\"value\": ...}")
            clean[name] = {"value": self._ea_value(defs[0], name, item["value"])}
        return clean

    @staticmethod
    def _ea_value(definition, name, value):
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and "V" not in (definition.get("flags") or ""):
            raise errors.invalid_value(name, value, "attribute does not allow multiple values")
        checked = []
        for item in values:
            if definition["type"] == "INTEGER":
                try:
                    item = int(item)
                except (TypeError, ValueError):
                    raise errors.invalid_value(name, item, "expected an integer")
            elif definition["type"] == "ENUM":
                allowed = [v.get("value") if isinstance(v, dict) else v for v in definition.get("list_values") or []]
                if item not in allowed:
                    raise errors.invalid_value(name, item, "not in the attribute's list of values")
            elif not isinstance(item, str):
                item = str(item)
            checked.append(item)
        return checked if isinstance(value, list) else checked[0]

    # ================================================================ functions
    def call_function(self, target, args, body):
        objtype, _sep, rest = target.partition("/")
        function = args["_function"][-1]
        if objtype == "grid" and rest and function == "restartservices":
            self._require_write(self._lookup(target), "modify")
            return self._restart_services(self._body_dict(body))
        if objtype == "grid" and rest and function == "requestrestartservicestatus":
            self._require_write(self._lookup(target), "modify")
            return {}
        raise errors.proto_error("Function %s is not supported on %s" % (function, objtype))

    def _restart_services(self, body):
        option = body.get("restart_option", "RESTART_IF_NEEDED")
        services = body.get("services", ["ALL"])
        mode = body.get("mode", "GROUPED")
        if option not in RESTART_OPTIONS:
            raise errors.invalid_value("restart_option", option)
        if not isinstance(services, list) or any(s not in RESTART_SERVICES for s in services):
            raise errors.invalid_value("services", services)
        if mode not in RESTART_MODES:
            raise errors.invalid_value("mode", mode)
        restarted = option == "FORCE_RESTART" or self.restart_needed
        self.restarts.append({"time": time.time(), "request": body, "restarted": restarted})
        self.restart_needed = False
        return {}

    # ================================================================ multi-object /request
    def multi_request(self, body):
        """Single object body: executed like a plain call. List: items in order; when one fails,
        the answer is its error with its ``index``, and the items before it are undone
        (``request_rollback`` True, the default) or stay applied (False). What NIOS does is not
        documented: both modes exist so that clients can be tested against either."""
        if isinstance(body, dict):
            status, payload, changed = self._request_item(body, {}, 0)
            if changed and self.on_change:
                self.on_change()
            return status, payload
        if not isinstance(body, list):
            raise errors.proto_error("The request body must be an object or a list of objects")
        state, results, changed = {}, [], False
        self.store.begin()
        try:
            for index, item in enumerate(body):
                failure = self.faults.request_item_failure(index)
                if failure is not None:
                    raise failure
                _status, payload, item_changed = self._request_item(item, state, index)
                changed = changed or item_changed
                if not (isinstance(item, dict) and item.get("discard")) and payload is not None:
                    results.append(payload)
        except Exception as exc:
            if isinstance(exc, errors.WapiError):
                exc.extra["index"] = index
            if self.request_rollback:
                self.store.rollback()
            else:
                self.store.commit()  # the items before the failing one stay
                if changed and self.on_change:
                    self.on_change()
            raise
        self.store.commit()
        if changed and self.on_change:
            self.on_change()
        return 200, results

    def _request_item(self, item, state, index):
        if not isinstance(item, dict):
            raise errors.proto_error("Request item %d is not an object" % index)
        allowed = {"method", "object", "data", "args", "enable_substitution", "assign_state", "discard"}
        for key in item:
            if key not in allowed:
                raise errors.unknown_field(key)
        if item.get("enable_substitution"):
            item = dict(item, **{k: _substitute(item.get(k), state) for k in ("object", "data", "args")})
        method = str(item.get("method", "")).upper()
        if method == "STATE:ASSIGN":
            state.update(item.get("data") or {})
            return 200, None, False
        if method == "STATE:DISPLAY":
            return 200, dict(state), False
        if method not in ("GET", "POST", "PUT", "DELETE"):
            raise errors.proto_error("Invalid method %r in request item %d" % (item.get("method"), index))
        status, payload, changed = self._run_item(method, item)
        if item.get("assign_state"):
            _assign_state(state, item["assign_state"], payload)
        return status, payload, changed

    def _run_item(self, method, item):
        target = item.get("object")
        if not isinstance(target, str) or not target:
            raise errors.required_missing("object")
        args = {k: [_arg_text(v)] for k, v in (item.get("args") or {}).items()}
        data = item.get("data")
        if method == "GET":
            # for GET, data holds the search fields (they would be the query string)
            for key, value in (data or {}).items():
                values = value if isinstance(value, list) else [value]
                args.setdefault(key, []).extend(_arg_text(v) for v in values)
            data = None
        return self._dispatch(method, target, args, data)


# Arguments NIOS also takes from a POST/PUT JSON body (octoblox's create_zones sends
# "_return_fields+" there and relies on it; inferred, [unverified] in NIOS docs).
BODY_ARGUMENTS = ("_return_fields", "_return_fields+", "_return_as_object")


def _body_arguments(args, body):
    """Move BODY_ARGUMENTS from a JSON object body into ``args``. When the query string has the same
    argument too, the query string wins (a choice). Other ``_`` keys stay in the body (-> 400)."""
    if not isinstance(body, dict) or not any(k in body for k in BODY_ARGUMENTS):
        return args, body
    args, body = dict(args), dict(body)
    for key in BODY_ARGUMENTS:
        if key in body:
            value = body.pop(key)
            if key not in args:
                if isinstance(value, list):
                    value = ",".join(_arg_text(v) for v in value)
                args[key] = [_arg_text(value)]
    return args, body


def _arg_text(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _substitute(value, state):
    """Replace ##STATE:var:## in strings; a string that is only a placeholder takes the raw value."""
    if isinstance(value, str):
        for name, replacement in state.items():
            token = "##STATE:%s:##" % name
            if value == token:
                return replacement
            if token in value:
                value = value.replace(token, str(replacement))
        return value
    if isinstance(value, list):
        return [_substitute(v, state) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, state) for k, v in value.items()}
    return value


def _assign_state(state, assignments, payload):
    """assign_state: {var: field}; field may be _ref, a field, list[index] or *EAName."""
    source = payload.get("result", payload) if isinstance(payload, dict) and "result" in payload else payload
    if isinstance(source, list):
        if not source:
            raise errors.proto_error("Cannot assign state from an empty result")
        source = source[0]
    if isinstance(source, str):
        source = {"_ref": source}
    for var, field in assignments.items():
        state[var] = _state_value(source, field)


def _state_value(source, field):
    if field.startswith("*"):
        item = source.get("extattrs", {}).get(field[1:])
        if item is None:
            raise errors.proto_error("Cannot assign state: %s not in result" % field)
        return item["value"]
    name, _sep, index = field.partition("[")
    if name not in source:
        raise errors.proto_error("Cannot assign state: %s not in result" % name)
    value = source[name]
    if index:
        try:
            value = value[int(index.rstrip("]"))]
        except (ValueError, IndexError, TypeError):
            raise errors.proto_error("Cannot assign state: bad index in %s" % field)
    return value
