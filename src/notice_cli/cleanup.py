"""Removing the dialplan's recordings that no notice needs any more: the one of a flow that
saved no notice (notice discard-recording, which the dialplan runs), those past their retention
(notice gc), and those of cancelled notices (notice cancel).

Each reads in the order that makes a race harmless: the recordings folder first, then what
the call files in tmp/ and outgoing/ play (tmp/ first: a staging file renamed meanwhile is
then found in outgoing/), then, for gc, the archive. Just before each removal it reads the
call files that came since and checks the recording's files again: one that a notice started
to play, or that was written meanwhile, stays; while a staging file of ours has no Data line
yet, or a call file cannot be read, nothing is removed. notice import touches each dialplan
recording it is about to spool (its mtime), so gc's last look finds it changed. What no look
can see is a notice-spool that found the recording an instant before its removal and has not
yet created its staging file; the dialplan discards only the recordings of flows that saved
nothing, and gc only those unused for days, so nothing is spooling them.
"""

from __future__ import annotations

import os
import time
from collections import namedtuple
from collections.abc import Collection, Iterable

from .dialplan_recordings import Candidate, decide, dialplan_recordings, newest_uses, recording_in, remove_recording
from .errors import InvalidInput, SpoolError
from .notice import notice_id_of
from .record import recording_of
from .recordings import check_dialplan_recording, is_dialplan_recording, names_played, recording_namer
from .settings import QUEUE, Settings
from .spool import ARCHIVE, INBOX, OUTGOING, STAGING, names_in, same_folder
from .spool_reader import call_file_texts, played_texts
from .spool_writer import being_written

# What became of a recording that was to go, and the words for it: a line of its own
# (discard-recording) and a clause of notice cancel's line. NAME is the recording, WHO the
# notice that plays it, FOLDER the recordings folder.
REMOVED, PLAYED, MISSING, CHANGED, PREPARED, NOT_DIALPLAN, OUTSIDE, FAILED, UNSURE, CALLING = (
    "removed", "played", "missing", "changed", "prepared", "not the dialplan's", "outside", "failed", "unsure",
    "calling")
SAYINGS = {
    REMOVED: ("removed recording {name} from {folder}", "removed its recording {name}"),
    PLAYED: ("kept recording {name}: {who} plays it", "kept its recording {name} ({who} plays it)"),
    MISSING: ("no recording {name} in {folder}: nothing removed", "its recording {name} is not there"),
    CHANGED: ("kept recording {name}: it changed while being removed",
              "kept its recording {name} (it changed while being removed)"),
    PREPARED: ("kept recording {name}: {folder} is the prepared recordings' folder (prepared_dir)",
               "its recording {name} is kept (prepared)"),
    NOT_DIALPLAN: (None, "its recording {name} is kept (not recorded by the dialplan)"),
    OUTSIDE: (None, "its recording {name} is kept (not in the recordings folder)"),
    FAILED: (None, "its recording {name} could not be removed: {who}"),
    UNSURE: ("kept recording {name}: {who} is being written or cannot be read, and may play it",
             "kept its recording {name} ({who} is being written or cannot be read, and may play it)"),
    CALLING: (None, "kept its recording {name} (Asterisk may be calling with it)"),
}


class Fate(namedtuple("Fate", "outcome name who")):
    """What became of the recording NAME: OUTCOME, one of SAYINGS; WHO plays it (PLAYED) or
    what went wrong (FAILED)."""

    __slots__ = ()

    def line(self, folder: str) -> str:
        return SAYINGS[self.outcome][0].format(name=self.name, who=self.who, folder=folder)

    def clause(self) -> str:
        return SAYINGS[self.outcome][1].format(name=self.name, who=self.who)


class Collected(namedtuple("Collected", "folder retention removed played changed state unsure",
                           defaults=((),))):
    """What notice gc did in the recordings FOLDER: the names REMOVED, those kept because a
    pending notice PLAYED them, they CHANGED meanwhile, or a call file being written or not
    readable may play them (UNSURE); STATE is None, or why the folder was left alone (MISSING,
    PREPARED)."""

    __slots__ = ()

    def report(self) -> str:
        if self.state == MISSING:
            return f"no recordings folder {self.folder} (recordings_dir): no recording removed"
        if self.state == PREPARED:
            return (f"left the recordings in {self.folder} alone: it is the prepared recordings' "
                    "folder (prepared_dir) too")
        removed = _count(len(self.removed), "recording")
        line = f"removed {removed} unused for {_count(self.retention, 'day')} from {self.folder}"
        kept = [f"{len(self.played)} played by pending notices"] if self.played else []
        kept += [f"{len(self.changed)} changed meanwhile"] if self.changed else []
        kept += [f"{len(self.unsure)} maybe played by a call file being written or not readable"] \
            if self.unsure else []
        return line + (f" (kept: {', '.join(kept)})" if kept else "")


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


