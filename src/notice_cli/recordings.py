"""The recordings notices play, and which may be removed. No I/O here: recording_files.py
finds and removes the files, cleanup.py reads the spool in the order these rules need.

Only the dialplan's own recordings are ever removed: rec_<uniqueid>-<epoch>.<format> at the
top of the recordings folder, never a prepared recording, never a file an admin put there
under another name, and never one a pending notice plays.
"""

from __future__ import annotations

from collections import namedtuple

from .notice import AUDIO_EXTENSIONS, is_dialplan_recording


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


class Candidate(namedtuple("Candidate", "name files mtime")):
    """A dialplan recording as found in the recordings folder: its NAME, its FILES (one per
    format, each as recording_files.py found it, to see whether it changed since) and MTIME,
    the newest of the files' modification times."""

    __slots__ = ()


# What became of a recording that was to go, and the line that says it (discard-recording).
# NAME is the recording, WHO the notice that plays it, FOLDER the recordings folder.
REMOVED, PLAYED, MISSING, CHANGED, PREPARED = "removed", "played", "missing", "changed", "prepared"
SAYINGS = {
    REMOVED: "removed recording {name} from {folder}",
    PLAYED: "kept recording {name}: {who} plays it",
    MISSING: "no recording {name} in {folder}: nothing removed",
    CHANGED: "kept recording {name}: it changed while being removed",
    PREPARED: "kept recording {name}: {folder} is the prepared recordings' folder (prepared_dir)",
}


class Fate(namedtuple("Fate", "outcome name who")):
    """What became of the recording NAME: OUTCOME, one of SAYINGS; WHO plays it (PLAYED)."""

    __slots__ = ()

    def line(self, folder: str) -> str:
        return SAYINGS[self.outcome].format(name=self.name, who=self.who, folder=folder)
