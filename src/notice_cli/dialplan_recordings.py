"""The dialplan's own recordings in the recordings folder: found, judged by their use and the
retention, touched when an import is about to play one, and removed after their files are
checked again, just before. cleanup.py reads the spool in the order these need, and says what
became of each.

Only the dialplan's recordings are ever removed: rec_<uniqueid>-<epoch>.<format> at the top of
the recordings folder, never a prepared recording, never a file an admin put there under
another name. One goes when no pending notice plays it and it has not been used for the
retention (recording_retention days): since the newest of the times the finished notices that
played it were archived, or, if no notice ever played it (a flow abandoned when its discard
could not run), since it was written.

A dialplan recording's files are regular files at the top of the folder: never a link (it may
lead anywhere), never what lies in a folder below (prepared/). The removals are not fsynced: a
recording that comes back after a crash is harmless, and the next notice gc takes it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections import namedtuple
from collections.abc import Iterable, Mapping

from .errors import InvalidInput, SpoolError
from .recordings import AUDIO_EXTENSIONS, dialplan_recording_of, is_dialplan_recording, names_played
from .spool import explain, names_in

DAY = 86400


class FileState(namedtuple("FileState", "name device inode mtime_ns")):
    """One file of a recording as found: its NAME in the folder, which file it is and its mtime."""

    __slots__ = ()


class Candidate(namedtuple("Candidate", "name files mtime")):
    """A dialplan recording as found in the recordings folder: its NAME, its FILES (one per
    format, each as found here, to see whether it changed since) and MTIME,
    the newest of the files' modification times."""

    __slots__ = ()


class Decided(namedtuple("Decided", "remove played recent")):
    """decide()'s verdicts: the candidates to REMOVE, those a pending notice PLAYED (kept
    whatever their age), and the RECENT ones, used within the retention."""

    __slots__ = ()


def dialplan_recordings(folder: str) -> list[Candidate] | None:
    """The dialplan's recordings at the top of FOLDER, or None if FOLDER is not there."""
    if not os.path.isdir(folder):
        return None
    found: dict[str, list[FileState]] = {}
    for file_name in names_in(folder, missing_ok=True):
        name = dialplan_recording_of(file_name)
        state = name and _state(folder, file_name)
        if state:
            found.setdefault(name, []).append(state)
    return [_candidate(name, files) for name, files in sorted(found.items())]


def recording_in(folder: str, name: str) -> Candidate | None:
    """The recording NAME (a dialplan recording's) in FOLDER as it is now, or None if it has no file there."""
    files = _files_of(folder, name)
    return _candidate(name, files) if files else None


def remove_recording(folder: str, candidate: Candidate) -> bool:
    """Remove the files of CANDIDATE if they are still exactly those found: the same files,
    none written since, none added. False, with nothing removed, if not."""
    if tuple(_files_of(folder, candidate.name)) != candidate.files:  # both in the order of their names
        return False
    for state in candidate.files:
        path = os.path.join(folder, state.name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass  # removed meanwhile by another notice gc or discard
        except OSError as problem:
            problem.filename = path  # the whole path, whatever the file system reported
            raise SpoolError(explain(problem, folder, "remove")) from None
    return True


def mark_used(recordings: Iterable[str]) -> None:
    """Make each dialplan recording of RECORDINGS (paths as Playback takes them) new: every file
    of it gets this moment as its mtime. notice gc, which looks at a recording's files again
    just before removing it, then finds them changed and keeps them, and the next gc counts
    their retention from now: an import of an old recording is not undone by a gc running
    meanwhile. One that is gone already is refused; one this user may not touch is left as is."""
    for path in dict.fromkeys(recordings):
        folder, name = os.path.split(path)
        if not is_dialplan_recording(name):
            continue
        files = _files_of(folder, name)
        if not files:
            raise InvalidInput(f"recording {name} was removed from {folder} while the import was being "
                               "checked (by notice gc?); nothing was imported")
        for state in files:
            with contextlib.suppress(PermissionError):
                os.utime(os.path.join(folder, state.name))


def _candidate(name: str, files: list[FileState]) -> Candidate:
    files.sort()  # as _files_of gives them
    return Candidate(name, tuple(files), max(state.mtime_ns for state in files) / 1e9)


def _files_of(folder: str, name: str) -> list[FileState]:
    """The files of the recording NAME in FOLDER now, in every format Asterisk plays, by name."""
    return sorted(state for state in (_state(folder, f"{name}.{extension}") for extension in AUDIO_EXTENSIONS)
                  if state)


def _state(folder: str, file_name: str) -> FileState | None:
    """FOLDER/FILE_NAME as it is now if it is a regular file (not a link), else None."""
    try:
        info = os.lstat(os.path.join(folder, file_name))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as problem:
        raise SpoolError(explain(problem, folder, "read")) from None
    if not stat.S_ISREG(info.st_mode):
        return None
    return FileState(file_name, info.st_dev, info.st_ino, info.st_mtime_ns)


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


def newest_uses(played: Iterable[tuple[str, float]]) -> dict[str, float]:
    """{recording name: the newest time} of the (Data line, time) pairs of the call files PLAYED."""
    newest: dict[str, float] = {}
    for data, at in played:
        for name in names_played(data):
            newest[name] = max(at, newest.get(name, at))
    return newest