class Playing:
    """Which recordings the call files play that Asterisk will read: any in outgoing/ (Asterisk
    reads them all, links too), and ours in tmp/, being written. look() reads only the files it
    has not read yet, so that looking again before each removal costs a listing.

    A call file that may play any recording makes UNSURE name it: ours in tmp/ with no Data
    line yet while its writer may still be writing it (spool_writer.being_written), or one that
    cannot be read (another user's, permission denied). While it stands, nothing is removed:
    what it plays is not known."""

    def __init__(self, spool_dir: str, now: float | None = None, queue_dir: str | None = None):
        # Looked at in the order a notice moves, so that one moving meanwhile is found where it
        # went: tmp/ before outgoing/ (a staging file renamed between the two is found in
        # outgoing/), and in queue delivery (QUEUE_DIR: its data_dir) the queue's tmp/ and inbox
        # (notice-spool's files) and the queue itself before the spool (the engine's hand-off).
        spool = ((os.path.join(spool_dir, STAGING), True), (os.path.join(spool_dir, OUTGOING), False))
        self.queue_dir = queue_dir
        self.queue_folders = () if queue_dir is None else (
            (os.path.join(queue_dir, STAGING), True), (os.path.join(queue_dir, INBOX), True))
        self.folders = spool
        self.read: set[tuple[str, str]] = set()
        self.users: dict[str, str] = {}  # recording name -> who plays it (the first by name)
        self.unsure: str | None = None
        self.now = time.time() if now is None else now

    def look(self) -> dict[str, str]:
        self._look_in(self.queue_folders)
        if self.queue_dir is not None:
            for recording in waiting_recordings(self.queue_dir):
                for name in names_played(recording):
                    self.users.setdefault(name, "a notice in the queue")
        return self._look_in(self.folders)

    def _look_in(self, folders) -> dict[str, str]:
        for folder, ours_only in folders:
            names = [name for name in names_in(folder, missing_ok=ours_only)
                     if (folder, name) not in self.read and (not ours_only or notice_id_of(name))]
            for name, text in played_texts(folder, names):
                data = None if text is None else recording_of(text)
                path = os.path.join(folder, name)
                if data is None and (text is None or ours_only and being_written(path, self.now)):
                    self.unsure = self.unsure or path
                    continue  # read again at the next look
                self.read.add((folder, name))
                if data is None:
                    continue  # a killed writer's leftover, or a call file that plays no recording
                who = _who(folder, name)
                for recording in names_played(data):  # of several, the same one whatever the folder's order
                    self.users[recording] = min(who, self.users.get(recording, who))
        return self.users


def _queue_of(settings: Settings) -> str | None:
    """The data_dir whose queue holds notices too (queue delivery), or None."""
    return settings.data_dir if settings.delivery == QUEUE else None


def waiting_recordings(data_dir: str) -> set[str]:
    """The recordings (Data lines) of the notices waiting in the queue in DATA_DIR (none if it
    has no queue yet)."""
    from .queue import FILE_NAME, open_queue, waiting_recordings as in_queue

    if not os.path.exists(os.path.join(data_dir, FILE_NAME)):
        return set()
    connection = open_queue(data_dir)
    try:
        return in_queue(connection)
    finally:
        connection.close()


def _who(folder: str, name: str) -> str:
    notice_id = notice_id_of(name)
    return f"notice {notice_id}" if notice_id else f"call file {os.path.join(folder, name)}"


def finished_uses(spool_dir: str) -> dict[str, float]:
    """{recording name: when the newest finished notice that played it was archived (the
    call file's mtime in outgoing_done/, its Status line's time)}."""
    folder = os.path.join(spool_dir, ARCHIVE)
    texts = call_file_texts(folder, names_in(folder, missing_ok=True))
    return newest_uses((data, mtime) for _, text, mtime in texts if (data := recording_of(text)) is not None)


