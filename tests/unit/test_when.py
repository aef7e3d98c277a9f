"""WHEN: keypad, ISO 8601 and relative times, across time zones and DST changes."""

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from notice_cli.errors import InvalidInput
from notice_cli.when import UTC, format_due, parse_instant, parse_when, system_zone, zone_named

MOSCOW = zone_named("Europe/Moscow")
NEW_YORK = zone_named("America/New_York")
BERLIN = zone_named("Europe/Berlin")
LORD_HOWE = zone_named("Australia/Lord_Howe")  # a DST change of 30 minutes
# A fixed "now" well before every time below: 2026-11-28 00:00:00 UTC.
NOW = datetime(2026, 11, 28, tzinfo=timezone.utc).timestamp()


def oracle(zone):
    """The same zone in Python's zoneinfo: the expected values come from another implementation."""
    return timezone.utc if zone == UTC else ZoneInfo(zone.key)


def epoch(*args, zone=UTC):
    return int(datetime(*args, tzinfo=oracle(zone)).timestamp())


@pytest.mark.parametrize("text, zone, expected", [
    ("2026*12*01**10***30", UTC, epoch(2026, 12, 1, 10, 30)),
    ("2026*12*01**10***30", MOSCOW, epoch(2026, 12, 1, 7, 30)),
    ("2026*12*01**10***30", NEW_YORK, epoch(2026, 12, 1, 15, 30)),
    ("2027*7*5**9***5", UTC, epoch(2027, 7, 5, 9, 5)),  # Read() may collect single digits
    ("2027*07*05**00***00", NEW_YORK, epoch(2027, 7, 5, 4, 0)),  # summer time: UTC-4
    ("2028*02*29**12***00", UTC, epoch(2028, 2, 29, 12, 0)),  # leap day
    ("9999*12*31**23***59", UTC, epoch(9999, 12, 31, 23, 59)),
])
def test_keypad_time_is_wall_clock_in_the_zone(text, zone, expected):
    assert parse_when(text, zone, NOW) == expected


@pytest.mark.parametrize("text", [
    "2027*02*30**10***30",  # no Feb 30
    "2027*02*29**10***30",  # 2027 is not a leap year
    "2027*13*01**10***30",
    "2027*00*10**10***30",
    "2027*12*00**10***30",
    "2027*12*01**25***00",
    "2027*12*01**24***00",
    "2027*12*01**10***60",
])
def test_keypad_time_not_on_the_calendar_is_refused(text):
    with pytest.raises(InvalidInput, match="not a date and time on the calendar"):
        parse_when(text, UTC, NOW)


@pytest.mark.parametrize("text, zone", [
    ("2027*03*14**02***30", NEW_YORK),  # clocks go 02:00 -> 03:00
    ("2027*03*28**02***30", BERLIN),
    ("2027*10*03**02***15", LORD_HOWE),  # 02:00 -> 02:30
])
def test_time_in_the_dst_gap_is_refused(text, zone):
    with pytest.raises(InvalidInput, match="does not exist in time zone"):
        parse_when(text, zone, NOW)


@pytest.mark.parametrize("text, zone, expected", [
    # 01:30 happens twice in New York on 2027-11-07: first at EDT (UTC-4), then at EST.
    ("2027*11*07**01***30", NEW_YORK, epoch(2027, 11, 7, 5, 30)),
    # 02:30 happens twice in Berlin on 2027-10-31: first at CEST (UTC+2).
    ("2027*10*31**02***30", BERLIN, epoch(2027, 10, 31, 0, 30)),
    # 01:45 twice on Lord Howe on 2027-04-04: first at UTC+11.
    ("2027*04*04**01***45", LORD_HOWE, epoch(2027, 4, 3, 14, 45)),
])
def test_time_in_the_dst_fold_takes_the_earlier_instant(text, zone, expected):
    assert parse_when(text, zone, NOW) == expected


def test_past_time_is_refused_with_the_time_it_means():
    with pytest.raises(InvalidInput, match=r"is in the past \(2026-11-27T10:30:00\+00:00\)"):
        parse_when("2026*11*27**10***30", UTC, NOW)


