"""The zone_file module in-process (AnsibleModule with patched arguments, real files, real named-checkzone)."""

import datetime
import os
import shutil
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.geant.consul_dns.plugins.module_utils.dns import serial as zone_serial
from ansible_collections.geant.consul_dns.plugins.modules import zone_file
from tests.unit.plugins.modules.harness import ModuleExit
from tests.zone_records import RECORDS, rec

TODAY = datetime.date(2025, 11, 25)
HAS_CHECKZONE = bool(shutil.which("named-checkzone") or os.path.exists("/usr/sbin/named-checkzone"))
needs_checkzone = pytest.mark.skipif(not HAS_CHECKZONE, reason="named-checkzone not installed")


@pytest.fixture
def today(monkeypatch):
    state = {"today": TODAY}
    monkeypatch.setattr(zone_serial, "utc_today", lambda: state["today"])
    return state


@pytest.fixture
def zone_path(tmp_path):
    return tmp_path / "zones" / "db.geant.services"


@pytest.fixture
def run(tmp_path, zone_path, today):
    zone_path.parent.mkdir(exist_ok=True)
    module_tmp = tmp_path / "module_tmp"
    module_tmp.mkdir(exist_ok=True)

    def _run(check=False, diff=False, **overrides):
        args = dict(path=str(zone_path), zone="geant.services", records=RECORDS,
                    nameservers=["ns1.geant.net."], hostmaster="hostmaster@geant.org",
                    _ansible_check_mode=check, _ansible_diff=diff, _ansible_tmpdir=str(module_tmp))
        args.update(overrides)
        with patch_module_args(args):
            with pytest.raises(ModuleExit) as info:
                zone_file.main()
        return info.value.result

    return _run


def test_first_run_then_idempotent(run, zone_path):
    first = run()
    assert not first.get("failed"), first
    assert first["changed"] and first["serial"] == 2025112501 and first["previous_serial"] is None
    assert first["records"] == 6 and len(first["added"]) == 7 and first["removed"] == []
    assert first["validated"] is HAS_CHECKZONE
    text = zone_path.read_text()
    assert "2025112501" in text and "crowd 60 IN A 1.1.1.11" in text

    second = run(records=list(reversed(RECORDS)))
    assert not second["changed"]
    assert second["serial"] == second["previous_serial"] == 2025112501
    assert zone_path.read_text() == text


def test_changed_records_bump_serial_and_report(run, zone_path, today):
    run()
    result = run(records=RECORDS[:-1])
    assert result["changed"] and result["serial"] == 2025112502
    assert result["removed"] == [rec("bodportal", "1.1.1.11")]
    today["today"] = TODAY + datetime.timedelta(days=1)
    result = run(records=RECORDS)
    assert result["serial"] == 2025112601 and result["previous_serial"] == 2025112502
    assert result["added"] == [rec("bodportal", "1.1.1.11")]


def test_check_mode_writes_nothing_and_diff_tells_the_truth(run, zone_path, tmp_path):
    result = run(check=True, diff=True)
    assert result["changed"] and result["serial"] == 2025112501
    assert not zone_path.exists()
    assert "2025112501" in result["diff"]["after"] and result["diff"]["before"] == ""

    run()
    before = zone_path.read_text()
    result = run(check=True, diff=True, records=RECORDS + [rec("new", "1.1.1.12")])
    assert result["changed"] and result["serial"] == 2025112502
    assert result["diff"]["before"] == before
    assert "new 60 IN A 1.1.1.12" in result["diff"]["after"] and "2025112502" in result["diff"]["after"]
    assert zone_path.read_text() == before
    assert sorted(os.listdir(str(zone_path.parent))) == ["db.geant.services"]  # no temp files left


def test_diff_when_unchanged(run):
    run()
    result = run(diff=True)
    assert not result["changed"] and result["diff"]["before"] == result["diff"]["after"]


def test_mode_of_existing_file_is_kept_and_mode_option_applies(run, zone_path):
    run()
    os.chmod(str(zone_path), 0o640)
    run(records=RECORDS[:2])
    assert stat.S_IMODE(os.stat(str(zone_path)).st_mode) == 0o640
    result = run(records=RECORDS[:3], mode="0600", diff=True)
    assert stat.S_IMODE(os.stat(str(zone_path)).st_mode) == 0o600
    assert isinstance(result["diff"], list) and result["diff"][1]["after"]["mode"] == "0600"
    # attributes alone: changed, serial kept
    result = run(records=RECORDS[:3], mode="0644")
    assert result["changed"] and result["serial"] == result["previous_serial"]


