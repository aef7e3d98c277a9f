"""What queue delivery holds beside the spool: the notices still in the queue (queued, or being
handed) and those it missed, for list, show, history and cancel; moving a notice (notice move,
in either delivery); and the engine's health (notice status).

inventory.py reads the spool itself; a notice handed to Asterisk is in outgoing/ and is listed
from there, so a queued one is listed from the queue only while it is not in outgoing/ yet.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable

from .callfile import parse, render
from .errors import NotCancelled, NotFound
from .found import Found
from .inbox import inbox_folder, opened_queue
from .inventory import EVERYTHING, Picked, file_refusal, in_full, latest_attempt, outgoing, refusal, spool_file_name
from .notice import (ATTEMPT_VARIABLE, DUE_VARIABLE, NOTICE_ID_VARIABLE, call_file_name, check_notice_id,
                     file_name_in_spool, new_notice_id, with_variables)
from .outcomes import read_ledger
from .queue import (CANCELLED, FILE_NAME, HANDED, HANDING, MISSED, QUEUED, Entry, Queued, counts, due_between,
                    find as find_entry, first_due, in_state, listed, mark, open_queue, replace, reschedule,
                    uncancel, undo_replace)
from .record import MISSED_STATUS, QUEUED as QUEUED_STATE, SpooledNotice, read_listed, read_notice
from .settings import QUEUE, Settings
from .spool import ARCHIVE, sync_folder
from .spool_reader import GONE, call_file_bytes, call_file_texts, read_call_file, remove_call_file, mtime_of
from .spool_writer import spool_call_file
from .value import Value
from .when import check_future, parse_when

def in_queue_mode(settings: Settings) -> bool:
    return settings.delivery == QUEUE


def _existing_queue(settings: Settings) -> sqlite3.Connection | None:
    """The queue, for reading: None if there is none yet (a listing does not make one)."""
    if not os.path.exists(os.path.join(settings.data_dir, FILE_NAME)):
        return None
    return open_queue(settings.data_dir)


# --- listing ---------------------------------------------------------------------------------

def queued(settings: Settings, picked: Picked = EVERYTHING, in_spool: frozenset[str] = frozenset()) -> list:
    """(due, notice) of the notices waiting in the queue and its inbox that PICKED picks,
    those in outgoing/ (ids IN_SPOOL: handed this moment) left out; each notice's calling is
    record.QUEUED. The inbox is read before the queue, the way a notice moves, so that one
    taken in meanwhile is found in the queue."""
    found = _in_inbox(settings, picked)
    connection = _existing_queue(settings)
    if connection is not None:
        try:
            for entry in listed(connection, (QUEUED, HANDING), picked.numbers, picked.since, picked.until):
                _add(found, entry.id, entry.call_file.encode("utf-8", "surrogateescape"), settings, picked,
                     due=entry.due)
        finally:
            connection.close()
    return sorted(entry for notice_id, entry in found.items() if notice_id not in in_spool)


def listing(settings: Settings, picked: Picked, spooled: Callable[[], list]) -> list:
    """notice list in queue delivery: the queue's waiting notices, then SPOOLED() (the spool's
    listing), read in the order a notice moves (inbox, queue, outgoing/), so that one the
    engine hands meanwhile is listed from outgoing/ rather than lost between two reads; a
    notice in both is listed once, from outgoing/."""
    waiting = queued(settings, picked)
    in_spool = spooled()
    ids = frozenset(notice.id for _, notice in in_spool)
    return merged(in_spool, [entry for entry in waiting if entry[1].id not in ids])


def _add(found: dict, notice_id: str | None, data: bytes, settings: Settings, picked: Picked,
         name: str | None = None, due: int | None = None) -> None:
    """(DUE, notice) of a waiting notice's call file DATA into FOUND by its id, if PICKED picks
    it; DUE: when the engine hands it (the queue's; None: the file's scheduled time)."""
    notice = read_listed(name or call_file_name(notice_id), data, settings.channel)
    if notice is None or notice.id in found:
        return
    at = notice.due if due is None else due
    if picked.covers(notice.number, at):
        found[notice.id] = (at, notice._replace(calling=QUEUED_STATE))


def merged(spooled: list, waiting: list) -> list:
    """A listing of the spool's notices SPOOLED (those of unknown time last, as inventory.py
    lists them) with the queue's WAITING (all of known time), in one order."""
    known = [entry for entry in spooled if entry[0] is not None]
    unknown = [entry for entry in spooled if entry[0] is None]
    return sorted(known + waiting) + unknown if waiting else spooled


