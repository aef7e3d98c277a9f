"""Property-based tests of everything that reaches a call file through notice-spool: the
number, the recording, the time in every form, the settings from options and the environment.

Each generated case runs the command's own code (entry.run_spool, what both the console
script and the click command end in) against a real spool folder, and must end in exactly one
of two ways:

* exit 0: one call file in outgoing/, whose fields parse back (the way Asterisk's lexer reads
  them) to exactly the values given, with its mtime at the due second it reported;
* exit 3: one line on stderr, `notice-spool: error: ...`, and nothing in outgoing/ or tmp/.

Never a traceback, never another exit code, never a stray file. The classic attacks are in the
strategies by name, mixed with valid values, so most cases get past the first check.
NOTICE_FUZZ_EXAMPLES sets the number of cases per test (CI: see the Makefile).
"""

import contextlib
import io
import os
import re
import shutil
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from notice_cli.callfile import parse
from notice_cli.entry import run_spool

EXAMPLES = int(os.environ.get("NOTICE_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
RECORDINGS = ("rec_1732790000.42", "hello", "Greeting-2", "a.b.c")
ZONES = ("UTC", "Europe/Moscow", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
         "Asia/Kolkata", "Pacific/Chatham", "America/Santiago")
LINE = re.compile(r"notice (\S+) scheduled for (\S+): (\S+)")

# --- the attacks, by name --------------------------------------------------------------------

ATTACKS = [
    "\n", "\r", "\r\n", "\0", ";", " #", "#", "\nChannel: Local/666@evil", ";Application: System",
    "$(reboot)", "`id`", "; rm -rf /", "| cat /etc/passwd", "&& true", "'", '"', "\\", "*", "?", "~",
    "../", "../../etc/passwd", "/etc/passwd", "/", ".", "..", ".hidden", "-rf", "--help",
    "x" * 33, "9" * 2000, "٣", "３", "\u0663\u0664", "\uff11\uff12", "\u00a0", "\u2028", "\x85",
    "\udcff", "\udc80abc",  # undecodable argv bytes, as Python hands them over (surrogateescape)
    "", " ", "\t",
]


def attacked(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Valid values, named attacks alone, and attacks spliced into valid values."""
    attack = st.sampled_from(ATTACKS)
    spliced = st.tuples(valid, attack, st.integers(0, 40)).map(lambda t: t[0][:t[2]] + t[1] + t[0][t[2]:])
    return st.one_of(valid, attack, spliced, st.text(max_size=40))


NUMBERS = attacked(st.from_regex(r"\+?[0-9]{1,31}", fullmatch=True))
RECORDING_NAMES = attacked(st.sampled_from(RECORDINGS + ("1", "2", "07")))


@st.composite
def keypad_times(draw):
    """Keypad times around now and far away, DST changes, leap days, impossible dates."""
    year = draw(st.one_of(st.integers(2026, 2030), st.sampled_from([2028, 2032, 9999]), st.integers(0, 9999)))
    month = draw(st.one_of(st.integers(1, 12), st.integers(0, 99)))
    day = draw(st.one_of(st.integers(1, 31), st.sampled_from([29, 30, 31]), st.integers(0, 99)))
    hour = draw(st.one_of(st.integers(0, 23), st.sampled_from([1, 2, 3]), st.integers(0, 99)))
    minute = draw(st.one_of(st.integers(0, 59), st.integers(0, 99)))
    width = draw(st.sampled_from([2, 1]))
    return f"{year:04d}*{month:0{width}d}*{day:0{width}d}**{hour:0{width}d}***{minute:0{width}d}"


@st.composite
def iso_times(draw):
    moment = draw(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(9999, 12, 30)))
    text = moment.isoformat(sep=draw(st.sampled_from(["T", " "])), timespec=draw(
        st.sampled_from(["minutes", "seconds", "milliseconds"])))
    offset = draw(st.sampled_from(["", "Z", "+03:00", "-05:00", "+05:30", "+14:00", "-12:00", "+99:00"]))
    return text + offset


@st.composite
def near_now(draw):
    """Times a second or so either side of now, in every form."""
    delta = draw(st.integers(-3, 3))
    moment = datetime.now(timezone.utc) + timedelta(seconds=delta)
    return draw(st.sampled_from([moment.isoformat(timespec="seconds"), f"+{max(delta, 0)}s",
                                 moment.strftime("%Y*%m*%d**%H***%M")]))


RELATIVE = st.from_regex(r"\+([0-9]{1,4}[smhdw]){1,3}", fullmatch=True)
WHENS = attacked(st.one_of(keypad_times(), iso_times(), RELATIVE, near_now()))


@st.composite
def settings_given(draw):
    """Settings as options or environment variables: valid ones and attacked ones."""
    given = {}
    if draw(st.booleans()):
        given["channel"] = draw(attacked(st.sampled_from(
            ["Local/{number}@from-internal", "PJSIP/{number}@trunk", "SIP/trunk/{number}"])))
    if draw(st.booleans()):
        given["caller_id"] = draw(attacked(st.sampled_from(['"Clinic" <74951234567>', "Desk", "100"])))
    for name in ("max_retries", "retry_time", "wait_time"):
        if draw(st.booleans()):
            given[name] = draw(attacked(st.integers(0, 2000).map(str)))
    if draw(st.booleans()):
        given["tz"] = draw(attacked(st.sampled_from(ZONES)))
    return given, draw(st.booleans())  # as options, or as environment variables


# --- the harness -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spool_root():
    """A real spool with recordings, on tmpfs when there is one (fsync costs nothing there)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="notice-fuzz-", dir=base))
    (root / "spool" / "outgoing").mkdir(parents=True)
    (root / "recordings" / "prepared").mkdir(parents=True)
    for name in RECORDINGS:
        (root / "recordings" / f"{name}.wav").write_bytes(b"RIFF")
    for number in (1, 2, 7):
        (root / "recordings" / "prepared" / f"{number}.gsm").write_bytes(b"gsm")
    yield root
    shutil.rmtree(root)


def run(root: Path, number: str, recording: str, when: str, given=None, as_env=False):
    """run_spool in-process with a clean environment; (exit code, stdout, stderr)."""
    options = {"spool_dir": str(root / "spool"), "recordings_dir": str(root / "recordings"),
               "prepared_dir": str(root / "recordings" / "prepared"), "syslog_facility": "none"}
    environ = {"NOTICE_CONFIG": os.devnull, "TZ": "UTC", "PATH": os.environ.get("PATH", "")}
    for name, value in (given or {}).items():
        if as_env and "\0" not in value:  # the environment cannot carry NUL
            environ["NOTICE_" + name.upper()] = value
        else:
            options[name] = value
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, environ, clear=True), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_spool(number, recording, when, options)
    return code, out.getvalue(), err.getvalue()


