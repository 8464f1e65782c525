"""The private ``/_sim/`` HTTP API: lets a test drive the simulator from another process.

No authentication, not logged, never affected by faults.

  GET    /_sim/log                 request log entries        DELETE /_sim/log     clear it
  GET    /_sim/faults              active fault rules         DELETE /_sim/faults  clear them
  POST   /_sim/faults              add a rule: {"action": "status"|"drop"|"latency"|"request_item",
                                   "count", "method", "path" (regex), "status", "body", "delay", "index"}
  GET    /_sim/state               restart_needed, restarts, object counts
  POST   /_sim/reset               fresh appliance (objects, log, faults)
  POST   /_sim/ea                  define an extensible attribute {"name", "type"}
  POST   /_sim/sessions/expire     forget all ibapauth cookies
  GET    /_sim/objects?type=T      every readable field of every object of type T
  POST   /_sim/users               add/replace an API user {"name", "password", "superuser",
                                   "permissions": [{"object", "permission", "zone", "view"}], "group",
                                   "access_method": ["API", ...]}
  GET    /_sim/users               users (no passwords)
  POST   /_sim/settings            {"request_rollback": true|false} (shown by GET /_sim/state)
"""
from . import objtypes

USER_KEYS = {"name", "password", "superuser", "permissions", "group", "access_method"}
RULE_KEYS = {"action", "count", "method", "path", "status", "body", "content_type", "delay", "index",
             "code", "text"}


def handle_control(server, method, path, args, body):
    sim = server.sim
    route = (method, path.rstrip("/"))
    if route == ("GET", "/_sim/log"):
        return 200, sim.log.entries()
    if route == ("DELETE", "/_sim/log"):
        sim.log.clear()
        return 200, {}
    if route == ("GET", "/_sim/faults"):
        return 200, sim.faults.rules()
    if route == ("DELETE", "/_sim/faults"):
        sim.faults.clear()
        return 200, {}
    if route == ("POST", "/_sim/faults"):
        return 201, _add_rule(sim, body)
    if route == ("GET", "/_sim/state"):
        return 200, _state(sim)
    if route == ("POST", "/_sim/reset"):
        sim.reset()
        server.sessions.expire_all()
        return 200, {}
    if route == ("POST", "/_sim/ea"):
        sim.define_ea(body["name"], body.get("type", "STRING"))
        return 201, {}
    if route == ("POST", "/_sim/sessions/expire"):
        server.sessions.expire_all()
        return 200, {}
    if route == ("GET", "/_sim/objects"):
        return 200, sim.objects(args["type"][-1])
    if route == ("POST", "/_sim/users"):
        return 201, add_user(sim, body).describe()
    if route == ("POST", "/_sim/settings"):
        return 200, _settings(sim, body)
    if route == ("GET", "/_sim/users"):
        return 200, [u.describe() for u in sim.users.values()]
    return 404, {"error": "unknown simulator control path %s %s" % route}


def add_user(sim, spec):
    """A user from its JSON description (also used by ``__main__ --add-user``)."""
    if not isinstance(spec, dict) or "name" not in spec or "password" not in spec:
        raise ValueError("a user is a JSON object with at least name and password")
    unknown = set(spec) - USER_KEYS
    if unknown:
        raise ValueError("unknown user keys: %s" % ", ".join(sorted(unknown)))
    return sim.add_user(spec["name"], spec["password"], superuser=spec.get("superuser", False),
                        permissions=spec.get("permissions", ()), group=spec.get("group"),
                        access_method=spec.get("access_method", ("API",)))


def _add_rule(sim, body):
    if not isinstance(body, dict) or "action" not in body:
        raise ValueError("fault rule must be a JSON object with an 'action'")
    unknown = set(body) - RULE_KEYS
    if unknown:
        raise ValueError("unknown fault rule keys: %s" % ", ".join(sorted(unknown)))
    params = dict(body)
    rule = sim.faults.add(params.pop("action"), **params)
    return rule.describe()


def _settings(sim, body):
    if not isinstance(body, dict) or set(body) - {"request_rollback"}:
        raise ValueError("settings: a JSON object with request_rollback")
    if "request_rollback" in body:
        if not isinstance(body["request_rollback"], bool):
            raise ValueError("request_rollback must be true or false")
        with sim.lock:
            sim.request_rollback = body["request_rollback"]
    return {"request_rollback": sim.request_rollback}


def _state(sim):
    with sim.lock:
        counts = {t: sim.store.count(t) for t in objtypes.SCHEMAS}
        return {"restart_needed": sim.restart_needed, "restarts": list(sim.restarts), "counts": counts,
                "request_rollback": sim.request_rollback}
