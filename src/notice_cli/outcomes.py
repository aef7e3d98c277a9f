"""The outcomes of reported delivery on disk: a ledger per notice, data_dir/outcomes/<id>.jsonl,
one JSON line per event, appended and fsynced before `notice report` returns, so an outcome
is on the disk before the call it reports ends.

A line is a report (outcome.Report: {"at", "attempt", "outcome", "played", "then", "next_at"})
or a run of on_failure (outcome.FailureRun: {"at", "on_failure", "exit", "output"}). Lines are
only ever appended, in one write() each under an exclusive lock (flock) of the ledger, which
the reporter also holds while it decides, so two reports of one notice never both decide.
A line cut short by a crash has no line feed: it is not read, and the next one starts on a
line of its own.

The ledger is kept in data_dir in both deliveries: direct delivery has no queue, and the
queue's engine reads the same ledgers.
"""

from __future__ import annotations

import fcntl
import json
import os

from .errors import SpoolError
from .notice import is_notice_id
from .outcome import LEDGER_OUTCOMES, MAX_ATTEMPT, MAX_PLAYED, RETRY, THEN, FailureRun, Report
from .spool import explain_failure, fsync_folder, missing_data_dir
from .spool_writer import ensure_folder_like

OUTCOMES_DIR = "outcomes"
LEDGER_SUFFIX = ".jsonl"
# An on_failure run due and not yet kept: data_dir/on-failure/<id>, made before its runner
# starts and removed once the run is kept, so a runner killed meanwhile is seen. A folder of
# its own: notice gc looks through it, never through the ledgers (one a notice).
DUE_DIR = "on-failure"
_REPORT_KEYS = ("at", "attempt", "outcome", "played", "then", "next_at")
_RUN_KEYS = ("at", "on_failure", "exit", "output")


def ledger_path(data_dir: str, notice_id: str) -> str:
    return os.path.join(data_dir, OUTCOMES_DIR, notice_id + LEDGER_SUFFIX)


