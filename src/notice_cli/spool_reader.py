"""Reading the call files back from the spool (outgoing/, outgoing_done/, and ours in tmp/),
and removing one after a last look at it.

Reading streams: os.scandir, one file in memory at a time, and only files with the names
notice-cli gives. Asterisk works on the same files meanwhile: one that vanishes between the
scan and the read (moved to outgoing_done/, cancelled) is passed over.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterable, Iterator

from .errors import SpoolError
from .notice import FILE_PREFIX, FILE_SUFFIX
from .spool import READ_FLAGS, explain, unreadable

NO_ACCESS_TIME = getattr(os, "O_NOATIME", 0)  # Linux's; see call_file_bytes
READ_SIZE = 65536  # a call file is a few hundred bytes; Asterisk's appends add ~40 per attempt


def call_files(folder: str, missing_ok: bool = False) -> Iterator[tuple[str, str]]:
    """(name, text) of each regular file in FOLDER named notice-<...>.call, as it is now; a
    missing FOLDER is an empty one if MISSING_OK (Asterisk creates outgoing_done/ on its first
    archived call), else a SpoolError."""
    for name, data in call_file_bytes(folder, missing_ok):
        yield name, data.decode("utf-8", "surrogateescape")


def call_file_bytes(folder: str, missing_ok: bool = False) -> Iterator[tuple[str, bytes]]:
    """call_files() before decoding: (name, the bytes read), for a listing that decodes only
    what it keeps (record.read_listed). A listing's time is little more than these system
    calls, so they are written out in one loop (the read is _contents, every reader's), with
    os's functions looked up once per scan (not at import: tests swap os). Each file is
    opened relative to the folder (one path lookup, not one per folder above it) and with
    O_NOATIME: a listing is no use of a file, and an access time set on 100,000 files is a
    write to each inode. Only a file's owner or root may ask that; for anyone else the scan
    goes on without it."""
    folder_fd = _open_folder(folder, missing_ok)
    if folder_fd is None:
        return
    open_file, contents, close = os.open, _contents, os.close
    flags = READ_FLAGS | NO_ACCESS_TIME
    try:
        with os.scandir(folder_fd) as entries:
            for entry in entries:
                name = entry.name
                if not (name.startswith(FILE_PREFIX) and name.endswith(FILE_SUFFIX)):
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    try:
                        fd = open_file(name, flags, dir_fd=folder_fd)
                    except PermissionError as problem:
                        flags = _without_access_time(problem, flags)
                        fd = open_file(name, flags, dir_fd=folder_fd)
                    try:
                        data = contents(fd)
                    finally:
                        close(fd)
                except FileNotFoundError:
                    continue  # Asterisk moved it to outgoing_done/, or it was cancelled, meanwhile
                except OSError as problem:
                    if problem.errno == errno.ELOOP:  # replaced by a link since the scan
                        continue
                    problem.filename = os.path.join(folder, name)  # not the name alone it was opened by
                    raise SpoolError(explain(problem, folder, "read")) from None
                yield name, data
    except OSError as problem:  # the scan itself
        raise SpoolError(explain(problem, folder, "read")) from None
    finally:
        close(folder_fd)


def _open_folder(folder: str, missing_ok: bool) -> int | None:
    """A descriptor of FOLDER; None if it is missing and MISSING_OK (Asterisk creates
    outgoing_done/ on its first archived call), else a SpoolError."""
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as problem:
        if missing_ok and isinstance(problem, FileNotFoundError):
            return None
        raise unreadable(problem, folder) from None


def _without_access_time(problem: PermissionError, flags: int) -> int:
    """FLAGS without O_NOATIME if that is what PROBLEM refused (EPERM: not the file's owner);
    else PROBLEM raised again."""
    if problem.errno != errno.EPERM or not flags & NO_ACCESS_TIME:
        raise problem
    return flags & ~NO_ACCESS_TIME


def read_call_file(folder: str, name: str) -> str | None:
    """The text of FOLDER/NAME if it is a regular file there now (not a link), else None."""
    found = _text_and_mtime(folder, name)
    return None if found is None else found[0]


def _text_and_mtime(folder: str, name: str) -> tuple[str, float] | None:
    """call_file_texts() of the one file FOLDER/NAME: (text, mtime), or None."""
    for _, text, mtime in call_file_texts(folder, [name]):
        return text, mtime
    return None


def call_file_texts(folder: str, names: Iterable[str]) -> Iterator[tuple[str, str, float]]:
    """(name, text, mtime) of each of NAMES that is a regular file in FOLDER now, whatever its
    name (not a link); one gone meanwhile (renamed into outgoing/, archived) is passed over.
    The mtime is that of the file read, from the same descriptor."""
    for name in names:
        try:
            found = _regular_text(os.path.join(folder, name), READ_FLAGS)
        except OSError as problem:
            if problem.errno == errno.ELOOP:  # a link
                continue
            raise SpoolError(explain(problem, folder, "read")) from None
        if found:
            yield name, *found


def played_texts(folder: str, names: Iterable[str]) -> Iterator[tuple[str, str | None]]:
    """(name, text) of each of NAMES in FOLDER as Asterisk would read it: through a link too
    (pbx_spool stat()s and opens the path). The text is None for a file that cannot be read
    (permission denied: another user's file being written, say); one gone meanwhile, or that
    is no regular file, is passed over."""
    for name in names:
        try:
            found = _regular_text(os.path.join(folder, name), READ_FLAGS & ~os.O_NOFOLLOW)
        except OSError:
            yield name, None
            continue
        if found:
            yield name, found[0]


def _regular_text(path: str, flags: int) -> tuple[str, float] | None:
    """(text, mtime) of PATH, opened with FLAGS, if it is a regular file; None if it is not,
    or is gone meanwhile. Any other failure is the caller's to judge (OSError)."""
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as problem:
        if problem.errno == errno.ENXIO:  # a socket, which open() refuses: no regular file either
            return None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        return _contents(fd).decode("utf-8", "surrogateescape"), info.st_mtime
    finally:
        os.close(fd)


def _contents(fd: int) -> bytes:
    """All of the open file FD: a call file takes one read, and a short read of a regular file
    is its end."""
    data = os.read(fd, READ_SIZE)
    if len(data) < READ_SIZE:
        return data
    chunks = [data]
    while chunks[-1]:
        chunks.append(os.read(fd, READ_SIZE))
    return b"".join(chunks)


def mtime_of(folder: str, name: str) -> float | None:
    """FOLDER/NAME's mtime, or None if it is gone."""
    try:
        return os.stat(os.path.join(folder, name), follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return None
    except OSError as problem:
        raise SpoolError(explain(problem, folder, "read")) from None


GONE = "it is no longer there"  # remove_call_file()'s reason for a file gone meanwhile


def remove_call_file(folder: str, name: str, refusal: Callable[[str, float], str | None]) -> str | None:
    """Remove the regular file FOLDER/NAME unless REFUSAL(its text, its mtime) gives a reason
    not to, checked on the file as it is right now; return that reason, or None once removed
    (or gone meanwhile: then the reason is that it is gone)."""
    path = os.path.join(folder, name)
    try:
        found = _text_and_mtime(folder, name)
        if found is None:
            return GONE
        reason = refusal(*found)
        if reason:
            return reason
        os.unlink(path)
    except FileNotFoundError:
        return GONE
    except OSError as problem:
        raise SpoolError(explain(problem, folder, "remove")) from None
    return None
