"""Issue 13 on a real Asterisk, in queue delivery: the same delivery context and clients as
test_asterisk_outcomes.py, with notices going through the queue and the engine, `notice run`.
A retry that retry_on asks for goes back through the queue under the attempt's own file name
and is handed by the engine, paced by max_calls like any notice.

Clients: one busy at the first call and confirming at the second (the retry must reach it);
one who listens without a key, with heard in retry_on (called twice, not delivered, on_failure
once); one who confirms at once. max_calls is 1, so the engine hands them one at a time.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict

import pytest

import clients
from harness import AsteriskSandbox, iso, run_notice_spool, whole_second_ahead
from test_asterisk_engine import notice_command
from test_asterisk_outcomes import (CHANNEL, MESSAGE, Run, calls_to, failure_runs, hearings, prepare_clients, reports,
                                    reports_run, whole)

BUSY_ONCE = "3001"  # busy at the first call, confirms at the next
CASES = {  # number: (behaviour, the notice's settings, its outcomes)
    BUSY_ONCE: ("busy once", {"NOTICE_MAX_RETRIES": "1"}, ("busy", "confirmed")),
    "3002": ("listens", {"NOTICE_CONFIRM": "none", "NOTICE_RETRY_ON": "busy,no_answer,failed,heard",
                         "NOTICE_MAX_RETRIES": "1"}, ("heard", "heard")),
    "3003": ("confirms", {}, ("confirmed",)),
}
SETTINGS = {"NOTICE_CONFIRM": "key", "NOTICE_MAX_RETRIES": "0", "NOTICE_RETRY_TIME": "2", "NOTICE_WAIT_TIME": "4",
            "NOTICE_TZ": "UTC", "NOTICE_SYSLOG_FACILITY": "none", "NOTICE_CHANNEL": CHANNEL,
            "NOTICE_DELIVERY": "queue", "NOTICE_CONFIG": os.devnull}
CAMPAIGN_TIMEOUT = 150


def busy_once(run: Path) -> str:
    """The client BUSY_ONCE: busy while it has not been called, then as "confirms"."""
    steps = [f"GotoIf(${{STAT(e,{run}/called-{BUSY_ONCE})}}?answer)", f"System(touch {run}/called-{BUSY_ONCE})",
             "Busy(10)", "Gosub(notice-client-answers,s,1(${EXTEN}))",
             *(step.format(at_question=clients.AT_QUESTION) for step in clients.ANSWERING["confirms"]), "Hangup()"]
    steps[3] = "n(answer)," + steps[3]
    lines = [f"exten => {BUSY_ONCE},1,{steps[0]}"]
    lines += [f" same => {step}" if step.startswith("n(") else f" same => n,{step}" for step in steps[1:]]
    return "\n".join(lines) + "\n"


def prepare(sandbox: AsteriskSandbox) -> None:
    # `notice report` in the chroot in queue delivery: a retry goes into the queue's inbox.
    numbers = {number: behaviour for number, (behaviour, _, _) in CASES.items() if number != BUSY_ONCE}
    prepare_clients(sandbox, numbers, busy_once(sandbox.run.path), "delivery = queue\n")


@pytest.fixture(scope="module")
def asterisk(chroot, sandbox_running):
    with sandbox_running(AsteriskSandbox.create(chroot), prepare) as sandbox:
        yield sandbox


def environment(sandbox: AsteriskSandbox, **more: str) -> Dict[str, str]:
    run = Run(sandbox)
    return {**SETTINGS, "NOTICE_DATA_DIR": str(run.data_dir), "NOTICE_ON_FAILURE": str(run.on_failure),
            "NOTICE_SPOOL_DIR": str(sandbox.spool_dir), "NOTICE_RECORDINGS_DIR": str(sandbox.recordings_dir), **more}


def notice(sandbox: AsteriskSandbox, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTICE_")}
    done = subprocess.run([notice_command(), *args], env={**env, **environment(sandbox)}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def campaign(asterisk, chroot, asterisk_figures) -> Dict[str, str]:
    """The three notices, due in one second, through `notice run` with max_calls 1; waited for
    until each has ended."""
    run = Run(asterisk)
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOTICE_")}
    log = run.path / "engine.log"
    with open(log, "wb") as out:
        engine = subprocess.Popen([notice_command(), "run"], env={**env, **environment(asterisk, NOTICE_MAX_CALLS="1",
                                                                                        NOTICE_LEAD="2")},
                                  stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        due = whole_second_ahead(4)
        ids = {}
        for number, (_, settings, _) in CASES.items():
            spooled = run_notice_spool(number, MESSAGE, iso(due), env=environment(asterisk, **settings))
            ids[number] = spooled.notice_id
        deadline = time.time() + CAMPAIGN_TIMEOUT
        while time.time() < deadline and not ended(asterisk, ids):
            time.sleep(0.5)
        asterisk_figures(f"{chroot.name}: 3 notices in reported queue delivery (max_calls 1, a retry through the "
                         f"queue) ended {time.time() - due:.1f} s after their due time")
        time.sleep(1)
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(15)
    said = log.read_text(errors="replace")
    assert engine.returncode == 0 and "error" not in said, said
    return ids


def ended(sandbox: AsteriskSandbox, ids: Dict[str, str]) -> bool:
    run = Run(sandbox)
    return (all(len(reports(run, ids[number])) == len(outcomes) for number, (_, _, outcomes) in CASES.items())
            and not list(sandbox.outgoing.glob("*.call")) and len(failure_runs(run)) >= 1)


@pytest.mark.parametrize("number", CASES)
def test_each_attempt_ends_with_its_outcome_through_the_queue(asterisk, campaign, number):
    _, _, outcomes = CASES[number]
    run = Run(asterisk)
    kept = reports(run, campaign[number])
    assert [(report["attempt"], report["outcome"]) for report in kept] == list(enumerate(outcomes, 1))
    assert calls_to(asterisk, number) == len(outcomes) and reports_run(asterisk, campaign[number]) == len(outcomes)
    # each attempt had a call file of its own, archived by Asterisk
    names = sorted(path.name for path in asterisk.spool_dir.joinpath("outgoing_done").glob(f"*{campaign[number]}*"))
    expected = [f"notice-{campaign[number]}.call"] + [f"notice-{campaign[number]}.{k}.call"
                                                       for k in range(2, len(outcomes) + 1)]
    assert names == sorted(expected)


def test_the_retry_came_retry_time_after_the_report_and_was_heard(asterisk, campaign):
    run = Run(asterisk)
    first, second = reports(run, campaign[BUSY_ONCE])
    assert first["then"] == "retry" and first["next_at"] == first["at"] + 2
    assert second["at"] >= first["next_at"]
    assert [whole(stretches) for stretches in hearings(run, BUSY_ONCE)] == [1]


def test_history_tells_each_notices_final_outcome(asterisk, campaign):
    rows = {row["id"]: row for row in json.loads(notice(asterisk, "history", "--json").stdout)}
    assert {number: (rows[notice_id]["result"], rows[notice_id]["outcome"], rows[notice_id]["attempts"])
            for number, notice_id in campaign.items()} == {
        BUSY_ONCE: ("delivered", "confirmed", 2), "3002": ("not delivered", "heard", 2), "3003": ("delivered", "confirmed", 1)}
    # one row a notice, whichever attempt's file: its final outcome and its calls
    assert {number: (rows[campaign[number]]["result"], rows[campaign[number]]["outcome"],
                     rows[campaign[number]]["attempts"]) for number in CASES} == {
        BUSY_ONCE: ("delivered", "confirmed", 2), "3002": ("not delivered", "heard", 2),
        "3003": ("delivered", "confirmed", 1)}


def test_on_failure_ran_once_for_the_notice_heard_but_not_confirmed(asterisk, campaign):
    assert failure_runs(Run(asterisk)) == [[campaign["3002"], "3002", "heard"]]


def test_max_calls_held_one_call_at_a_time(asterisk, campaign):
    """Each attempt's call file, as Asterisk archived it: from its start (StartRetry's time less
    RetryTime) to its archiving (the file's mtime), no two overlap (max_calls 1), and there are
    as many as the outcomes."""
    spans = []
    for notice_id in campaign.values():
        for path in asterisk.spool_dir.joinpath("outgoing_done").glob(f"notice-{notice_id}*.call"):
            started = int(path.read_text().split("StartRetry: ")[1].split("(")[1].split(")")[0]) - 2
            spans.append((started, path.stat().st_mtime))
    spans.sort()
    assert len(spans) == sum(len(outcomes) for _, _, outcomes in CASES.values())
    for (_, ended), (started, _) in zip(spans, spans[1:]):
        assert started >= int(ended), spans
