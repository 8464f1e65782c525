"""Indexed object store with an undo journal (for all-or-nothing multi-object requests).

Objects are plain dicts of WAPI field values plus three private keys: ``_id`` (serial),
``_type`` and ``_opaque`` (the base64 part of the ref, stable for the object's lifetime).
Indexes: by type, by (type, view, name), by (type, address), by opaque ref part, host aliases
by (view, alias), and the set of authoritative zones per view (to find a record's parent zone in
O(labels)).
"""
import base64
import copy
from collections import defaultdict

from . import objtypes


def _addresses(obj):
    """Addresses an object can be found by (record:a/aaaa directly, record:host via its lists)."""
    kind = obj["_type"]
    if kind == "record:a":
        return [obj["ipv4addr"]]
    if kind == "record:aaaa":
        return [obj["ipv6addr"]]
    if kind == "record:host":
        return [a["ipv4addr"] for a in obj.get("ipv4addrs", [])] + [a["ipv6addr"] for a in obj.get("ipv6addrs", [])]
    return []


def _aliases(obj):
    """Names a host record serves as CNAMEs (its aliases, when it is configured for DNS)."""
    if obj["_type"] != "record:host" or not obj.get("configure_for_dns", True):
        return []
    return list(obj.get("aliases") or [])


class Store:
    def __init__(self):
        self.serial = 0
        self._objs = {}
        self._by_type = defaultdict(dict)
        self._by_name = defaultdict(dict)   # (type, view, name) -> {id: None} (ordered set)
        self._by_addr = defaultdict(dict)   # (type, addr) -> {id: None}
        self._by_alias = defaultdict(dict)  # (view, host alias) -> {host id: None}
        self._by_opaque = {}
        self._zones = defaultdict(set)      # view -> {fqdn}
        self._journal = None

    # ------------------------------------------------------------ lookups
    def get(self, obj_id):
        return self._objs.get(obj_id)

    def by_opaque(self, opaque):
        obj_id = self._by_opaque.get(opaque)
        return self._objs.get(obj_id) if obj_id is not None else None

    def of_type(self, objtype):
        return self._by_type[objtype].values()

    def count(self, objtype=None):
        return len(self._objs) if objtype is None else len(self._by_type[objtype])

    def by_name(self, objtype, view, name):
        return [self._objs[i] for i in self._by_name.get((objtype, view, name), ())]

    def by_addr(self, objtype, addr):
        return [self._objs[i] for i in self._by_addr.get((objtype, addr), ())]

    def by_alias(self, view, name):
        """Host records in ``view`` that have ``name`` among their aliases."""
        return [self._objs[i] for i in self._by_alias.get((view, name), ())]

    def zone_of(self, view, name):
        """Deepest authoritative zone in ``view`` containing ``name`` (or None)."""
        zones = self._zones.get(view)
        if not zones:
            return None
        labels = name.split(".")
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            if candidate in zones:
                return candidate
        return None

    def has_zone(self, view, fqdn):
        return fqdn in self._zones.get(view, ())

    # ------------------------------------------------------------ mutations (journalled)
    def insert(self, obj):
        """Add a new object (assigns _id and _opaque) and return it."""
        self.serial += 1
        obj["_id"] = self.serial
        prefix = objtypes.OPAQUE_PREFIX[obj["_type"]]
        raw = ("%s$%d" % (prefix, self.serial)).encode()
        obj["_opaque"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        self._index(obj)
        self._log(("insert", obj["_id"]))
        return obj

    def replace(self, obj_id, new_obj):
        old = self._objs[obj_id]
        self._unindex(old)
        self._index(new_obj)
        self._log(("replace", old))

    def remove(self, obj_id):
        old = self._objs[obj_id]
        self._unindex(old)
        self._log(("remove", old))

    # ------------------------------------------------------------ transactions
    def begin(self):
        self._journal = []

    def commit(self):
        self._journal = None

    def rollback(self):
        journal, self._journal = self._journal or [], None
        for action, payload in reversed(journal):
            if action == "insert":
                self._unindex(self._objs[payload])
            elif action == "replace":
                self._unindex(self._objs[payload["_id"]])
                self._index(payload)
            elif action == "remove":
                self._index(payload)

    def _log(self, entry):
        if self._journal is not None:
            self._journal.append(entry)

    # ------------------------------------------------------------ index maintenance
    def _keys(self, obj):
        kind = obj["_type"]
        name = obj.get(objtypes.name_field(kind))
        view = obj.get("view", "")
        return kind, view, name

    def _index(self, obj):
        kind, view, name = self._keys(obj)
        self._objs[obj["_id"]] = obj
        self._by_type[kind][obj["_id"]] = obj
        self._by_name[(kind, view, name)][obj["_id"]] = None
        for addr in _addresses(obj):
            self._by_addr[(kind, addr)][obj["_id"]] = None
        for alias in _aliases(obj):
            self._by_alias[(view, alias)][obj["_id"]] = None
        self._by_opaque[obj["_opaque"]] = obj["_id"]
        if kind == "zone_auth":
            self._zones[view].add(name)

    def _unindex(self, obj):
        kind, view, name = self._keys(obj)
        del self._objs[obj["_id"]]
        del self._by_type[kind][obj["_id"]]
        self._discard(self._by_name, (kind, view, name), obj["_id"])
        for addr in _addresses(obj):
            self._discard(self._by_addr, (kind, addr), obj["_id"])
        for alias in _aliases(obj):
            self._discard(self._by_alias, (view, alias), obj["_id"])
        del self._by_opaque[obj["_opaque"]]
        if kind == "zone_auth":
            self._zones[view].discard(name)

    @staticmethod
    def _discard(index, key, obj_id):
        bucket = index.get(key)
        if bucket is not None:
            bucket.pop(obj_id, None)
            if not bucket:
                del index[key]

    # ------------------------------------------------------------ persistence
    def dump(self):
        return {"serial": self.serial, "objects": [copy.deepcopy(o) for o in self._objs.values()]}

    def load(self, data):
        self.__init__()
        for obj in sorted(data.get("objects", []), key=lambda o: o["_id"]):
            self._index(obj)
        self.serial = max([data.get("serial", 0)] + list(self._objs))
