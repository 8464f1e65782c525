"""The canonical zone file form: renderer and strict parser against dnspython, fallbacks, the no-change path."""

import datetime
import random

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.dns import zone_text
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.records import Record, ZoneSettings
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.zone_canonical import (
    NotCanonical,
    build_canonical,
    parse_canonical,
)
from ansible_collections.geant.consul_dns.plugins.module_utils.dns.zone_text import (
    ZoneTextError,
    build_zone,
    parse_zone,
    plan_zone_file,
    prepare_records,
    zone_content,
    zone_to_text,
)

TODAY = datetime.date(2025, 11, 25)
ZONE = "geant.services"
SETTINGS = ZoneSettings(ZONE, ["ns1.geant.net."], "hostmaster@geant.org")


def rec(name, value, ttl=300, rtype="A"):
    return {"name": name, "type": rtype, "ttl": ttl, "value": value}


ADDRESSES = [rec("crowd", "1.1.1.10"), rec("crowd", "1.1.1.11"), rec("dashboard", "1.1.1.10"),
             rec("cacti", "10.0.0.1", ttl=60), rec("a.b", "10.0.0.2"), rec("b.a", "10.0.0.3"),
             rec("a-b", "10.0.0.4"), rec("0a", "10.0.0.5"), rec("a", "10.0.0.6"), rec("b", "10.0.0.7")]
OTHER_TYPES = [
    rec("crowd", "2001:DB8:0::A", rtype="AAAA"), rec("crowd", "::ffff:1.2.3.4", rtype="AAAA"),
    rec("mapped", "::1.2.3.4", rtype="AAAA"), rec("v6", "2001:db8:0:0:1:0:0:1", rtype="AAAA"),
    rec("www", "crowd", rtype="CNAME"), rec("alias", "crowd.geant.services.", rtype="CNAME"),
    rec("outside", "www.geant.org.", rtype="CNAME"), rec("apex-alias", "@", rtype="CNAME"),
    rec("info", '"v=spf1 -all"', rtype="TXT"), rec("info", 'plain', rtype="TXT"),
    rec("info", '"two" "strings; with a semicolon"', rtype="TXT"), rec("esc", r'"quote \" and \\ back"', rtype="TXT"),
    rec("@", "10 mail.geant.net.", rtype="MX"), rec("@", "20 crowd", rtype="MX"),
    rec("@", '"google-site-verification=x"', rtype="TXT"), rec("@", "1.1.1.1"), rec("@", "2001:db8::1", rtype="AAAA"),
    rec("sip", "10 5 5060 crowd", rtype="SRV"), rec("sip", "20 0 5061 sip.geant.org.", rtype="SRV"),
    rec("sub", "ns1.geant.net.", rtype="NS"), rec("sub", "ns.sub", rtype="NS"), rec("ns.sub", "10.9.9.9"),
    rec("ptr", "crowd.geant.services.", rtype="PTR"), rec("@", '0 issue "letsencrypt.org"', rtype="CAA"),
]
SETTINGS_VARIANTS = [
    SETTINGS,
    ZoneSettings(ZONE, ["ns1.geant.services.", "ns2.geant.net"], "first.last@geant.org", default_ttl=60,
                 soa_ttl=3600, refresh=7200, retry=900, expire=604800, negative_ttl=60),
    ZoneSettings("Sub-1.GEANT.services.", ["ns1.geant.net."], "hostmaster.geant.org."),
]


def dnspython_text(settings, records, serial):
    """The zone file text as the collection wrote it before the canonical renderer (dnspython)."""
    zone, warnings = build_zone(settings, prepare_records(records), serial)
    return zone_to_text(zone, settings), warnings


def dnspython_only(monkeypatch):
    """Switch the canonical form off: the plan renders and reads with dnspython only, as before."""
    monkeypatch.setattr(zone_text, "build_canonical", lambda settings, records: None)

    def never(text, zone):
        raise NotCanonical("switched off")

    monkeypatch.setattr(zone_text, "parse_canonical", never)


def plan_fields(plan):
    return (plan.changed, plan.serial, plan.previous_serial, plan.records, plan.added, plan.removed,
            plan.soa_changed, plan.existing_valid, plan.warnings)


# --- the renderer writes what dnspython wrote -----------------------------------------------------------

@pytest.mark.parametrize("settings", SETTINGS_VARIANTS)
@pytest.mark.parametrize("records", [ADDRESSES, ADDRESSES + OTHER_TYPES, OTHER_TYPES[:4], [rec("x", "1.2.3.4")]])
def test_canonical_text_is_dnspythons_text(settings, records):
    wanted = prepare_records(records)
    canonical = build_canonical(settings, wanted)
    expected, warnings = dnspython_text(settings, records, 2025112501)
    assert canonical.text(2025112501) == expected
    assert canonical.warnings == warnings
    assert canonical.text(7) == dnspython_text(settings, records, 7)[0]


