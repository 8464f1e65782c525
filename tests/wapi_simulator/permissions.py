"""API users and their permissions, modelled on NIOS admin groups and object permissions.

A user is a superuser (may do anything, like NIOS's "admin-group") or has a list of permissions,
each ``{"object": <WAPI type>, "permission": "READ"|"WRITE"|"DENY", "zone": <fqdn>, "view": <name>}``
(``zone`` and ``view`` optional). WRITE implies READ. ``zone`` limits a permission to objects in
that zone and its sub-zones (records: the zone they reside in; ``zone_auth``: the zone itself),
the way NIOS lets permissions for record types be set on a zone. When several permissions match an
object, the most specific wins (a zone one over a global one, a deeper zone over its parent, one
naming the view over one that does not); equally specific ones combine to the highest level. No
matching permission means no access. How the engine applies them: engine.py ``_level``.

``access_method`` is the admin group's list of allowed interfaces (NIOS ``admingroup.access_method``:
``GUI``, ``API``, ``CLI``, ``TAXII``); default ``["API"]``. Without ``API`` every WAPI call of the
user answers 403 with the HTML page (external-dns#3234 shows that page; the cause is [unverified]).
"""
from . import objtypes

DENY, READ, WRITE = 0, 1, 2
LEVELS = {"DENY": DENY, "READ": READ, "WRITE": WRITE}
# grid-level objects whose permission is the grid's
AS_GRID = {"restartservicestatus"}
ACCESS_METHODS = ("GUI", "API", "CLI", "TAXII")


class Permission:
    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("a permission is an object: %r" % (spec,))
        unknown = set(spec) - {"object", "permission", "zone", "view"}
        if unknown:
            raise ValueError("unknown permission keys: %s" % ", ".join(sorted(unknown)))
        self.object = spec.get("object")
        if self.object not in objtypes.SCHEMAS:
            raise ValueError("unknown object type in permission: %r" % (self.object,))
        level = str(spec.get("permission", "")).upper()
        if level not in LEVELS:
            raise ValueError("permission must be READ, WRITE or DENY: %r" % (spec.get("permission"),))
        self.level = LEVELS[level]
        zone = spec.get("zone")
        self.zone = objtypes.norm_zone_fqdn("zone", zone) if zone else None
        self.view = spec.get("view")

    def specificity(self, objtype, zone, view):
        """None if the permission does not apply, else how specific it is (higher wins)."""
        if self.object != objtype:
            return None
        if self.view is not None and self.view != view:
            return None
        score = 0
        if self.zone is not None:
            if zone is None or not (zone == self.zone or zone.endswith("." + self.zone)):
                return None
            score = 2 * (self.zone.count(".") + 1)
        return score + (1 if self.view is not None else 0)

    def describe(self):
        out = {"object": self.object, "permission": [k for k, v in LEVELS.items() if v == self.level][0]}
        if self.zone:
            out["zone"] = self.zone
        if self.view:
            out["view"] = self.view
        return out


class User:
    def __init__(self, name, password, superuser=False, permissions=(), group=None, access_method=("API",)):
        if not name or not isinstance(name, str):
            raise ValueError("a user needs a name")
        if isinstance(access_method, str) or any(m not in ACCESS_METHODS for m in access_method):
            raise ValueError("access_method is a list of %s: %r" % (", ".join(ACCESS_METHODS), access_method))
        self.access_method = list(access_method)
        self.name = name
        self.password = password
        self.superuser = bool(superuser)
        self.group = group or ("admin-group" if self.superuser else "%s-group" % name)
        self.permissions = [Permission(p) for p in permissions or ()]

    @property
    def api(self):
        """May the user call WAPI at all (``API`` in ``access_method``)."""
        return "API" in self.access_method

    def level(self, objtype, zone=None, view=None):
        if self.superuser:
            return WRITE
        if objtype in AS_GRID:
            objtype = "grid"
        best = None
        for perm in self.permissions:
            score = perm.specificity(objtype, zone, view)
            if score is None:
                continue
            if best is None or score > best[0]:
                best = (score, perm.level)
            elif score == best[0]:
                best = (score, max(best[1], perm.level))
        return best[1] if best else DENY

    def describe(self):
        return {"name": self.name, "superuser": self.superuser, "group": self.group,
                "access_method": list(self.access_method), "permissions": [p.describe() for p in self.permissions]}
