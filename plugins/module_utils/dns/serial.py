# -*- coding: utf-8 -*-
# Copyright: GEANT
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SOA serial numbers: RFC 1912 date serials (YYYYMMDDnn) that always advance per RFC 1982.

Pure functions; ``today`` is injectable so the corner cases can be tested without a clock.

Rules of :func:`next_serial`:

* no current serial (new zone): today's ``YYYYMMDD01``;
* today's ``YYYYMMDD01`` is *after* the current serial in RFC 1982 terms: use it
  (e.g. yesterday's ``...05``, or a Unix-time serial, which is smaller than a date serial);
* otherwise (another change today, more than 99 changes today, or a serial ahead of today's date such
  as a future date or a large Unix-time/counter serial): ``current + 1`` modulo 2**32.
  After ``YYYYMMDD99`` this gives the *next day's* ``...00`` (20250131 99 + 1 = 2025013200, which is not
  a calendar date but sorts correctly); the counter simply borrows from the coming days and the date
  scheme catches up by itself once the calendar passes the borrowed value.

The step from the current serial is therefore always in 1 .. 2**31 - 1, which RFC 1982 secondaries
accept as an increase: a jump of 2**31 or more (undefined or "backwards" in serial arithmetic) is never
produced; in that situation the function falls back to ``+1`` instead of failing. ``current + 1`` skips
the value 0 after a wrap (4294967295 -> 1), because some tools treat serial 0 as "unset".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

SERIAL_BITS = 32
SERIAL_MODULUS = 2 ** SERIAL_BITS
MAX_SERIAL = SERIAL_MODULUS - 1
# RFC 1982: i1 < i2 if (i2 - i1) mod 2^32 is in 1 .. 2^31 - 1
HALF = 2 ** (SERIAL_BITS - 1)


class SerialError(ValueError):
    """A serial that is not an unsigned 32-bit integer."""


def check_serial(serial):
    """Return ``serial`` as an int, or raise :class:`SerialError` if it is not in 0 .. 2**32 - 1."""
    if isinstance(serial, bool):
        raise SerialError("SOA serial %r is not an integer" % (serial,))
    try:
        value = int(serial)
    except (TypeError, ValueError):
        raise SerialError("SOA serial %r is not an integer" % (serial,))
    if value < 0 or value > MAX_SERIAL:
        raise SerialError("SOA serial %d is outside 0 .. %d" % (value, MAX_SERIAL))
    return value


def utc_today():
    """The date used for serials: UTC, so the controller's and target's time zones do not matter."""
    return datetime.datetime.now(datetime.timezone.utc).date()


def date_serial(today, counter=1):
    """``YYYYMMDDnn`` for ``today`` (a :class:`datetime.date`) and ``counter`` (0..99)."""
    if not 0 <= counter <= 99:
        raise SerialError("date serial counter %d is outside 0 .. 99" % counter)
    return int(today.strftime("%Y%m%d")) * 100 + counter


def serial_distance(old, new):
    """Forward distance from ``old`` to ``new`` in serial number space (0 .. 2**32 - 1)."""
    return (check_serial(new) - check_serial(old)) % SERIAL_MODULUS


def serial_gt(new, old):
    """RFC 1982 section 3.2: True if ``new`` is greater than ``old`` (a valid increase for secondaries)."""
    return 0 < serial_distance(old, new) < HALF


def increment(serial):
    """``serial + 1`` in serial number space, skipping 0 after the wrap."""
    value = (check_serial(serial) + 1) % SERIAL_MODULUS
    return value if value != 0 else 1


def next_serial(current, today=None):
    """The serial to publish after a change, given the ``current`` serial (None for a new zone)."""
    if today is None:
        today = utc_today()
    candidate = date_serial(today, 1)
    if current is None:
        return candidate
    current = check_serial(current)
    if serial_gt(candidate, current):
        return candidate
    return increment(current)
