"""Reported delivery without Asterisk: notice-spool writes the delivery context's call file, and
`notice report` (what [notice-deliver] runs after each attempt) keeps the outcome, spools the
next attempt as retry_on says, and starts on_failure once for a notice not delivered. The
commands run installed, as the dialplan runs them, on a real spool (tests/realspool.py);
Asterisk's own part (it archives a call file it finished) is played as in queuesite.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from queuesite import QueueSite
from realspool import KEYPAD, KEYPAD_DUE, NOTICE, NOTICE_SPOOL, RECORDING, Site
from notice_cli.callfile import parse
from notice_cli.notice import call_file_name
from notice_cli.outcome import OUTCOMES, check_report, then
from notice_cli.outcomes import Ledger, due_path, entries_in, entry_line, ledger_path, read_ledger
from notice_cli.outcome import FailureRun, Report
from notice_cli.errors import InvalidInput


class ReportSite(Site):
    """Site in reported delivery: BASE/data the data_dir, BASE/spool/outgoing_done the archive."""

    def __init__(self, base: Path, **settings: str):
        super().__init__(base)
        self.data_dir = base / "data"
        self.data_dir.mkdir()
        self.archive = self.spool / "outgoing_done"
        self.archive.mkdir()
        self.env.update(NOTICE_DATA_DIR=str(self.data_dir), NOTICE_CONFIRM="key", NOTICE_RETRY_TIME="30",
                        **settings)

    def spool_notice(self) -> str:
        done = self.run(NOTICE_SPOOL, "79991234567", RECORDING, KEYPAD)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()[1]

    def report(self, notice_id: str, attempt, outcome: str, played="0", **env):
        return self.run(NOTICE, "report", notice_id, str(attempt), outcome, str(played), **env)

    def archive_attempt(self, notice_id: str, attempt: int = 1) -> None:
        name = call_file_name(notice_id, attempt)
        os.rename(self.outgoing / name, self.archive / name)
        with open(self.archive / name, "a") as stream:
            stream.write("Status: Completed\n")

    def ledger(self, notice_id: str) -> list:
        return read_ledger(str(self.data_dir), notice_id)


@pytest.fixture
def site(tmp_path):
    return ReportSite(tmp_path)


def test_with_reported_delivery_off_the_call_file_is_playback_as_ever(tmp_path):
    site = Site(tmp_path)
    done = site.run(NOTICE_SPOOL, "79991234567", RECORDING, KEYPAD)
    call = parse((site.outgoing / call_file_name(done.stdout.split()[1])).read_text())
    assert (call.application, call.context, call.max_retries) == ("Playback", None, 2)


def test_the_call_file_enters_the_delivery_context_with_what_it_needs(site):
    notice_id = site.spool_notice()
    path = site.outgoing / call_file_name(notice_id)
    call = parse(path.read_text())
    assert (call.application, call.data, call.context, call.extension, call.priority) == (
        None, None, "notice-deliver", "s", "1")
    assert call.max_retries == 0 and call.retry_time == 30  # notice-cli owns the retries
    assert dict(call.variables) == {
        "NOTICE_ID": notice_id, "NOTICE_NUMBER": "79991234567", "NOTICE_DUE": str(KEYPAD_DUE),
        "NOTICE_ATTEMPT": "1", "NOTICE_MESSAGE": str(site.recordings / RECORDING), "NOTICE_CONFIRM": "key",
        "NOTICE_AMD": "off", "NOTICE_AMD_LEAVE_MESSAGE": "yes", "NOTICE_MAX_RETRIES": "2",
        "NOTICE_RETRY_ON": "busy,no_answer,failed"}
    assert os.stat(path).st_mtime == KEYPAD_DUE


def test_notice_spool_refuses_a_reported_notice_when_data_dir_is_missing(site):
    done = site.run(NOTICE_SPOOL, "79991234567", RECORDING, KEYPAD, NOTICE_DATA_DIR=str(site.base / "nowhere"))
    assert done.returncode == 4 and done.stderr.count("\n") == 1
    assert "data_dir" in done.stderr and "does not exist" in done.stderr
    assert site.spooled() == []


@pytest.mark.parametrize("outcome", ["confirmed", "heard"])
def test_a_confirmed_or_heard_notice_is_delivered_and_not_called_again(site, outcome):
    notice_id = site.spool_notice()
    before = int(time.time())
    done = site.report(notice_id, 1, outcome, 14)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"notice {notice_id} attempt 1: {outcome}; delivered\n"
    [report] = site.ledger(notice_id)
    assert (report.attempt, report.outcome, report.played, report.then, report.next_at) == (
        1, outcome, 14, "delivered", None)
    assert before <= report.at <= time.time()
    assert site.spooled() == [call_file_name(notice_id)]  # only the attempt Asterisk has


def test_busy_is_called_again_retry_time_later_with_a_file_of_its_own(site):
    notice_id = site.spool_notice()
    first = (site.outgoing / call_file_name(notice_id)).read_text()
    done = site.report(notice_id, 1, "busy")
    [report] = site.ledger(notice_id)
    assert report.then == "retry" and report.next_at - report.at == 30
    second = site.outgoing / call_file_name(notice_id, 2)
    assert done.returncode == 0 and str(second) in done.stdout and "called again at" in done.stdout
    assert second.read_text() == first.replace("NOTICE_ATTEMPT=1", "NOTICE_ATTEMPT=2")
    assert os.stat(second).st_mtime == report.next_at


def test_retries_end_at_max_retries_not_delivered(site):
    notice_id = site.spool_notice()
    for attempt in (1, 2):
        assert site.report(notice_id, attempt, "no_answer").returncode == 0
        site.archive_attempt(notice_id, attempt)
    done = site.report(notice_id, 3, "no_answer")
    assert done.stdout.endswith("; not delivered\n")
    assert [(each.attempt, each.then) for each in site.ledger(notice_id)] == [
        (1, "retry"), (2, "retry"), (3, "not delivered")]
    assert site.spooled() == [call_file_name(notice_id, 3)]  # no fourth


@pytest.mark.parametrize("retry_on, outcome, follows", [
    ("busy,no_answer,failed", "hung_up", "not delivered"),
    ("busy,hung_up", "hung_up", "retry"),
    ("busy,no_answer,failed", "heard", "delivered"),
    ("heard", "heard", "retry"),  # heard but not confirmed counts as not delivered
    ("heard", "confirmed", "delivered"),
    ("machine", "machine", "retry"),
    ("machine", "voicemail", "not delivered"),  # a message is left once
    ("no_answer", "busy", "not delivered"),
])
def test_retry_on_decides_what_is_called_again(tmp_path, retry_on, outcome, follows):
    site = ReportSite(tmp_path, NOTICE_RETRY_ON=retry_on)
    notice_id = site.spool_notice()
    assert site.report(notice_id, 1, outcome).returncode == 0
    [report] = site.ledger(notice_id)
    assert report.then == follows
    assert (call_file_name(notice_id, 2) in site.spooled()) is (follows == "retry")


def test_a_notice_keeps_the_retry_settings_it_was_scheduled_with(site):
    notice_id = site.spool_notice()  # max_retries 2, retry_on busy,no_answer,failed
    done = site.report(notice_id, 1, "heard", NOTICE_RETRY_ON="heard", NOTICE_MAX_RETRIES="0")
    assert done.stdout.endswith("; delivered\n")


def test_a_second_report_of_an_attempt_changes_nothing(site):
    notice_id = site.spool_notice()
    site.report(notice_id, 1, "busy")
    again = site.report(notice_id, 1, "heard", 3)
    assert again.returncode == 0 and again.stdout == f"notice {notice_id} attempt 1: busy was reported already; nothing done\n"
    assert len(site.ledger(notice_id)) == 1
    assert site.spooled() == sorted([call_file_name(notice_id), call_file_name(notice_id, 2)])


def test_a_report_of_an_attempt_with_no_call_file_is_refused_and_nothing_kept(site):
    done = site.report("20261128094512-9f3a1c2b", 1, "busy")
    assert done.returncode == 5 and done.stderr.count("\n") == 1
    assert "has no call file of attempt 1" in done.stderr
    assert site.ledger("20261128094512-9f3a1c2b") == [] and site.spooled() == []


def test_the_report_of_an_archived_attempt_is_read_from_the_archive(site):
    notice_id = site.spool_notice()
    site.archive_attempt(notice_id)
    site.report(notice_id, 1, "failed")
    assert call_file_name(notice_id, 2) in site.spooled()


@pytest.mark.parametrize("args, message", [
    (("20261128094512-9f3a1c2b", "0", "heard", "1"), "attempt '0' is not an attempt number"),
    (("20261128094512-9f3a1c2b", "1", "delivered", "1"), "outcome 'delivered' is not one of"),
    (("--", "20261128094512-9f3a1c2b", "1", "heard", "-1"), "seconds played '-1'"),
    (("20261128094512-9f3a1c2b", "1", "heard", "86401"), "seconds played '86401'"),
    (("../etc/passwd", "1", "heard", "1"), "is not a notice id"),
    (("x", "1", "heard;reboot", "1"), "outcome 'heard;reboot'"),
])
def test_what_is_not_a_report_is_refused_with_one_line_and_exit_3(site, args, message):
    done = site.run(NOTICE, "report", *args)
    assert done.returncode == 3 and message in done.stderr and done.stderr.count("\n") == 1
    assert not (site.data_dir / "outcomes").exists() or os.listdir(site.data_dir / "outcomes") == []


def test_a_report_into_a_missing_data_dir_exits_4(site):
    done = site.run(NOTICE, "report", "20261128094512-9f3a1c2b", "1", "heard", "3",
                    NOTICE_DATA_DIR=str(site.base / "gone"))
    assert done.returncode == 4 and "data_dir" in done.stderr and done.stderr.count("\n") == 1


def wait_for_failure_run(site, notice_id, timeout=20.0) -> FailureRun:
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = [entry for entry in site.ledger(notice_id) if isinstance(entry, FailureRun)]
        if runs:
            return runs
        time.sleep(0.05)
    raise AssertionError(f"no on_failure run in the ledger of {notice_id}")


def test_on_failure_runs_once_with_id_number_and_last_outcome_and_is_kept(tmp_path):
    script = tmp_path / "tell-operator"
    calls = tmp_path / "calls"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\necho told the operator; echo oops >&2\nexit 3\n")
    script.chmod(0o755)
    site = ReportSite(tmp_path, NOTICE_ON_FAILURE=str(script), NOTICE_MAX_RETRIES="0")
    notice_id = site.spool_notice()
    done = site.report(notice_id, 1, "hung_up", 4)
    assert done.stdout.endswith("; not delivered; on_failure started\n")
    [run] = wait_for_failure_run(site, notice_id)
    assert (run.program, run.exit, run.output) == (str(script), 3, "told the operator\noops\n")
    assert calls.read_text() == f"{notice_id} 79991234567 hung_up\n"
    site.report(notice_id, 1, "hung_up", 4)  # reported again: nothing runs again
    time.sleep(0.5)
    assert calls.read_text().count("\n") == 1


def test_on_failure_is_not_run_for_a_delivered_notice_nor_a_retry(tmp_path):
    calls = tmp_path / "calls"
    script = tmp_path / "tell"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\n")
    script.chmod(0o755)
    site = ReportSite(tmp_path, NOTICE_ON_FAILURE=str(script))
    notice_id = site.spool_notice()
    site.report(notice_id, 1, "busy")
    site.report(notice_id, 2, "confirmed")
    time.sleep(0.5)
    assert not calls.exists()


def test_an_on_failure_that_cannot_run_is_kept_as_such(tmp_path):
    site = ReportSite(tmp_path, NOTICE_ON_FAILURE=str(tmp_path / "missing-script"), NOTICE_MAX_RETRIES="0")
    notice_id = site.spool_notice()
    site.report(notice_id, 1, "busy")
    [run] = wait_for_failure_run(site, notice_id)
    assert run.exit is None and run.output.startswith("could not be run: No such file")


def test_an_on_failure_that_hangs_is_stopped_and_kept(tmp_path):
    from notice_cli.report import run_on_failure

    script = tmp_path / "hang"
    script.write_text("#!/bin/sh\necho waiting\nexec sleep 30\n")
    script.chmod(0o755)
    (tmp_path / "data").mkdir()
    run = run_on_failure(str(script), str(tmp_path / "data"), "n1", "79991234567", "busy", "none", "t", timeout=0.5)
    assert run.exit is None and run.output == "stopped after 0.5 s; output: waiting\n"
    assert read_ledger(str(tmp_path / "data"), "n1") == [run]


# --- queue delivery -----------------------------------------------------------------------------

def test_in_queue_delivery_the_next_attempt_goes_through_the_queue_with_its_own_name(tmp_path):
    site = QueueSite(tmp_path)
    site.env.update(NOTICE_CONFIRM="key", NOTICE_RETRY_TIME="30")
    due = int(time.time()) + 120
    done = site.run(NOTICE_SPOOL, "79991234567", RECORDING, datetime.fromtimestamp(due, timezone.utc).isoformat())
    assert done.returncode == 0, done.stderr
    notice_id = done.stdout.split()[1]
    engine = site.engine()
    engine.step(due - 1)
    assert site.handed() == [call_file_name(notice_id)]
    report = site.run(NOTICE, "report", notice_id, "1", "busy", "0")
    assert report.returncode == 0, report.stderr
    assert site.in_inbox() == [call_file_name(notice_id, 2)]
    site.finish(notice_id, "Completed")  # attempt 1 ends after its report
    engine.step(time.time())  # takes attempt 2 in, and hands it: it is due within lead
    entry = site.entry(notice_id)
    next_at = read_ledger(str(site.data_dir), notice_id)[0].next_at
    assert (entry.state, entry.due) == ("handed", next_at) and "NOTICE_ATTEMPT=2" in entry.call_file
    assert site.in_inbox() == [] and site.handed() == [call_file_name(notice_id, 2)]
    assert os.stat(site.outgoing / call_file_name(notice_id, 2)).st_mtime == next_at
    archived = site.archive / call_file_name(notice_id, 2)
    os.rename(site.outgoing / call_file_name(notice_id, 2), archived)
    with open(archived, "a") as stream:
        stream.write("Status: Completed\n")
    engine.step(time.time())
    assert site.states()[notice_id] == ("finished", "Completed")


def test_an_attempt_taken_in_twice_is_queued_once(tmp_path):
    site = QueueSite(tmp_path)
    site.env.update(NOTICE_CONFIRM="key")
    first = site.notice("n1", 4_000_000_000)
    site.enqueue(first)
    engine = site.engine()
    engine.step(4_000_000_000 - 10)
    assert site.entry("n1").state == "handed"
    from notice_cli import queue

    second = first._replace(call_file=first.call_file.replace("NOTICE_ATTEMPT=1", "NOTICE_ATTEMPT=2"))
    connection = queue.open_queue(str(site.data_dir))
    try:
        assert queue.requeue_attempt(connection, second, 1) is True
        assert queue.requeue_attempt(connection, second, 2) is False  # the same attempt again
        queue.mark(connection, "n1", "cancelled", 3)
        third = first._replace(call_file=first.call_file.replace("NOTICE_ATTEMPT=1", "NOTICE_ATTEMPT=3"))
        assert queue.requeue_attempt(connection, third, 4) is False  # cancelled stays cancelled
    finally:
        connection.close()


# --- the ledger ---------------------------------------------------------------------------------

def test_a_line_cut_short_by_a_crash_is_not_read_and_the_next_one_is_whole(tmp_path):
    report = Report(1, 1, "busy", 0, "retry", 31)
    with Ledger(str(tmp_path), "n1") as ledger:
        ledger.append(report)
    path = ledger_path(str(tmp_path), "n1")
    with open(path, "ab") as stream:
        stream.write(b'{"at":2,"attempt":2,"outc')
    assert read_ledger(str(tmp_path), "n1") == [report]
    later = Report(40, 2, "heard", 9, "delivered")
    with Ledger(str(tmp_path), "n1") as ledger:
        ledger.append(later)
    assert read_ledger(str(tmp_path), "n1") == [report, later]


@pytest.mark.parametrize("line", [
    b"not json", b"[]", b'{"at":1}', b'{"at":1,"attempt":1,"outcome":"delivered","played":0,"then":"retry","next_at":null}',
    b'{"at":-1,"attempt":1,"outcome":"busy","played":0,"then":"retry","next_at":null}',
    b'{"at":1,"attempt":true,"outcome":"busy","played":0,"then":"retry","next_at":null}',
    b'{"at":1,"on_failure":"/x","exit":"0","output":""}',
    b"\xff\xfe", b"{" * 100_000,
])
def test_a_line_that_is_not_an_entry_is_skipped(line):
    good = entry_line(Report(1, 1, "heard", 3, "delivered"))
    assert entries_in(good + line + b"\n" + good) == [Report(1, 1, "heard", 3, "delivered")] * 2


REPORT_WORDS = st.one_of(st.sampled_from(["1", "0", "1001", "1002", "86400", "007", " 1", "1 ", "+1", "1e3", "١"]
                                         + list(OUTCOMES)),
                         st.text(max_size=12))


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attempt=REPORT_WORDS, outcome=REPORT_WORDS, played=REPORT_WORDS)
def test_any_report_text_is_recorded_exactly_or_refused(tmp_path, attempt, outcome, played):
    try:
        checked = check_report(attempt, outcome, played)
    except InvalidInput:
        return
    assert checked == (int(attempt), outcome, int(played))
    assert str(checked[0]) == attempt.lstrip("0") or attempt.strip("0") == ""
    report = Report(1_800_000_000, checked[0], checked[1], checked[2], then(checked[1], checked[0], 2, ("busy",)))
    folder = tmp_path / "h"
    folder.mkdir(exist_ok=True)
    with Ledger(str(folder), "n") as ledger:
        ledger.append(report)
    assert read_ledger(str(folder), "n")[-1] == report
    assert json.loads(entry_line(report))["outcome"] == outcome


def test_cancel_and_list_find_the_attempt_waiting_for_its_call(site):
    notice_id = site.spool_notice()
    site.report(notice_id, 1, "busy")
    site.archive_attempt(notice_id)
    listed = site.run(NOTICE, "list", "--json")
    assert [row["id"] for row in json.loads(listed.stdout)] == [notice_id]
    done = site.run(NOTICE, "cancel", notice_id, "--yes")
    assert done.returncode == 0, done.stderr
    assert site.spooled() == []


def test_import_refuses_reported_notices_when_data_dir_is_missing(site):
    rows = site.write_csv("rows.csv", [("79991234567", RECORDING, "2099-01-02 03:04")])
    done = site.run(NOTICE, "import", str(rows), NOTICE_DATA_DIR=str(site.base / "nowhere"))
    assert done.returncode == 4 and "data_dir" in done.stderr and site.spooled() == []
    done = site.run(NOTICE, "import", str(rows))
    assert done.returncode == 0, done.stderr
    [name] = site.spooled()
    assert parse((site.outgoing / name).read_text()).context == "notice-deliver"


def test_pruning_the_archive_removes_the_ledger_of_a_notice_that_is_over(site):
    ended, waiting = site.spool_notice(), site.spool_notice()
    site.report(ended, 1, "heard", 5)
    site.report(waiting, 1, "busy")
    site.archive_attempt(ended)
    site.archive_attempt(waiting)
    for name in os.listdir(site.archive):
        os.utime(site.archive / name, (1_000_000_000, 1_000_000_000))
    done = site.run(NOTICE, "history", "--prune-before", "2020-01-01", "--yes")
    assert done.returncode == 0, done.stderr
    assert os.listdir(site.archive) == []
    assert not os.path.exists(ledger_path(str(site.data_dir), ended))
    assert len(site.ledger(waiting)) == 1  # its next attempt is still to come


HOSTILE = st.one_of(st.sampled_from(["../x", "-x", "a/b", "a b", "x;rm", "$(reboot)", "a\nb", "", "é", "\udcff",
                                     "20261128094512-9f3a1c2b", "1", "heard", "0"]), st.text(max_size=20))


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(notice_id=HOSTILE, attempt=HOSTILE, outcome=HOSTILE, played=HOSTILE)
def test_any_report_command_line_is_kept_exactly_or_refused_with_nothing_kept(tmp_path_factory, notice_id, attempt,
                                                                              outcome, played):
    from click.testing import CliRunner

    from notice_cli import cli

    base = tmp_path_factory.mktemp("r")
    (base / "data").mkdir()
    (base / "spool" / "outgoing").mkdir(parents=True)
    env = {"NOTICE_DATA_DIR": str(base / "data"), "NOTICE_SPOOL_DIR": str(base / "spool"),
           "NOTICE_CONFIG": str(base / "none.conf"), "NOTICE_SYSLOG_FACILITY": "none"}
    (base / "none.conf").write_text("")
    _call_file_of_the_attempt(base / "spool" / "outgoing", notice_id, attempt)
    done = CliRunner().invoke(cli.notice, ["report", "--", notice_id, attempt, outcome, played], env=env)
    kept = [path for path in (base / "data").rglob("*") if path.is_file()]
    assert done.exit_code in (0, 3), done.output
    if done.exit_code == 0:
        assert kept == [base / "data" / "outcomes" / f"{notice_id}.jsonl"]
        [report] = read_ledger(str(base / "data"), notice_id)
        assert (report.attempt, report.outcome, report.played) == (int(attempt), outcome, int(played))
        assert (str(report.attempt), str(report.played)) == (attempt.lstrip("0") or "0", played.lstrip("0") or "0")
    else:
        assert done.exit_code == 3 and kept == [], done.output


def test_a_call_still_ending_after_its_report_holds_its_channel(tmp_path):
    """max_calls 1: attempt 1 reported busy (its call still ending, its file in outgoing/), and
    attempt 2 in the queue, due: not handed until attempt 1's file has left."""
    site = QueueSite(tmp_path)
    site.env.update(NOTICE_CONFIRM="key", NOTICE_RETRY_TIME="1", NOTICE_MAX_CALLS="1")
    due = int(time.time()) + 120
    notice_id = site.run(NOTICE_SPOOL, "79991234567", RECORDING,
                         datetime.fromtimestamp(due, timezone.utc).isoformat()).stdout.split()[1]
    engine = site.engine()
    engine.step(due - 1)
    site.begin(notice_id, due)
    assert site.run(NOTICE, "report", notice_id, "1", "busy", "0").returncode == 0
    engine.step(time.time() + 2)
    assert site.entry(notice_id).state == "queued"
    assert site.handed() == [call_file_name(notice_id)]
    site.finish(notice_id, "Completed")
    engine.step(time.time() + 3)
    assert site.entry(notice_id).state == "handed" and site.handed() == [call_file_name(notice_id, 2)]


