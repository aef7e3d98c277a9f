"""The queue of queue delivery: the notices waiting in data_dir until `notice run` hands them to
Asterisk, and what became of each. All SQL is here, behind the few functions below, so that a
later backend (PostgreSQL, for the engines of several PBX nodes sharing one queue) replaces
this module alone.

The store is one SQLite file (Python's own sqlite3) in WAL mode with synchronous=FULL: a
commit is on the disk before it returns, so a notice is durable before a command says it is
queued, and a reader (notice list) never waits for the engine's writes.

A file that is not a queue of ours (another program's database, a corrupt file, a file of a
newer schema) is refused and never written to: PRAGMA application_id marks our files, and
PRAGMA user_version their schema.
"""

from __future__ import annotations

import os
import sqlite3
from collections import namedtuple
from collections.abc import Iterable

from .errors import SpoolError
from .spool import missing_data_dir

FILE_NAME = "queue.sqlite3"
APPLICATION_ID = 0x4E4F5449  # "NOTI"
SCHEMA_VERSION = 1
# What a queued notice can become (README, "Queue delivery"): handing (notice run is writing
# its call file into outgoing/), handed (the file is there, Asterisk has it), finished (Asterisk
# archived it; outcome: its Status), missed (not started within late_limit), cancelled (by
# notice cancel, or replaced by notice move: outcome "moved to ID").
QUEUED, HANDING, HANDED, FINISHED, MISSED, CANCELLED = "queued", "handing", "handed", "finished", "missed", "cancelled"
STATES = (QUEUED, HANDING, HANDED, FINISHED, MISSED, CANCELLED)
WAITING = (QUEUED, HANDING, HANDED)  # not yet finished one way or another
BUSY_TIMEOUT = 10.0  # seconds a writer waits for another's transaction

SCHEMA = f"""
CREATE TABLE notice (
    id        TEXT PRIMARY KEY,
    number    TEXT NOT NULL,
    recording TEXT NOT NULL,
    due       INTEGER NOT NULL,
    call_file TEXT NOT NULL,
    state     TEXT NOT NULL DEFAULT 'queued' CHECK (state IN {STATES!r}),
    queued_at INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    outcome   TEXT
) WITHOUT ROWID;
CREATE INDEX notice_by_state ON notice (state, due);
CREATE INDEX notice_by_number ON notice (number, due);
CREATE INDEX notice_by_change ON notice (state, changed_at);
PRAGMA application_id = {APPLICATION_ID};
PRAGMA user_version = {SCHEMA_VERSION};
"""


class Queued(namedtuple("Queued", "id number recording due call_file")):
    """One notice to queue: its id, number, recording, due second and call file text."""

    __slots__ = ()


class Entry(namedtuple("Entry", "id number recording due call_file state changed_at outcome")):
    """A notice in the queue: Queued's fields, its STATE, when that last changed and, once
    finished, missed or cancelled, its OUTCOME."""

    __slots__ = ()


_ENTRY = "SELECT id, number, recording, due, call_file, state, changed_at, outcome FROM notice"


def open_queue(data_dir: str) -> sqlite3.Connection:
    """The queue in DATA_DIR, made there if it has none yet. SpoolError (exit 4) for a folder
    that is missing or cannot be written, and for a file that is not a queue of ours."""
    if not os.path.isdir(data_dir):
        raise missing_data_dir(data_dir)
    path = os.path.join(data_dir, FILE_NAME)
    try:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    except sqlite3.Error as problem:
        raise SpoolError(_explained(problem, path)) from None
    try:
        _check_or_create(connection, path)
        connection.execute("PRAGMA synchronous = FULL")
    except BaseException:
        connection.close()
        raise
    return connection


def _check_or_create(connection: sqlite3.Connection, path: str) -> None:
    try:
        marks = _marks(connection)
        if marks == (0, 0, 0):  # a new, empty file: ours to lay out
            _lay_out(connection, path)
            marks = _marks(connection)
    except sqlite3.Error as problem:
        raise SpoolError(_explained(problem, path)) from None
    application_id, version, _ = marks
    if application_id != APPLICATION_ID:
        raise SpoolError(f"{path} is not a notice-cli queue (another program's file?); move it away or set data_dir")
    if version != SCHEMA_VERSION:
        raise SpoolError(f"{path} is a queue of schema {version}, this notice-cli reads schema {SCHEMA_VERSION}; "
                         "run the notice-cli that made it")


