"""Issue 13 on a real Asterisk: the delivery context [notice-deliver] of the shipped dialplan,
with simulated clients (clients.py), reports the real outcome of every attempt.

Each notice is scheduled by the installed notice-spool with its settings in the environment,
as an admin gives them (confirm = key, amd = on, retry_on, max_retries, on_failure...), to
Local/<number>@notice-clients/n, where the number picks how the client behaves. The dialplan
reports each attempt through the real `notice report` inside the chroot, which keeps it in
data_dir, calls again as retry_on says, and starts on_failure (a script that writes its
arguments to a file). All the notices are due at the same second: the clients run in
parallel, so the campaign takes as long as its longest notice.

What the clients heard is measured in their own recordings: the message is a pure tone, and
each stretch of it is one hearing. Asterisk's side (calls made, AMD's verdicts, REASON) is read
from its full log.
"""

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import clients
from harness import MODULES, AsteriskSandbox, iso, run_notice_spool, whole_second_ahead
from notice_dialplan import EXTRA_MODULES, GLOBALS, configure
from test_asterisk_engine import notice_command

CHANNEL = "Local/{number}@notice-clients/n"
MESSAGE = "message"
RETRY_TIME = 2
WAIT_TIME = 4  # seconds a client that never answers rings
CAMPAIGN_TIMEOUT = 120
LEAD = 6  # seconds from the first notice-spool to the due time: room for all of them
DELIVERED = ("confirmed", "heard")


@dataclass(frozen=True)
class Case:
    """A notice to a client that behaves as BEHAVIOUR (clients.py), scheduled with SETTINGS on
    top of the campaign's: its OUTCOMES attempt by attempt, and how many times the client
    heard the whole message in each answered attempt (HEARD)."""
    number: str
    behaviour: str
    outcomes: Tuple[str, ...]
    heard: Tuple[int, ...] = ()
    settings: Dict[str, str] = field(default_factory=dict)

    @property
    def retry_on(self) -> Tuple[str, ...]:
        return tuple(self.settings.get("NOTICE_RETRY_ON", "busy,no_answer,failed").split(","))

    @property
    def delivered(self) -> bool:
        return self.outcomes[-1] in DELIVERED and self.outcomes[-1] not in self.retry_on


CASES = {
    "confirms": Case("2001", "confirms", ("confirmed",), heard=(1,)),
    "replays then confirms": Case("2002", "replays then confirms", ("confirmed",), heard=(2,)),
    "listens": Case("2003", "listens", ("heard",), heard=(1,)),
    "hangs up": Case("2004", "hangs up", ("hung_up",), heard=(0,)),
    "voicemail": Case("2005", clients.MACHINE, ("voicemail",), heard=(1,)),
    "machine": Case("2006", clients.MACHINE, ("machine",), heard=(0,), settings={"NOTICE_AMD_LEAVE_MESSAGE": "no"}),
    "busy": Case("2007", "busy", ("busy", "busy"), settings={"NOTICE_MAX_RETRIES": "1"}),
    "never answers": Case("2008", "never answers", ("no_answer",)),
    "congested": Case("2009", "congested", ("failed",)),
    # Heard is not enough for this one: it is called again, and heard again, and not delivered.
    "heard, called again": Case("2010", "listens", ("heard", "heard"), heard=(1, 1), settings={
        "NOTICE_CONFIRM": "none", "NOTICE_RETRY_ON": "busy,no_answer,failed,heard", "NOTICE_MAX_RETRIES": "1"}),
}
HOSTILE_NUMBER = "2099"  # a client that listens, called by a call file someone else wrote
# The campaign's settings, as an admin sets them in the environment.
SETTINGS = {"NOTICE_CONFIRM": "key", "NOTICE_AMD": "on", "NOTICE_MAX_RETRIES": "0",
            "NOTICE_RETRY_TIME": str(RETRY_TIME), "NOTICE_WAIT_TIME": str(WAIT_TIME), "NOTICE_TZ": "UTC",
            "NOTICE_SYSLOG_FACILITY": "none"}
