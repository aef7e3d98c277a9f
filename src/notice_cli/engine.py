"""notice run: the delivery engine of queue delivery. It takes the inbox into the queue, hands
each notice to Asterisk as a call file `lead` seconds before it is due, no more than max_calls
in progress and call_rate starting a second (pacing.py), notes what Asterisk made of each
(its archive in outgoing_done/), and marks missed the notices it could not start within
late_limit. The README's "Queue delivery" tells the design; here is how each step is safe.

- One engine per data_dir: it holds an exclusive flock on data_dir/engine.lock for its life
  (the lock dies with the process, so a killed engine never blocks the next one), and writes
  its pid and start time there for notice status.
- A hand-off is idempotent: notices are claimed (state handing) in one transaction, their
  call files written by spool_writer.spool_call_files, which writes nothing for a name
  already in outgoing/ or outgoing_done/, and then marked handed. An engine killed anywhere
  in between finds them handing at its next start and hands them again: each file is written
  once, so each notice rings once.
- Asterisk's own count of what it does is the spool: a handed notice's file is in outgoing/
  until Asterisk archives it with its Status. The engine reads nothing else (no AMI).
- SIGTERM (systemd's stop) ends the loop after the step under way; SIGKILL loses nothing,
  by the two points above.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Callable

from .errors import NoticeError, SpoolError, EXIT_ENGINE_RUNNING
from .inbox import as_written, take_inbox
from .inventory import file_refusal
from .pacing import StartSeconds, is_late, room
from .queue import (CANCELLED, FINISHED, HANDED, HANDING, MISSED, QUEUED, changed_since, claim_due, in_state, mark,
                    miss_overdue,
                    open_queue)
from .notice import file_name_in_spool, is_notice_id, notice_id_of
from .record import read_notice
from .settings import Settings
from .spool import ARCHIVE, OUTGOING, explain_failure, missing_data_dir
from .spool_reader import GONE, read_call_file, remove_call_file
from .spool_writer import spool_call_files

LOCK_FILE = "engine.lock"
TICK = 0.5  # seconds between two looks at the inbox and the spool
# A handed file due this long ago that Asterisk has not begun: Asterisk is not taking call
# files (stopped, or its spool thread stuck); the engine hands no more until it does.
STALL = 10
# A handed file gone from outgoing/ without reaching outgoing_done/ (Asterisk found it invalid
# and deleted it, or someone removed it): after this long, its outcome is "gone".
GONE_AFTER = 5
# How often the engine looks for notices cancelled since its last look whose cancel was cut
# short before their files left outgoing/ (a cancel killed between its two steps).
CANCELLED_CHECK = 10
RETRY_PAUSE = 5  # seconds after a failed step
HAND_BATCH = 500  # notices claimed and handed in one step: a step stays short
HAND_TRIES = 3  # failed hand-offs of one notice before it is failed for good


class EngineRunning(NoticeError):
    """Another notice run holds the data_dir."""

    exit_code = EXIT_ENGINE_RUNNING


class Engine:
    """One engine over SETTINGS' data_dir and spool; SAY(line) reports what it does (stderr:
    systemd's journal)."""

    def __init__(self, settings: Settings, say: Callable[[str], None]):
        self.settings = settings
        self.say = say
        self.outgoing = os.path.join(settings.spool_dir, OUTGOING)
        self.archive = os.path.join(settings.spool_dir, ARCHIVE)
        self.starts = StartSeconds(settings.call_rate)
        self.missing_since: dict[str, float] = {}
        self.stalled = False
        self.connection = None
        self.cancelled_checked = 0.0
        self.left: set[str] = set()  # notices whose file could not be taken back, said once
        self.failures: dict[str, int] = {}  # failed hand-offs of a notice, this run

    # --- the loop ---------------------------------------------------------------------------

    def run(self, clock: Callable[[], float] = time.time, stop_after: float | None = None) -> None:
        """Hold the lock and loop until SIGTERM or SIGINT (or, for tests, STOP_AFTER seconds)."""
        stopping = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(True))
        lock = hold_lock(self.settings.data_dir, clock())
        try:
            self.connection = open_queue(self.settings.data_dir)
            started = clock()
            self.say(f"started on {self.settings.data_dir} (max_calls {self.settings.max_calls or 'no limit'}, "
                     f"call_rate {self.settings.call_rate or 'no limit'}, lead {self.settings.lead} s, "
                     f"late_limit {self.settings.late_limit} s)")
            self.recover(clock())
            while not stopping and (stop_after is None or clock() - started < stop_after):
                try:
                    self.step(clock())
                except (NoticeError, sqlite3.Error) as problem:  # the disk full, the queue locked
                    self.say(f"error: {problem}; trying again in {RETRY_PAUSE} s")
                    time.sleep(RETRY_PAUSE)
                except Exception as problem:  # a bug: said, and the next step tried, not a crash loop
                    self.say(f"internal error ({type(problem).__name__}: {problem}); please report it; "
                             f"trying again in {RETRY_PAUSE} s")
                    time.sleep(RETRY_PAUSE)
                time.sleep(TICK)
            self.say("stopped")
        finally:
            if self.connection is not None:
                self.connection.close()
            os.close(lock)

    def recover(self, now: float) -> None:
        """After a crash: take back the call files of notices cancelled or moved whose removal
        the crash cut short (step() hands again what was being handed)."""
        # A cancel older than a day whose file is still there has rung by now, if Asterisk runs.
        self._take_back_cancelled(changed_since(self.connection, CANCELLED, int(now) - 86400), now)
        self.cancelled_checked = now
        # The start seconds an engine before this one gave: its files still to start keep them,
        # so that call_rate holds across a restart.
        present = mtimes_in(self.outgoing)
        for entry in in_state(self.connection, HANDED):
            mtime = present.get(_name(entry))
            if mtime is not None and mtime > now:
                self.starts.take(int(mtime), now)

    def _take_back_cancelled(self, entries, now: float) -> None:
        """A notice cancel or move marked cancelled and then, killed, never took back: its
        file is removed from outgoing/ unless Asterisk is calling it."""
        for entry in entries:
            if os.path.lexists(os.path.join(self.outgoing, _name(entry))):
                self._take_back(entry, now, "cancelled")

    def step(self, now: float) -> None:
        """One look: take the inbox in, note what Asterisk finished, mark the late ones missed,
        hand what is due and has room."""
        taken = take_inbox(self.connection, self.settings.data_dir, int(now))
        for name in taken.left:
            self.say(f"set {name} aside in {self.settings.data_dir}/rejected: it is not a notice's call file as "
                     "notice-spool writes one, and is never handed to Asterisk")
        in_progress = self.follow_handed(now)
        if now - self.cancelled_checked >= CANCELLED_CHECK:
            since = int(self.cancelled_checked) - CANCELLED_CHECK * 6  # a cancel's clock read before its commit
            self._take_back_cancelled(changed_since(self.connection, CANCELLED, since), now)
            self.cancelled_checked = now
        for entry in miss_overdue(self.connection, int(now) - self.settings.late_limit, int(now)):
            self._say_missed(entry)
        if self.stalled:
            return
        self.starts.forget_before(now)
        handing = self._miss_unwritten_late(in_state(self.connection, HANDING), now)
        if handing:  # a hand-off a crash or a failure cut short: written at most once (see above)
            self.say(f"handing again {len(handing)} notice(s) a stop or a failure cut short")
            self._hand(handing, now)
            in_progress += len(handing)
        space = room(self.settings.max_calls, in_progress)
        limit = HAND_BATCH if space is None else min(space, HAND_BATCH)
        if limit:
            claimed = claim_due(self.connection, int(now) + self.settings.lead, limit, int(now))
            if claimed:
                self._hand(claimed, now)

    # --- handing ----------------------------------------------------------------------------

    def _miss_unwritten_late(self, handing, now: float) -> list:
        """Of the notices a crash left HANDING, mark missed those past late_limit whose call
        file was never written (a power cut during a hand-off, the PBX back the next day):
        handed now, they would ring late_limit after their time. The others are returned."""
        kept = []
        for entry in handing:
            if self._written(entry) or not is_late(entry.due, now, self.settings.late_limit):
                kept.append(entry)
            elif mark(self.connection, entry.id, MISSED, int(now), "late", was=(HANDING,)):
                self._say_missed(entry)
        return kept

    def _written(self, entry) -> bool:
        """Whether ENTRY's call file is in outgoing/ or the archive already."""
        name = _name(entry)
        return any(os.path.lexists(os.path.join(folder, name)) for folder in (self.outgoing, self.archive))

    def _say_missed(self, entry) -> None:
        self.say(f"missed {entry.id} to {entry.number}: not started within {self.settings.late_limit} s of its time")

    def _hand(self, entries, now: float) -> None:
        """Write ENTRIES' call files into outgoing/, each timed to its start second, then mark
        them handed. A file already there (a hand-off a crash cut short) is not written again.
        A notice that cannot be handed (not a call file as notice-cli writes one, or one the
        spool refuses again and again) is failed, so that it never stops the others."""
        entries, starts = self._paced([entry for entry in entries if self._handable(entry, now)], now)
        handed: set[str] = set()

        def moved(path: str) -> None:
            handed.add(path)

        settings = self.settings
        files = ((entry.call_file, _name(entry), starts[entry.id]) for entry in entries)
        try:
            spool_call_files(files, settings.spool_dir, settings.file_mode, settings.owner, moved, moved)
        except SpoolError as problem:
            self._count_failures([entry for entry in entries if not self._is_in(handed, entry)], str(problem), now)
            raise
        finally:
            for entry in entries:
                if self._is_in(handed, entry):
                    self._handed(entry, now)
        late = [entry for entry in entries if starts[entry.id] > entry.due]
        if entries:
            self.say(f"handed {len(entries)} notice(s) to Asterisk" +
                     (f", {len(late)} paced after their time" if late else ""))

    def _paced(self, entries, now: float) -> tuple[list, dict[str, int]]:
        """ENTRIES (in due order) that can start by NOW + lead at call_rate, with their start
        seconds: the others go back to the queue, to be handed in a later step (a file waits in
        outgoing/ no longer than lead), and one that would start more than late_limit after
        its time is missed rather than rung late."""
        kept, starts = [], {}
        for at, entry in enumerate(entries):
            if self._written(entry):  # a hand-off a crash cut short after the write: Asterisk's now
                kept.append(entry)
                starts[entry.id] = entry.due
                continue
            second = self.starts.peek(entry.due, now)
            if second > now + self.settings.lead:
                for later in entries[at:]:
                    mark(self.connection, later.id, QUEUED, int(now), was=(HANDING,))
                break
            if is_late(entry.due, second, self.settings.late_limit):
                if mark(self.connection, entry.id, MISSED, int(now), "late", was=(HANDING,)):
                    self._say_missed(entry)
                continue
            self.starts.take(second, now)
            kept.append(entry)
            starts[entry.id] = second
        return kept, starts

    def _is_in(self, handed: set[str], entry) -> bool:
        return os.path.join(self.outgoing, _name(entry)) in handed

    def _handable(self, entry, now: float) -> bool:
        """Whether ENTRY's call file is one notice-cli writes: the engine hands the text as it
        stands, so a row changed in the database by hand (or damaged) is failed, never handed."""
        if isinstance(entry.call_file, str) and is_notice_id(entry.id) and as_written(entry.call_file):
            return True
        self._fail(entry, "its call file in the queue is not one notice-cli writes", now)
        return False

    def _count_failures(self, entries, why: str, now: float) -> None:
        """A failed hand-off: the notice tried first failed; after HAND_TRIES it is failed for
        good, so that one poison notice cannot stop every delivery behind it."""
        if not entries:
            return
        first = entries[0]
        self.failures[first.id] = self.failures.get(first.id, 0) + 1
        if self.failures[first.id] >= HAND_TRIES:
            self._fail(first, why, now)

    def _fail(self, entry, why: str, now: float) -> None:
        if mark(self.connection, entry.id, FINISHED, int(now), f"failed: {why}", was=(QUEUED, HANDING)):
            self.say(f"failed {entry.id} to {entry.number}: {why}; it is not called")
        self.failures.pop(entry.id, None)

    def _handed(self, entry, now: float) -> None:
        if not mark(self.connection, entry.id, HANDED, int(now), was=(HANDING,)):
            # cancelled meanwhile (notice cancel of a handing notice): take the file back
            self._take_back(entry, now, "cancelled")

    def _take_back(self, entry, now: float, why: str, stalled: bool = False) -> bool:
        """Remove the call file of ENTRY from outgoing/ unless Asterisk is calling it (or,
        unless STALLED, may be starting to: inventory.refusal); whether this removed it."""
        notice_id, name = entry.id, _name(entry)

        def check(text: str, mtime: float) -> str | None:
            if not stalled:
                return file_refusal(name, text, mtime, now)
            # Asterisk has not touched the file for STALL seconds: only a running call stays.
            notice = read_notice(name, text)
            if notice is None:
                return "it is no longer a notice of ours"
            return f"Asterisk is calling {notice.number}" if notice.calling else None

        reason = remove_call_file(self.outgoing, name, check)
        if reason is None:
            return True
        # Gone meanwhile: archived by Asterisk (follow_handed() reads its outcome) or removed.
        if reason != GONE and notice_id not in self.left:  # said once, not at every look
            self.left.add(notice_id)
            self.say(f"left {notice_id} ({why}) in outgoing/: {reason}")
        return False

    # --- following what Asterisk does -----------------------------------------------------------

    def follow_handed(self, now: float) -> int:
        """Note the outcome of each handed notice Asterisk has finished; return how many are
        still in progress (their files in outgoing/)."""
        handed = in_state(self.connection, HANDED)
        limited = self.settings.max_calls > 0
        if not handed and not limited:
            self.stalled = False
            return 0
        present = mtimes_in(self.outgoing)
        in_progress, waiting = self._others_in(present, handed) if limited else 0, []
        for entry in handed:
            name = _name(entry)
            mtime = present.get(name)
            if mtime is None:
                self._finished(entry, name, now)
                continue
            self.missing_since.pop(entry.id, None)
            in_progress += 1
            # Asterisk moves a file's mtime ahead (RetryTime) whenever it begins or ends an
            # attempt: a file whose mtime is STALL seconds past is one it has not acted on.
            if now - mtime >= STALL:
                waiting.append(entry)
        taken = self._miss_late(waiting, now) if waiting else 0
        in_progress -= taken
        stalled = len(waiting) > taken
        if stalled != self.stalled:
            self.say("Asterisk is not taking call files: handing stops until it does" if stalled
                     else "Asterisk takes call files again")
        self.stalled = stalled
        return in_progress

    @staticmethod
    def _others_in(present: dict[str, float], handed) -> int:
        """How many call files of notice-cli's in outgoing/ (PRESENT) are no HANDED notice's:
        a call of reported delivery still ending after its report queued the next attempt, or
        a file spooled in direct delivery. Each may hold a channel, so each counts against
        max_calls."""
        names = {_name(entry) for entry in handed}
        return sum(1 for name in present if name not in names and notice_id_of(name) is not None)

    def _miss_late(self, waiting, now: float) -> int:
        """Of the handed notices WAITING for a stalled Asterisk, take back those past late_limit
        (unless Asterisk is calling them after all) and mark them missed; how many."""
        taken = 0
        for entry in waiting:
            if is_late(entry.due, now, self.settings.late_limit) and self._take_back(entry, now, "missed", stalled=True):
                mark(self.connection, entry.id, MISSED, int(now), "late", was=(HANDED,))
                self.say(f"missed {entry.id} to {entry.number}: Asterisk did not start it within "
                         f"{self.settings.late_limit} s of its time")
                taken += 1
        return taken

    def _finished(self, entry, name: str, now: float) -> None:
        """The handed notice's file has left outgoing/: note Asterisk's Status from the archive."""
        text = read_call_file(self.archive, name) if os.path.isdir(self.archive) else None
        notice = text and read_notice(name, text)
        if notice and notice.status:
            mark(self.connection, entry.id, FINISHED, int(now), notice.status, was=(HANDED,))
            self.say(f"finished {entry.id} to {entry.number}: {notice.status} after {notice.attempts} attempt(s)")
            self.missing_since.pop(entry.id, None)
            return
        since = self.missing_since.setdefault(entry.id, now)
        if now - since >= GONE_AFTER:
            mark(self.connection, entry.id, FINISHED, int(now), "gone", was=(HANDED,))
            self.say(f"finished {entry.id} to {entry.number}: its call file left outgoing/ with no Status in "
                     f"{self.archive} (Asterisk found it invalid, or it was removed)")
            self.missing_since.pop(entry.id, None)


