"""The queue's inbox: the call files notice-spool puts into <data_dir>/inbox in queue delivery
(spool_writer.queue_call_file), taken into the queue by whoever opens it to write (notice run,
cancel, move, import): opened_queue() does that first, so a notice is never both in the inbox
and decided upon in the queue.

notice-spool does not open the database itself: `import sqlite3` alone costs 12 ms, half the
PHP script's whole run that the dialplan's notice-spool is measured against (README,
"Queue delivery").

Taking is idempotent: the notices are inserted by id (a notice there already is left as it
is), committed, and only then are their files removed. A crash in between leaves files whose
ids the queue has; the next take finds them there and removes them.
"""

from __future__ import annotations

import os
import sqlite3

from .callfile import parse, render
from .errors import InvalidInput, SpoolError
from .notice import DELIVERY_CONTEXT, PLAYBACK, attempt_of
from .queue import Queued, enqueue, open_queue, requeue_attempt
from .record import read_notice
from .spool import INBOX, explain_failure, fsync_folder, names_in
from .spool_reader import call_file_texts
from .spool_writer import ensure_folder_like


REJECTED = "rejected"  # where take_inbox() sets aside a file that is not a notice's call file


class Taken:
    """What take_inbox() did: the ids TAKEN into the queue and the names of the files that are
    not notices' call files as notice-spool writes them (LEFT: moved to data_dir/rejected/,
    never handed, never removed)."""

    __slots__ = ("taken", "left")

    def __init__(self, taken: list[str], left: list[str]):
        self.taken, self.left = taken, left


def inbox_folder(data_dir: str) -> str:
    return os.path.join(data_dir, INBOX)


def inbox_files(data_dir: str) -> list[tuple[str, str, float]]:
    """(name, text, mtime) of each file in the inbox now."""
    folder = inbox_folder(data_dir)
    return list(call_file_texts(folder, sorted(names_in(folder, missing_ok=True))))


def take_inbox(connection: sqlite3.Connection, data_dir: str, now: int) -> Taken:
    """Move the notices in the inbox into the queue (see the module's note)."""
    folder = inbox_folder(data_dir)
    files = inbox_files(data_dir)
    if not files:
        return Taken([], [])
    notices, retries, left = [], [], []
    for name, text, mtime in files:
        notice = read_notice(name, text)
        if notice is None or notice.due is None or not as_written(text):
            left.append(name)
            continue
        if attempt_of(name) > 1:  # due when its mtime says, retry_time after the last attempt
            retries.append((name, Queued(notice.id, notice.number, notice.recording, int(mtime), text)))
        else:
            notices.append((name, Queued(notice.id, notice.number, notice.recording, notice.due, text)))
    taken = enqueue(connection, [queued for _, queued in notices], now) if notices else []
    for name, queued in retries:  # notice report's next attempt of a notice the queue has
        if requeue_attempt(connection, queued, now):
            taken.append(queued.id)
    notices += retries
    try:
        for name, _ in notices:
            try:
                os.unlink(os.path.join(folder, name))
            except FileNotFoundError:
                pass  # another taker removed it: it is in the queue
        _set_aside(folder, os.path.join(data_dir, REJECTED), left)
        fsync_folder(folder)
    except OSError as problem:
        raise SpoolError(explain_failure(problem, problem.filename or folder, "remove",
                                         "the user notice run runs as, or fix data_dir's owner")
                         + "; the notices are queued and stay so") from None
    return Taken(taken, left)


def _set_aside(folder: str, rejected: str, names: list[str]) -> None:
    """Move the files NAMES out of the inbox FOLDER into REJECTED, kept for the admin to see."""
    if not names:
        return
    ensure_folder_like(rejected, os.path.dirname(folder))
    for name in names:
        try:
            os.rename(os.path.join(folder, name), os.path.join(rejected, name))
        except FileNotFoundError:
            pass
    fsync_folder(rejected)


def as_written(text: str) -> bool:
    """Whether TEXT is a notice's call file exactly as notice-spool renders one: the engine
    hands the text to Asterisk as it stands, so a file that has any other line (written by
    hand into the inbox, or damaged) is never taken in."""
    try:
        call = parse(text)
        runs = call.application == PLAYBACK or (call.context, call.extension, call.priority) == (
            DELIVERY_CONTEXT, "s", "1")
        return runs and render(call) == text
    except InvalidInput:
        return False


def opened_queue(data_dir: str, now: int) -> sqlite3.Connection:
    """The queue in DATA_DIR with its inbox taken in: what every command that decides upon a
    queued notice opens."""
    connection = open_queue(data_dir)
    try:
        take_inbox(connection, data_dir, now)
    except BaseException:
        connection.close()
        raise
    return connection