def test_ttls_of_an_rrset_and_duplicates_follow_dnspython():
    records = [rec("crowd", "1.1.1.10", ttl=60), rec("crowd", "1.1.1.11", ttl=30), rec("crowd", "1.1.1.10", ttl=10),
               rec("@", "10 mail", ttl=99, rtype="MX"), rec("@", "10 MAIL", ttl=98, rtype="MX")]
    canonical = build_canonical(SETTINGS, prepare_records(records))
    expected, warnings = dnspython_text(SETTINGS, records, 1)
    assert canonical.text(1) == expected and canonical.warnings == warnings
    assert "crowd 10 IN A 1.1.1.10" in expected and len(warnings) == 2


def test_random_zones_render_as_dnspython_does():
    rng = random.Random(1982)
    for _round in range(20):
        records = []
        for _index in range(rng.randint(1, 60)):
            name = ".".join(rng.choice(["a", "b", "crowd", "x-1", "9", "zz"]) for _i in range(rng.randint(1, 3)))
            ttl = rng.choice([0, 30, 300, 2147483647])
            if rng.random() < 0.7:
                records.append(rec(name, "10.%d.%d.%d" % (rng.randint(0, 3), rng.randint(0, 3), rng.randint(0, 255)),
                                   ttl))
            else:
                records.append(rec(name, "2001:db8::%x" % rng.randint(0, 65535), ttl, "AAAA"))
        canonical = build_canonical(SETTINGS, prepare_records(records))
        serial = rng.randint(0, 4294967295)
        assert canonical.text(serial) == dnspython_text(SETTINGS, records, serial)[0]
        assert parse_canonical(canonical.text(serial), ZONE) == zone_content(parse_zone(canonical.text(serial), ZONE))


def test_types_outside_the_canonical_form_use_dnspython(monkeypatch):
    records = ADDRESSES + [rec("host", '"x86" "linux"', rtype="HINFO"), rec("old", "crowd", rtype="DNAME")]
    assert build_canonical(SETTINGS, prepare_records(records)) is None
    plan = plan_zone_file(SETTINGS, records, None, today=TODAY)
    assert plan.text == dnspython_text(SETTINGS, records, 2025112501)[0]
    with pytest.raises(NotCanonical, match="type HINFO"):
        parse_canonical(plan.text, ZONE)
    again = plan_zone_file(SETTINGS, records, plan.text, today=TODAY)
    assert not again.changed and again.serial == 2025112501
    changed = plan_zone_file(SETTINGS, records[1:], plan.text, today=TODAY)
    assert changed.changed and changed.removed == [Record("crowd", "A", 300, "1.1.1.10")]


@pytest.mark.parametrize("record, message", [
    (Record("crowd", "A", 300, "1.1.1.010"), "not valid"),
    (Record("crowd", "A", 300, "2001:db8::1"), "not valid"),
    (Record("crowd", "AAAA", 300, "fe80::1%eth0"), "not valid"),
    (Record("@", "MX", 300, "mail.geant.net."), "record @ MX"),
    (Record("sip", "SRV", 300, "10 5 crowd"), "record sip SRV"),
])
def test_invalid_values_are_refused_as_build_zone_refuses_them(record, message):
    with pytest.raises(ZoneTextError, match=message):
        build_canonical(SETTINGS, [record])
    with pytest.raises(ZoneTextError, match=message):
        build_zone(SETTINGS, [record], 1)


def test_a_name_too_long_for_the_zone_is_refused():
    records = [rec(".".join(["a" * 60] * 4), "1.1.1.1")]  # 243 characters: fine alone, too long in the zone
    with pytest.raises(ZoneTextError, match="longer than 253"):
        build_canonical(SETTINGS, prepare_records(records))
    with pytest.raises(ZoneTextError, match="too long"):
        build_zone(SETTINGS, prepare_records(records), 1)
    with pytest.raises(ZoneTextError, match="longer than 253"):
        plan_zone_file(SETTINGS, records, BASE, today=TODAY)
    for length in (237, 238, 239):  # + "." + "geant.services": 252, 253 (the longest name), 254
        name = ".".join(["a" * 60] * 3 + ["b" * (length - 183)])
        wanted = prepare_records([rec(name, "1.1.1.1")])
        if length <= 238:
            assert build_canonical(SETTINGS, wanted).text(1) == zone_to_text(build_zone(SETTINGS, wanted, 1)[0],
                                                                             SETTINGS)
        else:
            with pytest.raises(ZoneTextError):
                build_canonical(SETTINGS, wanted)
            with pytest.raises(ZoneTextError):
                build_zone(SETTINGS, wanted, 1)


