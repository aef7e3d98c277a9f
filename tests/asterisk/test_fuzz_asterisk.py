"""Issue 6 on a real Asterisk: a sample of 500 call files that notice-spool accepted from fuzzed
input, each loaded by Asterisk (22 from sid; 16 from bullseye when its sandbox is there) with
no warning in its log, fired at its time, never before, and completed, with the values
Asterisk sees being the ones given.

How the sample is drawn: a hypothesis run (the @given function in `drawn()`, with a seed
printed in the figures: NOTICE_ASTERISK_SEED replays one) draws candidates from the attack
lists of tests/reliability/strategies.py: numbers, recording names and prepared ordinals,
caller IDs, retry settings, zones, as options or environment variables. Only the time is not
fuzzed freely here: a notice must fire within the test, so each candidate draws the *form*
of its time (relative, ISO 8601 with an offset or Z, with a fraction, local time in a zone,
blanks around it) and gets it written out for a due second a few seconds ahead when it is
spooled. Keypad times fire at whole minutes: test_dialplan.py keys them on Asterisk.

Each candidate goes through notice-spool's own code (command.run_spool, in-process) into the
sandbox's spool, 50 accepted ones a batch: the fuzzer's verdict decides what is in the sample,
and a refusal (exit 3, one line) is only counted. The call files' channel is
Local/<number>@notice-echo (or .../n), a context that writes what the channel sees, one value
a line, into a file named after NOTICE_ID: the time it runs (UTC, milliseconds), then
${EXTEN}, ${NOTICE_ID}, ${NOTICE_NUMBER}, ${NOTICE_DUE}, ${CALLERID(num)}, ${CALLERID(name)}.
It writes them with FILE() in append and line mode, without a shell: no value is quoted, split
or expanded on the way (Set() takes the name up to the first '=' and the whole rest as the
value), and no value notice-spool accepts can hold the line feed that separates them. A
notice is due where its time means (a relative one: from when notice-spool reads the clock)
and must not fire before that second. Then it answers, so the notice's Playback of the
recording runs (a missing file would be a WARNING), and hangs up.

The caller ID is compared with what Asterisk makes of the CallerID line: asterisk_caller_id()
below is main/callerid.c's ast_callerid_split(), the same in 16.28 and 22.9, without the cut
pbx_spool makes at 79 bytes of name and of number: notice-spool must not give more.

Asterisk's log is read whole, from its boot on, by a test of its own: the conftest's check of
each test's log starts after this module's sample is made (a module fixture comes first).
"""

import contextlib
import io
import math
import os
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, given, seed as hypothesis_seed, settings, strategies as st

from harness import MODULES, AsteriskSandbox, write_tone
from notice_cli.command import run_spool

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))
from strategies import CALLER_IDS, PREPARED, RECORDINGS, ZONES, attacked  # noqa: E402

SAMPLE = 500
BATCH = 50
LEAD = 3  # seconds from spooling a notice to its due second (or one more: SPREAD)
SPREAD = 2
SETTLE = 30  # seconds a batch may take, after its last due second, to fire and be archived
FIRED = "STRFTIME(,UTC,%Y-%m-%dT%H:%M:%S.%3q)"  # the first line: when the dialplan ran
ECHO_VALUES = ("EXTEN", "NOTICE_ID", "NOTICE_NUMBER", "NOTICE_DUE", "CALLERID(num)", "CALLERID(name)")
REPORT = re.compile(r"notice (\S+) scheduled for (\S+): (\S+)\n")
START_RETRY = re.compile(r"^StartRetry: [0-9]+ 1 \(([0-9]+)\)$", re.M)

DIALPLAN = """\
[general]
static = yes
writeprotect = yes

[globals]
ECHO = {run}/echo

; A notice to Local/<number>@notice-echo: write the time and what the channel sees, one value
; a line, to a file named after the notice, without a shell; answer, so the notice's Playback
; runs; hang up.
[notice-echo]
exten => _[+0-9]!,1,Set(FILE(${{ECHO}}/${{NOTICE_ID}},,,al,u)=${{""" + FIRED + """}})
""" + "".join(" same => n,Set(FILE(${{ECHO}}/${{NOTICE_ID}},,,al,u)=${{" + value + "}})\n"
              for value in ECHO_VALUES) + """\
 same => n,Answer()
 same => n,Wait(1)
 same => n,Hangup()
"""

