# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File side of the ``zone_file`` module: read, validate with named-checkzone, write atomically.

Order of a change (the old file is only touched by the final rename):

1. the new text is written to a temporary file in the destination directory and fsync'ed;
2. named-checkzone (when used) checks that temporary file; if it fails the temporary file is removed,
   the module fails with named-checkzone's output and the old file stays as it was;
3. the old file is copied aside when ``backup=true``;
4. ``AnsibleModule.atomic_move`` renames the temporary file over the old one (owner, mode and SELinux
   context of the old file are kept), then the directory is fsync'ed and the file options applied.

In check mode the candidate is validated in the module's private temporary directory and nothing is
written next to the zone file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import tempfile

from ansible_collections.geant.consul_dns.plugins.module_utils.zone_model import ZoneSettings
from ansible_collections.geant.consul_dns.plugins.module_utils.zone_text import (
    ZoneTextError,
    plan_zone_file,
)

NAMED_CHECKZONE = "named-checkzone"
NAMED_CHECKZONE_DIRS = ["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"]


class ZoneFileError(Exception):
    """A failure the module reports with ``fail_json``; ``details`` are extra result keys."""

    def __init__(self, msg, **details):
        super(ZoneFileError, self).__init__(msg)
        self.msg = msg
        self.details = details


def find_named_checkzone(module, validate, explicit_path=None):
    """Path of named-checkzone to use, or None when validation is skipped."""
    if validate == "never":
        return None
    if explicit_path:
        if os.path.isfile(explicit_path) and os.access(explicit_path, os.X_OK):
            return explicit_path
        raise ZoneFileError("named_checkzone_path %s is not an executable file" % explicit_path)
    found = module.get_bin_path(NAMED_CHECKZONE, required=False, opt_dirs=NAMED_CHECKZONE_DIRS)
    if not found and validate == "always":
        raise ZoneFileError(
            "validate=always but %s was found neither on PATH nor in %s (Debian/Ubuntu: bind9-utils, "
            "RHEL: bind-utils); install it, set named_checkzone_path, or use validate=auto/never"
            % (NAMED_CHECKZONE, ", ".join(NAMED_CHECKZONE_DIRS)))
    return found


def named_checkzone(run_command, binary, zone, path):
    """Run ``named-checkzone -k fail ZONE PATH``; returns ``(ok, output)``.

    ``-k fail`` makes host name check failures fatal, as named does for a primary zone.
    """
    rc, out, err = run_command([binary, "-k", "fail", zone, path])
    return rc == 0, "\n".join(part.strip() for part in (out, err) if part and part.strip())


