"""roles/zone_sync/files/collection_bundle.py: the bundle the zone_sync role copies to the hosts.

The same files must give the same bytes (the role's copy is then "ok"), a changed file other bytes; byte-code
caches stay out; owners and modes are normalised.
"""

import gzip
import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from tests.playbook import REPO_ROOT

SCRIPT = REPO_ROOT / "roles" / "zone_sync" / "files" / "collection_bundle.py"
spec = importlib.util.spec_from_file_location("collection_bundle", str(SCRIPT))
collection_bundle = importlib.util.module_from_spec(spec)
spec.loader.exec_module(collection_bundle)


@pytest.fixture
def source(tmp_path):
    root = tmp_path / "collection"
    for name, text in (("meta/runtime.yml", "requires_ansible: '>=2.15'\n"),
                       ("playbooks/zone_sync.yml", "---\n"),
                       ("plugins/modules/zone_sync.py", "# module\n"),
                       ("plugins/modules/__pycache__/zone_sync.cpython-311.pyc", "cache"),
                       ("plugins/module_utils/stale.pyc", "cache"),
                       ("plugins/tool.sh", "#!/bin/sh\n")):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "plugins" / "tool.sh").chmod(0o700)
    (root / "plugins" / "modules" / "zone_sync.py").chmod(0o600)
    return root


def members(data):
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return [(m.name, m.uid, m.gid, m.uname, oct(m.mode), m.isdir()) for m in tar.getmembers()]


def test_same_files_same_bytes_and_a_change_other_bytes(source):
    first, files = collection_bundle.build_bundle(str(source))
    again = collection_bundle.build_bundle(str(source))[0]
    assert first == again and files == 4
    (source / "playbooks" / "zone_sync.yml").write_text("---\n# changed\n")
    assert collection_bundle.build_bundle(str(source))[0] != first


def test_times_do_not_count(source):
    """A fresh clone, a checkout or a __pycache__ made in a folder changes times, not the collection."""
    first = collection_bundle.build_bundle(str(source))[0]
    os.utime(str(source / "plugins" / "modules" / "zone_sync.py"), (1, 1))
    (source / "plugins" / "modules" / "__pycache__" / "another.cpython-311.pyc").write_text("cache")
    os.utime(str(source / "plugins"), (2, 2))
    assert collection_bundle.build_bundle(str(source))[0] == first
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        assert set(m.mtime for m in tar.getmembers()) == {collection_bundle.BUNDLE_MTIME}


def test_gzip_has_no_timestamp(source):
    data = collection_bundle.build_bundle(str(source))[0]
    assert data[4:8] == b"\0\0\0\0"  # the gzip header's MTIME field
    assert gzip.decompress(data)


def test_members_sorted_root_owned_modes_normalised_no_byte_code(source):
    listed = members(collection_bundle.build_bundle(str(source))[0])
    names = [m[0] for m in listed]
    assert names == sorted(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert set((m[1], m[2], m[3]) for m in listed) == {(0, 0, "root")}
    modes = dict((m[0], m[4]) for m in listed)
    assert modes["plugins/modules/zone_sync.py"] == oct(0o644)
    assert modes["plugins/tool.sh"] == oct(0o755)
    assert modes["plugins/modules"] == oct(0o755)


def test_missing_part_fails_clearly(tmp_path):
    (tmp_path / "plugins").mkdir()
    with pytest.raises(ValueError, match="has no folder meta"):
        collection_bundle.build_bundle(str(tmp_path))


def test_command_line_prints_the_checksum(source, tmp_path):
    output = tmp_path / "bundle.tar.gz"
    run = subprocess.run([sys.executable, str(SCRIPT), str(source), str(output)], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    assert printed["sha256"] == hashlib.sha256(output.read_bytes()).hexdigest() and printed["files"] == 4
    failed = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "nothing"), str(output)],
                            capture_output=True, text=True, check=False)
    assert failed.returncode == 1 and "has no folder" in failed.stderr


def test_the_repository_bundles():
    data, files = collection_bundle.build_bundle(str(REPO_ROOT))
    names = [m[0] for m in members(data)]
    assert "meta/runtime.yml" in names and "plugins/modules/zone_sync.py" in names and files > 50