def entry_line(entry: Report | FailureRun) -> bytes:
    """The ledger's line of ENTRY."""
    if isinstance(entry, Report):
        fields = {key: getattr(entry, key) for key in _REPORT_KEYS}
    else:
        fields = {"at": entry.at, "on_failure": entry.program, "exit": entry.exit, "output": entry.output}
    return (json.dumps(fields, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")


def entries_in(data: bytes) -> list[Report | FailureRun]:
    """The entries of a ledger's DATA, in order: complete lines only, and of those only the ones
    that are entries as entry_line() writes them (anything else is not ours to trust)."""
    entries = []
    for line in data.split(b"\n")[:-1]:
        entry = _entry(line)
        if entry is not None:
            entries.append(entry)
    return entries


def _entry(line: bytes) -> Report | FailureRun | None:
    try:
        fields = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: a line of nested brackets, "[[[[..."
        return None
    if not isinstance(fields, dict):
        return None
    if tuple(fields) == _REPORT_KEYS and _is_report(fields):
        return Report(**fields)
    if tuple(fields) == _RUN_KEYS and _is_run(fields):
        return FailureRun(fields["at"], fields["on_failure"], fields["exit"], fields["output"])
    return None


def _whole(value, most: int) -> bool:
    return type(value) is int and 0 <= value <= most


# A time as notice-cli writes one (Unix seconds, at most 12 digits like NOTICE_DUE): a larger
# one is no time of ours, and one past time_t would stop notice show and history
# (format_due: OverflowError).
MAX_TIME = 10**12 - 1


def _is_report(fields: dict) -> bool:
    return (_whole(fields["at"], MAX_TIME) and _whole(fields["attempt"], MAX_ATTEMPT) and fields["attempt"] >= 1
            and fields["outcome"] in LEDGER_OUTCOMES and _whole(fields["played"], MAX_PLAYED)
            and fields["then"] in THEN and (fields["next_at"] is None or _whole(fields["next_at"], MAX_TIME)))


def _is_run(fields: dict) -> bool:
    return (_whole(fields["at"], MAX_TIME) and _text(fields["on_failure"])
            and (fields["exit"] is None or type(fields["exit"]) is int) and _text(fields["output"]))


def _text(value) -> bool:
    """Text as report.py keeps it: on_failure's output decoded with replacement, so no lone
    surrogate (JSON's "\\ud800"), which no UTF-8 stream could print."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_ledger(data_dir: str, notice_id: str) -> list[Report | FailureRun]:
    """The entries of NOTICE_ID's ledger; [] when it has none (never reported)."""
    try:
        with open(ledger_path(data_dir, notice_id), "rb") as stream:
            return entries_in(stream.read())
    except FileNotFoundError:
        return []
    except OSError as problem:
        raise SpoolError(explain_failure(problem, ledger_path(data_dir, notice_id), "read",
                                         "the user notice-cli runs as")) from None


def reports_in(entries: list) -> list[Report]:
    return [entry for entry in entries if isinstance(entry, Report)]


def current_attempt(data_dir: str, notice_id: str) -> int:
    """The attempt whose call file NOTICE_ID has in the spool now (attempt_asked)."""
    return attempt_asked(reports_in(read_ledger(data_dir, notice_id)))


def attempt_asked(reports: list[Report]) -> int:
    """The attempt REPORTS ask for last: the one after the last reported when that asked for
    another call, else the last reported (over, archived), else the first."""
    if not reports:
        return 1
    last = reports[-1]
    return last.attempt + 1 if last.then == RETRY else last.attempt


class Ledger:
    """NOTICE_ID's ledger, open and locked for a reporter: ENTRIES as they were when the lock
    was taken, and append() for new ones. Use as a context manager."""

    def __init__(self, data_dir: str, notice_id: str):
        self.path = ledger_path(data_dir, notice_id)
        self.data_dir = data_dir
        self.fd = -1
        self.entries: list = []

    def __enter__(self) -> "Ledger":
        try:
            self._open()
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            self.entries = entries_in(_read_all(self.fd))
        except OSError as problem:
            self.__exit__()
            raise SpoolError(explain_failure(problem, problem.filename or self.path, "write",
                                             "the user Asterisk runs as, or fix data_dir's owner")) from None
        return self

    def _open(self) -> None:
        if not os.path.isdir(self.data_dir):
            raise missing_data_dir(self.data_dir)
        folder = os.path.dirname(self.path)
        ensure_folder_like(folder, self.data_dir)
        created = not os.path.exists(self.path)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        if created:
            _owned_like(self.fd, folder)
            fsync_folder(folder)

    def append(self, entry: Report | FailureRun) -> None:
        """Add ENTRY, on the disk when this returns. A ledger whose last line was cut short by a
        crash gets a line feed first, so the new line is whole. A write that fails is taken
        back: the part written (all but the line feed, say) must not become an entry when the
        next append ends its line."""
        line = entry_line(entry)
        size = os.lseek(self.fd, 0, os.SEEK_END)
        if size and _byte_at(self.fd, size - 1) != b"\n":
            line = b"\n" + line
        try:
            written = os.write(self.fd, line)
            if written != len(line):
                raise OSError(28, "No space left on device", self.path)
            os.fsync(self.fd)
        except OSError as problem:
            _truncate_quietly(self.fd, size)
            raise SpoolError(explain_failure(problem, self.path, "write", "the user Asterisk runs as",
                                             no_space="")) from None
        self.entries.append(entry)

    def __exit__(self, *raised) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock
            self.fd = -1


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _truncate_quietly(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
    except OSError:
        pass  # the error that made the write fail is the one to tell


def _byte_at(fd: int, offset: int) -> bytes:
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, 1)


def _owned_like(fd: int, folder: str) -> None:
    """A ledger made by root (a report run by hand) goes to the folder's owner, the user
    Asterisk's reports run as, who must append to it later."""
    if os.geteuid() == 0:
        like = os.stat(folder)
        os.fchown(fd, like.st_uid, like.st_gid)


# --- on_failure runs due ---------------------------------------------------------------------

def due_path(data_dir: str, notice_id: str) -> str:
    return os.path.join(data_dir, DUE_DIR, notice_id)


def mark_run_due(data_dir: str, notice_id: str, program: str, number: str, outcome: str) -> str:
    """Record, durably, that on_failure is to run as PROGRAM NOTICE_ID NUMBER OUTCOME; its path."""
    path = due_path(data_dir, notice_id)
    data = json.dumps({"program": program, "number": number, "outcome": outcome}, ensure_ascii=True).encode("ascii")
    try:
        ensure_folder_like(os.path.dirname(path), data_dir)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
            _owned_like(fd, os.path.dirname(path))
        finally:
            os.close(fd)
        fsync_folder(os.path.dirname(path))
    except OSError as problem:
        raise SpoolError(explain_failure(problem, path, "write", "the user Asterisk runs as")) from None
    return path


def run_due(fd: int) -> dict | None:
    """The run a due file open at FD asks for ({"program", "number", "outcome"}), or None if it
    is not one as mark_run_due() writes it."""
    try:
        fields = json.loads(_read_all(fd))
    except (ValueError, RecursionError):
        return None
    if not isinstance(fields, dict) or sorted(fields) != ["number", "outcome", "program"]:
        return None
    return fields if all(isinstance(value, str) for value in fields.values()) else None


def runs_due(data_dir: str) -> list[tuple[str, float]]:
    """(notice id, mtime) of each on_failure run due in DATA_DIR."""
    folder = os.path.join(data_dir, DUE_DIR)
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not is_notice_id(entry.name):
                    continue  # not a due run's file
                try:
                    found.append((entry.name, entry.stat().st_mtime))
                except FileNotFoundError:
                    pass  # kept meanwhile
    except FileNotFoundError:
        return []
    except OSError as problem:
        raise SpoolError(explain_failure(problem, folder, "read", "the user notice-cli runs as")) from None
    return found
