# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The zone file publisher: plan, validate with named-checkzone, then replace the file atomically.

A change is staged first and made visible later, so that the sync engine can stage every publisher of
a zone before it makes any of them visible (see docs/zone_sync.md, "What a failed run leaves behind"):

1. :func:`stage_zone_file` plans the new text (serial, records), writes it to a temporary file in the
   destination directory (fsync'ed) and runs named-checkzone on it; when that fails the temporary
   file is removed and :class:`ZoneFileError` carries named-checkzone's output. The zone file itself
   is untouched.
2. :meth:`StagedZoneFile.commit` copies the old file aside (``backup``), renames the temporary file
   over it and fsyncs the directory; :meth:`StagedZoneFile.discard` removes the temporary file.

The ``zone_file`` module passes ``AnsibleModule.atomic_move`` (keeps owner, mode and SELinux context)
and ``backup_local``; the engine passes plain functions. In check mode the candidate is validated in a
private temporary directory and nothing is written next to the zone file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import subprocess
import tempfile
import time

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.zone_canonical import NotCanonical, parse_canonical
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.zone_text import (
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


def which_named_checkzone():
    """named-checkzone on PATH, then in the usual sbin folders (as ``get_bin_path`` looks), or None."""
    for directory in os.environ.get("PATH", "").split(os.pathsep) + NAMED_CHECKZONE_DIRS:
        candidate = os.path.join(directory, NAMED_CHECKZONE)
        if directory and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_named_checkzone(validate, explicit_path=None):
    """Path of named-checkzone to use, or None when validation is skipped."""
    if validate == "never":
        return None
    if explicit_path:
        if os.path.isfile(explicit_path) and os.access(explicit_path, os.X_OK):
            return explicit_path
        raise ZoneFileError("named_checkzone_path %s is not an executable file" % explicit_path)
    found = which_named_checkzone()
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


def zone_file_published(path, zone):
    """``{name: sorted addresses}`` of the A/AAAA records in the zone file at ``path`` if the collection
    wrote it (its canonical form), else None: missing, unreadable, or another file (hand-made, a
    migration's) - that one is no record of what the collection published.

    The shrink guard's baseline when the damping state is missing or unreadable.
    """
    try:
        text = read_text(path)
        if text is None:
            return None
        content = parse_canonical(text, zone)
    except (ZoneFileError, NotCanonical, ValueError):
        return None
    published = {}
    for record in content.records:
        if record.rtype in ("A", "AAAA"):
            published.setdefault(record.name, []).append(record.value)
    return dict((name, sorted(addresses)) for name, addresses in published.items())


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


def run_command_plain(argv):
    """``AnsibleModule.run_command`` for callers outside a module: ``(rc, stdout, stderr)``."""
    completed = subprocess.run(argv, capture_output=True, text=True, check=False)
    return completed.returncode, completed.stdout, completed.stderr


def backup_copy(path):
    """Copy ``path`` aside as ``PATH.PID.YYYY-MM-DD@HH:MM:SS~`` (the name ``AnsibleModule.backup_local`` uses)."""
    backup = "%s.%s.%s" % (path, os.getpid(), time.strftime("%Y-%m-%d@%H:%M:%S~", time.localtime()))
    try:
        shutil.copy2(path, backup)
    except (IOError, OSError) as exc:
        raise ZoneFileError("cannot back up %s to %s: %s" % (path, backup, exc))
    return backup


def plain_replace(mode):
    """A ``replace(tmp_path, path)`` for callers outside a module: chmod, then rename."""
    def replace(tmp_path, path):
        os.chmod(tmp_path, mode)
        os.rename(tmp_path, path)
    return replace


class StagedZoneFile(object):
    """A planned zone file: validated in a temporary file, not visible until :meth:`commit`."""

    def __init__(self, path, settings, plan, existing_text, tmp_path, validated, kept):
        self.path = path
        self.settings = settings
        self.plan = plan
        self.existing_text = existing_text
        self.tmp_path = tmp_path
        self.validated = validated
        self.kept = kept
        self.backup_file = None
        self.committed = False

    @property
    def changed(self):
        return self.plan.changed

    @property
    def warnings(self):
        return list(self.plan.warnings)

    def result(self):
        """The ``zone_file`` module's result keys (without ``diff``)."""
        plan = self.plan
        result = dict(
            changed=plan.changed, path=self.path, zone=self.settings.zone, serial=plan.serial,
            previous_serial=plan.previous_serial, records=len(plan.records),
            added=[r.to_dict() for r in plan.added], removed=[r.to_dict() for r in plan.removed],
            soa_changed=plan.soa_changed, validated=self.validated,
        )
        if self.backup_file:
            result["backup_file"] = self.backup_file
        return result

    def diff(self):
        return dict(before=self.existing_text or "", after=self.plan.text,
                    before_header=self.path if self.existing_text is not None else "%s (absent)" % self.path,
                    after_header=self.path)

    def commit(self, replace, backup=None):
        """Make the new file visible: ``backup(path)`` of the old file when given, then ``replace(tmp, path)``."""
        if not self.plan.changed:
            self._keep(self.existing_text)
            return
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            if backup is not None and self.existing_text is not None:
                self.backup_file = backup(self.path)
            try:
                replace(self.tmp_path, self.path)
            except (IOError, OSError) as exc:
                raise ZoneFileError("cannot replace %s: %s" % (self.path, exc))
        finally:
            self.discard()  # the temporary file is gone after a successful rename
        fsync_directory(directory)
        self.committed = True
        self._keep(self.plan.text)

    def discard(self):
        if self.tmp_path:
            _unlink_quietly(self.tmp_path)
            self.tmp_path = None

    def _keep(self, text):
        """Remember the zone content of ``text``, the file's content now, when it is a valid zone."""
        if self.kept is not None and self.plan.zone is not None and (self.committed or self.plan.existing_valid):
            self.kept[self.path] = (text, self.plan.zone)


def stage_zone_file(path, settings, records, validate="auto", allow_empty=False, today=None,
                    run_command=run_command_plain, checker_path=None, tmp_dir=None, kept=None):
    """Plan ``path`` for ``records`` and validate the candidate; returns a :class:`StagedZoneFile`.

    ``tmp_dir``: where the candidate is written (default: beside the zone file, so that the final
    rename is atomic; check mode passes a private folder). ``kept``: a dict the caller keeps between
    calls; it remembers the parsed zone of the text last written or read, so that the next call does
    not parse the file again while it is unchanged. Raises :class:`ZoneFileError`.
    """
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    if tmp_dir is None and not os.path.isdir(directory):
        raise ZoneFileError("directory %s of path %s does not exist" % (directory, path))
    existing_text = read_text(path)
    known_text, known_zone = (kept or {}).pop(path, (None, None))
    try:
        plan = plan_zone_file(settings, records, existing_text, today=today, allow_empty=allow_empty,
                              existing_zone=known_zone if existing_text is not None and existing_text == known_text
                              else None)
    except ZoneTextError as exc:
        raise ZoneFileError(str(exc))
    if not plan.changed:
        return StagedZoneFile(path, settings, plan, existing_text, None, False, kept)
    checker = find_named_checkzone(validate, checker_path)
    tmp_path = _validate_candidate(run_command, checker, settings.zone, tmp_dir or directory, name, plan.text, path)
    return StagedZoneFile(path, settings, plan, existing_text, tmp_path, bool(checker), kept)