# The dialplan's settings left as shipped, but for the time a client has to press a key.
SHIPPED = GLOBALS + "NOTICE_CONFIRM_TIMEOUT = 3\n\n#include \"extensions_notice.conf\"\n"


# --- the sandbox and the campaign ----------------------------------------------------------

class Run:
    """The paths of this module's run folder: the notices' data_dir, the recordings of the
    calls, the file on_failure writes."""

    def __init__(self, sandbox: AsteriskSandbox):
        self.path = sandbox.run.path
        self.data_dir = self.path / "data"
        self.heard = self.path / "heard"
        self.on_failure = self.path / "bin" / "on-failure"
        self.failures = self.path / "failures"


def prepare(sandbox: AsteriskSandbox) -> None:
    numbers = {**{case.number: case.behaviour for case in CASES.values()}, HOSTILE_NUMBER: "listens"}
    prepare_clients(sandbox, numbers)


def prepare_clients(sandbox: AsteriskSandbox, numbers: Dict[str, str], more_dialplan: str = "",
                    more_settings: str = "") -> None:
    """The shipped dialplan, the clients NUMBERS (number -> behaviour) and MORE_DIALPLAN, AMD,
    the message, and `notice report`'s settings (and MORE_SETTINGS) in the chroot."""
    run = Run(sandbox)
    configure(sandbox, SHIPPED + clients.dialplan(run.path, numbers) + more_dialplan)
    (sandbox.run.etc / "modules.conf").write_text(MODULES + EXTRA_MODULES + clients.MODULES)
    (sandbox.run.etc / "amd.conf").write_text(clients.AMD_CONF)
    # `notice report`, inside the chroot, keeps the reports where notice-spool and `notice
    # history` on the host look, and starts on_failure.
    with open(sandbox.run.etc / "notice.conf", "a") as config:
        config.write(f"data_dir = {run.data_dir}\non_failure = {run.on_failure}\n{more_settings}")
    run.on_failure.write_text(f'#!/bin/sh\necho "$@" >> {run.failures}\n')
    run.on_failure.chmod(0o755)
    clients.write_sounds(run.path / "sounds")
    clients.write_wav(sandbox.recordings_dir / f"{MESSAGE}.wav",
                      clients.tone(clients.MESSAGE_SECONDS, clients.MESSAGE_HERTZ))
    run.heard.mkdir()
    run.data_dir.mkdir()


@pytest.fixture(scope="module")
def asterisk(chroot, sandbox_running):
    """Asterisk with the notice dialplan and the clients, for this module (the conftest's
    checks of its log and its run folder apply to it as to the shared one)."""
    with sandbox_running(AsteriskSandbox.create(chroot), prepare) as sandbox:
        yield sandbox


@dataclass
class Campaign:
    ids: Dict[str, str]  # case name -> notice id
    seconds: float  # from the due time until every notice has ended


def schedule(sandbox: AsteriskSandbox, case: Case, due: int) -> str:
    run = Run(sandbox)
    env = {**SETTINGS, **case.settings, "NOTICE_CHANNEL": CHANNEL, "NOTICE_DATA_DIR": str(run.data_dir),
           "NOTICE_ON_FAILURE": str(run.on_failure)}
    spooled = run_notice_spool("--spool-dir", str(sandbox.spool_dir), "--recordings-dir", str(sandbox.recordings_dir),
                               case.number, MESSAGE, iso(due), env=env)
    return spooled.notice_id


@pytest.fixture(scope="module")
def campaign(asterisk, chroot, asterisk_figures) -> Campaign:
    """Every notice of CASES scheduled for one second, then waited for until each has ended:
    all its attempts reported, no call file left, on_failure run for each not delivered."""
    due = whole_second_ahead(LEAD)
    ids = {name: schedule(asterisk, case, due) for name, case in CASES.items()}
    deadline = time.time() + CAMPAIGN_TIMEOUT
    while time.time() < deadline and not ended(asterisk, ids):
        time.sleep(0.5)
    seconds = time.time() - due
    asterisk_figures(f"{chroot.name}: {len(CASES)} notices in reported delivery ended {seconds:.1f} s after "
                     "their due time")
    time.sleep(1)  # MixMonitor closes a recording as its channel goes
    return Campaign(ids, seconds)