# --- what Asterisk makes of a CallerID line ---------------------------------------------------


def asterisk_caller_id(text: str) -> tuple:
    """(name, number) as pbx_spool reads the caller ID TEXT: ast_callerid_split(), byte for byte,
    without the 79-byte cut of the buffers it writes into."""
    name, number = _callerid_parse(_strip(text.encode()))
    return ((_unescape(name) if name is not None else b"").decode(errors="replace"),
            (_shrink(number) if number is not None else b"").decode(errors="replace"))


def _callerid_parse(text: bytes) -> tuple:
    """ast_callerid_parse(): (name or None, location or None)."""
    inner, quoted = _strip_quoted(text)
    less = inner.rfind(b"<")
    if less >= 0:
        location = inner[less + 1:]
        greater = location.rfind(b">")
        return _strip_quoted(inner[:less])[0], location[:greater] if greater >= 0 else location
    shrunk = _shrink(inner[:255])  # a tmp[256] copy
    if not quoted and shrunk and all(byte in b"0123456789*#+" for byte in shrunk):
        return None, shrunk
    return _strip_quoted(inner)[0], None


def _strip(text: bytes) -> bytes:
    """ast_strip(): bytes below 33 off both ends."""
    start, end = 0, len(text)
    while start < end and text[start] < 33:
        start += 1
    while end > start and text[end - 1] < 33:
        end -= 1
    return text[start:end]


def _strip_quoted(text: bytes) -> tuple:
    """ast_strip_quoted(): (TEXT stripped, without one pair of surrounding '"'; whether it had them)."""
    text = _strip(text)
    if text[:1] == b'"' and text[-1:] == b'"':
        return text[1:-1], True
    return text, False


def _shrink(number: bytes) -> bytes:
    """ast_shrink_phone_number()."""
    kept, bracketed = bytearray(), 0
    for at, byte in enumerate(number):
        char = chr(byte)
        if char == "[":
            bracketed += 1
        elif char == "]":
            bracketed -= 1
        elif char == "-" and not bracketed:
            continue
        elif char == "." and at + 1 < len(number):
            continue
        elif char in "( )":
            continue
        kept.append(byte)
    return bytes(kept)


def _unescape(name: bytes) -> bytes:
    """ast_unescape_quoted(): a backslash takes the next byte as it is."""
    kept, at = bytearray(), 0
    while at < len(name):
        if name[at] == ord("\\"):
            at += 1
            if at >= len(name):
                break
        kept.append(name[at])
        at += 1
    return bytes(kept)


# --- the candidates ---------------------------------------------------------------------------

# Caller IDs of every shape Asterisk parses, next to the shared valid ones.
CALLER_ID_SHAPES = CALLER_IDS + (
    "79991234567", "+7 (999) 123-45.67", '"Front desk"', "<100>", 'Desk <100', '"a \\" b" <1>',
    "Клиника доктора Айболита", '"$(reboot)" <`id`>', "'; DROP TABLE notices; --",
    # either side of the 79 bytes Asterisk keeps of a name and of a number
    '"' + "N" * 79 + '" <' + "7" * 32 + ">", '"' + "N" * 80 + '" <1>', '"' + "Ж" * 39 + 'N" <1>',
    '"' + "Ж" * 40 + '" <1>', "9" * 79, "9" * 80, '"Desk" <' + "7" * 79 + ">", '"Desk" <' + "7" * 80 + ">",
)
OFFSETS = ("Z", "+00:00", "+03:00", "-05:00", "+05:30", "+14:00", "-12:00", "+12:45")


@dataclass(frozen=True)
class Candidate:
    number: str
    recording: str
    time_form: tuple  # (form, detail, blanks): written out for a due second when spooled
    settings: tuple  # (name, value) pairs
    as_env: bool
    channel: str


