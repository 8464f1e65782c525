"""SOA serial arithmetic: RFC 1912 date serials that always advance in RFC 1982 terms."""

import datetime

import pytest

from ansible_collections.geant.consul_dns.plugins.module_utils.dns.serial import (
    HALF,
    MAX_SERIAL,
    SerialError,
    check_serial,
    date_serial,
    increment,
    next_serial,
    serial_distance,
    serial_gt,
    utc_today,
)

TODAY = datetime.date(2025, 11, 25)


def test_date_serial_form():
    assert date_serial(TODAY) == 2025112501
    assert date_serial(TODAY, 0) == 2025112500
    assert date_serial(TODAY, 99) == 2025112599
    with pytest.raises(SerialError):
        date_serial(TODAY, 100)


def test_first_serial_of_a_new_zone_is_today_01():
    assert next_serial(None, today=TODAY) == 2025112501


def test_same_day_increments_the_counter():
    assert next_serial(2025112501, today=TODAY) == 2025112502
    assert next_serial(2025112542, today=TODAY) == 2025112543


def test_earlier_day_moves_to_today():
    assert next_serial(2025112407, today=TODAY) == 2025112501
    assert next_serial(2024010101, today=TODAY) == 2025112501


def test_more_than_99_changes_a_day_borrow_from_tomorrow():
    # nn=99 is the last counter of the day: +1 gives 2025112600, i.e. "tomorrow, counter 00".
    assert next_serial(2025112599, today=TODAY) == 2025112600
    assert next_serial(2025112600, today=TODAY) == 2025112601
    # Tomorrow, the date scheme continues after the borrowed values.
    tomorrow = TODAY + datetime.timedelta(days=1)
    assert next_serial(2025112601, today=tomorrow) == 2025112602
    # Two days later the date serial is ahead again.
    assert next_serial(2025112602, today=TODAY + datetime.timedelta(days=2)) == 2025112701


def test_month_end_rollover_gives_a_non_date_value_that_still_sorts():
    assert next_serial(2025013199, today=datetime.date(2025, 1, 31)) == 2025013200
    assert next_serial(2025013200, today=datetime.date(2025, 2, 1)) == 2025020101


def test_serial_ahead_of_today_increments():
    # A serial from the future (clock skew, hand edit): never go back to today's date.
    assert next_serial(2030010105, today=TODAY) == 2030010106
    # A large counter-style serial that today's date serial cannot pass in RFC 1982 terms.
    assert next_serial(4000000000, today=TODAY) == 4000000001


def test_unix_time_serial_moves_to_the_date_scheme():
    # Unix time (~1.7e9) is smaller than a date serial (~2.0e9): the date serial is an increase.
    unix_serial = 1764000000
    new = next_serial(unix_serial, today=TODAY)
    assert new == 2025112501
    assert serial_gt(new, unix_serial)


def test_wrap_near_2_to_the_32():
    assert increment(MAX_SERIAL) == 1  # 0 is skipped
    assert increment(MAX_SERIAL - 1) == MAX_SERIAL
    assert serial_gt(1, MAX_SERIAL)
    # A serial just below 2^32: today's date serial is "greater" in serial arithmetic (distance < 2^31),
    # so the zone moves to the date scheme; secondaries accept it.
    current = MAX_SERIAL - 5
    assert serial_distance(current, 2025112501) < HALF
    assert next_serial(current, today=TODAY) == 2025112501
    assert serial_gt(2025112501, current)


def test_never_jumps_by_2_to_the_31_or_more():
    # Exactly 2^31 away is undefined in RFC 1982: fall back to +1 instead of jumping.
    current = (2025112501 - HALF) % (MAX_SERIAL + 1)
    assert serial_distance(current, 2025112501) == HALF
    assert next_serial(current, today=TODAY) == current + 1


@pytest.mark.parametrize("current", [
    None, 0, 1, 1764000000, 2025112401, 2025112501, 2025112599, 2030010101, 2 ** 31 - 1, 2 ** 31,
    2 ** 31 + 1, 3000000000, 4000000000, MAX_SERIAL - 1, MAX_SERIAL,
])
def test_next_serial_always_increases_by_less_than_2_to_the_31(current):
    new = next_serial(current, today=TODAY)
    assert 0 < new <= MAX_SERIAL
    if current is not None:
        assert serial_gt(new, current)
        assert 0 < serial_distance(current, new) < HALF


def test_serial_gt_rfc1982():
    assert serial_gt(2, 1)
    assert not serial_gt(1, 2)
    assert not serial_gt(5, 5)
    assert serial_gt(0, MAX_SERIAL)
    assert not serial_gt(HALF, 0)  # exactly half way: undefined, treated as not greater
    assert serial_gt(HALF - 1, 0)


@pytest.mark.parametrize("bad", [-1, MAX_SERIAL + 1, "x", None, True, 1.5j])
def test_check_serial_rejects(bad):
    with pytest.raises(SerialError):
        check_serial(bad)


def test_check_serial_accepts_numeric_strings():
    assert check_serial("2025112501") == 2025112501


def test_utc_today_is_a_date():
    assert isinstance(utc_today(), datetime.date)
