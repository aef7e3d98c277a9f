"""What the spool holds: the pending notices (outgoing/), the finished ones (outgoing_done/),
one notice in full; cancelling pending notices and pruning old finished ones.

spool_reader.py does the file-system work and record.py reads each call file; this module decides
what to read, what to keep and what may be removed. A listing streams the folder and keeps
only the notices its filter picks, never a file's text: its memory is the listing itself.
"""

from __future__ import annotations

import gc
import os
from collections import namedtuple
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from typing import Any

from .cleanup import discard_cancelled
from .errors import InvalidInput, NoticeError, NotCancelled, NotFound, shown
from .found import Found, Listed
from .notice import call_file_name, check_notice_id, check_number, notice_id_of
from .outcome import MAX_ATTEMPT
from .outcomes import attempt_asked, read_ledger, reports_in
from .record import SpooledNotice, read_listed, read_notice
from .settings import Settings
from .spool import ARCHIVE, OUTGOING, same_folder, sync_folder
from .spool_reader import call_file_bytes, mtime_of, read_call_file, remove_call_file
from .when import format_due, parse_instant

# Asterisk starts a call within a second after its due second: a notice due this soon (or
# overdue) may be opening right now, and removing it then would not stop the call.
CALL_GUARD = 2


class Picked(namedtuple("Picked", "numbers since until")):
    """A listing's filter: the clients' NUMBERS (a set; empty: all) and the time range [SINCE,
    UNTIL) (Unix seconds; None: open) of the time a listing shows."""

    __slots__ = ()

    @classmethod
    def given(cls, numbers: Iterable[str], since: str | None, until: str | None, zone, now: float) -> Picked:
        """The filter that the options of list and history give: the clients' NUMBERS, each
        checked, and the times SINCE and UNTIL (None: not given; see _given_time)."""
        def bound(text: str | None) -> int | None:
            return None if text is None else _given_time(text, zone, now)

        return cls(frozenset(check_number(number) for number in numbers), bound(since), bound(until))

    def covers(self, number: str | None, at: int | None) -> bool:
        if self.numbers and number not in self.numbers:
            return False
        if self.since is not None and (at is None or at < self.since):
            return False
        return self.until is None or (at is not None and at < self.until)


EVERYTHING = Picked(frozenset(), None, None)


def _given_time(text: str, zone, now: float) -> int:
    """A time the options of list and history give: in any form notice-spool takes, or a date
    alone (its midnight), in ZONE, a relative one from NOW."""
    return parse_instant(text, zone, now, date_alone=True)


def outgoing(settings: Settings) -> str:
    return os.path.join(settings.spool_dir, OUTGOING)


def archive(settings: Settings) -> str:
    return os.path.join(settings.spool_dir, ARCHIVE)


def pending(settings: Settings, picked: Picked = EVERYTHING) -> list[Listed]:
    """The pending notices PICKED picks, by the time Asterisk calls them next."""
    folder = outgoing(settings)
    numbers, timed = picked.numbers, picked.since is not None or picked.until is not None
    listed, unknown = [], []
    with collector_paused():
        for name, data in call_file_bytes(folder):
            notice = read_listed(name, data, settings.channel)
            if notice is None or (numbers and notice.number not in numbers):
                continue
            at = notice.next_call(mtime_of(folder, name) if notice.needs_mtime else None)
            if not timed or picked.covers(notice.number, at):
                (unknown if at is None else listed).append((at, notice))
    return _by_time(listed, unknown)


def finished(settings: Settings, picked: Picked = EVERYTHING, also: Iterable[Listed] = ()) -> list[Listed]:
    """The finished notices (Asterisk's archive) PICKED picks, and those ALSO gives (queue
    delivery's missed), by the time they were scheduled. A notice of reported delivery has a
    call file per attempt: it is listed once, by its latest attempt's (one_per_notice)."""
    listed, unknown, attempts = [], [], []
    with collector_paused():
        for name, data in call_file_bytes(archive(settings), missing_ok=True):
            notice = read_listed(name, data, settings.channel)
            if notice is None or not picked.covers(notice.number, notice.due):
                continue
            if notice.attempt is not None:
                attempts.append((notice.due, notice))
            else:
                (unknown if notice.due is None else listed).append((notice.due, notice))
    for entry in also:
        (listed if entry[1].attempt is None else attempts).append(entry)
    if attempts:
        listed, unknown = one_per_notice(listed, unknown, attempts)
    return _by_time(listed, unknown)


