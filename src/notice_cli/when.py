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

Time zones are the C library's: a Zone is a value of TZ, and its offsets come from
time.localtime() under it, read from the same tz database as `date` and Asterisk read.
Python's zoneinfo and datetime would read the same data, but importing them takes longer than
the rest of notice-spool's job, which the dialplan starts on every notice (README, "Speed").
For the same reason the keypad form is read with str methods, and only the ISO form imports
python-dateutil, and only the other forms ``re``.
"""

from __future__ import annotations

import os
import time

from .charset import DIGITS, made_of
from .errors import InvalidInput, shown

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
HOUR, DAY = UNIT_SECONDS["h"], UNIT_SECONDS["d"]
KEPT_HOURS = 100_000  # the offsets a Zone keeps: a few MB at most
LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z, the last instant an ISO date can show
FORMS = "keypad YYYY*MM*DD**HH***MM, ISO 8601 like '2026-12-01 10:30', or relative like +15m"
ZONE_FOLDER = "/usr/share/zoneinfo"  # glibc's, unless TZDIR names another


class Zone:
    """A time zone: KEY names it in messages (Europe/Moscow); TZ is the value of the TZ variable
    that makes the C library use it (None: TZ unset, /etc/localtime)."""

    __slots__ = ("key", "tz", "_offsets")

    def __init__(self, key: str, tz: str | None):
        self.key = key
        self.tz = tz
        self._offsets: dict[int, int] = {}  # hour -> the offset throughout it

    def __eq__(self, other) -> bool:
        return isinstance(other, Zone) and (self.key, self.tz) == (other.key, other.tz)

    def __hash__(self) -> int:
        return hash((self.key, self.tz))

    def __repr__(self) -> str:
        return f"Zone({self.key!r}, {self.tz!r})"

    def __str__(self) -> str:
        return self.key

    def offset(self, instant: int) -> int:
        """Seconds east of UTC at INSTANT.

        Asking the C library means switching its zone (tzset()), some microseconds each time,
        and an import or a listing asks for thousands of instants. So the offset of an hour is
        kept once it is the same at the hour's first and last second: no zone changes its
        offset twice within an hour (the closest changes in the tz database are days apart),
        so it is the same throughout."""
        hour = instant // HOUR
        known = self._offsets.get(hour)
        if known is not None:
            return known
        first, last = self._asked(hour * HOUR), self._asked(hour * HOUR + HOUR - 1)
        if first != last:
            return self._asked(instant)
        if len(self._offsets) < KEPT_HOURS:
            self._offsets[hour] = first
        return first

    def _asked(self, instant: int) -> int:
        """The offset at INSTANT, from the C library switched to this zone for the question
        alone: the rest of the process (syslog's time stamps, say) keeps the system's zone."""
        saved = os.environ.get("TZ")
        _set_tz(self.tz)
        time.tzset()
        try:
            return time.localtime(instant).tm_gmtoff
        finally:
            _set_tz(saved)
            time.tzset()


UTC = Zone("UTC", "UTC0")


def _set_tz(value: str | None) -> None:
    if value is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = value


def parse_when(text: str, zone: Zone, now: float) -> int:
    """The instant (Unix seconds) WHEN names, refused unless it is a real, future time."""
    return check_future(parse_instant(text, zone, now), text, zone, now)


def check_future(due: int, text: str, zone: Zone, now: float) -> int:
    """DUE, the instant TEXT names, if a notice may be scheduled for it: after NOW, and no later
    than the year 9999 (beyond it, no date can show it: notice list could not either)."""
    if due > LAST_SECOND:
        raise InvalidInput(f"time {shown(text.strip())} is after the year 9999; give a time before then")
    if due <= now:
        raise InvalidInput(f"time {shown(text.strip())} is in the past ({format_due(due, zone)}); give a future time")
    return due


def parse_instant(text: str, zone: Zone, now: float, date_alone: bool = False) -> int:
    """The instant (Unix seconds) TEXT names, past or future; with DATE_ALONE, a date without a
    time of day (2026-12-01) means its midnight in ZONE, as a filter's bound does."""
    text = text.strip()
    if not text.isascii():
        raise InvalidInput(f"time {shown(text)} has characters other than ASCII; use {FORMS}")
    keyed = keypad_fields(text)
    if keyed:
        return _keypad(text, keyed, zone)
    if "*" in text:
        raise InvalidInput(f"time {shown(text)} is not in the keypad form YYYY*MM*DD**HH***MM, e.g. 2026*12*01**10***30")
    import re  # the shell's forms only: see the module's docstring

    if re.fullmatch(r"[+-](?:[0-9]{1,9}[smhdw])+", text):
        return _relative(text, now, re.findall(r"([0-9]+)([smhdw])", text))
    if date_alone and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return _iso(text + " 00:00", zone)
    if text[:1].isdigit():
        return _iso(text, zone)
    raise InvalidInput(f"time {shown(text)} is not understood; use {FORMS}")


def keypad_fields(text: str) -> tuple[int, int, int, int, int] | None:
    """(year, month, day, hour, minute) if TEXT has the keypad form YYYY*MM*DD**HH***MM (one or
    two digits for each but the year), else None."""
    parts = text.split("*")
    if len(parts) != 8 or parts[3] or parts[5] or parts[6]:
        return None
    year, month, day, hour, minute = parts[0], parts[1], parts[2], parts[4], parts[7]
    if not made_of(year, DIGITS, 4, 4) or not all(made_of(part, DIGITS, 1, 2) for part in (month, day, hour, minute)):
        return None
    return int(year), int(month), int(day), int(hour), int(minute)


def _keypad(text: str, keyed: tuple[int, int, int, int, int], zone: Zone) -> int:
    year, month, day, hour, minute = keyed
    wall = (year, month, day, hour, minute, 0)
    if utc_seconds(wall) is None:
        raise InvalidInput(
            f"time {shown(text)} is not a date and time on the calendar "
            f"({year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d})"
        )
    return instant(wall, zone, text)


def _relative(text: str, now: float, parts: list[tuple[str, str]]) -> int:
    import math

    seconds = sum(int(amount) * UNIT_SECONDS[unit] for amount, unit in parts)
    if seconds == 0 and text[0] == "+":
        raise InvalidInput(f"time {shown(text)} is now, not later; give a future time")
    return math.ceil(now + seconds) if text[0] == "+" else math.floor(now - seconds)


def _iso(text: str, zone: Zone) -> int:
    import math

    from dateutil.parser import isoparse  # only here: see the module's docstring

    if "T" not in text and " " not in text:
        raise InvalidInput(f"time {shown(text)} has no time of day; add it, e.g. '2026-12-01 10:30'")
    try:
        parsed = isoparse(text)
    except (ValueError, OverflowError):
        raise InvalidInput(f"time {shown(text)} is not a valid ISO 8601 date and time, or not on the calendar") from None
    if parsed.tzinfo is not None:
        try:
            return math.ceil(parsed.timestamp())
        except (ValueError, OverflowError):
            raise InvalidInput(f"time {shown(text)} is out of range") from None
    wall = (parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute, parsed.second)
    return instant(wall, zone, text) + (parsed.microsecond > 0)


def utc_seconds(wall: tuple[int, int, int, int, int, int]) -> int | None:
    """The Unix seconds of WALL (year, month, day, hour, minute, second) read as UTC, or None if
    it is not a date and time on the calendar (years 1 to 9999). The day count is Howard
    Hinnant's days_from_civil; time.gmtime, reading it back, judges the calendar."""
    year, month, day, hour, minute, second = wall
    if not (1 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= 31 and 0 <= hour < 24
            and 0 <= minute < 60 and 0 <= second < 60):
        return None
    shifted = year - (month <= 2)
    era = shifted // 400
    year_of_era = shifted - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    seconds = (era * 146097 + day_of_era - 719468) * DAY + hour * 3600 + minute * 60 + second
    return seconds if tuple(time.gmtime(seconds)[:6]) == wall else None


def instant(wall: tuple[int, int, int, int, int, int], zone: Zone, text: str) -> int:
    """The instant at which ZONE's clocks show WALL (on the calendar: utc_seconds): of two
    (the DST fold) the earlier; none (the DST gap) is refused.

    The instant is WALL's seconds less the zone's offset at it. The offsets that can apply are
    those the zone has a day before WALL and a day after (as if WALL were UTC: an offset is at
    most 26 hours): one offset, or two around a change. No zone changes its offset twice
    within two days (the closest changes in the tz database are 4 days apart)."""
    local = utc_seconds(wall)
    try:
        offsets = {zone.offset(local - DAY), zone.offset(local + DAY)}
        if len(offsets) == 1:  # no change within a day of WALL: one instant shows it
            return local - offsets.pop()
        for candidate in sorted(local - offset for offset in offsets):
            if zone.offset(candidate) == local - candidate:
                return candidate
    except (ValueError, OverflowError, OSError):
        raise InvalidInput(f"time {shown(text)} is out of range") from None
    raise InvalidInput(
        f"time {shown(text)} does not exist in time zone {zone.key} "
        "(the clocks skip it for daylight saving); give another time"
    )


def format_due(due: int, zone: Zone) -> str:
    """ISO 8601 with the zone's offset at that instant, e.g. 2026-12-01T10:30:00+03:00."""
    try:
        offset = zone.offset(due)
        wall = time.gmtime(due + offset)
    except (ValueError, OverflowError, OSError):
        wall = None
    if wall is None or not 1 <= wall.tm_year <= 9999:  # a local date ISO 8601 cannot show
        wall, offset = time.gmtime(due), 0
    sign, offset = ("-", -offset) if offset < 0 else ("+", offset)
    hours, rest = divmod(offset, 3600)
    minutes, seconds = divmod(rest, 60)
    shown_offset = f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")
    return "%04d-%02d-%02dT%02d:%02d:%02d" % wall[:6] + shown_offset


def zone_named(name: str) -> Zone:
    """The IANA time zone NAME (e.g. Europe/Moscow), refused with a hint when the tz database
    has no such zone (the C library would silently take UTC instead)."""
    if not _in_zone_database(name):
        raise InvalidInput(
            f"time zone {shown(name)} is unknown; use an IANA name such as Europe/Moscow or UTC"
        )
    return Zone(name, ":" + name)


def _in_zone_database(name: str) -> bool:
    # As zoneinfo takes a key: relative, and already in its normal form (no '..', '.', '//').
    if not name or "\0" in name or name.startswith("/") or os.path.normpath(name) != name or name.startswith(".."):
        return False
    try:
        with open(os.path.join(os.environ.get("TZDIR") or ZONE_FOLDER, name), "rb") as data:
            return data.read(4) == b"TZif"
    except (OSError, ValueError):
        return False


def system_zone() -> Zone:
    """The system's zone: $TZ if it names a zone of the tz database (Europe/Moscow or
    :Europe/Moscow), else /etc/localtime, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if _in_zone_database(name):
        return Zone(name, ":" + name)
    return Zone(_localtime_key(), None)


def _localtime_key() -> str:
    if not os.path.exists("/etc/localtime"):
        return "UTC"
    target = os.path.realpath("/etc/localtime")
    marker = "/zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else "localtime"