def _marks(connection: sqlite3.Connection) -> tuple[int, int, int]:
    """The file's application_id, user_version and number of schema objects."""
    return (connection.execute("PRAGMA application_id").fetchone()[0],
            connection.execute("PRAGMA user_version").fetchone()[0],
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])


def _lay_out(connection: sqlite3.Connection, path: str) -> None:
    """SCHEMA into the empty file, under the write lock and only if it is still empty: two
    commands that find no queue at the same moment make one, not a failure."""
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("BEGIN IMMEDIATE")
    try:
        if connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    _owned_like_folder(path)


def _owned_like_folder(path: str) -> None:
    """A queue made by root (an admin's notice import) is given to data_dir's owner, the user
    the engine and the dialplan's notice-spool run as, or they could not write it. SQLite
    gives its -wal and -shm files the owner of the database file itself."""
    if os.geteuid() != 0:
        return
    folder = os.stat(os.path.dirname(path))
    for each in (path, path + "-wal", path + "-shm"):
        try:
            os.chown(each, folder.st_uid, folder.st_gid)
        except FileNotFoundError:
            pass


def _explained(problem: sqlite3.Error, path: str) -> str:
    """One line an admin can act on, for SQLite's PROBLEM with the queue file PATH."""
    text = str(problem)
    if "not a database" in text or "malformed" in text:
        return f"{path} is not a notice-cli queue or is damaged ({text}); move it away, it is never overwritten"
    if "readonly" in text or "read-only" in text:
        return f"{path} cannot be written ({text}); the queue must be writable by the user notice-cli runs as"
    if "full" in text:
        return f"no space left for {path}; free some space and schedule the notice again"
    if "disk I/O error" in text:  # in WAL mode, often SQLite's word for a full disk too
        return f"{path} could not be written (disk I/O error): is its disk full or failing? free some space and retry"
    if "unable to open" in text:
        return f"{path} cannot be opened ({text}); check data_dir and its permissions"
    return f"the queue {path} failed: {text}"


def enqueue(connection: sqlite3.Connection, notices: Iterable[Queued], now: int) -> list[str]:
    """Put NOTICES into the queue in one transaction, durable once this returns; a notice whose
    id is there already is left as it is (an import run again). Returns the ids of those
    queued now."""
    added = []
    with _transaction(connection, "no notice was queued"):
        for notice in notices:
            cursor = connection.execute(
                "INSERT INTO notice (id, number, recording, due, call_file, queued_at, changed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING", (*notice, now, now))
            if cursor.rowcount:
                added.append(notice.id)
    return added


def known(connection: sqlite3.Connection, ids: Iterable[str]) -> dict[str, str]:
    """The state of each of IDS that the queue has."""
    found = {}
    ids = list(ids)
    for start in range(0, len(ids), 500):  # SQLite's limit of bound values
        part = ids[start:start + 500]
        found.update(connection.execute(f"SELECT id, state FROM notice WHERE id IN ({', '.join('?' * len(part))})",
                                        part).fetchall())
    return found


def claim_due(connection: sqlite3.Connection, moment: int, limit: int, now: int) -> list[Entry]:
    """Up to LIMIT queued notices due at or before MOMENT, in due order, marked handing in one
    transaction: from then on notice move leaves them to the engine (it moves a handed notice
    under a new id), and after a crash the engine finds them (handing())."""
    query = _ENTRY + " WHERE state = ? AND due <= ? ORDER BY due, id LIMIT ?"
    if connection.execute(query, (QUEUED, moment, 1)).fetchone() is None:
        return []  # the engine's idle look: no write transaction
    with _transaction(connection, "nothing was handed"):
        entries = [Entry(*row) for row in connection.execute(query, (QUEUED, moment, limit))]
        connection.executemany("UPDATE notice SET state = ?, changed_at = ? WHERE id = ?",
                               [(HANDING, now, entry.id) for entry in entries])
    return entries


def changed_since(connection: sqlite3.Connection, state: str, moment: int) -> list[Entry]:
    """The notices in STATE that came to it at or after MOMENT."""
    return [Entry(*row) for row in connection.execute(_ENTRY + " WHERE state = ? AND changed_at >= ?", (state, moment))]