def _name(entry) -> str:
    """The name of ENTRY's call file in Asterisk's spool (reported delivery: its attempt's)."""
    return file_name_in_spool(entry.id, entry.call_file)


def mtimes_in(folder: str) -> dict[str, float]:
    """{name: mtime} of the files in FOLDER now (one gone meanwhile is left out)."""
    found = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    found[entry.name] = entry.stat(follow_symlinks=False).st_mtime
                except FileNotFoundError:
                    pass
    except OSError as problem:
        raise SpoolError(explain_failure(problem, folder, "read", "the user Asterisk runs as")) from None
    return found


# --- the lock ----------------------------------------------------------------------------------

def hold_lock(data_dir: str, now: float) -> int:
    """Take data_dir/engine.lock for this engine's life; EngineRunning if another holds it."""
    path = os.path.join(data_dir, LOCK_FILE)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as problem:
        if not os.path.isdir(data_dir):
            raise missing_data_dir(data_dir) from None
        raise SpoolError(explain_failure(problem, path, "write", "the user Asterisk runs as, or fix data_dir's "
                                         "owner")) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise EngineRunning(f"another notice run{' (pid ' + holder[0] + ')' if holder else ''} is running on "
                            f"{data_dir}; one engine per data_dir") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {int(now)}\n".encode())
    return fd


def _holder(fd: int) -> list[str] | None:
    """(pid, start time) as the engine holding FD's lock wrote them."""
    os.lseek(fd, 0, os.SEEK_SET)
    words = os.read(fd, 100).decode("ascii", "replace").split()
    return words if len(words) == 2 and all(word.isdigit() for word in words) else None


def engine_running(data_dir: str) -> tuple[int, int] | None:
    """(pid, start time) of the engine running on DATA_DIR, or None if none is."""
    try:
        fd = os.open(os.path.join(data_dir, LOCK_FILE), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as problem:
        raise SpoolError(explain_failure(problem, os.path.join(data_dir, LOCK_FILE), "read",
                                         "the user notice run runs as")) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            return (int(holder[0]), int(holder[1])) if holder else (0, 0)
        return None
    finally:
        os.close(fd)


def say_line(line: str) -> None:
    print(f"notice run: {line}", file=sys.stderr, flush=True)
