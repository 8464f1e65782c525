"""Rendering, parsing and comparing zone text (dnspython), and the zone_file module's plan."""

import datetime
import os
import shutil
import subprocess

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import Record, ZoneSettings
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.zone_text import (
    ZoneTextError,
    parse_zone,
    plan_zone_file,
    prepare_records,
    render_zone,
    salvage_serial,
    soa_serial,
    zone_content,
    zone_records,
)
from tests.zone_records import RECORDS, rec

TODAY = datetime.date(2025, 11, 25)
ZONE = "geant.services"
NAMED_CHECKZONE = shutil.which("named-checkzone") or (
    "/usr/sbin/named-checkzone" if os.path.exists("/usr/sbin/named-checkzone") else None)


@pytest.fixture
def settings():
    return ZoneSettings(ZONE, ["ns1.geant.net."], "hostmaster@geant.org")


def first_text(settings, records=None):
    return plan_zone_file(settings, RECORDS if records is None else records, None, today=TODAY).text


def named_checkzone(tmp_path, text, zone=ZONE):
    path = tmp_path / "zone"
    path.write_text(text)
    proc = subprocess.run([NAMED_CHECKZONE, "-k", "fail", zone, str(path)], capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr


# --- rendering -----------------------------------------------------------------------------------------

def test_render_is_deterministic_and_sorted(settings):
    text = first_text(settings)
    assert text == first_text(settings, list(reversed(RECORDS)))
    body = [line for line in text.splitlines() if not line.startswith(";")]
    assert body == [
        "$ORIGIN geant.services.",
        "$TTL 300",
        "@ 300 IN SOA ns1.geant.net. hostmaster.geant.org. 2025112501 3600 600 1209600 300",
        "@ 300 IN NS ns1.geant.net.",
        "bodportal 60 IN A 1.1.1.11",
        "cacti 60 IN A 1.1.1.10",
        "crowd 60 IN A 1.1.1.10",
        "crowd 60 IN A 1.1.1.11",
        "dashboard 60 IN A 1.1.1.10",
        "dashboard 60 IN A 1.1.1.11",
    ]
    assert text.startswith("; Zone geant.services")


@pytest.mark.skipif(NAMED_CHECKZONE is None, reason="named-checkzone not installed")
def test_rendered_zone_passes_named_checkzone(settings, tmp_path):
    records = RECORDS + [
        rec("crowd", "2001:db8::a", rtype="AAAA"),
        rec("www", "crowd", rtype="CNAME", ttl=300),
        rec("info", '"v=spf1 -all"', rtype="TXT"),
        rec("@", "10 mail.geant.net.", rtype="MX"),
    ]
    rc, output = named_checkzone(tmp_path, first_text(settings, records))
    assert rc == 0, output
    assert "loaded serial 2025112501" in output


def test_round_trip_through_the_parser(settings):
    records = RECORDS + [rec("crowd", "2001:DB8:0::A", rtype="AAAA"), rec("www", "crowd", rtype="CNAME")]
    text = first_text(settings, records)
    zone = parse_zone(text, ZONE)
    assert soa_serial(zone) == 2025112501
    parsed = [r for r in zone_records(zone) if r.rtype not in ("SOA", "NS")]
    assert Record("crowd", "AAAA", 60, "2001:db8::a") in parsed
    assert Record("www", "CNAME", 60, "crowd.geant.services.") in parsed
    assert len(parsed) == len(records)


def test_ttl_mismatch_in_one_rrset_uses_the_lowest_with_a_warning(settings):
    plan = plan_zone_file(settings, [rec("crowd", "1.1.1.10", ttl=60), rec("crowd", "1.1.1.11", ttl=30)],
                          None, today=TODAY)
    assert "crowd 30 IN A 1.1.1.10" in plan.text
    assert any("different TTLs" in w for w in plan.warnings)


# --- record validation ---------------------------------------------------------------------------------

def test_empty_records_are_refused_unless_allowed(settings):
    with pytest.raises(ZoneTextError, match="allow_empty"):
        plan_zone_file(settings, [], None, today=TODAY)
    plan = plan_zone_file(settings, [], None, today=TODAY, allow_empty=True)
    assert plan.changed and len(plan.records) == 0


@pytest.mark.parametrize("bad, message", [
    (rec("crowd", "1.1.1.300"), "records\\[0\\]"),
    (rec("crowd", "2001:db8::1"), "not a valid A"),
    ({"name": "crowd", "type": "A", "value": "1.1.1.1"}, "needs name, type, ttl"),
    (rec("bad_name", "1.1.1.1"), "not a valid DNS host name"),
    (rec("@", "ns9.geant.net.", rtype="NS"), "apex NS"),
    (rec("@", "a. b. 1 2 3 4 5", rtype="SOA"), "apex SOA"),
    (rec("txt", "x\nevil 60 IN A 6.6.6.6", rtype="TXT"), "one line"),
    ("crowd", "not a dict"),
])
def test_invalid_records_are_refused(bad, message):
    with pytest.raises(ZoneTextError, match=message):
        prepare_records([bad])


@pytest.mark.parametrize("records, message", [
    ([rec("www", "crowd", rtype="CNAME"), rec("www", "1.1.1.1")], "CNAME and other data"),
    ([rec("www", "crowd", rtype="CNAME"), rec("www", "cacti", rtype="CNAME")], "2 CNAME"),
    ([rec("@", "crowd", rtype="CNAME")], "apex"),
])
def test_cname_clashes_are_refused(records, message):
    with pytest.raises(ZoneTextError, match=message):
        prepare_records(records)


def test_invalid_value_for_other_types_is_refused(settings):
    with pytest.raises(ZoneTextError, match="MX"):
        plan_zone_file(settings, [rec("@", "mail.geant.net.", rtype="MX")], None, today=TODAY)


def test_duplicates_collapse():
    assert len(prepare_records(RECORDS + RECORDS)) == len(RECORDS)


# --- the plan: idempotence and serials -----------------------------------------------------------------

def test_new_file(settings):
    plan = plan_zone_file(settings, RECORDS, None, today=TODAY)
    assert plan.changed
    assert (plan.serial, plan.previous_serial) == (2025112501, None)
    assert len(plan.records) == 6
    assert len(plan.added) == 7  # 6 A + apex NS
    assert plan.removed == []


def test_same_records_do_not_change_the_zone_or_the_serial(settings):
    text = first_text(settings)
    later = TODAY + datetime.timedelta(days=3)
    plan = plan_zone_file(settings, list(reversed(RECORDS)) + RECORDS[:1], text, today=later)
    assert not plan.changed
    assert plan.serial == plan.previous_serial == 2025112501
    assert plan.text == text
    assert plan.added == plan.removed == []


def test_formatting_alone_is_not_a_change(settings):
    hand_written = """$TTL 300
$ORIGIN geant.services.
; hand formatted, multi-line SOA, upper case, absolute names
@   IN SOA ns1.geant.net. hostmaster.geant.org. (
        2025010107 ; serial
        3600 600 1209600 300 )
    300 IN NS ns1.geant.net.
CROWD.geant.services. 60 IN A 1.1.1.11
crowd 60 IN A 1.1.1.10
dashboard 60 IN A 1.1.1.11
dashboard 60 IN A 1.1.1.10
cacti 60 IN A 1.1.1.10
bodportal 60 A 1.1.1.11
"""
    plan = plan_zone_file(settings, RECORDS, hand_written, today=TODAY)
    assert not plan.changed, (plan.added, plan.removed, plan.soa_changed)
    assert plan.serial == 2025010107


def test_changed_records_bump_the_serial_same_day(settings):
    text = first_text(settings)
    new_records = [r for r in RECORDS if r["name"] != "cacti"] + [rec("crowd", "1.1.1.12")]
    plan = plan_zone_file(settings, new_records, text, today=TODAY)
    assert plan.changed
    assert (plan.previous_serial, plan.serial) == (2025112501, 2025112502)
    assert plan.added == [Record("crowd", "A", 60, "1.1.1.12")]
    assert plan.removed == [Record("cacti", "A", 60, "1.1.1.10")]
    assert "2025112502" in plan.text
    # and the day after, today's first serial
    plan = plan_zone_file(settings, new_records, text, today=TODAY + datetime.timedelta(days=1))
    assert plan.serial == 2025112601


def test_changed_plan_text_is_the_zone_rendered_at_the_new_serial(settings):
    """The plan builds the zone once and moves its serial; the text is what a fresh render gives."""
    text = first_text(settings)
    new_records = RECORDS[1:] + [rec("crowd", "1.1.1.12"), rec("@", "2001:db8::1", rtype="AAAA")]
    plan = plan_zone_file(settings, new_records, text, today=TODAY)
    assert plan.text == render_zone(settings, prepare_records(new_records), 2025112502)[0]
    assert plan.zone.serial == 2025112502 and plan.zone == zone_content(parse_zone(plan.text, ZONE))


def test_a_kept_zone_replaces_parsing_the_file(settings):
    first = plan_zone_file(settings, RECORDS, None, today=TODAY)
    again = plan_zone_file(settings, RECORDS, first.text, today=TODAY, existing_zone=first.zone)
    assert not again.changed and again.zone is first.zone
    changed = [rec("crowd", "1.1.1.12")] + RECORDS
    parsed = plan_zone_file(settings, changed, first.text, today=TODAY)
    kept = plan_zone_file(settings, changed, first.text, today=TODAY, existing_zone=first.zone)
    assert (kept.text, kept.added, kept.removed, kept.serial) == (parsed.text, parsed.added, parsed.removed,
                                                                  parsed.serial)


def test_ttl_change_is_a_change(settings):
    text = first_text(settings)
    plan = plan_zone_file(settings, [dict(r, ttl=120) for r in RECORDS], text, today=TODAY)
    assert plan.changed and len(plan.added) == 6 and len(plan.removed) == 6


@pytest.mark.parametrize("changes", [
    {"refresh": 7200}, {"retry": 900}, {"expire": 604800}, {"negative_ttl": 60}, {"soa_ttl": 3600},
    {"hostmaster": "dns@geant.org"},
])
def test_soa_settings_are_a_change(settings, changes):
    text = first_text(settings)
    args = dict(zone=ZONE, nameservers=["ns1.geant.net."], hostmaster="hostmaster@geant.org")
    args.update(changes)
    plan = plan_zone_file(ZoneSettings(**args), RECORDS, text, today=TODAY)
    assert plan.changed and plan.soa_changed
    assert plan.serial == 2025112502


def test_nameserver_change_is_a_change(settings):
    text = first_text(settings)
    other = ZoneSettings(ZONE, ["ns1.geant.net.", "ns2.geant.net"], "hostmaster@geant.org")
    plan = plan_zone_file(other, RECORDS, text, today=TODAY)
    assert plan.changed and not plan.soa_changed
    assert plan.added == [Record("@", "NS", 300, "ns2.geant.net.")]


def test_serial_ahead_of_today_continues(settings):
    future = first_text(settings).replace("2025112501", "2031010199")
    plan = plan_zone_file(settings, RECORDS[:2], future, today=TODAY)
    assert (plan.previous_serial, plan.serial) == (2031010199, 2031010200)


def test_unparseable_file_is_replaced_with_a_warning(settings):
    plan = plan_zone_file(settings, RECORDS, "this is not a zone file\n", today=TODAY)
    assert plan.changed and plan.previous_serial is None and plan.serial == 2025112501
    assert not plan.existing_valid
    assert any("cannot be parsed" in w for w in plan.warnings)


def test_unparseable_file_keeps_its_serial_when_the_soa_is_readable(settings):
    no_ns = "$ORIGIN geant.services.\n@ 300 IN SOA ns1.geant.net. hostmaster.geant.org. 2030020205 1 2 3 4\n"
    assert salvage_serial(no_ns, ZONE) == 2030020205
    plan = plan_zone_file(settings, RECORDS, no_ns, today=TODAY)
    assert plan.changed and plan.previous_serial == 2030020205 and plan.serial == 2030020206
    assert any("continued" in w for w in plan.warnings)


def test_file_of_another_zone_is_unparseable(settings):
    other = first_text(ZoneSettings("geant.org", ["ns1.geant.net."], "hostmaster@geant.org"))
    plan = plan_zone_file(settings, RECORDS, other, today=TODAY)
    assert plan.changed and plan.warnings


def test_other_types_are_idempotent(settings):
    records = RECORDS + [
        rec("www", "crowd", rtype="CNAME", ttl=300),
        rec("alias", "crowd.geant.services.", rtype="CNAME"),
        rec("info", '"v=spf1 -all"', rtype="TXT"),
        rec("@", "10 mail.geant.net.", rtype="MX"),
        rec("sub", "ns1.geant.net.", rtype="NS"),
    ]
    text = first_text(settings, records)
    assert not plan_zone_file(settings, records, text, today=TODAY).changed


def test_record_objects_are_accepted(settings):
    objects = [Record.from_dict(r) for r in RECORDS]
    assert plan_zone_file(settings, objects, None, today=TODAY).text == first_text(settings)