def in_state(connection: sqlite3.Connection, *states: str) -> list[Entry]:
    """The notices in any of STATES, in due order."""
    marks = ", ".join("?" * len(states))
    return [Entry(*row) for row in connection.execute(_ENTRY + f" WHERE state IN ({marks}) ORDER BY due, id", states)]


def mark(connection: sqlite3.Connection, notice_id: str, state: str, now: int, outcome: str | None = None,
         was: Iterable[str] = STATES) -> bool:
    """Record that the notice NOTICE_ID is now in STATE (with OUTCOME), if it is in one of the
    states WAS; False if it is not there or in another state."""
    if state not in STATES:
        raise ValueError(f"no such state {state!r}")
    was = tuple(was)
    with _transaction(connection, "nothing was changed"):
        cursor = connection.execute(
            f"UPDATE notice SET state = ?, changed_at = ?, outcome = coalesce(?, outcome) "
            f"WHERE id = ? AND state IN ({', '.join('?' * len(was))})", (state, now, outcome, notice_id, *was))
    return cursor.rowcount == 1


def miss_overdue(connection: sqlite3.Connection, before: int, now: int) -> list[Entry]:
    """Mark missed the queued notices due before BEFORE (late_limit ago); return them."""
    query = _ENTRY + " WHERE state = ? AND due < ? ORDER BY due, id"
    if connection.execute(query + " LIMIT 1", (QUEUED, before)).fetchone() is None:
        return []
    with _transaction(connection, "nothing was changed"):
        entries = [Entry(*row) for row in connection.execute(query, (QUEUED, before))]
        connection.executemany("UPDATE notice SET state = ?, changed_at = ?, outcome = ? WHERE id = ?",
                               [(MISSED, now, "late", entry.id) for entry in entries])
    return entries


def reschedule(connection: sqlite3.Connection, notice_id: str, due: int, call_file: str, now: int) -> bool:
    """Give the queued notice NOTICE_ID the new DUE and CALL_FILE; False if it is not queued
    (any more): handing, handed, finished, missed, cancelled or not there."""
    with _transaction(connection, "it was not moved"):
        cursor = connection.execute("UPDATE notice SET due = ?, call_file = ?, changed_at = ? WHERE id = ? AND state = ?",
                                    (due, call_file, now, notice_id, QUEUED))
    return cursor.rowcount == 1


def replace(connection: sqlite3.Connection, old_id: str, new: Queued, now: int, was: Iterable[str]) -> bool:
    """In one transaction: queue NEW and cancel OLD_ID (outcome "moved to NEW.id"), if OLD_ID is
    in one of the states WAS; False, and nothing changed, if it is not."""
    was = tuple(was)
    with _transaction(connection, "it was not moved"):
        cursor = connection.execute(
            f"UPDATE notice SET state = ?, changed_at = ?, outcome = ? WHERE id = ? "
            f"AND state IN ({', '.join('?' * len(was))})", (CANCELLED, now, f"moved to {new.id}", old_id, *was))
        if cursor.rowcount != 1:
            return False
        connection.execute("INSERT INTO notice (id, number, recording, due, call_file, queued_at, changed_at) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", (*new, now, now))
    return True


def requeue_attempt(connection: sqlite3.Connection, attempt: Queued, now: int) -> bool:
    """Queue ATTEMPT, the next call of a notice the queue has (reported delivery: notice report
    made it), in place of the notice's former call file; whether it was queued. A notice
    cancelled meanwhile stays cancelled, and an attempt taken in before (an inbox file a crash
    left behind) is not queued again."""
    from .notice import attempt_in

    with _transaction(connection, "the next attempt is not queued"):
        row = connection.execute("SELECT call_file FROM notice WHERE id = ? AND state IN (?, ?)",
                                 (attempt.id, HANDED, FINISHED)).fetchone()
        if row is None or attempt_in(row[0]) >= attempt_in(attempt.call_file):
            return False
        connection.execute("UPDATE notice SET due = ?, call_file = ?, state = ?, changed_at = ?, outcome = NULL "
                           "WHERE id = ?", (attempt.due, attempt.call_file, QUEUED, now, attempt.id))
    return True


