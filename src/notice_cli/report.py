"""`notice report ID ATTEMPT OUTCOME PLAYED`: what the dialplan's [notice-deliver] runs at the
end of each attempt of a notice in reported delivery (README, "Delivery outcomes"), and what
follows from it: the report is kept in the notice's ledger (outcomes.py), the next attempt is
spooled when retry_on says so, and on_failure is started when the notice ends not delivered.

The next attempt is a call file of its own (notice-<id>.<k>.call), never the former name
again: pbx_spool keeps the time of a name it has seen (pbx/pbx_spool.c, queue_file). It is
spooled before the report is written, so a crash between them leaves a call and a missing
report, never a report that promises a call that does not exist.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

from .callfile import parse, render
from .log import log_lines
from .errors import NotFound
from .notice import (ATTEMPT_VARIABLE, MAX_RETRIES_VARIABLE, RETRY_ON_VARIABLE, attempt_in, call_file_name,
                     check_notice_id, with_variables)
from .outcome import (MAX_OUTPUT, MISSED, NOT_DELIVERED_END, RETRY, RETRYABLE, FailureRun, Report, check_report,
                      then)
from .outcomes import Ledger, due_path, mark_run_due, reports_in, run_due, runs_due
from .settings import QUEUE
from .spool_reader import read_call_file
from .spool_writer import queue_call_file, spool_call_file
from .value import Value

ON_FAILURE_TIMEOUT = 300  # seconds on_failure may run before it is stopped and the stop logged
RUNNER = "notice_cli.failure_runner"
MAX_OUTPUT_BYTES = 4 * MAX_OUTPUT  # UTF-8: at most 4 bytes a character


class Reported(Value):
    """What report_attempt() did: the REPORT kept (or the one kept before, when ALREADY), the
    PATH of the next attempt's call file (None: no retry), and whether on_failure was started."""

    __slots__ = ("notice_id", "report", "already", "path", "on_failure")

    def line(self, zone_format) -> str:
        """One line for the dialplan's log; ZONE_FORMAT renders a time."""
        head = f"notice {self.notice_id} attempt {self.report.attempt}: {self.report.outcome}"
        if self.already:
            return head + " was reported already; nothing done"
        if self.report.then == RETRY:
            return f"{head}; called again at {zone_format(self.report.next_at)}: {self.path}"
        started = "; on_failure started" if self.on_failure else ""
        return f"{head}; {self.report.then}{started}"


class Attempted(Value):
    """What the call file of an attempt says: the CALL (callfile.CallFile) and the notice's
    NUMBER, MAX_RETRIES and RETRY_ON as they were scheduled."""

    __slots__ = ("call", "number", "max_retries", "retry_on")


def report_attempt(notice_id: str, attempt: str, outcome: str, played: str, settings, now: float) -> Reported:
    """Keep the report of ATTEMPT of NOTICE_ID and act on it (see the module's note). Raises
    InvalidInput for a report that is not one (nothing is kept), SpoolError when it cannot be kept."""
    check_notice_id(notice_id)
    attempt_number, outcome, played_seconds = check_report(attempt, outcome, played)
    attempted = attempted_call(notice_id, attempt_number, settings)
    with Ledger(settings.data_dir, notice_id) as ledger:
        earlier = [each for each in reports_in(ledger.entries) if each.attempt == attempt_number]
        if earlier:
            return Reported(notice_id, earlier[0], True, None, False)
        if attempted is None:  # the dialplan reports while the attempt's file is in outgoing/
            raise NotFound(f"notice {notice_id} has no call file of attempt {attempt_number} in "
                           f"{settings.spool_dir}/outgoing or outgoing_done; nothing is kept")
        follows = then(outcome, attempt_number, attempted.max_retries, attempted.retry_on)
        path = next_at = None
        if follows == RETRY:
            next_at = int(now) + attempted.call.retry_time
            path = spool_next(notice_id, attempted.call, attempt_number + 1, next_at, settings)
        report = Report(int(now), attempt_number, outcome, played_seconds, follows, next_at)
        ledger.append(report)
    started = follows == NOT_DELIVERED_END and settings.on_failure is not None
    if started:
        start_on_failure(settings, notice_id, attempted.number, outcome)
    _log(settings, notice_id, report, path)
    return Reported(notice_id, report, False, path, started)


def attempted_call(notice_id: str, attempt: int, settings) -> Attempted | None:
    """What ATTEMPT's call file says, read where Asterisk has it (outgoing/ while the call runs,
    outgoing_done/ once archived); None when it is in neither (no such attempt)."""
    name = call_file_name(notice_id, attempt)
    text = None
    for folder in ("outgoing", "outgoing_done", "outgoing"):  # again: it may move in between
        text = read_call_file(os.path.join(settings.spool_dir, folder), name)
        if text is not None:
            break
    if text is None:
        return None
    call = parse(text)
    variables = dict(call.variables)
    return Attempted(
        call._replace(archive=True),
        variables.get("NOTICE_NUMBER", ""),
        _count(variables.get(MAX_RETRIES_VARIABLE), settings.max_retries),
        _outcomes(variables.get(RETRY_ON_VARIABLE), settings.retry_on),
    )