def ended(sandbox: AsteriskSandbox, ids: Dict[str, str]) -> bool:
    run = Run(sandbox)
    failed = [case for case in CASES.values() if not case.delivered]
    return (all(len(reports(run, ids[name])) == len(case.outcomes) for name, case in CASES.items())
            and not list(sandbox.outgoing.glob("*.call"))
            and len(failure_runs(run)) >= len(failed))


# --- what the notices' records, the clients and Asterisk say -------------------------------

def reports(run: Run, notice_id: str) -> List[dict]:
    """The attempts `notice report` kept for NOTICE_ID, in order."""
    try:
        lines = (run.data_dir / "outcomes" / f"{notice_id}.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    return [entry for entry in map(json.loads, lines) if "outcome" in entry]


def failure_runs(run: Run) -> List[List[str]]:
    try:
        return [line.split() for line in run.failures.read_text().splitlines()]
    except FileNotFoundError:
        return []


def hearings(run: Run, number: str) -> List[List[clients.Stretch]]:
    """For each answered call to NUMBER, the stretches of the message in its recording."""
    return [clients.tone_stretches(clients.read_samples(path), clients.MESSAGE_HERTZ)
            for path in clients.recordings(run.heard, number)]


def whole(stretches: List[clients.Stretch]) -> int:
    return sum(1 for stretch in stretches if stretch.seconds >= clients.MESSAGE_SECONDS - 0.1)


def full_log(sandbox: AsteriskSandbox) -> List[str]:
    return sandbox.full_log.read_text(errors="replace").splitlines()


def calls_to(sandbox: AsteriskSandbox, number: str) -> int:
    """How many calls reached NUMBER's client: the first priority of its extension, run once a call."""
    return sum(1 for line in full_log(sandbox) if f"Executing [{number}@notice-clients:1]" in line)


def reports_run(sandbox: AsteriskSandbox, notice_id: str) -> int:
    """How many times the dialplan ran `notice report` for NOTICE_ID."""
    return sum(1 for line in full_log(sandbox) if "] System(" in line and f" report {notice_id} " in line)


CALL_ID = re.compile(r"\[(C-[0-9a-f]+)\]")


def reasons(sandbox: AsteriskSandbox) -> Dict[str, str]:
    """notice id -> the REASON Asterisk gave the `failed` extension of its unanswered call(s)."""
    reason_of, notice_of = {}, {}
    for line in full_log(sandbox):
        call = CALL_ID.search(line)
        given = re.search(r'\[s@notice-not-answered:1\] Set\("OutgoingSpoolFailed", "LOCAL\(raw\)=(\d*)"\)', line)
        reporting = re.search(r'\[s@notice-report:\d+\] Set\("OutgoingSpoolFailed", "LOCAL\(raw\)=([0-9a-f-]{9,})"\)',
                              line)
        if call and given:
            reason_of[call.group(1)] = given.group(1)
        if call and reporting:
            notice_of[call.group(1)] = reporting.group(1)
    return {notice_of[call]: reason for call, reason in reason_of.items() if call in notice_of}


def amd_verdicts(sandbox: AsteriskSandbox) -> Dict[str, List[str]]:
    """number -> AMD()'s verdicts on the calls to it: HUMAN, MACHINE (ANSWERING MACHINE), ..."""
    found: Dict[str, List[str]] = {}
    for line in full_log(sandbox):
        verdict = re.search(r"AMD: Channel \[Local/(\d+)@notice-clients-[^\]]*\]\. (HUMAN|ANSWERING MACHINE|NOTSURE"
                            r"|HANGUP)", line)
        if verdict:
            found.setdefault(verdict.group(1), []).append(verdict.group(2).split()[-1])
    return found


# --- the tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_each_attempt_ends_with_its_outcome(asterisk, campaign, name):
    case = CASES[name]
    kept = reports(Run(asterisk), campaign.ids[name])
    assert [report["outcome"] for report in kept] == list(case.outcomes)
    assert [report["attempt"] for report in kept] == list(range(1, len(case.outcomes) + 1))
    # Retries exactly as retry_on says: one call per attempt, no more; and each attempt
    # reported once (a second report would be ignored by `notice report`, so count the runs).
    assert calls_to(asterisk, case.number) == len(case.outcomes)
    assert reports_run(asterisk, campaign.ids[name]) == len(case.outcomes)


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case.heard])
def test_the_client_heard_the_message_as_often_as_the_outcome_says(asterisk, campaign, name):
    """The message's stretches in the client's recording of each call: whole hearings as the
    case says, and `played` the whole seconds of the message it heard."""
    case, run = CASES[name], Run(asterisk)
    heard = hearings(run, case.number)
    assert [whole(stretches) for stretches in heard] == list(case.heard)
    for stretches, report in zip(heard, reports(run, campaign.ids[name])):
        seconds = sum(stretch.seconds for stretch in stretches)
        assert seconds - 1.1 < report["played"] <= seconds + 0.1, (stretches, report)


