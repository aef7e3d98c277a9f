"""What the spool holds: the pending notices (outgoing/), the finished ones (outgoing_done/),
one notice in full; cancelling pending notices and pruning old finished ones.

spool.py does the file-system work and record.py reads each call file; this module decides
what to read, what to keep and what may be removed. A listing streams the folder and keeps
only the notices its filter picks, never a file's text: its memory is the listing itself.
"""

from __future__ import annotations

import gc
import os
from collections import namedtuple
from contextlib import contextmanager

from .errors import InvalidInput, NotFound, shown
from .found import Found, Listed
from .notice import call_file_name, check_notice_id, notice_id_of
from .record import SpooledNotice, read_listed, read_notice
from .settings import Settings
from .spool import (ARCHIVE, OUTGOING, call_file_bytes, mtime_of, read_call_file, remove_call_file, same_folder,
                    sync_folder)
from .when import format_due

# Asterisk starts a call within a second after its due second: a notice due this soon (or
# overdue) may be opening right now, and removing it then would not stop the call.
CALL_GUARD = 2


class Picked(namedtuple("Picked", "numbers since until")):
    """A filter: the clients' NUMBERS (a set; empty: all) and the time range [SINCE, UNTIL)
    (Unix seconds; None: open) of the time a listing shows."""

    __slots__ = ()

    def covers(self, number: str | None, at: int | None) -> bool:
        if self.numbers and number not in self.numbers:
            return False
        if self.since is not None and (at is None or at < self.since):
            return False
        return self.until is None or (at is not None and at < self.until)


EVERYTHING = Picked(frozenset(), None, None)


def outgoing(settings: Settings) -> str:
    return os.path.join(settings.spool_dir, OUTGOING)


def archive(settings: Settings) -> str:
    return os.path.join(settings.spool_dir, ARCHIVE)


def pending(settings: Settings, picked: Picked = EVERYTHING) -> list[Listed]:
    """The pending notices PICKED picks, by the time Asterisk calls them next."""
    folder = outgoing(settings)
    numbers, timed = picked.numbers, picked.since is not None or picked.until is not None
    listed, unknown = [], []
    with _collector_paused():
        for name, data in call_file_bytes(folder):
            notice = read_listed(name, data, settings.channel)
            if notice is None or (numbers and notice.number not in numbers):
                continue
            at = notice.next_call(mtime_of(folder, name) if notice.needs_mtime else None)
            if not timed or picked.covers(notice.number, at):
                (unknown if at is None else listed).append((at, notice))
    return _by_time(listed, unknown)


def finished(settings: Settings, picked: Picked = EVERYTHING) -> list[Listed]:
    """The finished notices (Asterisk's archive) PICKED picks, by the time they were scheduled."""
    listed, unknown = [], []
    with _collector_paused():
        for name, data in call_file_bytes(archive(settings), missing_ok=True):
            notice = read_listed(name, data, settings.channel)
            if notice is not None and picked.covers(notice.number, notice.due):
                (unknown if notice.due is None else listed).append((notice.due, notice))
    return _by_time(listed, unknown)