def test_an_invalid_hostmaster_is_refused():
    with pytest.raises(ZoneTextError, match="SOA"):
        build_canonical(ZoneSettings(ZONE, ["ns1.geant.net."], "bad name@geant.org"), [])


# --- the strict parser reads what dnspython reads -------------------------------------------------------

@pytest.mark.parametrize("settings", SETTINGS_VARIANTS)
@pytest.mark.parametrize("records", [ADDRESSES, ADDRESSES + OTHER_TYPES, OTHER_TYPES])
def test_canonical_parse_equals_dnspython_parse(settings, records):
    text = plan_zone_file(settings, records, None, today=TODAY).text
    parsed = parse_canonical(text, settings.zone)
    assert parsed == zone_content(parse_zone(text, settings.zone))
    assert parsed.serial == 2025112501
    assert Record("@", "NS", settings.soa_ttl, settings.nameservers[0]) in parsed.records


def test_parsed_values_are_absolute_as_zone_records_gives_them():
    text = plan_zone_file(SETTINGS, ADDRESSES + OTHER_TYPES, None, today=TODAY).text
    records = parse_canonical(text, ZONE).records
    assert Record("www", "CNAME", 300, "crowd.geant.services.") in records
    assert Record("apex-alias", "CNAME", 300, "geant.services.") in records
    assert Record("crowd", "AAAA", 300, "::ffff:1.2.3.4") in records
    assert Record("sip", "SRV", 300, "10 5 5060 crowd.geant.services.") in records


BASE = plan_zone_file(SETTINGS, ADDRESSES + OTHER_TYPES[:6], None, today=TODAY).text


def edit(old, new, count=1):
    assert old in BASE
    return BASE.replace(old, new, count)


NOT_CANONICAL = {
    "hand formatted SOA": edit("@ 300 IN SOA ns1.geant.net. hostmaster.geant.org. 2025112501 3600 600 1209600 300",
                               "@ 300 IN SOA ns1.geant.net. hostmaster.geant.org. (\n 2025112501 ; serial\n"
                               " 3600 600 1209600 300 )"),
    "upper case owner": edit("crowd 300 IN A 1.1.1.10", "CROWD 300 IN A 1.1.1.10"),
    "absolute owner": edit("crowd 300 IN A 1.1.1.10", "crowd.geant.services. 300 IN A 1.1.1.10"),
    "no TTL": edit("crowd 300 IN A 1.1.1.10", "crowd IN A 1.1.1.10"),
    "TTL with unit": edit("crowd 300 IN A 1.1.1.10", "crowd 5m IN A 1.1.1.10"),
    "no class": edit("crowd 300 IN A 1.1.1.10", "crowd 300 A 1.1.1.10"),
    "tab": edit("crowd 300 IN A 1.1.1.10", "crowd\t300 IN A 1.1.1.10"),
    "two spaces": edit("crowd 300 IN A 1.1.1.10", "crowd  300 IN A 1.1.1.10"),
    "trailing comment": edit("crowd 300 IN A 1.1.1.10", "crowd 300 IN A 1.1.1.10 ; web"),
    "CRLF": BASE.replace("\n", "\r\n"),
    "comment line": edit("crowd 300 IN A 1.1.1.10\n", "crowd 300 IN A 1.1.1.10\n; note\n"),
    "blank line": edit("crowd 300 IN A 1.1.1.10\n", "crowd 300 IN A 1.1.1.10\n\n"),
    "continuation line": edit("crowd 300 IN A 1.1.1.11", " 300 IN A 1.1.1.11"),
    "include": BASE + "$INCLUDE /etc/passwd\n",
    "generate": BASE + "$GENERATE 1-3 host$ 300 IN A 10.0.0.$\n",
    "duplicate record": BASE + "crowd 300 IN A 1.1.1.10\n",
    "two TTLs in one RRset": edit("crowd 300 IN A 1.1.1.11", "crowd 60 IN A 1.1.1.11"),
    "CNAME and other data": BASE + "www 300 IN A 1.1.1.1\n",
    "two CNAMEs": BASE + "www 300 IN CNAME dashboard\n",
    "lower case type": edit("crowd 300 IN A 1.1.1.10", "crowd 300 IN a 1.1.1.10"),
    "other class": edit("crowd 300 IN A 1.1.1.10", "crowd 300 CH A 1.1.1.10"),
    "leading zero": edit("crowd 300 IN A 1.1.1.10", "crowd 300 IN A 1.1.1.010"),
    "AAAA not compressed": edit("2001:db8::a", "2001:db8:0::a"),
    "AAAA upper case": edit("2001:db8::a", "2001:DB8::A"),
    "relative CNAME written absolute": edit("www 300 IN CNAME crowd", "www 300 IN CNAME crowd.geant.services."),
    "no apex NS": edit("@ 300 IN NS ns1.geant.net.\n", ""),
    "SOA not first": edit("@ 300 IN NS ns1.geant.net.\n", "").replace(
        "@ 300 IN SOA", "@ 300 IN NS ns1.geant.net.\n@ 300 IN SOA"),
    "second SOA": BASE + "@ 300 IN SOA ns1.geant.net. hostmaster.geant.org. 1 2 3 4 5\n",
    "serial too large": edit("2025112501", "4294967296"),
    "serial with leading zero": edit("2025112501", "02025112501"),
    "TTL too large": edit("crowd 300 IN A 1.1.1.10", "crowd 2147483648 IN A 1.1.1.10"),
    "no final newline": BASE[:-1],
    "truncated in a record": BASE[:BASE.index("1.1.1.10") + 5],
    "no header": BASE.split("\n", 2)[2],
    "header of another tool": "; generated by other-tool\n" + BASE.split("\n", 2)[2],
    "other zone": BASE.replace("$ORIGIN geant.services.", "$ORIGIN geant.org."),
    "no $TTL": edit("$TTL 300\n", ""),
    "empty": "",
    "binary": "\x00\x01\x02garbage\ufffd\n",
    "owner too long": BASE + "%s 300 IN A 1.1.1.1\n" % ".".join(["a" * 60] * 4),
    "non-ascii digit TTL": edit("crowd 300 IN A 1.1.1.10", "crowd \u0663 IN A 1.1.1.10"),
}


