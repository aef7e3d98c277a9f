"""Asterisk's spool: its folders, the names in one, renames and removals in one made durable,
and a failure on any of them in one line an admin can act on. spool_writer.py hands call
files to Asterisk; spool_reader.py reads them back and removes them.
"""

from __future__ import annotations

import errno
import os

from .errors import SpoolError

STAGING = "tmp"
OUTGOING = "outgoing"
ARCHIVE = "outgoing_done"  # where Asterisk moves a finished call file when it says Archive: yes
# Queue delivery (delivery = queue): notice-spool puts the call file into <data_dir>/inbox,
# staged in <data_dir>/tmp, where notice run takes it into the queue.
INBOX = "inbox"
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def names_in(folder: str, missing_ok: bool = False) -> list[str]:
    """The names in FOLDER (no file is opened); a missing FOLDER is empty if MISSING_OK."""
    try:
        return os.listdir(folder)
    except OSError as problem:
        if missing_ok and isinstance(problem, FileNotFoundError):
            return []
        raise unreadable(problem, folder) from None


def same_folder(path: str, folder: str) -> bool:
    """Whether PATH is FOLDER, through any symlinks."""
    return os.path.realpath(path) == os.path.realpath(folder)


def fsync_folder(path: str) -> None:
    """Make the renames into PATH durable: without this a crash can lose a notice already reported
    scheduled (or bring back a configuration file replaced by notice dialplan install)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_folder(folder: str) -> None:
    """Make removals from FOLDER durable, so a cancelled notice does not come back after a crash."""
    try:
        fsync_folder(folder)
    except OSError as problem:
        raise SpoolError(explain(problem, folder, "write")) from None


def missing_folder(folder: str) -> SpoolError:
    return SpoolError(f"spool folder {folder} does not exist; is Asterisk installed, and is spool_dir right?")


def missing_data_dir(data_dir: str) -> SpoolError:
    """The error of a data_dir (queue delivery) that is not a folder: missing, or a file."""
    if os.path.lexists(data_dir):
        return SpoolError(f"data_dir {data_dir} is not a folder; move it away or set data_dir")
    return SpoolError(f"data_dir {data_dir} does not exist; create it (owned by the user Asterisk runs as) "
                      "or set data_dir")


def unreadable(problem: OSError, folder: str) -> SpoolError:
    """The SpoolError of a failure to open or list the spool FOLDER: missing, or PROBLEM explained."""
    if isinstance(problem, FileNotFoundError):
        return missing_folder(folder)
    return SpoolError(explain(problem, folder, "read"))


def explain(problem: OSError, spool_dir: str, doing: str = "write") -> str:
    """One line an admin can act on, for a failure while DOING (write, read, remove) the spool."""
    # A failed rename names both paths: the staging file was just made in tmp/, so the trouble
    # is where it was going (outgoing/ not writable, say).
    where = problem.filename2 or problem.filename or spool_dir
    code = problem.errno
    if code == errno.EXDEV:
        return (f"{os.path.join(spool_dir, STAGING)} and {os.path.join(spool_dir, OUTGOING)} are on different "
                "file systems, so the call file cannot be moved in atomically; make tmp/ a folder on the same "
                "file system as outgoing/")
    if code == errno.EEXIST:
        return f"{where} already exists; not overwriting it (schedule the notice again for a new name)"
    if code == errno.ENOENT:
        return f"{where} does not exist; is spool_dir right?"
    return explain_failure(problem, where, doing, "the user Asterisk runs as, or fix the folder's owner",
                           read_only="; the spool must be writable", no_space=" and schedule the notice again")


def explain_failure(problem: OSError, where: str, doing: str, who: str, read_only: str = "",
                    no_space: str = "") -> str:
    """One line for a failure while DOING (read, write, remove) WHERE, in any folder notice-cli
    writes: WHO may write there, and what to add to a read-only or full file system's line."""
    code = problem.errno
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied on {where}; run as root or as {who}"
    if code == errno.EROFS:
        return f"{where} is on a read-only file system{read_only}"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the device of {where}; free some space{no_space}"
    return f"cannot {doing} {where}: {problem.strerror or problem}"
