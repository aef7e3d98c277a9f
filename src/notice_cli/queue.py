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

from .errors import SpoolError

FILE_NAME = "queue.sqlite3"
APPLICATION_ID = 0x4E4F5449  # "NOTI"
SCHEMA_VERSION = 1
# What a queued notice can become: handed to Asterisk (a call file in outgoing/), finished
# (Asterisk archived it), missed (not started within late_limit), cancelled.
STATES = ("queued", "handed", "finished", "missed", "cancelled")
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
PRAGMA application_id = {APPLICATION_ID};
PRAGMA user_version = {SCHEMA_VERSION};
"""


class Queued:
    """One notice to queue: its id, number, recording, due second and call file text."""

    __slots__ = ("id", "number", "recording", "due", "call_file")

    def __init__(self, notice_id: str, number: str, recording: str, due: int, call_file: str):
        self.id, self.number, self.recording, self.due, self.call_file = notice_id, number, recording, due, call_file


def open_queue(data_dir: str) -> sqlite3.Connection:
    """The queue in DATA_DIR, made there if it has none yet. SpoolError (exit 4) for a folder
    that is missing or cannot be written, and for a file that is not a queue of ours."""
    if not os.path.isdir(data_dir):
        raise SpoolError(f"data_dir {data_dir} does not exist; create it (owned by the user Asterisk runs as) "
                         "or set data_dir")
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
        application_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if (application_id, version, tables) == (0, 0, 0):  # a new, empty file: ours to lay out
            connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
            return
    except sqlite3.Error as problem:
        raise SpoolError(_explained(problem, path)) from None
    if application_id != APPLICATION_ID:
        raise SpoolError(f"{path} is not a notice-cli queue (another program's file?); move it away or set data_dir")
    if version != SCHEMA_VERSION:
        raise SpoolError(f"{path} is a queue of schema {version}, this notice-cli reads schema {SCHEMA_VERSION}; "
                         "run the notice-cli that made it")


def _explained(problem: sqlite3.Error, path: str) -> str:
    """One line an admin can act on, for SQLite's PROBLEM with the queue file PATH."""
    text = str(problem)
    if "not a database" in text or "malformed" in text:
        return f"{path} is not a notice-cli queue or is damaged ({text}); move it away, it is never overwritten"
    if "readonly" in text or "read-only" in text:
        return f"{path} cannot be written ({text}); the queue must be writable by the user notice-cli runs as"
    if "full" in text:
        return f"no space left for {path}; free some space and schedule the notice again"
    if "unable to open" in text:
        return f"{path} cannot be opened ({text}); check data_dir and its permissions"
    return f"the queue {path} failed: {text}"


def enqueue(connection: sqlite3.Connection, notices, now: int) -> list[str]:
    """Put NOTICES (Queued) into the queue in one transaction, durable once this returns; a
    notice whose id is there already is left as it is (an import run again). Returns the ids
    of those queued now."""
    added = []
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            for notice in notices:
                cursor = connection.execute(
                    "INSERT INTO notice (id, number, recording, due, call_file, queued_at, changed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    (notice.id, notice.number, notice.recording, notice.due, notice.call_file, now, now))
                if cursor.rowcount:
                    added.append(notice.id)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    except sqlite3.Error as problem:
        raise SpoolError(_explained(problem, _path_of(connection)) + "; no notice was queued") from None
    return added


def due_by(connection: sqlite3.Connection, moment: int, limit: int) -> list[tuple[str, int, str]]:
    """(id, due, call file) of up to LIMIT queued notices due at or before MOMENT, in due order."""
    return connection.execute(
        "SELECT id, due, call_file FROM notice WHERE state = 'queued' AND due <= ? ORDER BY due, id LIMIT ?",
        (moment, limit)).fetchall()


def mark(connection: sqlite3.Connection, notice_id: str, state: str, now: int, outcome: str | None = None) -> bool:
    """Record that the notice NOTICE_ID is now in STATE (with OUTCOME); False if it is not there."""
    if state not in STATES:
        raise ValueError(f"no such state {state!r}")
    cursor = connection.execute("UPDATE notice SET state = ?, changed_at = ?, outcome = coalesce(?, outcome) "
                                "WHERE id = ?", (state, now, outcome, notice_id))
    return cursor.rowcount == 1


def counts(connection: sqlite3.Connection) -> dict[str, int]:
    """How many notices are in each state."""
    found = dict(connection.execute("SELECT state, count(*) FROM notice GROUP BY state").fetchall())
    return {state: found.get(state, 0) for state in STATES}


def _path_of(connection: sqlite3.Connection) -> str:
    return connection.execute("PRAGMA database_list").fetchone()[2]