def uncancel(connection: sqlite3.Connection, notice_id: str, state: str, now: int) -> bool:
    """Take back a cancel: the cancelled notice NOTICE_ID is in STATE again, with no outcome
    (its call file could not be taken from Asterisk)."""
    with _transaction(connection, "nothing was changed"):
        cursor = connection.execute("UPDATE notice SET state = ?, changed_at = ?, outcome = NULL WHERE id = ? "
                                    "AND state = ?", (state, now, notice_id, CANCELLED))
    return cursor.rowcount == 1


def undo_replace(connection: sqlite3.Connection, old_id: str, new_id: str, state: str, now: int) -> None:
    """Take back replace(): NEW_ID gone (or, if the engine has claimed it meanwhile, cancelled:
    the engine takes its file back), OLD_ID in STATE again (its file could not be taken back
    from Asterisk)."""
    with _transaction(connection, "the move could not be taken back"):
        deleted = connection.execute("DELETE FROM notice WHERE id = ? AND state = ?", (new_id, QUEUED)).rowcount
        if not deleted:
            connection.execute("UPDATE notice SET state = ?, changed_at = ?, outcome = ? WHERE id = ? "
                               "AND state IN (?, ?)", (CANCELLED, now, "move undone", new_id, HANDING, HANDED))
        connection.execute("UPDATE notice SET state = ?, changed_at = ?, outcome = NULL WHERE id = ?",
                           (state, now, old_id))


def find(connection: sqlite3.Connection, notice_id: str) -> Entry | None:
    row = connection.execute(_ENTRY + " WHERE id = ?", (notice_id,)).fetchone()
    return row and Entry(*row)


def listed(connection: sqlite3.Connection, states: tuple[str, ...], numbers: Iterable[str] = (),
           since: int | None = None, until: int | None = None) -> Iterable[Entry]:
    """The notices in STATES, to NUMBERS (all if none), due from SINCE until before UNTIL (the
    range of notice list's --since and --until)."""
    numbers = tuple(numbers)
    query, values = _ENTRY + f" WHERE state IN ({', '.join('?' * len(states))})", list(states)
    if numbers:
        query += f" AND number IN ({', '.join('?' * len(numbers))})"
        values += numbers
    if since is not None:
        query, values = query + " AND due >= ?", values + [since]
    if until is not None:
        query, values = query + " AND due < ?", values + [until]
    return map(Entry._make, connection.execute(query + " ORDER BY due, id", values))


def counts(connection: sqlite3.Connection) -> dict[str, int]:
    """How many notices are in each state."""
    found = dict(connection.execute("SELECT state, count(*) FROM notice GROUP BY state").fetchall())
    return {state: found.get(state, 0) for state in STATES}


def due_between(connection: sqlite3.Connection, start: int, end: int) -> int:
    """How many queued notices are due from START until END (inclusive)."""
    return connection.execute("SELECT count(*) FROM notice WHERE state = ? AND due BETWEEN ? AND ?",
                              (QUEUED, start, end)).fetchone()[0]


def first_due(connection: sqlite3.Connection) -> Entry | None:
    """The queued notice due first."""
    row = connection.execute(_ENTRY + " WHERE state = ? ORDER BY due, id LIMIT 1", (QUEUED,)).fetchone()
    return row and Entry(*row)


def waiting_recordings(connection: sqlite3.Connection) -> set[str]:
    """The recordings the notices not yet in Asterisk's spool will play (notice gc keeps them)."""
    return {row[0] for row in connection.execute("SELECT DISTINCT recording FROM notice WHERE state IN (?, ?)",
                                                 (QUEUED, HANDING))}


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any failure; an SQLite failure becomes a
    SpoolError (exit 4) that says what it left undone (UNDONE)."""

    def __init__(self, connection: sqlite3.Connection, undone: str):
        self.connection, self.undone = connection, undone

    def __enter__(self):
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as problem:
            raise SpoolError(f"{_explained(problem, _path_of(self.connection))}; {self.undone}") from None

    def __exit__(self, kind, problem, trace) -> bool:
        try:
            self.connection.execute("ROLLBACK" if kind else "COMMIT")
        except sqlite3.Error as failure:
            if kind is None:
                problem = failure
            try:
                self.connection.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        if isinstance(problem, sqlite3.Error):
            raise SpoolError(f"{_explained(problem, _path_of(self.connection))}; {self.undone}") from None
        return False


def _path_of(connection: sqlite3.Connection) -> str:
    return connection.execute("PRAGMA database_list").fetchone()[2]