def one_per_notice(listed: list[Listed], unknown: list[Listed], attempts: list[Listed]) -> tuple[list, list]:
    """LISTED and UNKNOWN (of unknown time) with the ATTEMPTS' files of reported delivery, a
    notice once: by the file of its latest attempt (Asterisk's archive before the queue's
    missed of the same attempt: ATTEMPTS in that order), its attempts counting the calls of
    all its files -- with a Playback file of the same id (written by hand) among them."""
    files: dict[str, list[Listed]] = {}
    for entry in attempts:
        files.setdefault(entry[1].id, []).append(entry)
    listed, unknown = _others(listed, files), _others(unknown, files)
    for entries in files.values():
        at, latest = max(entries, key=lambda entry: entry[1].attempt or 0)  # the first of the highest
        notice = latest._replace(attempts=sum(entry[1].attempts for entry in entries))
        (unknown if at is None else listed).append((at, notice))
    return listed, unknown


def _others(entries: list[Listed], files: dict[str, list[Listed]]) -> list[Listed]:
    """The ENTRIES of notices FILES does not hold; those of a notice it holds go to its files."""
    others = []
    for entry in entries:
        same = files.get(entry[1].id)
        if same is None:
            others.append(entry)
        else:
            same.append(entry)
    return others


@contextmanager
def collector_paused():
    """Python's cycle collector paused while a scan makes 100,000s of objects with no cycle
    among them, and the listing moved past it once the scan is done: a tenth of notice
    list's time (why, and the figures: fast_listing.py's note)."""
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
    compares by its id first, and no two have the same id)."""
    listed.sort()
    if unknown:
        unknown.sort(key=lambda entry: entry[1].id)
        listed += unknown
    return listed


def spool_file_name(settings: Settings, notice_id: str) -> str:
    """The name of NOTICE_ID's call file in Asterisk's spool now: in reported delivery, that of
    its current attempt (notice-<id>.<k>.call, outcomes.current_attempt)."""
    from .outcomes import current_attempt

    attempt = current_attempt(settings.data_dir, check_notice_id(notice_id))
    # notice report spools the next attempt before it keeps its report: killed in between, the
    # ledger names the attempt before the one waiting in outgoing/.
    following = call_file_name(notice_id, attempt + 1)
    if os.path.lexists(os.path.join(outgoing(settings), following)):
        return following
    return call_file_name(notice_id, attempt)


def find(settings: Settings, notice_id: str) -> Found:
    """The notice NOTICE_ID, pending or finished, by the file of its latest attempt; NotFound
    if neither. A notice of Playback delivery has one file, and no ledger to read."""
    first = _found(settings, call_file_name(check_notice_id(notice_id)))
    if first is not None and first.notice.attempt is None:
        return first
    ledger = read_ledger(settings.data_dir, notice_id)
    found = latest_attempt(notice_id, ledger, lambda name: _found(settings, name))
    if found is None:
        raise NotFound(f"notice {notice_id} is neither pending in {outgoing(settings)} nor finished in "
                       f"{archive(settings)}")
    return in_full(settings, found, ledger)


def _found(settings: Settings, name: str) -> Found | None:
    """The notice in the call file NAME, pending or finished; None if neither."""
    for is_pending, folder in ((True, outgoing(settings)), (False, archive(settings))):
        text = read_call_file(folder, name)
        notice = text and read_notice(name, text, settings.channel)
        if notice:
            return Found(is_pending, os.path.join(folder, name), text, mtime_of(folder, name), notice)
    return None


def latest_attempt(notice_id: str, ledger: list, probe: Callable[[str], Any]) -> Any:
    """PROBE(name) of the call file of NOTICE_ID's latest attempt (None: none): from the attempt
    its LEDGER asked for last down to the first (a later attempt's file is spooled before its
    report is kept), then any later ones (a ledger that lost lines)."""
    attempt, found = min(attempt_asked(reports_in(ledger)), MAX_ATTEMPT), None
    for attempt in range(attempt, 0, -1):
        found = probe(call_file_name(notice_id, attempt))
        if found is not None:
            break
    while attempt < MAX_ATTEMPT:
        later = probe(call_file_name(notice_id, attempt + 1))
        if later is None:
            break
        found, attempt = later, attempt + 1
    return found


def in_full(settings: Settings, found: Found, ledger: list | None = None) -> Found:
    """FOUND with what notice show tells of reported delivery: the archived files of the
    attempts before its latest, and its LEDGER (read if None)."""
    notice = found.notice
    if notice.attempt is None:
        return found
    folder, earlier = archive(settings), []
    for attempt in range(1, notice.attempt):
        text = read_call_file(folder, call_file_name(notice.id, attempt))
        if text is not None and read_notice(call_file_name(notice.id, attempt), text, settings.channel):
            earlier.append((attempt, text))
    if ledger is None:
        ledger = read_ledger(settings.data_dir, notice.id)
    return found._replace(earlier=tuple(earlier), ledger=tuple(ledger))


# --- cancelling ----------------------------------------------------------------------------

class Targets(namedtuple("Targets", "notices not_found numbers")):
    """What cancel is asked to do, as the spool has it now: the pending NOTICES to cancel (each
    once), the ids or paths given that are NOT_FOUND among the pending notices, and the
    clients' NUMBERS whose pending notices were asked for."""

    __slots__ = ()

    def question(self, zone) -> str:
        """What to ask a person before cancelling."""
        count = len(self.notices)
        lines = [f"  {describe(notice, notice.due, zone)} ({notice.state})" for notice in self.notices]
        return "\n".join([f"Cancel {count} notice{'s' if count != 1 else ''}:"] + lines + ["Cancel them?"])


