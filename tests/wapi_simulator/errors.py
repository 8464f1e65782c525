"""WAPI error bodies as NIOS returns them: ``{"Error": "<Type>: msg", "code": ..., "text": ...}``.

The constructors below are the only place where error wording lives, so the docs
(docs/wapi-simulator.md) and the tests can refer to one spelling.
"""


class WapiError(Exception):
    """An error the simulator answers with a JSON error body."""

    def __init__(self, status, code, error_type, text, detail=None):
        super().__init__(text)
        self.status = status
        self.code = code
        self.error_type = error_type
        self.text = text
        # NIOS puts extra context into "Error" for data errors, e.g.
        # "AdmConDataError: None (IBDataConflictError: IB.Data.Conflict:<text>)".
        self.detail = detail
        self.extra = {}

    def body(self):
        error = self.detail if self.detail is not None else "%s: %s" % (self.error_type, self.text)
        body = {"Error": error, "code": self.code, "text": self.text}
        body.update(self.extra)
        return body


class Forbidden(WapiError):
    """403 with Apache's HTML page, not JSON (external-dns#3234). The simulator sends it for a user
    whose admin group lacks API access (``access_method`` without ``API``; that this is the cause
    in #3234 is [unverified]) and for a read by reference of an object the user may not read (a
    choice, [unverified]). Writes without permission are 400 JSON instead: ``write_forbidden``.
    The server renders ``html(path)``; ``body()`` is for callers of the engine."""

    def __init__(self):
        super().__init__(403, "Client.Ibap.Forbidden", "Forbidden", "You don't have permission to access this object")

    @staticmethod
    def html(path):
        return ('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>403 Forbidden</title>\n'
                '</head><body>\n<h1>Forbidden</h1>\n<p>You don\'t have permission to access %s\non this server.</p>\n'
                '</body></html>\n' % path)


def forbidden():
    return Forbidden()


def write_forbidden(what):
    """A write the user's permissions do not allow: 400 ``Client.Ibap.Data.Conflict``, as NIOS sends
    it (external-dns#1370: "Write permission for the resource record type 'TXT' in the zone 'z' is
    required for this operation."). ``what`` completes "Write permission for ..."."""
    return conflict("Write permission for %s is required for this operation." % what)


def ea_definition_forbidden(action, name):
    """A non-superuser creating/changing/deleting an EA definition (terraform-provider-infoblox
    #346, #473: the "create" wording; "modify"/"delete" follow it, [unverified])."""
    return conflict("Cannot %s extensible attribute definition '%s'. Only superusers can manage extensible "
                    "attribute definition" % (action, name))


def proto_error(text, status=400):
    return WapiError(status, "Client.Ibap.Proto", "AdmConProtoError", text)


def unknown_field(name):
    return proto_error("Unknown argument/field: %s" % name)


def not_searchable(name):
    return proto_error("Field is not searchable: %s" % name)


def not_writable(name):
    return proto_error("Field is not writable: %s" % name)


def not_updatable(name):
    return proto_error("Field is not allowed for update: %s" % name)


def required_missing(name):
    return proto_error("Required field missing: %s" % name)


def invalid_value(field, value, why=""):
    suffix = ": %s" % why if why else ""
    return proto_error("Invalid value for %s: %r%s" % (field, value, suffix))


def unknown_object_type(objtype):
    return proto_error("Unknown object type (%s)" % objtype)


def unsupported_version(version):
    return proto_error("Version %s not supported" % version)


def result_set_too_large(limit):
    return proto_error("Result set too large (> %d)" % limit)


def conflict(text):
    err = WapiError(400, "Client.Ibap.Data.Conflict", "AdmConDataError", text)
    err.detail = "AdmConDataError: None (IBDataConflictError: IB.Data.Conflict:%s)" % text
    return err


def already_exists(name):
    return conflict("The record '%s' already exists." % name)


def parent_not_found():
    return conflict("A parent was not found.")


def not_found(text):
    return WapiError(404, "Client.Ibap.Data.NotFound", "AdmConDataNotFoundError", text)


def ref_not_found(ref):
    return not_found("Reference %s not found" % ref)


def unknown_extattr(name):
    """On writes and on ``*Name=`` searches alike (terraform-provider-infoblox#62, #207, #276;
    infoblox-client#271 for the search)."""
    return proto_error("Unknown extensible attribute: %s" % name)


def injected(status=500, code="Server.Ibap.Internal", text="Injected failure (simulator fault)"):
    return WapiError(status, code, "AdmConError", text)