@pytest.mark.parametrize("case", sorted(NOT_CANONICAL))
def test_non_canonical_text_is_refused(case):
    with pytest.raises(NotCanonical):
        parse_canonical(NOT_CANONICAL[case], ZONE)


@pytest.mark.parametrize("case", sorted(NOT_CANONICAL))
def test_non_canonical_files_are_planned_exactly_as_with_dnspython(case, monkeypatch):
    records = ADDRESSES + OTHER_TYPES[:6]
    text = NOT_CANONICAL[case]
    plan = plan_zone_file(SETTINGS, records, text, today=TODAY)
    with monkeypatch.context() as patch:
        dnspython_only(patch)
        reference = plan_zone_file(SETTINGS, records, text, today=TODAY)
    assert plan_fields(plan) == plan_fields(reference)
    assert plan.text == reference.text


def test_a_canonical_file_with_unchanged_content_keeps_its_serial_without_parsing(monkeypatch):
    def no_parsing(*_args):
        raise AssertionError("the no-change path must not parse the file")

    monkeypatch.setattr(zone_text, "parse_canonical", no_parsing)
    monkeypatch.setattr(zone_text, "parse_zone", no_parsing)
    later = TODAY + datetime.timedelta(days=30)
    plan = plan_zone_file(SETTINGS, list(reversed(ADDRESSES + OTHER_TYPES[:6])), BASE, today=later)
    assert not plan.changed and plan.serial == plan.previous_serial == 2025112501 and plan.text is BASE
    assert plan.existing_valid and plan.added == plan.removed == []


def test_a_file_written_by_dnspython_is_recognised_as_unchanged(monkeypatch):
    """Files written before the canonical renderer are the same text: no rewrite after the upgrade."""
    old_text = dnspython_text(SETTINGS, ADDRESSES + OTHER_TYPES, 2030010107)[0]
    monkeypatch.setattr(zone_text, "parse_zone", None)  # neither parser is needed
    plan = plan_zone_file(SETTINGS, ADDRESSES + OTHER_TYPES, old_text, today=TODAY)
    assert not plan.changed and plan.serial == 2030010107


def test_formatting_only_differences_are_no_change_and_keep_the_file():
    text = NOT_CANONICAL["trailing comment"]
    plan = plan_zone_file(SETTINGS, ADDRESSES + OTHER_TYPES[:6], text, today=TODAY)
    assert not plan.changed and plan.text is text and plan.serial == 2025112501