def _call_file_of_the_attempt(outgoing: Path, notice_id: str, attempt: str) -> None:
    """The call file of ATTEMPT of NOTICE_ID in OUTGOING, as the dialplan's report finds it,
    when both are such that notice-cli could have written it."""
    from notice_cli.callfile import render
    from notice_cli.notice import Notice, call_file_for, is_notice_id
    from notice_cli.settings import Settings

    if not (is_notice_id(notice_id) and attempt.isascii() and attempt.isdigit() and 1 <= int(attempt) <= 1001):
        return
    notice = Notice(notice_id, "79991234567", "/var/spool/asterisk/notice/rec_1", 4_000_000_000)
    text = render(call_file_for(notice, Settings(confirm="key"), int(attempt)))
    (outgoing / call_file_name(notice_id, int(attempt))).write_text(text)


def wait_until(condition, timeout=20.0):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def ended_not_delivered(tmp_path, on_failure: str) -> tuple[ReportSite, str]:
    """A site whose on_failure is the shell script ON_FAILURE, and a notice there that ended
    not delivered (busy, no retry): its runner started."""
    script = tmp_path / "on-failure"
    script.write_text("#!/bin/sh\n" + on_failure)
    script.chmod(0o755)
    site = ReportSite(tmp_path, NOTICE_ON_FAILURE=str(script), NOTICE_MAX_RETRIES="0")
    notice_id = site.spool_notice()
    assert site.report(notice_id, 1, "busy").returncode == 0
    return site, notice_id