def _either(valid: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(valid, attacked(valid))


# Made once: a strategy built inside each draw costs hypothesis more than the draw itself.
CHANNELS = st.sampled_from(["Local/{number}@notice-echo", "Local/{number}@notice-echo/n"])
CALLER_ID_VALUES = _either(st.sampled_from(CALLER_ID_SHAPES))
WHOLE_VALUES = {name: _either(st.one_of(st.integers(low, high), st.sampled_from([low, high])).map(str))
                for name, low, high in (("max_retries", 0, 1000), ("retry_time", 1, 604800), ("wait_time", 1, 86400))}
TIME_FORMS = {"relative": st.sampled_from(["s", "0m", "0h0m", "0d0h"]),
              "iso offset": st.sampled_from(OFFSETS), "iso fraction": st.sampled_from(OFFSETS),
              "local": st.tuples(st.sampled_from(["T", " "]), st.sampled_from(["seconds", "milliseconds"]))}
FORMS = st.sampled_from(list(TIME_FORMS))
BLANKS = st.sampled_from(["", "", " ", "\t"])
ZONE_VALUES = _either(st.sampled_from(ZONES))
NUMBER_VALUES = _either(st.from_regex(r"\+?[0-9]{1,32}", fullmatch=True).filter(lambda n: len(n) <= 32))
RECORDING_VALUES = _either(st.sampled_from(RECORDINGS + ("1", "2", "07", "hello.wav", "a.b.c.wav")))


@st.composite
def candidates(draw):
    settings_given = {"channel": draw(CHANNELS)}
    if draw(st.booleans()):
        settings_given["caller_id"] = draw(CALLER_ID_VALUES)
    for name, values in WHOLE_VALUES.items():
        if draw(st.booleans()):
            settings_given[name] = draw(values)
    form = draw(FORMS)
    detail = draw(TIME_FORMS[form])
    if form == "local" or draw(st.booleans()):
        settings_given["tz"] = draw(ZONE_VALUES)
    return Candidate(
        number=draw(NUMBER_VALUES),
        recording=draw(RECORDING_VALUES),
        time_form=(form, detail, draw(BLANKS)),
        settings=tuple(settings_given.items()),
        as_env=draw(st.booleans()),
        channel=settings_given["channel"],
    )


def drawn(count: int, run_seed: int) -> list:
    """COUNT candidates, the same ones for the same RUN_SEED."""
    found = []

    @hypothesis_seed(run_seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(candidate=candidates())
    def collect(candidate):
        found.append(candidate)

    collect()
    return found


def written_time(form: tuple, due: int, zone_name: str, now: float) -> str:
    """The time FORM for the DUE second (a relative one counts from NOW)."""
    kind, detail, blanks = form
    if kind == "relative":
        seconds = due - math.ceil(now)
        text = f"+{seconds}s" if detail == "s" else f"+{detail}{seconds}s"
    elif kind in ("iso offset", "iso fraction"):
        offset = timedelta() if detail == "Z" else _offset(detail)
        moment = datetime.fromtimestamp(due, timezone(offset))
        if kind == "iso fraction":  # a fraction is rounded up to the next whole second
            moment -= timedelta(milliseconds=250)
            text = moment.isoformat(timespec="milliseconds")
        else:
            text = moment.isoformat(timespec="seconds")
        text = text[:-6] + "Z" if detail == "Z" else text
    else:
        separator, timespec = detail
        text = datetime.fromtimestamp(due, ZoneInfo(zone_name)).replace(tzinfo=None).isoformat(separator, timespec)
    return blanks + text + blanks


def _offset(text: str) -> timedelta:
    sign = -1 if text[0] == "-" else 1
    return sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6]))


# --- spooling and what must come of it --------------------------------------------------------

@dataclass
class Spooled:
    candidate: Candidate
    notice_id: str
    due: int  # as notice-spool reported it
    meant: range  # the seconds the time given can mean
    path: Path
    echo: tuple  # what the dialplan must write