def spooled(root: Path):
    return sorted((root / "spool" / "outgoing").iterdir())


def staged(root: Path):
    tmp = root / "spool" / "tmp"
    return sorted(tmp.iterdir()) if tmp.exists() else []


def check_outcome(root, code, out, err, number, recording, given):
    """The one rule: a whole, exact notice (exit 0) or one clear line and nothing (exit 3)."""
    files = spooled(root)
    try:
        assert staged(root) == []
        if code == 3:
            assert out == ""
            assert err.count("\n") == 1 and err.startswith("notice-spool: error: ")
            assert "Traceback" not in err
            assert files == []
            return None
        assert code == 0, (code, err)
        assert err == ""
        notice_id, due_text, path = LINE.fullmatch(out.strip()).groups()
        assert [str(f) for f in files] == [path]
        call = parse(Path(path).read_text())
        template = given.get("channel") or "Local/{number}@from-internal"
        assert call.channel == template.replace("{number}", number)
        assert call.caller_id == (given.get("caller_id") or None)
        base = recording.rsplit(".", 1)[0] if recording.endswith((".wav", ".gsm")) else recording
        folder = root / "recordings" / ("prepared" if base.isdigit() else "")
        expected_name = str(int(base)) if base.isdigit() else base
        assert call.data == str(folder / expected_name)
        assert call.application == "Playback"
        assert call.max_retries == int(given.get("max_retries") or 2)
        assert call.retry_time == int(given.get("retry_time") or 20)
        assert call.wait_time == int(given.get("wait_time") or 20)
        assert call.variable("NOTICE_ID") == notice_id
        due = datetime.fromisoformat(due_text).timestamp()
        assert due == int(due) and os.stat(path).st_mtime_ns == int(due) * 10**9
        assert due > time.time() - 5  # never in the past when it was scheduled
        return due
    finally:
        for leftover in files:
            leftover.unlink()