def _count(text: str | None, default: int) -> int:
    return int(text) if text is not None and text.isascii() and text.isdigit() and len(text) <= 4 else default


def _outcomes(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if text is None:
        return default
    return tuple(word for word in text.split(",") if word in RETRYABLE)


def end_missed(settings, notice_id: str, number: str, call_file: str, now: float) -> bool:
    """Keep MISSED as the outcome of the attempt whose call file text is CALL_FILE, which queue
    delivery could not start within late_limit, so the notice ends not delivered, and start
    on_failure; whether this ended it (False: that attempt had its report already)."""
    attempt = attempt_in(call_file)
    with Ledger(settings.data_dir, notice_id) as ledger:
        if any(each.attempt == attempt for each in reports_in(ledger.entries)):
            return False
        ledger.append(Report(int(now), attempt, MISSED, 0, NOT_DELIVERED_END))
    if settings.on_failure is not None:
        start_on_failure(settings, notice_id, number, MISSED)
    return True


def spool_next(notice_id: str, call, attempt: int, due: int, settings) -> str:
    """Spool ATTEMPT of NOTICE_ID, the call file CALL with its attempt number, due at DUE; its path."""
    text = render(with_variables(call, {ATTEMPT_VARIABLE: str(attempt)}))
    name = call_file_name(notice_id, attempt)
    if settings.delivery == QUEUE:
        return queue_call_file(text, name, due, settings.data_dir, settings.file_mode, settings.owner)
    return spool_call_file(text, name, due, settings.spool_dir, settings.file_mode, settings.owner)


def start_on_failure(settings, notice_id: str, number: str, outcome: str) -> None:
    """Start on_failure for a notice not delivered, in a process of its own that outlives this
    one (the dialplan waits for `notice report`, and a call must not wait for an admin's
    script): it keeps the exit code and output in the ledger and in syslog. The run is marked
    due first (outcomes.mark_run_due), so that a runner killed before it kept the run is
    found and started again by notice gc (restart_stopped_runs): at least once, never lost."""
    mark_run_due(settings.data_dir, notice_id, settings.on_failure, number, outcome)
    start_runner(settings, notice_id)


def start_runner(settings, notice_id: str) -> None:
    """Start the runner of NOTICE_ID's due on_failure run (failure_runner.py)."""
    arguments = [sys.executable, "-m", RUNNER, settings.data_dir, notice_id, settings.syslog_facility,
                 settings.syslog_tag]
    try:
        subprocess.Popen(arguments, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True, cwd="/",
                         **_as_data_dir_owner(settings.data_dir))
    except OSError as problem:
        keep_failure_run(settings.data_dir, notice_id, FailureRun(
            int(_now()), settings.on_failure or "on_failure", None,
            f"notice-cli could not start it: {problem}; notice gc starts it again"),
            settings.syslog_facility, settings.syslog_tag)


def _as_data_dir_owner(data_dir: str) -> dict:
    """Popen's user and group for a runner started by root (notice gc from root's cron): the
    owner of data_dir, the user Asterisk runs as, whom on_failure runs as when the dialplan
    starts it; never root for an admin's program that does not expect it."""
    if os.geteuid() != 0:
        return {}
    owner = os.stat(data_dir)
    return {"user": owner.st_uid, "group": owner.st_gid, "extra_groups": []}


def run_due_once(data_dir: str, notice_id: str, facility: str, tag: str) -> FailureRun | None:
    """The runner: run NOTICE_ID's due on_failure (holding its due file's lock, so that notice
    gc sees it alive), keep the run, and only then remove the due file. None if another
    runner holds it, or there is no run due."""
    path = due_path(data_dir, notice_id)
    with _held(path) as fd:
        if fd is None:
            return None
        due = run_due(fd)
        if due is None:
            os.unlink(path)  # not ours to run: a damaged or foreign file
            return None
        run = run_on_failure(due["program"], data_dir, notice_id, due["number"], due["outcome"], facility, tag)
        os.unlink(path)
        return run


@contextmanager
def _held(path: str):
    """The due file PATH open and locked by this process (its lock tells a runner alive), or
    None when it is gone or another process holds it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        yield fd
    finally:
        os.close(fd)


STOPPED_AFTER = 60  # seconds a due run may wait for its runner before it counts as stopped


def restart_stopped_runs(settings, now: float) -> list[str]:
    """Start again the on_failure runs whose runner was stopped before it kept the run (the
    machine restarted, the process was killed): a due file older than STOPPED_AFTER that no
    runner holds. The stop is kept in the ledger and syslog first. Returns their notices' ids."""
    started = []
    for notice_id, mtime in runs_due(settings.data_dir):
        if now - mtime < STOPPED_AFTER or not _take_stopped(settings, notice_id, now):
            continue
        start_runner(settings, notice_id)
        started.append(notice_id)
    return started


def _take_stopped(settings, notice_id: str, now: float) -> bool:
    """Whether NOTICE_ID's due run has no runner; if so, its stop is kept and its due file made
    young again, so that a second notice gc meanwhile leaves it to the runner about to start."""
    with _held(due_path(settings.data_dir, notice_id)) as fd:
        if fd is None:
            return False  # kept meanwhile, or its runner is alive
        due = run_due(fd) or {"program": "on_failure"}
        keep_failure_run(settings.data_dir, notice_id, FailureRun(
            int(now), due["program"], None, "its runner was stopped before the run was kept (a restart, a kill); "
            "started again by notice gc"), settings.syslog_facility, settings.syslog_tag)
        os.utime(fd, (now, now))
        return True


def run_on_failure(program: str, data_dir: str, notice_id: str, number: str, outcome: str, facility: str,
                   tag: str, timeout: float = ON_FAILURE_TIMEOUT) -> FailureRun:
    """Run PROGRAM NOTICE_ID NUMBER OUTCOME (no shell) and keep its exit code and output."""
    try:
        code, output, more = _run_captured([program, notice_id, number, outcome], timeout)
    except OSError as problem:
        run = FailureRun(int(_now()), program, None, f"could not be run: {problem.strerror or problem}")
    else:
        shown = _shown_output(output, more)
        run = FailureRun(int(_now()), program, code, shown if code is not None else
                         f"stopped after {timeout:g} s; output: " + shown)
    keep_failure_run(data_dir, notice_id, run, facility, tag)
    return run


def _run_captured(command: list[str], timeout: float) -> tuple[int | None, bytes, int]:
    """Run COMMAND: (its exit code, None when it was stopped after TIMEOUT seconds; the first
    MAX_OUTPUT_BYTES of its output; how many bytes more it wrote). The output is read only
    while the program runs: a child it leaves behind may hold the pipe open for ever. Whatever
    it writes beyond what is kept is read and dropped, so that it neither blocks nor fills
    the memory. Stopped, its whole process group goes (it runs in a session of its own)."""
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, cwd="/", start_new_session=True)
    kept, more = bytearray(), 0
    deadline = time.monotonic() + timeout
    with process.stdout as stream:
        while time.monotonic() < deadline:
            exited = process.poll() is not None
            ready, _, _ = select.select([stream], [], [], 0 if exited else min(0.1, max(0.0, deadline - time.monotonic())))
            chunk = os.read(stream.fileno(), 1 << 16) if ready else b""
            if not chunk and exited:  # ended, and nothing more to read now
                return process.returncode, bytes(kept), more
            if not chunk and ready:  # end of file: the program closed its output, and may run on
                try:
                    return process.wait(max(0.0, deadline - time.monotonic())), bytes(kept), more
                except subprocess.TimeoutExpired:
                    break
            room = MAX_OUTPUT_BYTES - len(kept)
            kept += chunk[:room]
            more += max(0, len(chunk) - room)
    _stop(process)
    return None, bytes(kept), more


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def keep_failure_run(data_dir: str, notice_id: str, run: FailureRun, facility: str, tag: str) -> None:
    """RUN in the ledger of NOTICE_ID and in syslog; syslog alone if the ledger cannot be written."""
    line = f"notice {notice_id}: on_failure {run.program} " + (
        f"exited {run.exit}" if run.exit is not None else "did not finish") + f"; output: {run.output!r}"
    try:
        with Ledger(data_dir, notice_id) as ledger:
            ledger.append(run)
    except Exception as problem:  # the run must reach syslog at least
        line += f" (not kept in the ledger: {problem})"
    log_lines([line], facility, tag)


def _shown_output(data: bytes, more: int = 0) -> str:
    text = data.decode("utf-8", "replace")
    if len(text) <= MAX_OUTPUT and not more:
        return text
    return text[:MAX_OUTPUT] + f"... ({len(text[MAX_OUTPUT:].encode()) + more} more bytes)"


def _now() -> float:
    return time.time()


def _log(settings, notice_id: str, report: Report, path: str | None) -> None:
    after = f"; attempt {report.attempt + 1} at {report.next_at}: {path}" if path else f"; {report.then}"
    log_lines([f"notice {notice_id} attempt {report.attempt}: {report.outcome}, {report.played} s played{after}"],
              settings.syslog_facility, settings.syslog_tag)
