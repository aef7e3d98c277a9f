"""Review of reported delivery (issue 13): each test here proves a defect found by attacking
`notice report`, the ledger, on_failure and their meeting with cancel, list and the queue's
engine. A comment above each says what the defect is."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from queuesite import QueueSite
from realspool import NOTICE
from test_report import ReportSite
from notice_cli.notice import call_file_name
from notice_cli.outcome import FailureRun, Report
from notice_cli.outcomes import Ledger, entries_in, entry_line, ledger_path, mark_run_due, read_ledger
from notice_cli.report import run_on_failure


@pytest.fixture
def site(tmp_path):
    return ReportSite(tmp_path)


def script(path, text: str) -> str:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)
    return str(path)


# --- on_failure ---------------------------------------------------------------------------------

# Defect (report.py, run_on_failure: subprocess.run(..., stdout=PIPE, timeout=...)): an
# on_failure that starts something in the background (`mail ... &`, `curl ... &`, a daemon)
# and exits at once is waited for until ON_FAILURE_TIMEOUT (300 s) and kept as "stopped after
# 300 s", exit None: run() reads the pipe to its end, which the background child holds open.
# Its real exit code is lost and the ledger says it did not finish.
def test_an_on_failure_that_leaves_a_child_holding_its_output_keeps_its_exit_code(tmp_path):
    program = script(tmp_path / "alert", "echo alerted\nsleep 5 &\nexit 3\n")
    (tmp_path / "data").mkdir()
    started = time.monotonic()
    run = run_on_failure(program, str(tmp_path / "data"), "n1", "79991234567", "busy", "none", "t", timeout=3)
    assert (run.exit, run.output) == (3, "alerted\n")
    assert time.monotonic() - started < 2


# Defect (report.py, run_on_failure and _shown_output): on_failure's whole output is read into
# memory (subprocess.run's capture, then decoded whole) and only then cut to MAX_OUTPUT: a
# program that writes a lot (a verbose script, `yes` until the timeout) makes the detached
# runner grow without bound; where memory is short it dies (MemoryError, or the OOM killer)
# and the run is in neither the ledger nor syslog: lost silently. Here the runner is limited
# to 256 MB of address space and the program writes 300 MB, then exits 0.
def test_an_on_failure_that_writes_much_is_kept_all_the_same(tmp_path):
    program = script(tmp_path / "chatty", "head -c 300000000 /dev/zero\nexit 0\n")
    data = tmp_path / "data"
    data.mkdir()

    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))

    (data / "outcomes").mkdir()
    mark_run_due(str(data), "n1", program, "79991234567", "busy")
    runner = subprocess.run([sys.executable, "-m", "notice_cli.failure_runner", str(data), "n1", "none", "t"],
                            preexec_fn=limited, capture_output=True, timeout=120)
    runs = [entry for entry in read_ledger(str(data), "n1") if isinstance(entry, FailureRun)]
    assert [run.exit for run in runs] == [0], runner.stderr[-300:]


# --- the ledger ---------------------------------------------------------------------------------

# Defect (outcomes.py, _entry: `except ValueError`): a damaged or hostile line of deeply
# nested JSON raises RecursionError, not ValueError: every reader of the ledger (notice
# report, cancel, show, list by id, prune) fails with a traceback instead of skipping the line
# as "not ours to trust". The tests of test_report.py try b"{" * 100_000, which JSON refuses at
# its second byte, never the nesting.
@pytest.mark.parametrize("line", [b"[" * 100_000, b'{"a":' * 100_000])
def test_a_deeply_nested_line_is_skipped(line):
    good = entry_line(Report(1, 1, "heard", 3, "delivered"))
    assert entries_in(good + line + b"\n" + good) == [Report(1, 1, "heard", 3, "delivered")] * 2


def test_notice_report_works_on_past_a_deeply_nested_line(site):
    notice_id = site.spool_notice()
    (site.data_dir / "outcomes").mkdir()
    (site.data_dir / "outcomes" / f"{notice_id}.jsonl").write_bytes(b"[" * 100_000 + b"\n")
    done = site.report(notice_id, 1, "heard", 5)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-300:]


# Defect (outcomes.py, Ledger.append): a write cut short (disk full, quota, file size limit)
# leaves the part written in the ledger and raises: `notice report` exits 4, "not kept". When
# the part is the whole line but its line feed, the next append puts a line feed first, and
# the report refused before becomes an entry after all, out of its order. A failed append
# must leave the ledger as it was (ftruncate back).
def test_an_append_that_fails_leaves_nothing_that_a_later_one_completes(tmp_path):
    folder = str(tmp_path)
    with Ledger(folder, "n1") as ledger:
        ledger.append(Report(1, 1, "busy", 0, "retry", 31))
    refused, later = Report(2, 2, "heard", 9, "delivered"), Report(3, 3, "busy", 0, "not delivered")
    limit = os.path.getsize(ledger_path(folder, "n1")) + len(entry_line(refused)) - 1
    code = (f"import resource, sys\nsys.path.insert(0, {os.path.dirname(os.path.dirname(entry_line.__code__.co_filename))!r})\n"
            "from notice_cli.outcomes import Ledger\nfrom notice_cli.outcome import Report\n"
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))\n"
            f"with Ledger({folder!r}, 'n1') as ledger:\n    ledger.append(Report(2, 2, 'heard', 9, 'delivered'))\n")
    failed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert failed.returncode != 0 and "SpoolError" in failed.stderr
    with Ledger(folder, "n1") as ledger:
        ledger.append(later)
    assert read_ledger(folder, "n1") == [Report(1, 1, "busy", 0, "retry", 31), later]


# --- list and show of an attempt waiting for its call ---------------------------------------------

# Defect (record.py, SpooledNotice.next_call, used by inventory.pending and notice show): the
# call file of attempt k > 1 carries the notice's NOTICE_DUE (when it was scheduled) and no
# Asterisk lines, so notice list and notice show give as its next call the first attempt's
# time, not its mtime (retry_time after the report), when Asterisk calls it. A retry looks
# overdue (or, as here, decades away), --since/--until pick it by the wrong time, and the
# list is out of order.
def test_list_and_show_give_the_time_of_the_next_attempt(site):
    notice_id = site.spool_notice()  # due 2099
    site.report(notice_id, 1, "busy")
    site.archive_attempt(notice_id)
    next_at = site.ledger(notice_id)[0].next_at
    at = datetime.fromtimestamp(next_at, timezone.utc).isoformat()
    [row] = json.loads(site.run(NOTICE, "list", "--json").stdout)
    shown = json.loads(site.run(NOTICE, "show", "--json", notice_id).stdout)
    assert (row["due"], shown["next_call"]) == (at, at)


# The same in queue delivery: queue_inventory.queued() lists a queued attempt by its call
# file's NOTICE_DUE, not the queue's due (the attempt's time, inbox.take_inbox).
def test_queue_list_gives_the_time_of_the_next_attempt(tmp_path):
    site = QueueSite(tmp_path)
    site.env.update(NOTICE_CONFIRM="key", NOTICE_RETRY_TIME="600")
    due, notice_id = int(time.time()) + 120, "n1"
    site.enqueue(site.notice(notice_id, due))
    engine = site.engine()
    engine.step(due - 1)
    site.begin(notice_id, due)
    assert site.run(NOTICE, "report", notice_id, "1", "busy", "0").returncode == 0
    site.finish(notice_id, "Completed")
    engine.step(time.time())
    entry = site.entry(notice_id)
    assert entry.state == "queued"
    [row] = json.loads(site.run(NOTICE, "list", "--json").stdout)
    assert row["due"] == datetime.fromtimestamp(entry.due, timezone.utc).isoformat()


# --- crash windows and reports out of turn --------------------------------------------------------

# Defect (inventory.spool_file_name: the current attempt from the ledger alone): `notice
# report` spools the next attempt before it keeps the report (report.py's note: "a crash
# between them leaves a call and a missing report"). In that state, the ledger still names
# attempt 1 (archived), and `notice cancel ID` / `notice show ID` look only for
# notice-ID.call: cancel says "not pending" (exit 5) while notice-ID.2.call is pending and
# will be called. The same when the append alone fails (disk full, quota) after the spool.
def test_the_attempt_spooled_before_a_crash_can_be_cancelled_by_id(site):
    notice_id = site.spool_notice()
    assert site.report(notice_id, 1, "busy").returncode == 0
    os.unlink(ledger_path(str(site.data_dir), notice_id))  # as if killed before the append
    site.archive_attempt(notice_id)
    shown = site.run(NOTICE, "show", "--json", notice_id)
    assert json.loads(shown.stdout)["state"] == "retrying", shown.stdout  # attempt 2, waiting for its call
    done = site.run(NOTICE, "cancel", "--yes", notice_id)
    assert done.returncode == 0, done.stderr
    assert site.spooled() == []


# Defect (report.py, report_attempt/attempted_call): a report of an attempt that is not the
# notice's current one (attempt 2 while attempt 1 is still pending, never reported; a report
# run by hand with a wrong number, or a call file whose NOTICE_ATTEMPT is off) is kept: with
# no call file of that attempt, it ends the notice "not delivered" and starts on_failure,
# while attempt 1 is still to be called; from then on the ledger names attempt 2, so `notice
# cancel ID` cannot find attempt 1. Such a report should be refused (exit 3, nothing kept).
def test_a_report_of_an_attempt_the_notice_has_not_reached_is_refused(tmp_path):
    calls = tmp_path / "calls"
    site = ReportSite(tmp_path, NOTICE_ON_FAILURE=script(tmp_path / "tell", f"echo \"$@\" >> {calls}\n"))
    notice_id = site.spool_notice()
    done = site.report(notice_id, 2, "busy")
    time.sleep(1)
    assert not calls.exists(), calls.read_text()
    assert site.ledger(notice_id) == []
    assert done.returncode == 5 and "has no call file of attempt 2" in done.stderr, done.stdout
    cancel = site.run(NOTICE, "cancel", "--yes", notice_id)
    assert cancel.returncode == 0 and site.spooled() == [], cancel.stderr


# --- a notice that ends without a report ------------------------------------------------------------

# Defect (engine.py: miss_overdue / _miss_late; report.py starts on_failure only from a
# report): in queue delivery a notice of reported delivery that the engine marks missed
# (late_limit passed: the engine was down, Asterisk stalled) ends not delivered, yet on_failure
# never runs and its ledger never ends (notice report is the only one who writes it): the
# admin who set on_failure to hear of every notice not delivered hears nothing. The same for
# an attempt k > 1 missed in the queue: the ledger's last word stays "retry" for ever, and
# notice history --prune-before never removes it (inventory._prune_ledger).
def test_a_missed_notice_of_reported_delivery_runs_on_failure(tmp_path):
    calls = tmp_path / "calls"
    site = QueueSite(tmp_path)
    site.env.update(NOTICE_CONFIRM="key", NOTICE_ON_FAILURE=script(tmp_path / "tell", f"echo \"$@\" >> {calls}\n"))
    now = int(time.time())
    site.enqueue(site.notice("n1", now - 4000))
    site.engine().step(now)
    assert site.entry("n1").state == "missed"
    deadline = time.time() + 5
    while not calls.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert calls.exists() and calls.read_text().startswith("n1 79991234567 ")