def spool(sandbox: AsteriskSandbox, candidate: Candidate, due: int):
    """notice-spool's own code with the CANDIDATE's input, its time written for DUE;
    (exit code, stderr, Spooled or None)."""
    given = dict(candidate.settings)
    zone = given.get("tz") or "UTC"
    zone = zone if zone.strip() in ZONES else "UTC"  # an attacked zone is refused anyway
    options = {"spool_dir": str(sandbox.spool_dir), "recordings_dir": str(sandbox.recordings_dir),
               "prepared_dir": str(sandbox.recordings_dir / "prepared"), "syslog_facility": "none"}
    environ = {"NOTICE_CONFIG": os.devnull, "TZ": "UTC", "PATH": os.environ.get("PATH", "")}
    for name, value in given.items():
        if candidate.as_env and "\0" not in value and name != "channel":
            environ["NOTICE_" + name.upper()] = value
        else:
            options[name] = value
    out, err = io.StringIO(), io.StringIO()
    before = time.time()
    when = written_time(candidate.time_form, due, zone.strip(), before)
    with mock.patch.dict(os.environ, environ, clear=True), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        code = run_spool(candidate.number, candidate.recording, when, options)
    after = time.time()
    if code != 0:
        return code, err.getvalue(), None
    notice_id, due_text, path = REPORT.fullmatch(out.getvalue()).groups()
    reported = int(datetime.fromisoformat(due_text).timestamp())
    # A relative time counts from the moment notice-spool reads the clock: a second later if
    # that moment is in the next second.
    later = math.ceil(after) - math.ceil(before) if candidate.time_form[0] == "relative" else 0
    meant = range(due, due + 1 + later)
    caller_id = setting(candidate, "caller_id", "")
    name, number = asterisk_caller_id(caller_id) if caller_id else ("", "")
    echo = (candidate.number, notice_id, candidate.number, str(reported), number, name)
    return code, "", Spooled(candidate, notice_id, reported, meant, Path(path), echo)


def setting(candidate: Candidate, name: str, default: str) -> str:
    """The value of the setting NAME the candidate's notice was spooled with."""
    value = dict(candidate.settings).get(name)
    if value is None or (candidate.as_env and value == ""):  # an empty variable is unset
        return default
    return value


def wait_for(sandbox: AsteriskSandbox, batch: list, deadline: float) -> None:
    """Until every notice of BATCH has echoed and been archived with its Status, or DEADLINE."""
    echo_dir = sandbox.run.path / "echo"
    while time.time() < deadline:
        if all(_echoed(echo_dir / notice.notice_id) and _finished(sandbox, notice) for notice in batch):
            return
        time.sleep(0.2)


def _echoed(path: Path) -> bool:
    try:
        return path.read_bytes().count(b"\n") >= 1 + len(ECHO_VALUES)
    except FileNotFoundError:
        return False


def _finished(sandbox: AsteriskSandbox, notice: Spooled) -> bool:
    text = sandbox.archived(notice.path.name)
    return text is not None and "Status:" in text


# --- the sandbox and the sample ---------------------------------------------------------------

@pytest.fixture(scope="module")
def asterisk(chroot, sandbox_running):
    """Asterisk with the notice-echo context and the recordings the candidates name, for this
    module: the conftest's log check after each test and its run folder kept on a failure apply
    to it, and test_asterisk_logged_no_warning_and_completed_every_call reads its whole log."""
    with sandbox_running(AsteriskSandbox.create(chroot, dialplan=DIALPLAN, phones=()), _lay_out) as sandbox:
        yield sandbox


def _lay_out(sandbox: AsteriskSandbox) -> None:
    (sandbox.run.etc / "modules.conf").write_text(MODULES + "\n; FILE() for notice-echo\nload = func_env.so\n")
    (sandbox.run.path / "echo").mkdir()
    (sandbox.recordings_dir / "prepared").mkdir()
    for name in RECORDINGS:
        write_tone(sandbox.recordings_dir / f"{name}.wav", 0.2)
    for number in PREPARED:
        write_tone(sandbox.recordings_dir / "prepared" / f"{number}.wav", 0.2, hertz=500 + 50 * number)