def test_a_client_who_hangs_up_heard_a_second_of_it(asterisk, campaign):
    case = CASES["hangs up"]
    [stretches] = hearings(Run(asterisk), case.number)
    assert [round(stretch.seconds, 1) for stretch in stretches] in ([1.0], [1.1], [1.2], [1.3])
    assert [report["played"] for report in reports(Run(asterisk), campaign.ids["hangs up"])] == [1]


def test_the_machine_gets_the_message_after_its_beep(asterisk, campaign):
    [recording] = clients.recordings(Run(asterisk).heard, CASES["voicemail"].number)
    samples = clients.read_samples(recording)
    [beep] = clients.tone_stretches(samples, clients.BEEP_HERTZ)
    [message] = clients.tone_stretches(samples, clients.MESSAGE_HERTZ)
    assert message.start >= beep.start + beep.seconds


def test_amd_tells_the_machine_from_the_person(asterisk, campaign):
    verdicts = amd_verdicts(asterisk)
    for case in CASES.values():
        if case.heard:
            expected = "MACHINE" if case.behaviour == clients.MACHINE else "HUMAN"
            assert verdicts.get(case.number) == [expected] * len(case.outcomes), case


def test_reason_tells_busy_from_no_answer_from_congestion(asterisk, campaign):
    """What Asterisk gives the `failed` extension: 5 busy, 3 rang out, 8 congestion."""
    given = reasons(asterisk)
    assert given == {campaign.ids["busy"]: "5", campaign.ids["never answers"]: "3", campaign.ids["congested"]: "8"}


def test_on_failure_runs_once_for_each_notice_not_delivered(asterisk, campaign):
    expected = sorted([campaign.ids[name], case.number, case.outcomes[-1]]
                      for name, case in CASES.items() if not case.delivered)
    assert sorted(failure_runs(Run(asterisk))) == expected


