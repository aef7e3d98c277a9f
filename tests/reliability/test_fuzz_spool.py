"""Property-based tests of everything that reaches a call file through notice-spool: the
number, the recording, the time in every form, the settings from options and the environment.

Each generated case runs the command's own code (command.run_spool, what both the console
script and the click command end in) against a real spool folder, and must end in exactly one
of two ways:

* exit 0: one call file in outgoing/, whose fields parse back (the way Asterisk's lexer reads
  them) to exactly the values given, with its mtime at the due second it reported;
* exit 3: one line on stderr, `notice-spool: error: ...`, and nothing in outgoing/ or tmp/.

Never a traceback, never another exit code, never a stray file. The classic attacks are in the
strategies by name (strategies.py), mixed with valid values, so most cases get past the first
check. NOTICE_FUZZ_EXAMPLES sets the number of cases per test (CI: see the Makefile).
"""

import contextlib
import io
import os
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st

from notice_cli.callfile import parse
from notice_cli.command import run_spool
from strategies import (FUZZ, NUMBERS, RECORDING_NAMES, RELATIVE, WHENS, ZONES, fuzz_root, keypad_times,
                        settings_given, spooled, staged)

LINE = re.compile(r"notice (\S+) scheduled for (\S+): (\S+)")

# --- the harness -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spool_root():
    with fuzz_root() as root:
        yield root


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
        assert dict(call.variables).get("NOTICE_ID") == notice_id
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