def missed(settings: Settings, picked: Picked = EVERYTHING) -> list:
    """(due, notice) of the notices the engine missed that PICKED picks, status Missed; due is
    the time a notice was scheduled, as notice history lists the archive's (the queue's is
    that of the attempt missed)."""
    connection = _existing_queue(settings)
    if connection is None:
        return []
    try:
        entries = list(listed(connection, (MISSED,), picked.numbers, picked.since, picked.until))
    finally:
        connection.close()
    rows = []
    for entry in entries:
        notice = read_listed(call_file_name(entry.id), entry.call_file.encode("utf-8", "surrogateescape"),
                             settings.channel)
        if notice is not None:
            rows.append((entry.due if notice.due is None else notice.due, notice._replace(status=MISSED_STATUS)))
    return rows


def find_queued(settings: Settings, notice_id: str) -> Found | None:
    """The notice NOTICE_ID if it waits in the queue or its inbox (not yet in outgoing/), or
    was missed; None otherwise. In reported delivery, the file of its latest attempt (the
    inbox's is named for it; the queue's row keeps one notice's file, whichever attempt)."""
    ledger = read_ledger(settings.data_dir, check_notice_id(notice_id))
    in_inbox = _latest_in_inbox(settings, notice_id, ledger)
    if in_inbox is not None:
        name, text, due = in_inbox
        state = QUEUED_STATE
    else:
        connection = _existing_queue(settings)
        if connection is None:
            return None
        try:
            entry = find_entry(connection, notice_id)
        finally:
            connection.close()
        if entry is None or entry.state not in (QUEUED, HANDING, MISSED):
            return None
        name, text, due, state = call_file_name(notice_id), entry.call_file, entry.due, entry.state
    notice = read_notice(name, text, settings.channel)
    if notice is None:
        return None
    if state == MISSED:
        found = Found(False, os.path.join(settings.data_dir, FILE_NAME), text, None,
                      notice._replace(status=MISSED_STATUS))
    else:  # its mtime: when the engine hands it
        found = Found(True, os.path.join(settings.data_dir, FILE_NAME), text, due,
                      notice._replace(calling=QUEUED_STATE))
    return in_full(settings, found, ledger)


def _latest_in_inbox(settings: Settings, notice_id: str, ledger: list) -> tuple[str, str, float] | None:
    """(name, text, mtime: its due) of the latest attempt's file of NOTICE_ID in the inbox, or None."""
    folder = inbox_folder(settings.data_dir)
    return latest_attempt(notice_id, ledger, lambda name: next(iter(call_file_texts(folder, [name])), None))


# --- cancelling ------------------------------------------------------------------------------

class QueueTargets(Value):
    """What cancel is asked to do in the queue: the notices WAITING there (queued, or being
    handed: Entry), the ids of those HANDED (their files are in outgoing/: the spool's cancel
    removes them) and the ids given that the queue does not hold (UNKNOWN: the spool's cancel
    looks for them in outgoing/)."""

    __slots__ = ("waiting", "handed", "unknown")

    def lines(self, zone) -> list[str]:
        from .inventory import describe

        return [f"  {describe(notice, notice.due, zone)} (queued)" for notice in self.notices()]

    def notices(self) -> list[SpooledNotice]:
        found = (read_notice(call_file_name(entry.id), entry.call_file) for entry in self.waiting)
        return [notice._replace(calling=QUEUED_STATE) for notice in found if notice is not None]