def discard(settings: Settings, name: str) -> Fate:
    """Remove the dialplan recording NAME unless a pending notice plays it (notice
    discard-recording: the dialplan's flow saved no notice with it)."""
    name = check_dialplan_recording(name)
    folder = settings.recordings_dir
    if not os.path.isdir(folder):
        raise InvalidInput(f"recordings folder {folder} does not exist; create it or set recordings_dir")
    candidate = recording_in(folder, name)
    if candidate is None:
        return Fate(MISSING, name, None)
    if same_folder(folder, settings.prepared_dir):
        return Fate(PREPARED, name, None)
    return _remove_unplayed(folder, candidate, Playing(settings.spool_dir, queue_dir=_queue_of(settings)))


def collect(settings: Settings, now: float) -> Collected:
    """Remove the dialplan recordings that no pending notice plays and that nothing used for
    recording_retention days before NOW (notice gc)."""
    folder, retention = settings.recordings_dir, settings.recording_retention
    if same_folder(folder, settings.prepared_dir):
        return Collected(folder, retention, [], [], [], PREPARED)
    candidates = dialplan_recordings(folder)
    if candidates is None:
        return Collected(folder, retention, [], [], [], MISSING)
    playing = Playing(settings.spool_dir, now, _queue_of(settings))
    played = playing.look()
    decided = decide(candidates, played, finished_uses(settings.spool_dir), now, retention)
    collected = Collected(folder, retention, [], [candidate.name for candidate in decided.played], [], None, [])
    by_outcome = {REMOVED: collected.removed, PLAYED: collected.played, CHANGED: collected.changed,
                  UNSURE: collected.unsure}
    for candidate in decided.remove:
        by_outcome[_remove_unplayed(folder, candidate, playing).outcome].append(candidate.name)
    return collected


def discard_cancelled(settings: Settings, notices: Iterable, forced: Collection[str]) -> dict[str, Fate]:
    """discard_played() for the cancelled NOTICES: those FORCED (ids: cancelled while Asterisk
    may be calling) still play their recording, which stays."""
    notices = list(notices)
    return discard_played(settings, [notice.recording for notice in notices if notice.id not in forced],
                          kept=[notice.recording for notice in notices if notice.id in forced])


def discard_played(settings: Settings, recordings: Iterable[str | None],
                   kept: Iterable[str | None] = ()) -> dict[str, Fate]:
    """What became of each of RECORDINGS (Data lines) of cancelled notices, by Data line: a
    dialplan recording in the recordings folder is removed unless a pending notice plays it.
    Those KEPT (of notices cancelled with --force while Asterisk may be calling) stay."""
    playing = Playing(settings.spool_dir, queue_dir=_queue_of(settings))
    shown = recording_namer(settings.recordings_dir)
    calling = {data: Fate(CALLING, shown(data), None) for data in dict.fromkeys(kept) if data}
    return {**{data: _cancelled(settings, data, playing)._replace(name=shown(data))
               for data in dict.fromkeys(recordings) if data and data not in calling}, **calling}


def _cancelled(settings: Settings, data: str, playing: Playing) -> Fate:
    """The fate of the recording DATA of a cancelled notice: only a dialplan recording in the
    recordings folder itself may go."""
    folder = settings.recordings_dir
    directory, _, name = data.rpartition("/")
    if same_folder(directory, settings.prepared_dir):
        return Fate(PREPARED, name, None)
    if not same_folder(directory, folder):
        return Fate(OUTSIDE, name, None)
    if not is_dialplan_recording(name):
        return Fate(NOT_DIALPLAN, name, None)
    try:  # the notice is cancelled: what went wrong with its recording goes in its line
        candidate = recording_in(folder, name)
        return _remove_unplayed(folder, candidate, playing) if candidate else Fate(MISSING, name, None)
    except SpoolError as problem:
        return Fate(FAILED, name, str(problem))


def _remove_unplayed(folder: str, candidate: Candidate, playing: Playing) -> Fate:
    """Remove CANDIDATE unless a call file plays it now (PLAYING looks again at what came since
    its last look) or its files changed since they were found."""
    who = playing.look().get(candidate.name)
    if who:
        return Fate(PLAYED, candidate.name, who)
    if playing.unsure:
        return Fate(UNSURE, candidate.name, playing.unsure)
    return Fate(REMOVED if remove_recording(folder, candidate) else CHANGED, candidate.name, None)