def notice(sandbox: AsteriskSandbox, *args: str) -> subprocess.CompletedProcess:
    """The notice command on the host, reading the sandbox's spool and the notices' data_dir."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTICE_")}
    env.update(NOTICE_SPOOL_DIR=str(sandbox.spool_dir), NOTICE_RECORDINGS_DIR=str(sandbox.recordings_dir),
               NOTICE_DATA_DIR=str(Run(sandbox).data_dir), NOTICE_CONFIG=os.devnull, NOTICE_TZ="UTC")
    done = subprocess.run([notice_command(), *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def test_history_and_show_tell_each_notices_final_outcome(asterisk, campaign):
    """What an admin reads: one row a notice, however many calls, with its final outcome and
    its calls; the counts of --summary; show's attempts, and on_failure's run with its exit."""
    rows = {row["id"]: row for row in json.loads(notice(asterisk, "history", "--json").stdout)}
    assert set(rows) == set(campaign.ids.values())
    for name, case in CASES.items():
        row = rows[campaign.ids[name]]
        assert (row["result"], row["outcome"], row["attempts"]) == (
            "delivered" if case.delivered else "not delivered", case.outcomes[-1], len(case.outcomes)), (name, row)
    summary = json.loads(notice(asterisk, "history", "--summary", "--json").stdout)
    delivered = sum(case.delivered for case in CASES.values())
    assert summary["results"] == {"delivered": delivered, "not delivered": len(CASES) - delivered, "pending": 0,
                                  "unknown": 0}
    not_delivered = json.loads(notice(asterisk, "history", "--json", "--outcome", "not-delivered").stdout)
    assert sorted(row["id"] for row in not_delivered) == sorted(
        campaign.ids[name] for name, case in CASES.items() if not case.delivered)
    deadline = time.time() + 10  # on_failure's run is kept once the program has ended
    while True:
        shown = json.loads(notice(asterisk, "show", "--json", campaign.ids["busy"]).stdout)
        if shown["on_failure"] or time.time() > deadline:
            break
        time.sleep(0.5)
    assert [(entry["attempt"], entry["outcome"], entry["then"]) for entry in shown["attempt_log"]] == [
        (1, "busy", "retry"), (2, "busy", "not delivered")]
    assert [(run["program"], run["exit"]) for run in shown["on_failure"]] == [(str(Run(asterisk).on_failure), 0)]


def test_the_whole_log_is_free_of_warnings(asterisk, campaign):
    assert asterisk.log_problems() == []


# Not written by notice-spool: a call file of someone who may write the spool, whose values
# try to run a command in each door of the delivery context. {run}: the run folder.
HOSTILE_CALL_FILE = """\
Channel: Local/{number}@notice-clients/n
Context: notice-deliver
Extension: s
Priority: 1
Archive: yes
Setvar: NOTICE_ID=x):System(touch {run}/pwned-id
Setvar: NOTICE_ATTEMPT=1):System(touch {run}/pwned-attempt
Setvar: NOTICE_MESSAGE={run}/recordings/message):System(touch {run}/pwned-message
Setvar: NOTICE_CONFIRM=key):System(touch {run}/pwned-confirm
Setvar: NOTICE_AMD=on):System(touch {run}/pwned-amd
Setvar: NOTICE_AMD_LEAVE_MESSAGE=yes):System(touch {run}/pwned-leave
"""


@pytest.mark.log_may_warn
def test_a_hostile_call_file_runs_nothing_and_reports_nothing(asterisk, campaign):
    """Each value goes through the door: nothing runs, the message is refused rather than cut
    to a path, the attempt is not reported under a cut id, and the log says both. (After the
    whole log's check: this one logs its two errors.)"""
    run = Run(asterisk)
    since = asterisk.log_size()
    staged = asterisk.spool_dir / "tmp" / "hostile.call"
    staged.write_text(HOSTILE_CALL_FILE.format(number=HOSTILE_NUMBER, run=run.path))
    staged.rename(asterisk.outgoing / "hostile.call")
    asterisk.wait_archived("hostile.call", timeout=30)
    assert sorted(path.name for path in run.path.glob("pwned-*")) == []
    assert sorted(path.stem for path in (run.data_dir / "outcomes").glob("*.jsonl")) == sorted(campaign.ids.values())
    assert [whole(stretches) for stretches in hearings(run, HOSTILE_NUMBER)] == [0]
    problems = [line.split(": ", 1)[1] for line in asterisk.log_problems(since)]
    assert [problem.split(" ", 1)[0] for problem in problems] == ["NOTICE_MESSAGE", "notice"], problems
    assert "is no recording path" in problems[0] and "has no usable NOTICE_ID" in problems[1]