def queue_targets(settings: Settings, ids, numbers, now: float) -> QueueTargets:
    """The notices IDS and those to NUMBERS (checked) that the queue holds, as it has them now."""
    connection = opened_queue(settings.data_dir, int(now))
    waiting, handed, unknown, seen = [], [], [], set()
    try:
        entries = []
        for given in ids:
            entry = find_entry(connection, given) if "/" not in given and not given.endswith(".call") else None
            if entry is None or entry.state not in (QUEUED, HANDING, HANDED):
                unknown.append(given)
            else:
                entries.append(entry)
        if numbers:
            entries += listed(connection, (QUEUED, HANDING, HANDED), numbers)
    finally:
        connection.close()
    for entry in entries:
        if entry.id not in seen:
            seen.add(entry.id)
            (handed if entry.state == HANDED else waiting).append(entry.id if entry.state == HANDED else entry)
    return QueueTargets(waiting, handed, unknown)


def cancel_waiting(settings: Settings, targets: QueueTargets, now: float) -> tuple[list, list, list]:
    """Cancel the TARGETS waiting in the queue, and mark the handed ones cancelled ahead of the
    spool's cancel (which removes their files; restore_handed() takes the mark back for those
    Asterisk is calling). A crash in between leaves a cancelled notice whose file the engine
    takes back at its next start. A notice being handed (the engine writes its file this
    moment) is refused. Returns the notices cancelled in the queue, the ids of those handed to
    Asterisk meanwhile (the spool's cancel is for them too), and (id, why) of those refused."""
    connection = open_queue(settings.data_dir)
    cancelled, handed_now, refused = [], [], []
    try:
        for entry in targets.waiting:
            if mark(connection, entry.id, CANCELLED, int(now), "cancelled", was=(QUEUED,)):
                notice = read_notice(call_file_name(entry.id), entry.call_file, settings.channel)
                if notice is not None:
                    cancelled.append(notice._replace(calling=QUEUED_STATE))
            elif mark(connection, entry.id, CANCELLED, int(now), "cancelled", was=(HANDED,)):
                handed_now.append(entry.id)
            else:  # the engine is writing its call file this moment: taken back, it could still ring
                refused.append((entry.id, "it is being handed to Asterisk this moment; try again in a second"))
        for notice_id in targets.handed:
            mark(connection, notice_id, CANCELLED, int(now), "cancelled", was=(HANDED,))
    finally:
        connection.close()
    return cancelled, handed_now, refused


def restore_handed(settings: Settings, notice_ids, now: float) -> None:
    """The handed notices NOTICE_IDS were not cancelled after all (Asterisk is calling them):
    handed again in the queue."""
    if not notice_ids:
        return
    connection = open_queue(settings.data_dir)
    try:
        for notice_id in notice_ids:
            uncancel(connection, notice_id, HANDED, int(now))
    finally:
        connection.close()


# --- moving ----------------------------------------------------------------------------------

class Moved(Value):
    """notice move's result: the notice's OLD id and its NEW one (the same when it was still
    queued), its new DUE time and its NUMBER."""

    __slots__ = ("old", "new", "due", "number")

    def report(self, zone) -> str:
        from .when import format_due

        again = "" if self.new == self.old else f" as notice {self.new} (the old one is cancelled)"
        return f"moved notice {self.old} to {self.number} to {format_due(self.due, zone)}{again}"


def retimed(text: str, notice_id: str, due: int) -> str:
    """The call file TEXT as a fresh notice NOTICE_ID due at DUE: the lines Asterisk appended
    (attempts) dropped, the notice's variables updated. In reported delivery a new id counts
    its attempts from the first again; the same id keeps its attempt, whose file name Asterisk
    has not seen (a name must never come back with another time)."""
    call = parse(text)
    changed = {NOTICE_ID_VARIABLE: notice_id, DUE_VARIABLE: str(due)}
    if dict(call.variables).get(NOTICE_ID_VARIABLE) != notice_id:
        changed[ATTEMPT_VARIABLE] = "1"
    return render(with_variables(call, changed))


def move(settings: Settings, notice_id: str, when: str, now: float) -> Moved:
    """Reschedule the notice NOTICE_ID to WHEN (README, "Moving a notice")."""
    check_notice_id(notice_id)
    zone = settings.zone
    due = check_future(parse_when(when, zone, now), when, zone, now)
    if in_queue_mode(settings):
        moved = _move_in_queue(settings, notice_id, due, now)
        if moved:
            return moved
    return _move_in_spool(settings, notice_id, due, now)