def test_the_due_run_is_removed_once_its_run_is_kept(tmp_path):
    site, notice_id = ended_not_delivered(tmp_path, "exit 0\n")
    wait_for_failure_run(site, notice_id)
    wait_until(lambda: not os.path.exists(due_path(str(site.data_dir), notice_id)))


def test_a_run_whose_runner_was_killed_is_started_again_by_gc_and_never_lost(tmp_path):
    """The runner killed while on_failure runs (a reboot): nothing kept, but its due file stays;
    notice gc, a minute on, keeps the stop and starts the run again, which is kept."""
    runs, hold = tmp_path / "runs", tmp_path / "hold"
    script = tmp_path / "tell"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {runs}\nif [ ! -e {hold} ]; then echo $$ > {hold}; exec sleep 60; fi\n"
                      "echo told\n")
    script.chmod(0o755)
    site = ReportSite(tmp_path, NOTICE_ON_FAILURE=str(script), NOTICE_MAX_RETRIES="0")
    notice_id = site.spool_notice()
    site.report(notice_id, 1, "no_answer")
    wait_until(lambda: hold.exists() and hold.read_text().strip())
    runner = subprocess.run(["pgrep", "-f", f"notice_cli.failure_runner {site.data_dir} {notice_id}"],
                            capture_output=True, text=True).stdout.split()
    assert len(runner) == 1
    for pid in runner + [hold.read_text().strip()]:  # the runner, and the program it runs
        os.kill(int(pid), signal.SIGKILL)
    due = due_path(str(site.data_dir), notice_id)
    assert os.path.exists(due) and [e for e in site.ledger(notice_id) if isinstance(e, FailureRun)] == []
    young = site.run(NOTICE, "gc")
    assert young.returncode == 0 and "started again" not in young.stdout  # not a minute yet
    os.utime(due, (time.time() - 120, time.time() - 120))
    done = site.run(NOTICE, "gc")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == ("started again on_failure of 1 notice(s) whose run was stopped before it "
                                            f"was kept: {notice_id}")
    wait_until(lambda: len([e for e in site.ledger(notice_id) if isinstance(e, FailureRun)]) == 2)
    stopped, kept = [e for e in site.ledger(notice_id) if isinstance(e, FailureRun)]
    assert stopped.exit is None and stopped.output.startswith("its runner was stopped before the run was kept")
    assert (kept.exit, kept.output) == (0, "told\n")
    assert runs.read_text() == f"{notice_id} 79991234567 no_answer\n" * 2  # at least once
    wait_until(lambda: not os.path.exists(due))
    again = site.run(NOTICE, "gc")
    assert "started again" not in again.stdout


def test_gc_leaves_a_run_whose_runner_is_alive(tmp_path):
    site, notice_id = ended_not_delivered(tmp_path, "exec sleep 3\n")
    due = due_path(str(site.data_dir), notice_id)
    time.sleep(0.5)  # the runner holds the due file now
    os.utime(due, (time.time() - 120, time.time() - 120))
    done = site.run(NOTICE, "gc")
    assert done.returncode == 0 and "started again" not in done.stdout
    [run] = wait_for_failure_run(site, notice_id)
    assert run.exit == 0


def test_a_runner_started_by_root_runs_as_the_owner_of_data_dir(tmp_path):
    from notice_cli.report import _as_data_dir_owner

    folder = tmp_path / "data"
    folder.mkdir()
    os.chown(folder, 65534, 65534)
    assert _as_data_dir_owner(str(folder)) == ({"user": 65534, "group": 65534, "extra_groups": []}
                                               if os.geteuid() == 0 else {})