def test_a_second_before_now_and_now_itself_are_refused():
    now = epoch(2026, 12, 1, 10, 30) + 1
    with pytest.raises(InvalidInput, match="in the past"):
        parse_when("2026*12*01**10***30", UTC, now)
    with pytest.raises(InvalidInput, match="in the past"):
        parse_when("2026*12*01**10***30", UTC, now - 1)


def test_keypad_minute_still_ahead_is_accepted():
    due = epoch(2026, 12, 1, 10, 30)
    assert parse_when("2026*12*01**10***30", UTC, due - 0.5) == due


@pytest.mark.parametrize("text, zone, expected", [
    ("2026-12-01 10:30", MOSCOW, epoch(2026, 12, 1, 7, 30)),
    ("2026-12-01T10:30", UTC, epoch(2026, 12, 1, 10, 30)),
    ("2026-12-01T10:30:00+03:00", NEW_YORK, epoch(2026, 12, 1, 7, 30)),  # the offset wins
    ("2026-12-01T10:30:00Z", MOSCOW, epoch(2026, 12, 1, 10, 30)),
    ("2026-12-01 10:30:15", UTC, epoch(2026, 12, 1, 10, 30, 15)),
    ("20261201T103000", UTC, epoch(2026, 12, 1, 10, 30)),  # ISO 8601 basic format
    ("  2026-12-01 10:30 ", UTC, epoch(2026, 12, 1, 10, 30)),  # stray blanks from a shell
])
def test_iso_time(text, zone, expected):
    assert parse_when(text, zone, NOW) == expected


def test_fractional_iso_time_is_rounded_up_never_early():
    assert parse_when("2026-12-01T10:30:00.001Z", UTC, NOW) == epoch(2026, 12, 1, 10, 30, 1)
    assert parse_when("2026-12-01T10:30:00.999Z", UTC, NOW) == epoch(2026, 12, 1, 10, 30, 1)


def test_iso_time_in_dst_gap_is_refused_and_fold_takes_earlier():
    with pytest.raises(InvalidInput, match="does not exist"):
        parse_when("2027-03-14 02:30", NEW_YORK, NOW)
    assert parse_when("2027-11-07 01:30", NEW_YORK, NOW) == epoch(2027, 11, 7, 5, 30)


@pytest.mark.parametrize("text, match", [
    ("2026-12-01", "no time of day"),
    ("2026-02-30 10:00", "not a valid ISO 8601"),
    ("2026-12-01 25:00", "not a valid ISO 8601"),
    ("2026-12-01 10:30+99:00", "not a valid ISO 8601"),
    ("tomorrow", "not understood"),
    ("", "not understood"),
    ("-15m", r"is in the past \(2026-11-27T23:45:00\+00:00\)"),
    ("+15x", "not understood"),
    ("2026*12*01*10*30", "not in the keypad form"),
    ("2026*12*01**10***30***00", "not in the keypad form"),
    ("２０２６*12*01**10***30", "other than ASCII"),  # full-width digits
    ("٢٠٢٦*12*01**10***30", "other than ASCII"),  # Arabic-Indic digits
    ("2026*12*01**10***30\n", None),  # a trailing newline is stripped, not refused
])
def test_unreadable_times_are_refused(text, match):
    if match is None:
        assert parse_when(text, UTC, NOW) == epoch(2026, 12, 1, 10, 30)
        return
    with pytest.raises(InvalidInput, match=match):
        parse_when(text, UTC, NOW)


@pytest.mark.parametrize("text, seconds", [
    ("+90s", 90), ("+15m", 900), ("+2h", 7200), ("+1d", 86400), ("+1w", 604800), ("+1h30m", 5400),
])
def test_relative_time_is_an_exact_duration_from_now(text, seconds):
    assert parse_when(text, MOSCOW, NOW) == NOW + seconds
    assert parse_when(text, MOSCOW, NOW + 0.25) == NOW + seconds + 1  # whole seconds, rounded up


def test_relative_zero_is_refused():
    with pytest.raises(InvalidInput, match="is now"):
        parse_when("+0m", UTC, NOW)


def test_relative_day_across_dst_is_24_hours():
    before_change = epoch(2027, 3, 13, 12, 0, zone=NEW_YORK)
    assert parse_when("+1d", NEW_YORK, before_change) == before_change + 86400


