"""All file-system work on Asterisk's spool: finding the recording, staging the call file
and handing it to Asterisk, and the log of what was scheduled.

Asterisk (pbx_spool) reads a file in outgoing/ the moment it is closed or renamed there,
takes its mtime once as the time to call, and reads dot-files too. So the call file is
written complete in <spool>/tmp (same file system, never outgoing/ itself, never /tmp),
given its owner, mode and mtime there, and only then renamed into outgoing/: Asterisk sees
either nothing or the whole file with its final mtime. On any failure the staging file is
removed and nothing reaches outgoing/.
"""

from __future__ import annotations

import errno
import os

from .errors import InvalidInput, SpoolError, shown
from .notice import AUDIO_EXTENSIONS

STAGING = "tmp"
OUTGOING = "outgoing"
DEFAULT_OWNER = "asterisk"
SYSLOG_SOCKET = "/dev/log"


def find_recording(folder: str, name: str, kind: str = "recording", setting: str = "recordings_dir") -> str:
    """The recording's path without extension (as Playback wants it) if a file of a format
    Asterisk plays is in FOLDER; a name given with its extension is accepted too. KIND and
    SETTING name the recording and the folder's setting in a refusal."""
    base = os.path.join(folder, name)
    if any(os.path.isfile(f"{base}.{ext}") for ext in AUDIO_EXTENSIONS):
        return base
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ext in AUDIO_EXTENSIONS and os.path.isfile(base):
        return os.path.join(folder, stem)
    if not os.path.isdir(folder):
        raise InvalidInput(f"{kind}s folder {folder} does not exist; create it or set {setting}")
    raise InvalidInput(
        f"{kind} {shown(name)} is not in {folder}: no {name}.wav (or .gsm, .ulaw, .alaw, .sln, .g722, ...) there"
    )


def spool_call_file(text: str, file_name: str, due: int, spool_dir: str,
                    mode: int, owner: str | None) -> str:
    """Hand the call file TEXT to Asterisk, to be called at DUE; return its path in outgoing/."""
    outgoing = os.path.join(spool_dir, OUTGOING)
    staging_dir = os.path.join(spool_dir, STAGING)
    ids = owner_ids(owner)
    try:
        _check_folder(outgoing)
        _ensure_staging_dir(staging_dir, outgoing)
        target = os.path.join(outgoing, file_name)
        if os.path.lexists(target):
            raise SpoolError(f"{target} already exists; not overwriting it (schedule the notice again for a new name)")
        _stage_and_move(text.encode("utf-8", "surrogateescape"), os.path.join(staging_dir, file_name),
                        target, due, mode, ids)
    except OSError as problem:
        raise SpoolError(explain(problem, spool_dir)) from None
    return target


def _stage_and_move(data: bytes, staging: str, target: str, due: int, mode: int,
                    ids: tuple[int, int] | None) -> None:
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    moved = False
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(staging, mode)
        if ids:
            os.chown(staging, *ids)
        # Asterisk takes the mtime once, when the file appears: it must be final before the rename.
        os.utime(staging, (due, due))
        os.rename(staging, target)
        moved = True
        _fsync_folder(os.path.dirname(target))
    except BaseException:
        # After the rename only the folder's fsync can fail: the move may not be durable, so
        # take the notice back rather than report a failure and leave it to fire anyway.
        _remove_quietly(target if moved else staging)
        raise


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_folder(path: str) -> None:
    """Make the rename durable: without this a crash can lose a notice already reported scheduled."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _check_folder(path: str) -> None:
    if not os.path.isdir(path):
        raise SpoolError(f"spool folder {path} does not exist; is Asterisk installed, and is spool_dir right?")


def _ensure_staging_dir(staging_dir: str, outgoing: str) -> None:
    """Create <spool>/tmp when missing, owned and permitted like outgoing/."""
    if os.path.isdir(staging_dir):
        # A tmp/ that leads into outgoing/ (a symlink) would let Asterisk read half-written files.
        if os.path.samefile(staging_dir, outgoing):
            raise SpoolError(f"{staging_dir} is {outgoing} itself; make tmp/ a folder of its own beside outgoing/")
        return
    if os.path.lexists(staging_dir):
        raise SpoolError(f"{staging_dir} exists but is not a folder; move it away so notice-spool can stage files there")
    like = os.stat(outgoing)
    try:
        os.mkdir(staging_dir, like.st_mode & 0o7777)
    except FileExistsError:
        if os.path.isdir(staging_dir):
            return  # another notice-spool created it just now
        raise
    os.chmod(staging_dir, like.st_mode & 0o7777)
    if os.geteuid() == 0:
        os.chown(staging_dir, like.st_uid, like.st_gid)


def owner_ids(owner: str | None) -> tuple[int, int] | None:
    """(uid, gid) to give the call file to, or None to leave it as created.

    Asterisk appends to the call file, moves its mtime and renames it while it retries, so
    the file must belong to the user Asterisk runs as. Only root can give it away; any other
    caller (Asterisk itself through System(), typically) creates it as its own user."""
    import pwd

    if os.geteuid() != 0:
        if owner and owner != _current_user(pwd):
            raise SpoolError(f"owner is {owner} but notice-spool runs as {_current_user(pwd)} and cannot give "
                             f"files away; run it as root or as {owner}, or unset owner")
        return None
    try:
        entry = pwd.getpwnam(owner or DEFAULT_OWNER)
    except KeyError:
        if owner:
            raise SpoolError(f"owner user {owner} does not exist; create it or set owner to the user Asterisk runs as") from None
        return None  # no asterisk user: Asterisk runs as root here
    return entry.pw_uid, entry.pw_gid


def _current_user(pwd) -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def explain(problem: OSError, spool_dir: str) -> str:
    """One line an admin can act on, for a failure while writing to the spool."""
    where = problem.filename or spool_dir
    code = problem.errno
    if code == errno.EXDEV:
        return (f"{os.path.join(spool_dir, STAGING)} and {os.path.join(spool_dir, OUTGOING)} are on different "
                "file systems, so the call file cannot be moved in atomically; make tmp/ a folder on the same "
                "file system as outgoing/")
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied on {where}; run as root or as the user Asterisk runs as, or fix the folder's owner"
    if code == errno.EROFS:
        return f"{where} is on a read-only file system; the spool must be writable"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the device of {where}; free some space and schedule the notice again"
    if code == errno.EEXIST:
        return f"{where} already exists; not overwriting it (schedule the notice again for a new name)"
    if code == errno.ENOENT:
        return f"{where} does not exist; is spool_dir right?"
    return f"cannot write {where}: {problem.strerror or problem}"


def log_scheduled(message: str, facility: str, tag: str) -> None:
    """One line per scheduled notice in syslog; silently off when there is no syslog."""
    if facility == "none" or not os.path.exists(SYSLOG_SOCKET):
        return
    import syslog

    syslog.openlog(tag, syslog.LOG_PID, getattr(syslog, "LOG_" + facility.upper()))
    syslog.syslog(syslog.LOG_INFO, message)
    syslog.closelog()
