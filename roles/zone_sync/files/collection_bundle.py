"""Bundle what the zone sync needs of the collection (plugins, playbooks, meta) into one .tar.gz.

Run on the controller by the zone_sync role (zone_sync_collection_install: copy) with the Python that
runs ansible-playbook:

    collection_bundle.py SOURCE OUTPUT

The same files give the same bytes: members sorted by name, owned by root (uid/gid 0), modes 0755 for
folders and executables and 0644 otherwise, one fixed modification time, no gzip timestamp. So the
role copies one file and the copy is "ok" while nothing changed - instead of one remote module call
per file, which took minutes. Times are not the files' own: a fresh clone, a checkout or a
__pycache__ made in a folder would change the bundle without changing the collection. A fixed time
does not let Python reuse stale byte-code: each bundle is unpacked into a folder of its own. Byte-code
caches (__pycache__, *.pyc) are left out. Prints the bundle's sha256 and its number of files as JSON.
"""

from __future__ import absolute_import, division, print_function

import gzip
import hashlib
import io
import json
import os
import stat
import sys
import tarfile

PARTS = ("meta", "playbooks", "plugins")
SKIPPED_DIRS = ("__pycache__",)
SKIPPED_SUFFIXES = (".pyc", ".pyo")
# 2000-01-01T00:00:00Z: every member's modification time.
BUNDLE_MTIME = 946684800


def bundle_members(source):
    """``[(archive name, path)]`` of the folders and files to bundle, sorted by archive name."""
    members = []
    for part in PARTS:
        top = os.path.join(source, part)
        if not os.path.isdir(top):
            raise ValueError("%s has no folder %s: not a checkout or an installed collection" % (source, part))
        for folder, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
            name = os.path.relpath(folder, source)
            members.append((name, folder))
            for file_name in files:
                if not file_name.endswith(SKIPPED_SUFFIXES):
                    members.append((os.path.join(name, file_name), os.path.join(folder, file_name)))
    return sorted(members)


def _info(name, path):
    st = os.stat(path)  # a symlink in the source is bundled as what it points to
    info = tarfile.TarInfo(name)
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = BUNDLE_MTIME
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = st.st_size
        info.mode = 0o755 if st.st_mode & stat.S_IXUSR else 0o644
    return info


def build_bundle(source):
    """The bundle of ``source`` as bytes (gzip-compressed tar), and its number of files."""
    raw = io.BytesIO()
    files = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, path in bundle_members(source):
            info = _info(name, path)
            if info.isdir():
                tar.addfile(info)
            else:
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
                files += 1
    packed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=packed, mtime=0) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue(), files


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: collection_bundle.py SOURCE OUTPUT\n")
        return 2
    source, output = argv[1], argv[2]
    try:
        data, files = build_bundle(source)
        with open(output, "wb") as handle:
            handle.write(data)
    except (OSError, IOError, ValueError) as exc:
        sys.stderr.write("collection bundle of %s: %s\n" % (source, exc))
        return 1
    print(json.dumps({"sha256": hashlib.sha256(data).hexdigest(), "files": files, "path": output}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
