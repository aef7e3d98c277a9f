"""What the property-based tests share: the classic attacks by name, the hypothesis
strategies built from them, the number of cases each test runs, and the real spool they run
against. test_fuzz_spool.py, test_fuzz_import.py, test_fuzz_config.py and the Asterisk sample
(tests/asterisk/test_fuzz_asterisk.py) draw from the same lists, so an attack added here is
tried everywhere a value reaches a call file.
"""

import os
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, settings, strategies as st

# NOTICE_FUZZ_EXAMPLES sets the number of cases per property test (CI: see the Makefile).
EXAMPLES = int(os.environ.get("NOTICE_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
RECORDINGS = ("rec_1732790000.42", "hello", "Greeting-2", "a.b.c")
PREPARED = (1, 2, 7)
ZONES = ("UTC", "Europe/Moscow", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
         "Asia/Kolkata", "Pacific/Chatham", "America/Santiago")

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


VALID_NUMBERS = st.from_regex(r"\+?[0-9]{1,31}", fullmatch=True)
NUMBERS = attacked(VALID_NUMBERS)
RECORDING_CHOICES = st.sampled_from(RECORDINGS + ("1", "2", "07"))
RECORDING_NAMES = attacked(RECORDING_CHOICES)
CALLER_IDS = ('"Clinic" <74951234567>', "Desk", "100")
CHANNELS = ("Local/{number}@from-internal", "PJSIP/{number}@trunk", "SIP/trunk/{number}")


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


OFFSETS = ("", "Z", "+03:00", "-05:00", "+05:30", "+14:00", "-12:00", "+99:00")


@st.composite
def iso_times(draw):
    moment = draw(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(9999, 12, 30)))
    text = moment.isoformat(sep=draw(st.sampled_from(["T", " "])), timespec=draw(
        st.sampled_from(["minutes", "seconds", "milliseconds"])))
    return text + draw(st.sampled_from(OFFSETS))


@st.composite
def near_now(draw):
    """Times a second or so either side of now, in every form."""
    delta = draw(st.integers(-3, 3))
    moment = datetime.now(timezone.utc) + timedelta(seconds=delta)
    return draw(st.sampled_from([moment.isoformat(timespec="seconds"), f"+{max(delta, 0)}s",
                                 moment.strftime("%Y*%m*%d**%H***%M")]))


RELATIVE = st.from_regex(r"\+([0-9]{1,4}[smhdw]){1,3}", fullmatch=True)
TIMES = st.one_of(keypad_times(), iso_times(), RELATIVE, near_now())
WHENS = attacked(TIMES)


@st.composite
def settings_given(draw):
    """Settings as options or environment variables: valid ones and attacked ones."""
    given = {}
    if draw(st.booleans()):
        given["channel"] = draw(attacked(st.sampled_from(CHANNELS)))
    if draw(st.booleans()):
        given["caller_id"] = draw(attacked(st.sampled_from(CALLER_IDS)))
    for name in ("max_retries", "retry_time", "wait_time"):
        if draw(st.booleans()):
            given[name] = draw(attacked(st.integers(0, 2000).map(str)))
    if draw(st.booleans()):
        given["tz"] = draw(attacked(st.sampled_from(ZONES)))
    return given, draw(st.booleans())  # as options, or as environment variables


# --- the spool -------------------------------------------------------------------------------

@contextmanager
def fuzz_root():
    """A real spool (outgoing/ only: tmp/ comes on first use) and the recordings folders, on
    tmpfs when there is one (fsync costs nothing there); removed at the end."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="notice-fuzz-", dir=base))
    try:
        (root / "spool" / "outgoing").mkdir(parents=True)
        (root / "recordings" / "prepared").mkdir(parents=True)
        for name in RECORDINGS:
            (root / "recordings" / f"{name}.wav").write_bytes(b"RIFF")
        for number in PREPARED:
            (root / "recordings" / "prepared" / f"{number}.gsm").write_bytes(b"gsm")
        yield root
    finally:
        shutil.rmtree(root)


def spooled(root: Path) -> list:
    return sorted((root / "spool" / "outgoing").iterdir())


def staged(root: Path) -> list:
    tmp = root / "spool" / "tmp"
    return sorted(tmp.iterdir()) if tmp.exists() else []