def test_format_due_gives_the_offset_of_that_instant():
    assert format_due(epoch(2027, 7, 5, 4, 0), NEW_YORK) == "2027-07-05T00:00:00-04:00"
    assert format_due(epoch(2027, 12, 5, 5, 0), NEW_YORK) == "2027-12-05T00:00:00-05:00"
    assert format_due(epoch(2026, 12, 1, 7, 30), MOSCOW) == "2026-12-01T10:30:00+03:00"


def test_unknown_zone_is_refused_with_a_hint():
    with pytest.raises(InvalidInput, match="time zone 'Mars/Olympus' is unknown; use an IANA name"):
        zone_named("Mars/Olympus")
    with pytest.raises(InvalidInput, match="unknown"):
        zone_named("../../etc/passwd")


def test_system_zone_follows_tz_environment(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert system_zone().key == "Asia/Tokyo"
    monkeypatch.setenv("TZ", ":Europe/Moscow")
    assert system_zone().key == "Europe/Moscow"


def test_keypad_path_does_not_import_dateutil():
    code = (
        "import sys, time\n"
        "from notice_cli.when import UTC, parse_when\n"
        "parse_when('2099*12*01**10***30', UTC, time.time())\n"
        "print(sorted({'dateutil', 're', 'datetime', 'zoneinfo'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


ZONES = st.sampled_from(["UTC", "Europe/Moscow", "America/New_York", "Europe/Berlin",
                         "Australia/Lord_Howe", "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham"])


@settings(max_examples=300, deadline=None)
@given(wall=st.datetimes(min_value=datetime(2027, 1, 1), max_value=datetime(2060, 12, 31)), zone_key=ZONES)
def test_keypad_round_trip_or_refusal(wall, zone_key):
    """A keyed wall-clock time is either the instant whose local time is exactly that (at the
    earlier offset in a fold), or refused because the zone skips it; nothing else."""
    zone = ZoneInfo(zone_key)
    wall = wall.replace(second=0, microsecond=0)
    text = f"{wall:%Y*%m*%d**%H***%M}"
    try:
        due = parse_when(text, zone_named(zone_key), NOW)
    except InvalidInput as refusal:
        assert "does not exist in time zone" in str(refusal)
        skipped = wall.replace(tzinfo=zone).astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None)
        assert skipped != wall
        return
    local = datetime.fromtimestamp(due, zone)
    assert local.replace(tzinfo=None) == wall
    assert due % 60 == 0 or zone_key in ("Asia/Kolkata", "Pacific/Chatham", "Australia/Lord_Howe")
    earlier = datetime.fromtimestamp(due - 3600, zone).replace(tzinfo=None)
    assert earlier != wall  # no earlier instant an hour before has the same wall time (fold: earlier chosen)
    assert due == int(due) and isinstance(due, int)


@settings(max_examples=200, deadline=None)
@given(offset_minutes=st.integers(-14 * 60, 14 * 60), wall=st.datetimes(min_value=datetime(2027, 1, 1),
                                                                      max_value=datetime(2099, 1, 1)))
def test_iso_with_offset_is_that_instant(offset_minutes, wall):
    wall = wall.replace(microsecond=0)
    offset = timezone(timedelta(minutes=offset_minutes))
    text = wall.replace(tzinfo=offset).isoformat()
    assert parse_when(text, NEW_YORK, NOW) == int(wall.replace(tzinfo=offset).timestamp())


# --- instants for filters: past or future, a date alone ----------------------------------------

@pytest.mark.parametrize("text, zone, expected", [
    ("2026-12-01", MOSCOW, epoch(2026, 11, 30, 21, 0)),  # midnight in the zone
    ("2026-12-01 10:30", UTC, epoch(2026, 12, 1, 10, 30)),
    ("2020*01*01**00***00", UTC, epoch(2020, 1, 1)),  # the past is fine here
    ("-1d", UTC, NOW - 86400),
    ("-90s", UTC, NOW - 90),
    ("+1h", UTC, NOW + 3600),
    ("-0m", UTC, NOW),
])
def test_parse_instant_takes_past_times_and_dates(text, zone, expected):
    assert parse_instant(text, zone, NOW, date_alone=True) == expected


def test_past_relative_time_is_rounded_down_and_a_date_alone_needs_date_alone():
    assert parse_instant("-1s", UTC, NOW + 0.75) == NOW - 1  # NOW - 0.25, down to a whole second
    with pytest.raises(InvalidInput, match="no time of day"):
        parse_instant("2026-12-01", UTC, NOW)
    with pytest.raises(InvalidInput, match="does not exist in time zone America/New_York"):
        parse_instant("2027-03-14 02:30", NEW_YORK, NOW, date_alone=True)


# --- zones through the C library, held against Python's zoneinfo -----------------------------

@settings(max_examples=400, deadline=None)
@given(due=st.integers(-2**31, 253402300799 - 86400), zone_key=ZONES)
def test_format_due_matches_zoneinfo(due, zone_key):
    expected = datetime.fromtimestamp(due, ZoneInfo(zone_key)).isoformat()
    assert format_due(due, zone_named(zone_key)) == expected


def test_format_due_past_the_year_9999_in_the_zone_is_shown_in_utc():
    assert format_due(253402300799, MOSCOW) == "9999-12-31T23:59:59+00:00"


def test_a_zone_chosen_for_a_time_leaves_the_process_in_the_system_zone(monkeypatch):
    """Neither the environment (a child process) nor the C library's local time (syslog's
    time stamps) keep a zone that one notice was scheduled in."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    format_due(0, MOSCOW)
    assert os.environ["TZ"] == "Asia/Tokyo" and time.localtime(0).tm_gmtoff == 9 * 3600
    assert format_due(0, system_zone()) == "1970-01-01T09:00:00+09:00"
    monkeypatch.delenv("TZ")
    parse_when("2026*12*01**10***30", NEW_YORK, NOW)
    assert "TZ" not in os.environ
    time.tzset()


@pytest.mark.parametrize("tz", ["MSK-3", "garbage", "Nowhere/Land", "Europe/Moscow/", ":", "Europe//Moscow"])
def test_a_tz_that_names_no_zone_of_the_database_means_etc_localtime(monkeypatch, tz):
    monkeypatch.delenv("TZ", raising=False)
    expected = system_zone()
    monkeypatch.setenv("TZ", tz)
    assert system_zone() == expected and expected.tz is None


def test_a_tz_with_colons_names_its_zone(monkeypatch):
    monkeypatch.setenv("TZ", "::Europe/Moscow")
    assert format_due(epoch(2026, 12, 1, 7, 30), system_zone()) == "2026-12-01T10:30:00+03:00"


@pytest.mark.parametrize("name", ["Europe//Moscow", "./UTC", "Europe/./Moscow", "Europe/Moscow/", "", "/etc/localtime"])
def test_a_zone_name_is_taken_only_in_its_normal_form(name):
    with pytest.raises(InvalidInput, match="is unknown"):
        zone_named(name)


def transitions(key: str, start: int, end: int) -> list[int]:
    """The instants at which zoneinfo's KEY changes its offset between START and END: a
    change found day by day, then bisected to its second."""
    zone = ZoneInfo(key)

    def offset(at: int):
        return datetime.fromtimestamp(at, zone).utcoffset()

    found = []
    for day in range(start, end, 86400):
        low, high = day, day + 86400
        if offset(low) != offset(high):
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle) == offset(low) else (low, middle)
            found.append(high)
    return found


@pytest.mark.parametrize("zone_key", ["Europe/Moscow", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata",
                                      "Pacific/Chatham", "America/Sao_Paulo"])
def test_every_offset_change_is_seen_to_the_second(zone_key):
    """Each change of offset from 1880 to 2040 (local mean times of odd seconds among them),
    one second before, at and after it, as zoneinfo shows it: the offsets kept a quarter of an
    hour at a time (Zone.offset) never blur a change."""
    zone = zone_named(zone_key)
    changes = transitions(zone_key, -2840140800, 2208988800)
    assert len(changes) >= 5
    for change in changes:
        for at in (change - 1, change, change + 1):
            assert format_due(at, zone) == datetime.fromtimestamp(at, ZoneInfo(zone_key)).isoformat(), at