def read_text(path):
    """Content of ``path`` as text, None when it does not exist (undecodable bytes are replaced)."""
    if not os.path.lexists(path):
        return None
    if os.path.isdir(path):
        raise ZoneFileError("path %s is a directory" % path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise ZoneFileError("cannot read %s: %s" % (path, exc))
    return data.decode("utf-8", "replace")


def write_temp_file(directory, name, text):
    """Write ``text`` to a new temporary file in ``directory``, fsync it, return its path."""
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=".%s." % name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
    except Exception:
        _unlink_quietly(tmp_path)
        raise
    return tmp_path


def fsync_directory(directory):
    """Make a rename in ``directory`` durable (best effort: not every platform can open directories)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _settings(params):
    zone = params["zone"]
    hostmaster = params["hostmaster"] or "hostmaster.%s" % zone.rstrip(".")
    try:
        return ZoneSettings(
            zone, params["nameservers"], hostmaster, default_ttl=params["default_ttl"],
            refresh=params["refresh"], retry=params["retry"], expire=params["expire"],
            negative_ttl=params["negative_ttl"], soa_ttl=params["soa_ttl"],
        )
    except ValueError as exc:
        raise ZoneFileError("invalid zone settings: %s" % exc)


def _validate_candidate(run_command, checker, zone, directory, name, text, path):
    """Write ``text`` to a temporary file in ``directory`` and check it; return the temporary path."""
    try:
        tmp_path = write_temp_file(directory, name, text)
    except (IOError, OSError) as exc:
        raise ZoneFileError("cannot write a temporary file in %s: %s" % (directory, exc))
    if checker:
        ok, output = named_checkzone(run_command, checker, zone, tmp_path)
        if not ok:
            _unlink_quietly(tmp_path)
            raise ZoneFileError(
                "named-checkzone rejected the new zone %s; %s was not changed: %s"
                % (zone, path, output or "(no output)"),
                named_checkzone_output=output,
            )
    return tmp_path


def run_zone_file(module, today=None):
    """The module's work; returns the result dict or raises :class:`ZoneFileError`."""
    params = module.params
    path = params["path"]
    settings = _settings(params)
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    if not os.path.isdir(directory):
        raise ZoneFileError("directory %s of path %s does not exist" % (directory, path))

    existing_text = read_text(path)
    try:
        plan = plan_zone_file(settings, params["records"], existing_text, today=today,
                              allow_empty=params["allow_empty"])
    except ZoneTextError as exc:
        raise ZoneFileError(str(exc))
    for warning in plan.warnings:
        module.warn(warning)

    result = dict(
        changed=plan.changed, path=path, zone=settings.zone, serial=plan.serial,
        previous_serial=plan.previous_serial, records=len(plan.records),
        added=[r.to_dict() for r in plan.added], removed=[r.to_dict() for r in plan.removed],
        soa_changed=plan.soa_changed, validated=False,
    )

    if plan.changed:
        checker = find_named_checkzone(module, params["validate"], params["named_checkzone_path"])
        # In check mode the candidate goes to the module's own temporary directory, never beside the zone.
        tmp_dir = module.tmpdir if module.check_mode else directory
        tmp_path = _validate_candidate(module.run_command, checker, settings.zone, tmp_dir, name, plan.text, path)
        result["validated"] = bool(checker)
        if module.check_mode:
            _unlink_quietly(tmp_path)
        else:
            try:
                if params["backup"] and existing_text is not None:
                    result["backup_file"] = module.backup_local(path)
                module.atomic_move(tmp_path, path, unsafe_writes=params["unsafe_writes"])
            finally:
                _unlink_quietly(tmp_path)  # gone after a successful rename
            fsync_directory(directory)

    attr_diff = {"before": {"path": path}, "after": {"path": path}}
    if existing_text is not None or not module.check_mode:
        file_args = module.load_file_common_arguments(params)
        result["changed"] = module.set_fs_attributes_if_different(file_args, result["changed"],
                                                                  diff=attr_diff)

    if module._diff:
        content_diff = dict(
            before=existing_text or "", after=plan.text,
            before_header=path if existing_text is not None else "%s (absent)" % path,
            after_header=path,
        )
        if len(attr_diff["before"]) > 1 or len(attr_diff["after"]) > 1:
            result["diff"] = [content_diff, attr_diff]
        else:
            result["diff"] = content_diff
    return result


def run_command_plain(argv):
    """``AnsibleModule.run_command`` for callers outside a module: ``(rc, stdout, stderr)``."""
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    return completed.returncode, completed.stdout, completed.stderr


def _which_named_checkzone():
    """``get_bin_path`` of named-checkzone without a module: PATH, then the usual sbin folders."""
    for directory in os.environ.get("PATH", "").split(os.pathsep) + NAMED_CHECKZONE_DIRS:
        candidate = os.path.join(directory, NAMED_CHECKZONE)
        if directory and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def write_zone_file(path, settings, records, validate="auto", mode=0o644, allow_empty=False, today=None,
                    run_command=run_command_plain, kept=None):
    """The ``zone_file`` module's work for a caller that is not a module (the watch service).

    Same plan, serial and named-checkzone rules and the same order of a change (temporary file,
    check, rename, fsync of the directory); no backup, owner or SELinux handling. Returns what the
    module returns (without ``diff``) plus ``warnings``; raises :class:`ZoneFileError`.
    ``kept``: a dict the caller keeps between calls; it remembers the parsed zone of the text last
    written or read, so the next call does not parse the file again while it is unchanged.
    """
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    if not os.path.isdir(directory):
        raise ZoneFileError("directory %s of path %s does not exist" % (directory, path))
    existing_text = read_text(path)
    kept = {} if kept is None else kept
    known_text, known_zone = kept.pop(path, (None, None))
    try:
        plan = plan_zone_file(settings, records, existing_text, today=today, allow_empty=allow_empty,
                              existing_zone=known_zone if existing_text is not None and existing_text == known_text
                              else None)
    except ZoneTextError as exc:
        raise ZoneFileError(str(exc))
    result = dict(
        changed=plan.changed, path=path, zone=settings.zone, serial=plan.serial,
        previous_serial=plan.previous_serial, records=len(plan.records),
        added=[r.to_dict() for r in plan.added], removed=[r.to_dict() for r in plan.removed],
        soa_changed=plan.soa_changed, validated=False, warnings=list(plan.warnings),
    )
    if not plan.changed:
        if plan.existing_valid:
            kept[path] = (existing_text, plan.zone)
        return result
    checker = None
    if validate != "never":
        checker = _which_named_checkzone()
        if checker is None and validate == "always":
            raise ZoneFileError("validate=always but %s was found neither on PATH nor in %s"
                                % (NAMED_CHECKZONE, ", ".join(NAMED_CHECKZONE_DIRS)))
    tmp_path = _validate_candidate(run_command, checker, settings.zone, directory, name, plan.text, path)
    result["validated"] = bool(checker)
    try:
        os.chmod(tmp_path, mode)
        os.rename(tmp_path, path)
    except OSError as exc:
        raise ZoneFileError("cannot replace %s: %s" % (path, exc))
    finally:
        _unlink_quietly(tmp_path)  # gone after a successful rename
    fsync_directory(directory)
    kept[path] = (plan.text, plan.zone)
    return result
