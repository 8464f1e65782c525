"""geant.consul_dns.zone_file run by a real ansible-playbook (subprocess) on localhost.

The written zone is checked with the real named-checkzone. Serials use the UTC date of the run.
"""

import datetime
import json
import os
import shutil
import stat
from pathlib import Path
import subprocess

import pytest

from tests.playbook import run_playbook
from tests.zone_records import RECORDS, rec

pytestmark = [pytest.mark.slow]

# scripts/bootstrap.sh installs bind9-utils: the suite requires the real named-checkzone.
NAMED_CHECKZONE = shutil.which("named-checkzone") or "/usr/sbin/named-checkzone"

PLAYBOOK = """
- name: Zone file
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the zone
      geant.consul_dns.zone_file:
        path: "{{ zone_path }}"
        zone: geant.services
        records: "{{ records }}"
        nameservers: "{{ nameservers | default(['ns1.geant.net.']) }}"
        hostmaster: hostmaster@geant.org
        backup: "{{ backup | default(false) }}"
        allow_empty: "{{ allow_empty | default(false) }}"
        validate: "{{ validate | default('auto') }}"
      register: zone_result

    - name: Save the result for the test
      ansible.builtin.copy:
        content: "{{ zone_result | to_json }}"
        dest: "{{ result_path }}"
        mode: "0600"
      check_mode: false
      changed_when: false
"""


def today_serials(counter):
    """Today's YYYYMMDDnn (UTC); yesterday's too, in case the run crossed midnight."""
    now = datetime.datetime.now(datetime.timezone.utc).date()
    return {int((now - datetime.timedelta(days=d)).strftime("%Y%m%d")) * 100 + counter for d in (0, 1)}


class Run(object):
    def __init__(self, played, result_path):
        self.rc = played.rc
        self.output = played.output
        self.result = json.loads(result_path.read_text()) if result_path.exists() else None

    def __repr__(self):
        return "<ansible-playbook rc=%s>\n%s" % (self.rc, self.output[-4000:])


@pytest.fixture
def zone_path(tmp_path):
    zones = tmp_path / "zones"
    zones.mkdir()
    return zones / "db.geant.services"


@pytest.fixture
def play(tmp_path, zone_path):
    def _play(*args, **extra_vars):
        extra_vars.setdefault("records", RECORDS)
        extra_vars["zone_path"] = str(zone_path)
        result_path = tmp_path / "result.json"
        if result_path.exists():
            result_path.unlink()
        extra_vars["result_path"] = str(result_path)
        # Private temp dirs: the test asserts no temp file is left beside the zone.
        env = {"ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
               "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote")}
        return Run(run_playbook(PLAYBOOK, extra_vars, args=args, env=env), result_path)

    return _play


def checkzone(path):
    proc = subprocess.run([NAMED_CHECKZONE, "-k", "fail", "geant.services", str(path)],
                          capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_write_idempotent_then_bump(play, zone_path):
    first = play()
    assert first.rc == 0, first
    assert first.result["changed"] and first.result["serial"] in today_serials(1)
    assert first.result["previous_serial"] is None and first.result["records"] == 6
    serial = first.result["serial"]
    text = zone_path.read_text()
    rc, output = checkzone(zone_path)
    assert rc == 0 and "loaded serial %d" % serial in output, output

    second = play("--diff")
    assert second.rc == 0, second
    assert not second.result["changed"] and second.result["serial"] == serial
    assert "changed=0" in second.output
    assert zone_path.read_text() == text

    third = play(records=RECORDS[:-1] + [rec("crowd", "2001:db8::10", rtype="AAAA")])
    assert third.rc == 0, third
    assert third.result["changed"] and third.result["previous_serial"] == serial
    assert third.result["serial"] == serial + 1
    assert third.result["added"] == [rec("crowd", "2001:db8::10", rtype="AAAA")]
    assert third.result["removed"] == [rec("bodportal", "1.1.1.11")]
    rc, output = checkzone(zone_path)
    assert rc == 0 and "loaded serial %d" % (serial + 1) in output, output


def test_check_diff_writes_nothing(play, zone_path):
    assert play().rc == 0
    before = zone_path.read_text()
    mtime = zone_path.stat().st_mtime_ns
    run = play("--check", "--diff", records=RECORDS + [rec("newsvc", "1.1.1.12")])
    assert run.rc == 0, run
    assert run.result["changed"]
    new_serial = run.result["serial"]
    assert "+newsvc 60 IN A 1.1.1.12" in run.output
    assert "%d 3600 600 1209600 300" % new_serial in run.output  # the new SOA line in the diff
    assert zone_path.read_text() == before and zone_path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in zone_path.parent.iterdir()) == ["db.geant.services"]

    # check mode on a missing file creates nothing either
    zone_path.unlink()
    run = play("--check")
    assert run.rc == 0 and run.result["changed"] and not zone_path.exists()


def test_mode_and_owner_are_kept_and_backup(play, zone_path):
    assert play().rc == 0
    os.chmod(str(zone_path), 0o640)
    if os.geteuid() == 0:
        os.chown(str(zone_path), 65534, 65534)
    owner = (zone_path.stat().st_uid, zone_path.stat().st_gid)
    old_text = zone_path.read_text()

    run = play(records=RECORDS[:2], backup=True)
    assert run.rc == 0, run
    assert run.result["changed"]
    st = zone_path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640 and (st.st_uid, st.st_gid) == owner
    backup = Path(run.result["backup_file"])
    assert backup.parent == zone_path.parent and backup.read_text() == old_text


@pytest.mark.parametrize("overrides, expected", [
    ({"nameservers": ["ns1.geant.services."]}, "has no address records"),
    ({"records": RECORDS + [rec("crowd", "cacti", rtype="CNAME")]}, "CNAME and other data"),
    ({"records": []}, "allow_empty"),
])
def test_invalid_zone_never_replaces_the_old_one(play, zone_path, overrides, expected):
    assert play().rc == 0
    before = zone_path.read_text()
    run = play(**overrides)
    assert run.rc != 0, run
    assert expected in run.output
    assert zone_path.read_text() == before
    assert sorted(p.name for p in zone_path.parent.iterdir()) == ["db.geant.services"]


def test_empty_zone_when_allowed(play, zone_path):
    assert play().rc == 0
    run = play(records=[], allow_empty=True)
    assert run.rc == 0, run
    assert run.result["changed"] and run.result["records"] == 0 and len(run.result["removed"]) == 6
