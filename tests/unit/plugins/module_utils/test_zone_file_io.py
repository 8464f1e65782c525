"""write_zone_file: the zone_file module's plan and write order for the watch service."""

import datetime
import os

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils import zone_text
from ansible_collections.geant.consul_dns.plugins.module_utils.zone_file_io import ZoneFileError, write_zone_file
from ansible_collections.geant.consul_dns.plugins.module_utils.zone_model import ZoneSettings

TODAY = datetime.date(2025, 11, 25)
SETTINGS = ZoneSettings("geant.services", ["ns1.geant.net."], "hostmaster.geant.org")


def records(*addresses):
    return [{"name": "crowd", "type": "A", "value": a, "ttl": 300} for a in addresses]


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