def test_a_canonical_file_with_other_records_is_a_change_read_by_the_canonical_parser(monkeypatch):
    monkeypatch.setattr(zone_text, "parse_zone", None)  # the canonical parser reads it
    records = ADDRESSES + OTHER_TYPES[:6]
    plan = plan_zone_file(SETTINGS, records[1:] + [rec("new", "10.1.1.1")], BASE, today=TODAY)
    assert plan.changed and (plan.previous_serial, plan.serial) == (2025112501, 2025112502)
    assert plan.added == [Record("new", "A", 300, "10.1.1.1")]
    assert plan.removed == [Record("crowd", "A", 300, "1.1.1.10")]
    soa = plan_zone_file(ZoneSettings(ZONE, ["ns1.geant.net."], "hostmaster@geant.org", refresh=1), records, BASE,
                         today=TODAY)
    assert soa.changed and soa.soa_changed and soa.added == soa.removed == []


@pytest.mark.parametrize("cut", ["line boundary", "mid record", "header only"])
def test_truncated_files(cut):
    records = ADDRESSES + OTHER_TYPES[:6]
    if cut == "line boundary":
        text = BASE[:BASE.index("dashboard")]  # a valid zone that lost its last records
    elif cut == "mid record":
        text = BASE[:BASE.index("1.1.1.10") + 3]
    else:
        text = BASE[:BASE.index("@ 300 IN NS")]
    plan = plan_zone_file(SETTINGS, records, text, today=TODAY)
    assert plan.changed and plan.text == BASE.replace("2025112501", "2025112502")
    if cut == "line boundary":
        assert plan.existing_valid and plan.previous_serial == 2025112501 and plan.removed == []
        assert len(plan.added) == BASE.count("\n") - text.count("\n") and plan.added[0].name == "dashboard"
    else:
        assert not plan.existing_valid and any("cannot be parsed" in w for w in plan.warnings)
        assert plan.previous_serial == 2025112501 and plan.serial == 2025112502  # serial continued


def test_random_edits_are_read_as_dnspython_reads_them(monkeypatch):
    """Whatever the canonical parser accepts means the same zone to dnspython; the rest falls back."""
    rng = random.Random(4711)
    records = ADDRESSES + OTHER_TYPES[:6]
    lines = BASE.split("\n")
    pieces = [" ", "\t", "\n", ".", "0", "a", "A", "@", ";", "(", "\"", "IN", "300", "-"]
    accepted = 0
    for _round in range(300):
        mutated = list(lines)
        for _edit in range(rng.randint(1, 3)):
            index = rng.randrange(len(mutated))
            line, kind = mutated[index], rng.randrange(5)
            if kind == 0 and line:
                at = rng.randrange(len(line))
                mutated[index] = line[:at] + line[at + 1:]
            elif kind == 1:
                at = rng.randrange(len(line) + 1)
                mutated[index] = line[:at] + rng.choice(pieces) + line[at:]
            elif kind == 2:
                mutated.insert(rng.randrange(len(mutated)), line)
            elif kind == 3:
                del mutated[index]
            else:
                other = rng.randrange(len(mutated))
                mutated[index], mutated[other] = mutated[other], line
        text = "\n".join(mutated)
        try:
            content = parse_canonical(text, ZONE)
        except NotCanonical:
            content = None
        if content is not None:
            accepted += 1
            assert content == zone_content(parse_zone(text, ZONE)), text
        plan = plan_zone_file(SETTINGS, records, text, today=TODAY)
        with monkeypatch.context() as patch:
            dnspython_only(patch)
            reference = plan_zone_file(SETTINGS, records, text, today=TODAY)
        assert plan_fields(plan) == plan_fields(reference) and plan.text == reference.text, text
    assert accepted > 10  # line swaps and deletions keep many edits canonical


def test_kept_content_matches_and_is_reused():
    first = plan_zone_file(SETTINGS, ADDRESSES, None, today=TODAY)
    assert first.zone == parse_canonical(first.text, ZONE) == zone_content(parse_zone(first.text, ZONE))
    changed = plan_zone_file(SETTINGS, ADDRESSES[1:], first.text, today=TODAY, existing_zone=first.zone)
    assert changed.removed == [Record("crowd", "A", 300, "1.1.1.10")] and changed.serial == 2025112502


def test_canonical_zone_serial_if_same_is_strict():
    canonical = build_canonical(SETTINGS, prepare_records(ADDRESSES))
    text = canonical.text(2025112501)
    assert canonical.serial_if_same(text) == 2025112501
    assert canonical.serial_if_same(text.replace("2025112501", "0")) == 0
    for other in (text.replace("2025112501", "02025112501"), text.replace("2025112501", "4294967296"),
                  text.replace("2025112501", ""), text + "\n", text[:-1], None,
                  text.replace("1.1.1.11", "1.1.1.12")):
        assert canonical.serial_if_same(other) is None