def cancel_targets(settings: Settings, named: Iterable[str], numbers: Iterable[str]) -> Targets:
    """The pending notices to cancel: those NAMED (ids or their call files' paths) and all of
    the clients' NUMBERS (each checked)."""
    numbers = frozenset(check_number(number) for number in numbers)
    folder = outgoing(settings)
    targets, not_found, seen = [], [], set()
    for given in named:
        name = _call_file_in(given, folder, settings)
        text = read_call_file(folder, name)
        notice = text and read_notice(name, text, settings.channel)
        if not notice:
            not_found.append(given)
        elif notice.id not in seen:
            seen.add(notice.id)
            targets.append(notice)
    if numbers:
        for _, notice in pending(settings, Picked(numbers, None, None)):
            if notice.id not in seen:
                seen.add(notice.id)
                targets.append(notice)
    return Targets(targets, not_found, numbers)


def _call_file_in(given: str, folder: str, settings: Settings) -> str:
    """The name in FOLDER of the notice GIVEN by its id or by its call file's path; anything
    outside FOLDER is refused, so cancel can never remove another file."""
    if "/" not in given and not given.endswith(".call"):
        return spool_file_name(settings, given)
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


def file_refusal(name: str, text: str, mtime: float, now: float, channel_template: str | None = None) -> str | None:
    """refusal() of the call file NAME in outgoing/ as it is now (TEXT, MTIME); one that is no
    notice of ours is refused too."""
    notice = read_notice(name, text, channel_template)
    return "it is no longer a notice of ours" if notice is None else refusal(notice, mtime, now)


class Cancelled(namedtuple("Cancelled", "targets notices refused forced recordings")):
    """What cancel() did with its TARGETS: the NOTICES cancelled; (id, why) of those REFUSED,
    left in the spool because Asterisk is calling them or may be starting to; the ids of the
    cancelled ones that refusal() would have kept (FORCED: Asterisk may be calling); and what
    became of the cancelled notices' RECORDINGS ({Data line: cleanup's Fate})."""

    __slots__ = ()

    def report(self, zone) -> list[str]:
        """A line for each notice cancelled, and what became of its recording."""
        lines = []
        for notice in self.notices:
            fate = self.recordings.get(notice.recording)
            lines.append(f"cancelled {describe(notice, notice.due, zone)}{'; ' + fate.clause() if fate else ''}")
        return lines

    def refusals(self) -> list[str]:
        """A line for each notice left in the spool, and why."""
        return [f"{notice_id} not cancelled: {why}" for notice_id, why in self.refused]

    def failure(self, spool_dir: str) -> NoticeError | None:
        """The error cancel ends with, once the others are cancelled: NotFound (exit 5) if a
        name given is not a pending notice or the numbers given have none; else NotCancelled
        (exit 6) if a notice was left in the spool; else None (exit 0)."""
        targets = self.targets
        if targets.not_found:
            return NotFound(f"not pending in {spool_dir}/outgoing: {', '.join(targets.not_found)}")
        if targets.numbers and not targets.notices:
            return NotFound(f"no pending notice to {', '.join(sorted(targets.numbers))}")
        if self.refused:
            return NotCancelled(f"{len(self.refused)} of {len(self.notices) + len(self.refused)} notices left in the spool; cancel "
                                "them once their call is over (or --force if Asterisk is not running)")
        return None


