"""stage_zone_file / StagedZoneFile: the zone file publisher (plan, validate, commit or discard)."""

import datetime
import os

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.dns import zone_text
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.zone_file import (
    ZoneFileError,
    backup_copy,
    plain_replace,
    stage_zone_file,
    zone_file_published,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import ZoneSettings

TODAY = datetime.date(2025, 11, 25)
SETTINGS = ZoneSettings("geant.services", ["ns1.geant.net."], "hostmaster.geant.org")


def records(*addresses):
    return [{"name": "crowd", "type": "A", "value": a, "ttl": 300} for a in addresses]


def write_zone_file(path, settings, wanted, backup=False, **kwargs):
    """Stage and commit at once, as the engine does when nothing else fails."""
    staged = stage_zone_file(path, settings, wanted, **kwargs)
    staged.commit(plain_replace(0o644), backup=backup_copy if backup else None)
    return staged.result()


def test_writes_only_changes_and_reuses_the_parsed_zone(tmp_path, monkeypatch):
    path = str(tmp_path / "geant.services.zone")
    kept = {}
    first = write_zone_file(path, SETTINGS, records("1.1.1.10", "1.1.1.11"), validate="never", today=TODAY, kept=kept)
    assert first["changed"] and first["serial"] == 2025112501 and oct(os.stat(path).st_mode & 0o777) == "0o644"

    def no_parsing(*_args):
        raise AssertionError("the kept zone should have been used")

    monkeypatch.setattr(zone_text, "parse_zone", no_parsing)
    same = write_zone_file(path, SETTINGS, records("1.1.1.11", "1.1.1.10"), validate="never", today=TODAY, kept=kept)
    assert not same["changed"] and same["serial"] == 2025112501
    fewer = write_zone_file(path, SETTINGS, records("1.1.1.10"), validate="never", today=TODAY, kept=kept)
    assert fewer["changed"] and fewer["serial"] == 2025112502 and fewer["removed"][0]["value"] == "1.1.1.11"
    assert "1.1.1.11" not in open(path).read()


def test_no_change_runs_no_named_checkzone_and_leaves_the_file_alone(tmp_path):
    path = str(tmp_path / "geant.services.zone")
    write_zone_file(path, SETTINGS, records("1.1.1.10", "1.1.1.11"), validate="never", today=TODAY)
    before = os.stat(path)
    calls = []

    def checker(argv):
        calls.append(argv)
        return 0, "", ""

    later = TODAY + datetime.timedelta(days=2)
    staged = stage_zone_file(path, SETTINGS, records("1.1.1.11", "1.1.1.10"), validate="always", today=later,
                             run_command=checker, checker_path="/bin/true")
    assert not staged.changed and staged.tmp_path is None and not staged.validated
    staged.commit(plain_replace(0o644))
    after = os.stat(path)
    assert calls == [] and (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert staged.result()["serial"] == 2025112501 and os.listdir(str(tmp_path)) == ["geant.services.zone"]
    changed = stage_zone_file(path, SETTINGS, records("1.1.1.10"), validate="always", today=later,
                              run_command=checker, checker_path="/bin/true")
    assert changed.changed and len(calls) == 1 and changed.result()["serial"] == 2025112701
    changed.discard()


def test_a_file_changed_behind_its_back_is_parsed_again(tmp_path):
    path = str(tmp_path / "geant.services.zone")
    kept = {}
    write_zone_file(path, SETTINGS, records("1.1.1.10"), validate="never", today=TODAY, kept=kept)
    with open(path, "a") as handle:
        handle.write("extra 300 IN A 1.1.1.99\n")
    again = write_zone_file(path, SETTINGS, records("1.1.1.10"), validate="never", today=TODAY, kept=kept)
    assert again["changed"] and again["removed"][0]["value"] == "1.1.1.99"


def test_missing_directory_and_empty_records_are_errors(tmp_path):
    with pytest.raises(ZoneFileError, match="does not exist"):
        write_zone_file(str(tmp_path / "nope" / "z.zone"), SETTINGS, records("1.1.1.10"), validate="never")
    with pytest.raises(ZoneFileError):
        write_zone_file(str(tmp_path / "z.zone"), SETTINGS, [], validate="never")
    assert not os.path.exists(tmp_path / "z.zone")


def test_nothing_is_visible_until_commit_and_discard_leaves_no_trace(tmp_path):
    path = str(tmp_path / "geant.services.zone")
    write_zone_file(path, SETTINGS, records("1.1.1.10"), validate="never", today=TODAY)
    before = open(path).read()
    staged = stage_zone_file(path, SETTINGS, records("1.1.1.10", "1.1.1.11"), validate="never", today=TODAY)
    assert staged.changed and open(path).read() == before
    assert len(os.listdir(str(tmp_path))) == 2  # the zone file and the staged candidate beside it
    staged.discard()
    assert os.listdir(str(tmp_path)) == ["geant.services.zone"] and open(path).read() == before


def test_backup_keeps_the_old_file_under_ansibles_backup_name(tmp_path):
    path = str(tmp_path / "geant.services.zone")
    write_zone_file(path, SETTINGS, records("1.1.1.10"), validate="never", today=TODAY)
    old = open(path).read()
    result = write_zone_file(path, SETTINGS, records("1.1.1.11"), validate="never", today=TODAY, backup=True)
    assert result["backup_file"].startswith(path + ".%d." % os.getpid()) and result["backup_file"].endswith("~")
    assert open(result["backup_file"]).read() == old


def test_named_checkzone_rejection_keeps_the_old_file(tmp_path):
    path = str(tmp_path / "geant.services.zone")
    write_zone_file(path, SETTINGS, records("1.1.1.10"), validate="never", today=TODAY)
    before = open(path).read()

    def rejects(argv):
        return 1, "zone geant.services/IN: bad", ""

    with pytest.raises(ZoneFileError, match="named-checkzone rejected"):
        stage_zone_file(path, SETTINGS, records("1.1.1.11"), validate="auto", today=TODAY, run_command=rejects,
                        checker_path="/bin/true")
    assert os.listdir(str(tmp_path)) == ["geant.services.zone"] and open(path).read() == before


def test_zone_file_published_reads_only_the_collections_own_file(tmp_path):
    path = str(tmp_path / "geant.services.zone")
    assert zone_file_published(path, "geant.services") is None  # missing
    wanted = records("1.1.1.11", "1.1.1.10") + [
        {"name": "web", "type": "AAAA", "value": "2001:db8::1", "ttl": 300},
        {"name": "alias", "type": "CNAME", "value": "crowd.geant.services.", "ttl": 300}]
    write_zone_file(path, SETTINGS, wanted, validate="never", today=TODAY)
    assert zone_file_published(path, "geant.services") == {"crowd": ["1.1.1.10", "1.1.1.11"], "web": ["2001:db8::1"]}
    # A hand-made (or migrated) file is a valid zone but no record of what the collection published.
    with open(path, "w") as handle:
        handle.write("$ORIGIN geant.services.\n$TTL 300\n@ IN SOA ns1.geant.net. hostmaster.geant.org. 1 3600 600 "
                     "1209600 300\n@ IN NS ns1.geant.net.\ncrowd IN A 1.1.1.10\n")
    assert zone_file_published(path, "geant.services") is None
    with open(path, "w") as handle:
        handle.write("garbage\n")
    assert zone_file_published(path, "geant.services") is None
    os.mkdir(str(tmp_path / "dir.zone"))
    assert zone_file_published(str(tmp_path / "dir.zone"), "geant.services") is None