@contextmanager
def _collector_paused():
    """A scan makes 100,000s of tuples and strings and no reference cycle: Python's cycle
    collector would only walk the growing listing again and again (a fifth of the time).
    What the scan made outlives it (the listing): freeze() and unfreeze() move it to the
    oldest generation at once, without looking at it, so that the young collections of the
    printing that follows do not walk it through the generations (a tenth of a second at
    100,000 notices)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def _by_time(listed: list[Listed], unknown: list[Listed]) -> list[Listed]:
    """LISTED by time, then id, and after them the notices of UNKNOWN time by id (a notice
    compares by its id first, and no two have the same id). The entries are plain (at,
    notice) tuples, made so in the scan rather than by Listed(), whose __new__ is a Python
    function: a microsecond a notice, a tenth of the floor a listing is measured against."""
    listed.sort()
    if unknown:
        unknown.sort(key=lambda entry: entry[1].id)
        listed += unknown
    return listed


def find(settings: Settings, notice_id: str) -> Found:
    """The notice NOTICE_ID, pending or finished; NotFound if neither."""
    name = call_file_name(check_notice_id(notice_id))
    for is_pending, folder in ((True, outgoing(settings)), (False, archive(settings))):
        text = read_call_file(folder, name)
        notice = text and read_notice(name, text, settings.channel)
        if notice:
            return Found(is_pending, os.path.join(folder, name), text, mtime_of(folder, name), notice)
    raise NotFound(f"notice {notice_id} is neither pending in {outgoing(settings)} nor finished in "
                   f"{archive(settings)}")


# --- cancelling ----------------------------------------------------------------------------

def cancel_targets(settings: Settings, named: list[str],
                   numbers: frozenset[str]) -> tuple[list[SpooledNotice], list[str]]:
    """The pending notices to cancel: those NAMED (ids or their call files' paths) and all of
    the clients NUMBERS; and the names that are not pending notices."""
    folder = outgoing(settings)
    targets, missing, seen = [], [], set()
    for given in named:
        name = _call_file_in(given, folder)
        text = read_call_file(folder, name)
        notice = text and read_notice(name, text, settings.channel)
        if not notice:
            missing.append(given)
        elif notice.id not in seen:
            seen.add(notice.id)
            targets.append(notice)
    if numbers:
        for _, notice in pending(settings, Picked(numbers, None, None)):
            if notice.id not in seen:
                seen.add(notice.id)
                targets.append(notice)
    return targets, missing


def _call_file_in(given: str, folder: str) -> str:
    """The name in FOLDER of the notice GIVEN by its id or by its call file's path; anything
    outside FOLDER is refused, so cancel can never remove another file."""
    if "/" not in given and not given.endswith(".call"):
        return call_file_name(check_notice_id(given))
    parent, name = os.path.split(given)
    if parent and not same_folder(parent, folder):
        raise InvalidInput(f"{shown(given)} is not in {folder}; cancel removes only pending notices there")
    if notice_id_of(name) is None:
        raise InvalidInput(f"{shown(given)} is not a notice's call file (notice-<id>.call)")
    return name


def refusal(notice: SpooledNotice, mtime: float, now: float) -> str | None:
    """Why the pending NOTICE (its call file's MTIME: when Asterisk calls) must not be removed
    NOW, or None. Removing a file while Asterisk calls does not stop the call, and Asterisk
    then writes the file anew to record the attempt."""
    if notice.calling:
        return f"Asterisk is calling {notice.number} now (attempt {notice.attempts})"
    if mtime < now + CALL_GUARD:
        return "it is due this moment and Asterisk may be starting the call"
    return None


class Cancelled(namedtuple("Cancelled", "notices refused forced")):
    """What cancel() did: the NOTICES cancelled, (id, why) of those REFUSED, and the ids of
    the cancelled ones that refusal() would have kept (FORCED: Asterisk may be calling)."""

    __slots__ = ()


def cancel(settings: Settings, targets: list[SpooledNotice], now: float, force: bool = False) -> Cancelled:
    """Remove the TARGETS' call files, each checked again as it is right now (not as listed a
    prompt ago); FORCE skips refusal(). The folder is fsynced, so a cancelled notice stays
    cancelled after a crash."""
    folder = outgoing(settings)
    done = Cancelled([], [], set())
    for target in targets:
        name = call_file_name(target.id)
        current = []

        def check(text: str, mtime: float) -> str | None:
            notice = read_notice(name, text, settings.channel)
            if notice is None:
                return "it is no longer a notice of ours"
            current.append((notice, refusal(notice, mtime, now)))
            return None if force else current[-1][1]

        reason = remove_call_file(folder, name, check)
        if reason:
            done.refused.append((target.id, reason))
            continue
        notice, would_refuse = current[-1]
        done.notices.append(notice)
        if would_refuse:
            done.forced.add(notice.id)
    if done.notices:
        sync_folder(folder)
    return done


# --- pruning the archive -------------------------------------------------------------------

def prunable(settings: Settings, before: int) -> list[str]:
    """The names of notice-cli's files in the archive that Asterisk archived before BEFORE
    (the file's mtime: its Status line's time)."""
    folder = archive(settings)
    names = []
    for name, data in call_file_bytes(folder, missing_ok=True):
        mtime = mtime_of(folder, name) if read_listed(name, data, settings.channel) else None
        if mtime is not None and mtime < before:
            names.append(name)
    return names


def prune(settings: Settings, names: list[str], before: int) -> int:
    """Remove the archived call files NAMES (from prunable()) still archived before BEFORE;
    returns how many were removed."""
    folder = archive(settings)
    removed = 0
    for name in names:
        if remove_call_file(folder, name, lambda text, mtime: None if mtime < before else "archived since") is None:
            removed += 1
    if removed:
        sync_folder(folder)
    return removed


def describe(notice: SpooledNotice, at: int | None, zone) -> str:
    """A notice in one line of a command's report: its number and its time."""
    when = format_due(at, zone) if at is not None else "an unknown time"
    return f"{notice.id}: {notice.number or 'unknown number'} due {when}"