def test_backup(run, zone_path):
    run()
    old = zone_path.read_text()
    result = run(records=RECORDS[:1], backup=True)
    assert result["backup_file"] and open(result["backup_file"]).read() == old
    result = run(records=RECORDS[:1], backup=True)
    assert "backup_file" not in result


def test_unparseable_file_is_replaced_with_warning_and_backup(run, zone_path):
    zone_path.write_text("garbage\n")
    result = run(backup=True)
    assert result["changed"] and result["previous_serial"] is None
    assert open(result["backup_file"]).read() == "garbage\n"
    assert "garbage" not in zone_path.read_text()


@needs_checkzone
def test_invalid_zone_never_replaces_the_old_file(run, zone_path):
    run()
    before = zone_path.read_text()
    result = run(nameservers=["ns1.geant.services."])  # in-zone NS without an address record
    assert result["failed"]
    assert "named-checkzone rejected" in result["msg"] and "has no address records" in result["msg"]
    assert "ns1.geant.services" in result["named_checkzone_output"]
    assert zone_path.read_text() == before
    assert sorted(os.listdir(str(zone_path.parent))) == ["db.geant.services"]
    # with the address it is fine
    result = run(nameservers=["ns1.geant.services."], records=RECORDS + [rec("ns1", "1.1.1.53")])
    assert result["changed"] and result["validated"]


@needs_checkzone
def test_invalid_zone_fails_in_check_mode_too(run, zone_path):
    result = run(check=True, nameservers=["ns1.geant.services."])
    assert result["failed"] and not zone_path.exists()


def test_validate_never_skips_named_checkzone(run):
    result = run(validate="never", nameservers=["ns1.geant.services."])
    assert result["changed"] and not result["validated"]


def test_validate_always_without_binary_fails(run, zone_path, tmp_path):
    result = run(validate="always", named_checkzone_path=str(tmp_path / "nope"))
    assert result["failed"] and "not an executable" in result["msg"]
    assert not zone_path.exists()


def test_validate_always_not_found_fails(run, zone_path, monkeypatch):
    from ansible_collections.geant.consul_dns.plugins.module_utils.dns import zone_file as zone_file_utils
    monkeypatch.setattr(zone_file_utils, "which_named_checkzone", lambda: None)
    result = run(validate="always")
    assert result["failed"] and "validate=always" in result["msg"]
    result = run(validate="auto")
    assert result["changed"] and not result["validated"]


def test_empty_records_refused(run, zone_path):
    run()
    before = zone_path.read_text()
    result = run(records=[])
    assert result["failed"] and "allow_empty" in result["msg"]
    assert zone_path.read_text() == before
    result = run(records=[], allow_empty=True)
    assert result["changed"] and result["records"] == 0 and len(result["removed"]) == 6


def test_cname_clash_refused(run, zone_path):
    result = run(records=RECORDS + [rec("crowd", "cacti", rtype="CNAME")])
    assert result["failed"] and "CNAME" in result["msg"] and not zone_path.exists()


def test_missing_directory(run, tmp_path):
    result = run(path=str(tmp_path / "missing" / "zone"))
    assert result["failed"] and "does not exist" in result["msg"]


def test_invalid_settings(run):
    result = run(nameservers=[])
    assert result["failed"] and "name server" in result["msg"]


def test_missing_dnspython(run, monkeypatch):
    monkeypatch.setattr(zone_file, "HAS_DNSPYTHON", False)
    monkeypatch.setattr(zone_file, "DNSPYTHON_IMPORT_ERROR", "ImportError: dns")
    result = run()
    assert result["failed"] and "dnspython" in result["msg"]


def test_documentation_parses():
    import yaml

    doc = yaml.safe_load(zone_file.DOCUMENTATION)
    assert doc["module"] == "zone_file" and doc["version_added"] == "0.1.0"
    assert set(doc["options"]) == set(zone_file.argument_spec())
    yaml.safe_load(zone_file.EXAMPLES)
    assert {"serial", "previous_serial", "records", "added", "removed", "backup_file"} <= set(
        yaml.safe_load(zone_file.RETURN))