def _move_in_queue(settings: Settings, notice_id: str, due: int, now: float) -> Moved | None:
    """Move a notice the queue holds; None if it holds none of that id (a notice spooled
    directly, before queue delivery: the spool's move)."""
    connection = opened_queue(settings.data_dir, int(now))
    try:
        entry = find_entry(connection, notice_id)
        if entry is None:
            return None
        if entry.state == QUEUED and reschedule(connection, notice_id, due, retimed(entry.call_file, notice_id, due),
                                                int(now)):
            return Moved(notice_id, notice_id, due, entry.number)
        entry = find_entry(connection, notice_id)
        if entry.state == HANDING:
            raise NotCancelled(f"notice {notice_id} is being handed to Asterisk this moment; try again in a second")
        if entry.state != HANDED:
            raise NotFound(f"notice {notice_id} is {entry.state}; only a notice not yet called can be moved")
        return _move_handed(settings, connection, entry, due, now)
    finally:
        connection.close()


def _move_handed(settings: Settings, connection, entry: Entry, due: int, now: float) -> Moved:
    """A handed notice moves under a new id: Asterisk keeps the time of a name it has seen
    (pbx_spool's list of pending files), so the old name must not come back with a new time.
    The new notice is queued and the old one cancelled in one transaction, then the old file
    taken back; if Asterisk is calling it, both are undone (exit 6). A crash before the take-back
    leaves a cancelled notice whose file the engine removes at its next start."""
    _check_takeable(settings, entry.id, now)  # first, so that a refused move changes nothing at all
    new_id = new_notice_id(now, os.urandom(4))
    new = Queued(new_id, entry.number, entry.recording, due, retimed(entry.call_file, new_id, due))
    if not replace(connection, entry.id, new, int(now), was=(HANDED,)):
        raise NotCancelled(f"notice {entry.id} changed this moment; look again with notice show {entry.id}")
    reason = _take_from_spool(settings, entry.id, now)
    if reason:
        undo_replace(connection, entry.id, new_id, HANDED, int(now))
        raise _not_moved(entry.id, reason)
    return Moved(entry.id, new_id, due, entry.number)


def _not_moved(notice_id: str, reason: str) -> NotCancelled | NotFound:
    """The error of a move whose old call file could not be taken back for REASON."""
    if reason == GONE:  # into the archive, most likely: queued anew, it would ring twice
        return NotFound(f"notice {notice_id} is no longer pending: Asterisk has called it (notice show {notice_id})")
    return NotCancelled(f"notice {notice_id} not moved: {reason}")


def _check_takeable(settings: Settings, notice_id: str, now: float) -> None:
    """_not_moved() unless NOTICE_ID's call file is in outgoing/ and may be taken back now."""
    folder, name = outgoing(settings), spool_file_name(settings, notice_id)
    for _, text, mtime in call_file_texts(folder, [name]):
        reason = file_refusal(name, text, mtime, now, settings.channel)
        if reason:
            raise _not_moved(notice_id, reason)
        return
    raise _not_moved(notice_id, GONE)


def _take_from_spool(settings: Settings, notice_id: str, now: float) -> str | None:
    """Remove NOTICE_ID's call file from outgoing/ unless Asterisk is calling it (or may be
    starting to); why not (GONE: it is not there), or None once removed."""
    folder, name = outgoing(settings), spool_file_name(settings, notice_id)

    reason = remove_call_file(folder, name, lambda text, mtime: file_refusal(name, text, mtime, now, settings.channel))
    if reason is None:
        sync_folder(folder)
    return reason