def cancel(settings: Settings, targets: Targets, now: float, force: bool = False) -> Cancelled:
    """Remove the TARGETS' call files, each checked again as it is right now (not as listed a
    prompt ago); FORCE skips refusal(). The folder is fsynced, so a cancelled notice stays
    cancelled after a crash. Then the recordings no other notice plays go too (cleanup.py)."""
    folder = outgoing(settings)
    cancelled, refused, forced = [], [], set()
    for target in targets.notices:
        name = spool_file_name(settings, target.id)
        current = []

        def check(text: str, mtime: float) -> str | None:
            notice = read_notice(name, text, settings.channel)
            if notice is None:
                return "it is no longer a notice of ours"
            current.append((notice, refusal(notice, mtime, now)))
            return None if force else current[-1][1]

        reason = remove_call_file(folder, name, check)
        if reason:
            refused.append((target.id, reason))
            continue
        notice, would_refuse = current[-1]
        cancelled.append(notice)
        if would_refuse:
            forced.add(notice.id)
    if cancelled:
        sync_folder(folder)
    return Cancelled(targets, cancelled, refused, forced, discard_cancelled(settings, cancelled, forced))


# --- pruning the archive -------------------------------------------------------------------

class Pruning(namedtuple("Pruning", "names before")):
    """What notice history --prune-before deletes: the NAMES of notice-cli's files in the
    archive that Asterisk archived before BEFORE (Unix seconds)."""

    __slots__ = ()

    def question(self, zone) -> str:
        return f"Delete {len(self.names)} finished notices archived before {format_due(self.before, zone)}?"

    def report(self, removed: int, zone) -> str:
        return f"deleted {removed} finished notices archived before {format_due(self.before, zone)}"


def prunable(settings: Settings, before: str, now: float) -> Pruning:
    """The finished notices archived before BEFORE, a time as the filters take it (the file's
    mtime: its Status line's time)."""
    before = _given_time(before, settings.zone, now)
    folder = archive(settings)
    names = []
    for name, data in call_file_bytes(folder, missing_ok=True):
        mtime = mtime_of(folder, name) if read_listed(name, data, settings.channel) else None
        if mtime is not None and mtime < before:
            names.append(name)
    return Pruning(names, before)


def prune(settings: Settings, pruning: Pruning) -> int:
    """Remove the archived call files of PRUNING still archived before its time; returns how
    many were removed."""
    folder = archive(settings)
    removed = 0
    for name in pruning.names:
        if remove_call_file(folder, name,
                            lambda text, mtime: None if mtime < pruning.before else "archived since") is None:
            removed += 1
            _prune_ledger(settings, name)
    if removed:
        sync_folder(folder)
    return removed


def _prune_ledger(settings: Settings, name: str) -> None:
    """Remove the outcomes ledger of a notice in reported delivery with the archived call file
    NAME of its last attempt, once the notice is over (outcomes.py)."""
    from .notice import attempt_of
    from .outcome import final
    from .outcomes import ledger_path, read_ledger, reports_in

    notice_id = notice_id_of(name)
    reports = reports_in(read_ledger(settings.data_dir, notice_id))
    ended = final(reports)
    if ended is not None and ended.attempt == attempt_of(name):
        try:
            os.unlink(ledger_path(settings.data_dir, notice_id))
        except FileNotFoundError:
            pass


def describe(notice: SpooledNotice, at: int | None, zone) -> str:
    """A notice in one line of a command's report: its number and its time."""
    when = format_due(at, zone) if at is not None else "an unknown time"
    return f"{notice.id}: {notice.number or 'unknown number'} due {when}"