@FUZZ
@given(number=NUMBERS, recording=RECORDING_NAMES, when=WHENS)
def test_arguments(spool_root, number, recording, when):
    code, out, err = run(spool_root, number, recording, when)
    check_outcome(spool_root, code, out, err, number, recording, {})


@FUZZ
@given(number=st.from_regex(r"[0-9]{5,15}", fullmatch=True), when=keypad_times(), zone=st.sampled_from(ZONES))
def test_keypad_times_in_every_zone(spool_root, number, when, zone):
    """A keyed time schedules the instant whose wall-clock time in the zone is exactly what was
    keyed (the earlier one in a DST fold), or is refused: gap, calendar, past."""
    code, out, err = run(spool_root, number, "hello", when, {"tz": zone})
    due = check_outcome(spool_root, code, out, err, number, "hello", {"tz": zone})
    if due is None:
        return
    year, month, day, hour, minute = (int(part) for part in re.findall(r"[0-9]+", when))
    local = datetime.fromtimestamp(due, ZoneInfo(zone))
    assert (local.year, local.month, local.day, local.hour, local.minute, local.second) == \
        (year, month, day, hour, minute, 0)
    earlier = datetime.fromtimestamp(due - 3600, ZoneInfo(zone))
    assert (earlier.year, earlier.month, earlier.day, earlier.hour, earlier.minute) != \
        (year, month, day, hour, minute)  # no earlier instant (fold) has the same wall time


@FUZZ
@given(number=NUMBERS, recording=RECORDING_NAMES, when=st.one_of(keypad_times(), RELATIVE),
       given=settings_given())
def test_settings_from_options_and_environment(spool_root, number, recording, when, given):
    values, as_env = given
    code, out, err = run(spool_root, number, recording, when, values, as_env)
    if as_env:  # an empty environment variable counts as unset
        values = {name: value for name, value in values.items() if value != ""}
    check_outcome(spool_root, code, out, err, number, recording, values)


@pytest.mark.parametrize("when", ["2026*02*29**10***00", "2028*02*29**10***00", "9999*12*31**23***59",
                                  "9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59-12:00"])
def test_named_edges_of_the_calendar(spool_root, when):
    code, out, err = run(spool_root, "79991234567", "hello", when)
    due = check_outcome(spool_root, code, out, err, "79991234567", "hello", {})
    if when.startswith("2026*02*29"):
        assert code == 3 and "not a date and time on the calendar" in err
    elif when == "9999-12-31T23:59:59-12:00":
        assert code == 3  # past the end of year 9999 in UTC: not representable, refused
    else:
        assert code == 0 and due is not None


def test_a_second_before_now_is_refused(spool_root):
    past = (datetime.now(timezone.utc) - timedelta(seconds=1)).isoformat(timespec="seconds")
    code, out, err = run(spool_root, "79991234567", "hello", past)
    assert code == 3 and "is in the past" in err
    assert spooled(spool_root) == [] and staged(spool_root) == []
