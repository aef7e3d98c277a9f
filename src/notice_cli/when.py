"""When a notice is due: turning what the operator keyed or the admin typed into one instant.

Accepted forms of WHEN:

* keypad, as ``Read()`` collects it: ``YYYY*MM*DD**HH***MM`` (``2026*12*01**10***30``);
* ISO 8601 from a shell: ``2026-12-01 10:30``, ``2026-12-01T10:30:00+03:00``;
* relative from a shell: ``+90s``, ``+15m``, ``+2h``, ``+1d``, ``+1w`` or a sum such as ``+1h30m``
  (an exact duration: ``+1d`` is 24 hours even across a DST change).

The filters of ``notice list`` and ``notice history`` take an instant in the same forms, in the
past too: ``-1d`` (a day ago), and a date alone (``2026-12-01``, its midnight in the zone).

A time without an offset is wall-clock time in the configured zone. A wall-clock time that
the zone skips (the DST gap) is refused; one it passes twice (the DST fold) means the earlier
of the two instants. The result is always a whole second: Asterisk compares the call file's
mtime with its clock in whole seconds, so a fractional part would fire the call early; a
fractional ISO time is therefore rounded up, never down.

Only the ISO form needs python-dateutil, and it is imported there alone: the keypad path is
the one the dialplan takes on every call and must start fast.
"""

import math
import os
import re
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInput, shown

KEYPAD = re.compile(r"([0-9]{4})\*([0-9]{1,2})\*([0-9]{1,2})\*\*([0-9]{1,2})\*\*\*([0-9]{1,2})")
RELATIVE = re.compile(r"[+-](?:[0-9]{1,9}[smhdw])+")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
RELATIVE_PART = re.compile(r"([0-9]+)([smhdw])")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z, the last instant datetime can show
FORMS = "keypad YYYY*MM*DD**HH***MM, ISO 8601 like '2026-12-01 10:30', or relative like +15m"


def parse_when(text: str, zone: tzinfo, now: float) -> int:
    """The instant (Unix seconds) WHEN names, refused unless it is a real, future time."""
    return check_future(parse_instant(text, zone, now), text, zone, now)


def check_future(due: int, text: str, zone: tzinfo, now: float) -> int:
    """DUE, the instant TEXT names, if a notice may be scheduled for it: after NOW, and no later
    than the year 9999 (beyond it, no date can show it: notice list could not either)."""
    if due > LAST_SECOND:
        raise InvalidInput(f"time {shown(text.strip())} is after the year 9999; give a time before then")
    if due <= now:
        raise InvalidInput(f"time {shown(text.strip())} is in the past ({format_due(due, zone)}); give a future time")
    return due


def parse_instant(text: str, zone: tzinfo, now: float, date_alone: bool = False) -> int:
    """The instant (Unix seconds) TEXT names, past or future; with DATE_ALONE, a date without a
    time of day (2026-12-01) means its midnight in ZONE, as a filter's bound does."""
    text = text.strip()
    if not text.isascii():
        raise InvalidInput(f"time {shown(text)} has characters other than ASCII; use {FORMS}")
    if KEYPAD.fullmatch(text):
        return _keypad(text, zone)
    if "*" in text:
        raise InvalidInput(f"time {shown(text)} is not in the keypad form YYYY*MM*DD**HH***MM, e.g. 2026*12*01**10***30")
    if RELATIVE.fullmatch(text):
        return _relative(text, now)
    if date_alone and DATE.fullmatch(text):
        return _iso(text + " 00:00", zone)
    if text[:1].isdigit():
        return _iso(text, zone)
    raise InvalidInput(f"time {shown(text)} is not understood; use {FORMS}")


def _keypad(text: str, zone: tzinfo) -> int:
    year, month, day, hour, minute = (int(part) for part in KEYPAD.fullmatch(text).groups())
    try:
        wall = datetime(year, month, day, hour, minute)
    except ValueError:
        raise InvalidInput(
            f"time {shown(text)} is not a date and time on the calendar "
            f"({year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d})"
        ) from None
    return _instant(wall, zone, text)


def _relative(text: str, now: float) -> int:
    seconds = sum(int(amount) * UNIT_SECONDS[unit] for amount, unit in RELATIVE_PART.findall(text))
    if seconds == 0 and text[0] == "+":
        raise InvalidInput(f"time {shown(text)} is now, not later; give a future time")
    return math.ceil(now + seconds) if text[0] == "+" else math.floor(now - seconds)


def _iso(text: str, zone: tzinfo) -> int:
    from dateutil.parser import isoparse  # only here: see the module's docstring

    if "T" not in text and " " not in text:
        raise InvalidInput(f"time {shown(text)} has no time of day; add it, e.g. '2026-12-01 10:30'")
    try:
        parsed = isoparse(text)
    except (ValueError, OverflowError):
        raise InvalidInput(f"time {shown(text)} is not a valid ISO 8601 date and time, or not on the calendar") from None
    if parsed.tzinfo is None:
        return _instant(parsed, zone, text)
    try:
        return math.ceil(parsed.timestamp())
    except (ValueError, OverflowError):
        raise InvalidInput(f"time {shown(text)} is out of range") from None


def _instant(wall: datetime, zone: tzinfo, text: str) -> int:
    """The instant of a wall-clock time in ZONE; fold=0 is the earlier of two (the DST fold)."""
    try:
        aware = wall.replace(tzinfo=zone, fold=0)
        back = aware.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
        instant = aware.timestamp()
    except (ValueError, OverflowError):
        raise InvalidInput(f"time {shown(text)} is out of range") from None
    if back != wall:
        raise InvalidInput(
            f"time {shown(text)} does not exist in time zone {zone_name(zone)} "
            "(the clocks skip it for daylight saving); give another time"
        )
    return math.ceil(instant)


def format_due(due: int, zone: tzinfo) -> str:
    """ISO 8601 with the zone's offset at that instant, e.g. 2026-12-01T10:30:00+03:00."""
    try:
        return datetime.fromtimestamp(due, zone).isoformat()
    except (ValueError, OverflowError, OSError):
        return datetime.fromtimestamp(due, timezone.utc).isoformat()


def zone_named(name: str) -> tzinfo:
    """The IANA time zone NAME (e.g. Europe/Moscow), refused with a hint when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            f"time zone {shown(name)} is unknown; use an IANA name such as Europe/Moscow or UTC"
        ) from None


def system_zone() -> tzinfo:
    """The system's zone: $TZ if it names one, else /etc/localtime, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    try:
        with open("/etc/localtime", "rb") as data:
            return ZoneInfo.from_file(data, key=_localtime_key())
    except (OSError, ValueError):
        return timezone.utc


def _localtime_key() -> str:
    target = os.path.realpath("/etc/localtime")
    marker = "/zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else "localtime"


def zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)