def _move_in_spool(settings: Settings, notice_id: str, due: int, now: float) -> Moved:
    """Direct delivery: spool the notice anew under a new id, then take the old file back; if
    Asterisk is calling it, the new one is taken back instead (exit 6). A crash between the
    two leaves both pending (notice list NUMBER shows them): cancel the old one. A notice twice
    is the lesser harm; the other order could lose it."""
    folder, name = outgoing(settings), spool_file_name(settings, notice_id)
    text = read_call_file(folder, name)
    notice = text and read_notice(name, text, settings.channel)
    if not notice:
        raise NotFound(f"notice {notice_id} is not pending in {folder}" +
                       (" nor waiting in the queue" if in_queue_mode(settings) else ""))
    reason = refusal(notice, mtime_of(folder, name) or now, now)
    if reason:
        raise NotCancelled(f"notice {notice_id} not moved: {reason}")
    new_id = new_notice_id(now, os.urandom(4))
    path = spool_call_file(retimed(text, new_id, due), call_file_name(new_id), due, settings.spool_dir,
                           settings.file_mode, settings.owner)
    reason = _take_from_spool(settings, notice_id, now)
    if reason:
        os.unlink(path)
        sync_folder(folder)
        raise _not_moved(notice_id, reason)
    return Moved(notice_id, new_id, due, notice.number)


# --- the engine's health -----------------------------------------------------------------------

class Health(Value):
    """notice status: the ENGINE (pid, start time) or None; the queue's COUNTS by state; how
    many wait in the INBOX; CALLING now; DUE_SOON (in the next hour); the FIRST queued notice
    (an Entry, or None); STALLED: a handed notice Asterisk has not begun STALL seconds
    after its time (id), or None."""

    __slots__ = ("engine", "counts", "inbox", "calling", "due_soon", "first", "stalled")

    def problem(self, lead: int, now: float) -> str | None:
        """Why a monitoring check should fail, or None."""
        if self.engine is None and self.first is not None and self.first.due <= now + lead:
            return "no engine runs and notices are due: start it (systemctl start notice-run)"
        if self.stalled:
            return f"Asterisk has not begun notice {self.stalled}, due a while ago: is Asterisk running?"
        return None


def _inbox_only(settings: Settings) -> list:
    """(due, notice) of the notices in the inbox, not yet in the queue, in due order."""
    return sorted(_in_inbox(settings, EVERYTHING).values())


def _in_inbox(settings: Settings, picked: Picked) -> dict[str, tuple[int, SpooledNotice]]:
    """{id: (due, notice)} of the notices in the inbox that PICKED picks."""
    found: dict[str, tuple[int, SpooledNotice]] = {}
    for name, data in call_file_bytes(inbox_folder(settings.data_dir), missing_ok=True):
        _add(found, None, data, settings, picked, name)
    return found


def _entry_of(notice: SpooledNotice) -> Entry:
    return Entry(notice.id, notice.number, notice.recording, notice.due, None, QUEUED, None, None)


def health(settings: Settings, now: float) -> Health:
    from .engine import STALL, engine_running

    engine = engine_running(settings.data_dir) if os.path.isdir(settings.data_dir) else None
    in_inbox = _inbox_only(settings)
    inbox = len(in_inbox)
    first_in_inbox = in_inbox[0] if in_inbox else None
    connection = _existing_queue(settings)
    if connection is None:
        first = None if first_in_inbox is None else _entry_of(first_in_inbox[1])
        return Health(engine, {}, inbox, 0, sum(now <= due <= now + 3600 for due, _ in in_inbox), first, None)
    try:
        tally = counts(connection)
        due_soon = due_between(connection, int(now), int(now) + 3600)
        first = first_due(connection)
        handed = in_state(connection, HANDED)
    finally:
        connection.close()
    if first_in_inbox is not None and (first is None or first_in_inbox[0] < first.due):
        first = _entry_of(first_in_inbox[1])
    due_soon += sum(now <= due <= now + 3600 for due, _ in in_inbox)
    calling, stalled = 0, None
    folder = outgoing(settings)
    for entry in handed:
        name = file_name_in_spool(entry.id, entry.call_file)
        for _, text, mtime in call_file_texts(folder, [name]):
            notice = read_notice(name, text, settings.channel)
            calling += bool(notice and notice.calling)
            if now - mtime >= STALL and stalled is None:  # Asterisk has not acted on it (engine.py)
                stalled = entry.id
    return Health(engine, tally, inbox, calling, due_soon, first, stalled)
