"""The recordings notices play, and when one may be removed. No I/O here: recording_files.py
finds and removes the files, cleanup.py reads the spool in the order these rules need.

Only the dialplan's own recordings are ever removed: rec_<uniqueid>-<epoch>.<format> at the
top of the recordings folder, never a prepared recording, never a file an admin put there
under another name. One goes when no pending notice plays it and it has not been used for
the retention (recording_retention days): since the newest of the times the finished notices
that played it were archived, or, if no notice ever played it (a flow abandoned when its
discard could not run), since it was written.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Mapping

from .notice import AUDIO_EXTENSIONS, is_dialplan_recording

DAY = 86400


def recording_namer(recordings_dir: str):
    """The recording as the operator named it: its path inside the recordings folder
    (rec_1732790000.42, prepared/3), else the whole path."""
    prefix = recordings_dir.rstrip("/") + "/"
    cut = len(prefix)

    def name(path: str | None) -> str | None:
        return path[cut:] if path and path.startswith(prefix) else path

    return name


def dialplan_recording_of(file_name: str) -> str | None:
    """The dialplan recording whose file FILE_NAME is (rec_1732790000.42-1732790012 for
    rec_1732790000.42-1732790012.wav), or None: another name, or not an audio format Asterisk
    plays (rec_1732790000.42 is no file of rec_1732790000)."""
    name, dot, extension = file_name.rpartition(".")
    return name if dot and extension in AUDIO_EXTENSIONS and is_dialplan_recording(name) else None


def names_played(data: str) -> set[str]:
    """The names of the recordings a Playback argument DATA plays, whatever their folder: its
    files (file1&file2, before the options after ','), each without its folder, and without an
    audio extension if it has one too. A name counted too many keeps a file a while longer; one
    missed would have Asterisk call a client and play nothing."""
    names = set()
    for path in data.partition(",")[0].split("&"):
        name = path.rpartition("/")[2]
        stem, dot, extension = name.rpartition(".")
        names.update((name, stem) if dot and extension in AUDIO_EXTENSIONS else (name,))
    return names


def newest_uses(played: Iterable[tuple[str, float]]) -> dict[str, float]:
    """{recording name: the newest time} of the (Data line, time) pairs of the call files PLAYED."""
    newest: dict[str, float] = {}
    for data, at in played:
        for name in names_played(data):
            newest[name] = max(at, newest.get(name, at))
    return newest


class Candidate(namedtuple("Candidate", "name files mtime")):
    """A dialplan recording as found in the recordings folder: its NAME, its FILES (one per
    format, each as recording_files.py found it, to see whether it changed since) and MTIME,
    the newest of the files' modification times."""

    __slots__ = ()


class Decided(namedtuple("Decided", "remove played recent")):
    """decide()'s verdicts: the candidates to REMOVE, those a pending notice PLAYED (kept
    whatever their age), and the RECENT ones, used within the retention."""

    __slots__ = ()


def decide(candidates: Iterable[Candidate], playing: Mapping[str, str], finished: Mapping[str, float],
           now: float, retention_days: int) -> Decided:
    """Which CANDIDATES may go at NOW: none that a pending notice plays (PLAYING: name -> who),
    only those unused for RETENTION_DAYS: their last use is the newest time a finished notice
    that played them was archived (FINISHED: name -> time), or their own mtime if that is
    newer (no notice ever played it, or it was written again since)."""
    cutoff = now - retention_days * DAY
    decided = Decided([], [], [])
    for candidate in candidates:
        if candidate.name in playing:
            decided.played.append(candidate)
        elif max(candidate.mtime, finished.get(candidate.name, candidate.mtime)) < cutoff:
            decided.remove.append(candidate)
        else:
            decided.recent.append(candidate)
    return decided


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