@pytest.fixture(scope="module")
def sample(asterisk, chroot, asterisk_figures):
    """SAMPLE accepted call files, spooled BATCH at a time, each batch fired and archived before
    the next; what each echoed, and how the candidates fared."""
    run_seed = int(os.environ.get("NOTICE_ASTERISK_SEED") or random.SystemRandom().randrange(2**32))
    started = time.monotonic()
    refused, accepted, tried = Counter(), [], 0
    pending = []
    for round_number in range(20):
        for candidate in drawn(4 * SAMPLE, run_seed + round_number):
            if len(accepted) + len(pending) >= SAMPLE:
                break
            code, err, notice = spool(asterisk, candidate, math.ceil(time.time()) + LEAD + tried % SPREAD)
            tried += 1
            if notice is None:
                assert code == 3 and err.count("\n") == 1 and err.startswith("notice-spool: error: "), \
                    (run_seed, candidate, code, err)
                refused[err.split()[2]] += 1
                continue
            pending.append(notice)
            if len(pending) == BATCH or len(accepted) + len(pending) == SAMPLE:
                wait_for(asterisk, pending, max(n.due for n in pending) + SETTLE)
                accepted += pending
                pending = []
        if len(accepted) >= SAMPLE:
            break
    if pending:  # too few accepted: the tests say so, once these are done
        wait_for(asterisk, pending, max(n.due for n in pending) + SETTLE)
        accepted += pending
    echoes = {}  # notice id -> (when the dialplan ran, the values it wrote), or None
    for notice in accepted:
        path = asterisk.run.path / "echo" / notice.notice_id
        if path.exists():
            fired, *values = path.read_bytes().decode("utf-8", "replace").split("\n")[:-1]
            echoes[notice.notice_id] = (datetime.fromisoformat(fired + "+00:00").timestamp(), tuple(values))
        else:
            echoes[notice.notice_id] = None
    seconds = time.monotonic() - started
    delays = [echoes[n.notice_id][0] - n.due for n in accepted if echoes[n.notice_id]]
    fired = f"fired {min(delays):+.2f} .. {max(delays):+.2f} s after the due second" if delays else "none fired"
    asterisk_figures(f"{chroot.name}: {len(accepted)} accepted call files of {tried} fuzzed candidates "
                     f"({sum(refused.values())} refused: {_top(refused)}), {fired}, in {seconds:.0f} s, "
                     f"seed {run_seed}")
    return {"seed": run_seed, "accepted": accepted, "echoes": echoes}


def _top(counts: Counter) -> str:
    return ", ".join(f"{what} {count}" for what, count in counts.most_common(6))


# --- the tests --------------------------------------------------------------------------------

def test_the_sample_has_500_accepted_call_files(sample):
    assert len(sample["accepted"]) == SAMPLE, f"seed {sample['seed']}"


def test_asterisk_logged_no_warning_and_completed_every_call(asterisk, sample):
    """This module's Asterisk, its log read from its boot on (see the module's docstring)."""
    assert asterisk.log_problems(0) == [], f"seed {sample['seed']}"
    log = asterisk.messages_log.read_text(errors="replace")
    assert log.count("Call completed to Local/") == len(sample["accepted"]) == SAMPLE, f"seed {sample['seed']}"


def test_each_notice_is_due_at_the_second_its_time_means(sample):
    wrong = [(n.notice_id, n.candidate, n.due, n.meant) for n in sample["accepted"] if n.due not in n.meant]
    assert wrong == [], f"seed {sample['seed']}"


def test_every_call_file_fired_at_its_time_never_before(sample):
    never = [(n.notice_id, n.candidate) for n in sample["accepted"] if sample["echoes"][n.notice_id] is None]
    assert never == [], f"seed {sample['seed']}: never fired"
    early = [(n.notice_id, n.due, sample["echoes"][n.notice_id][0]) for n in sample["accepted"]
             if sample["echoes"][n.notice_id][0] < n.due]
    assert early == [], f"seed {sample['seed']}: fired before the due second"


def test_asterisk_sees_the_values_given(sample):
    wrong = []
    for notice in sample["accepted"]:
        echoed = sample["echoes"][notice.notice_id]
        if echoed is None:
            continue
        wrong += [f"{notice.notice_id} {name}: given {given!r}, Asterisk saw {saw!r}"
                  for name, given, saw in zip(ECHO_VALUES, notice.echo, echoed[1]) if given != saw]
        if len(echoed[1]) != len(ECHO_VALUES):
            wrong.append(f"{notice.notice_id}: {len(echoed[1])} lines written, not {len(ECHO_VALUES)}")
    assert wrong == [], f"seed {sample['seed']}:\n" + "\n".join(wrong)


def test_every_call_file_completed_with_its_retry_time(asterisk, sample):
    for notice in sample["accepted"]:
        archived = asterisk.archived(notice.path.name)
        assert archived is not None and archived.rstrip().endswith("Status: Completed"), (sample["seed"], notice)
        retry_time = int(setting(notice.candidate, "retry_time", "20"))
        started = int(START_RETRY.search(archived).group(1)) - retry_time
        assert notice.due <= started <= notice.due + SETTLE, (sample["seed"], notice, archived)
    assert list(asterisk.outgoing.iterdir()) == []
