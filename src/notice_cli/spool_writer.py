"""Handing call files to Asterisk: each staged, locked, synced and timed in tmp/, then renamed
into outgoing/; and notice gc's removal of the staging files killed writers left.

Asterisk (pbx_spool) reads a file in outgoing/ the moment it is closed or renamed there,
takes its mtime once as the time to call, and reads dot-files too. So the call file is
written complete in <spool>/tmp (same file system, never outgoing/ itself, never /tmp),
given its owner, mode and mtime there, and only then renamed into outgoing/: Asterisk sees
either nothing or the whole file with its final mtime. On any failure the staging file is
removed and nothing reaches outgoing/.

A writer killed mid-write (SIGKILL, power) leaves its staging file in tmp/, where Asterisk
never looks. The writer holds an exclusive flock on its staging file from creation to rename;
a lock dies with its process, so an unlocked staging file is a leftover: `notice gc` removes
it (clean_staging), and a writer that meets a leftover of its own name (an import run again)
takes it back. Neither ever removes a file whose writer lives: an import that meets a live
writer's file of its own name (another import of the same file) leaves the notice to it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat

from .errors import SpoolError
from .notice import FILE_PREFIX, FILE_SUFFIX
from .spool import (ARCHIVE, INBOX, OUTGOING, READ_FLAGS, STAGING, explain, explain_failure, fsync_folder,
                    missing_data_dir, missing_folder, names_in)
from .value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:  # for annotations only: collections.abc would slow notice-spool's start
    from collections.abc import Callable, Iterable

CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# notice gc leaves a staging file that changed less than this long ago, even unlocked: a
# second safeguard, beside the lock, for a writer between its open() and its flock().
STAGING_GRACE = 10
SYNC_EVERY = 256  # files spooled between two fsyncs of outgoing/ when spooling many
DEFAULT_OWNER = "asterisk"


def spool_call_file(text: str, file_name: str, due: int, spool_dir: str,
                    mode: int, owner: str | None) -> str:
    """Hand the call file TEXT to Asterisk, to be called at DUE; return its path in outgoing/."""
    try:
        outgoing, staging_dir, ids = _ready(spool_dir, owner)
        return _place(text, file_name, due, outgoing, staging_dir, mode, ids)
    except OSError as problem:
        raise SpoolError(explain(problem, spool_dir)) from None


def queue_call_file(text: str, file_name: str, due: int, data_dir: str, mode: int, owner: str | None) -> str:
    """Put the call file TEXT into the queue's inbox in DATA_DIR, as spool_call_file() puts it
    into outgoing/ (staged in DATA_DIR/tmp, synced, timed, renamed): the queue delivery of
    notice-spool, which does not open the queue's database (README, "Queue delivery"). notice
    run takes it from there into the queue. Returns its path in the inbox."""
    inbox, staging_dir = os.path.join(data_dir, INBOX), os.path.join(data_dir, STAGING)
    try:
        ids = owner_ids(owner)
        if not os.path.isdir(data_dir):
            raise missing_data_dir(data_dir)
        ensure_folder_like(inbox, data_dir)
        ensure_folder_like(staging_dir, data_dir)
        return _place(text, file_name, due, inbox, staging_dir, mode, ids)
    except OSError as problem:
        raise SpoolError(explain_failure(problem, problem.filename2 or problem.filename or data_dir, "write",
                                         "the user Asterisk runs as, or fix data_dir's owner",
                                         no_space=" and schedule the notice again")) from None


def _place(text: str, file_name: str, due: int, folder: str, staging_dir: str, mode: int,
           ids: tuple[int, int] | None) -> str:
    """Stage TEXT in STAGING_DIR and move it into FOLDER as FILE_NAME, durable; its path."""
    target = os.path.join(folder, file_name)
    # A TARGET already there is refused: the rename would replace a pending notice without a word.
    if not _stage_and_move(text.encode("utf-8", "surrogateescape"), os.path.join(staging_dir, file_name),
                           target, due, mode, ids):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), target)
    _fsync_or_take_back(folder, [target])
    return target


def spool_call_files(call_files: Iterable[tuple[str, str, int]], spool_dir: str, mode: int,
                     owner: str | None, moved: Callable[[str], None] | None = None,
                     already: Callable[[str], None] | None = None) -> int:
    """Hand many call files (TEXT, FILE_NAME, DUE) to Asterisk, each staged, synced and timed
    as spool_call_file does; outgoing/ is fsynced once per SYNC_EVERY files, not per file.
    MOVED(path) is told of each file once it is durable. A notice that another import of the
    same file has spooled since the caller looked, or is spooling, is not written: ALREADY(its
    path in outgoing/) is told instead (_spool_unless_scheduled). Returns how many were
    spooled; on a failure the durable ones stay (each is a whole notice) and SpoolError says
    how many."""
    try:
        outgoing, staging_dir, ids = _ready(spool_dir, owner)
    except OSError as problem:
        raise SpoolError(explain(problem, spool_dir)) from None
    archive = os.path.join(spool_dir, ARCHIVE)
    done = 0
    unsynced: list[str] = []
    try:
        for text, file_name, due in call_files:
            target = os.path.join(outgoing, file_name)
            if not _spool_unless_scheduled(text.encode("utf-8", "surrogateescape"),
                                           os.path.join(staging_dir, file_name), target, archive, due, mode, ids):
                if already:
                    already(target)
                continue
            unsynced.append(target)
            if len(unsynced) == SYNC_EVERY:
                done += _synced(outgoing, unsynced, moved)
        done += _synced(outgoing, unsynced, moved)
    except (OSError, SpoolError) as problem:
        reason = explain(problem, spool_dir) if isinstance(problem, OSError) else str(problem)
        try:  # the ones moved but not yet durable: make them so, or take them back
            done += _synced(outgoing, unsynced, moved)
        except OSError:
            pass
        raise SpoolError(f"{reason}; {_spooled_before(done)}") from None
    return done


def _spooled_before(done: int) -> str:
    if done == 0:
        return "no notice was spooled"
    return f"the {done} notice{'s' if done != 1 else ''} spooled before the failure stay{'s' if done == 1 else ''} scheduled"


def _synced(outgoing: str, targets: list[str], moved: Callable[[str], None] | None) -> int:
    _fsync_or_take_back(outgoing, targets)
    if moved:
        for target in targets:
            moved(target)
    count = len(targets)
    targets.clear()
    return count


def _ready(spool_dir: str, owner: str | None) -> tuple[str, str, tuple[int, int] | None]:
    """outgoing/, tmp/ (created if missing) and the owner's ids, all checked before any write."""
    outgoing = os.path.join(spool_dir, OUTGOING)
    staging_dir = os.path.join(spool_dir, STAGING)
    ids = owner_ids(owner)
    _check_folder(outgoing)
    _ensure_staging_dir(staging_dir, outgoing)
    return outgoing, staging_dir, ids


def _spool_unless_scheduled(data: bytes, staging: str, target: str, archive: str, due: int, mode: int,
                            ids: tuple[int, int] | None) -> bool:
    """_stage_and_move() for an import, which may overlap another import of the same file (cron
    overlapping itself): False, and nothing written, when the notice is already there, pending
    or archived in ARCHIVE, or when another run is writing it right now (it holds the lock of
    its staging file). That run is not waited for: if it fails, it says so itself (exit 4, and
    how many it spooled) and the next import spools the notice; waiting could hold this run
    behind a writer stuck on its disk for as long as the disk takes."""
    try:
        return _stage_and_move(data, staging, target, due, mode, ids, archive)
    except BeingWritten:
        return False


def _stage_and_move(data: bytes, staging: str, target: str, due: int, mode: int,
                    ids: tuple[int, int] | None, archive: str | None = None) -> bool:
    """Write DATA complete in tmp/ and rename it to TARGET, and return True; on a failure remove
    the staged file. If the notice is already there (_already_there), write nothing and
    return False. The move is durable only once the folder is fsynced (_fsync_or_take_back).

    The staging file stays locked until it is renamed or removed, and every writer of a name
    makes its staging file of that name first: while this one holds the lock, no other writer
    can move a file of the name into outgoing/, so a TARGET not there at the check is not
    there at the rename either (which would replace it without a word)."""
    fd = _create_staging(staging)
    try:
        there = _already_there(target, archive)
        if there:
            os.unlink(staging)
        else:
            _write_timed(fd, data, staging, due, mode, ids)
            # A rename, not link() + unlink() (which would refuse a TARGET there atomically):
            # pbx_spool reads a file that is renamed in (inotify IN_MOVED_TO) at once, but one
            # that is linked in (IN_CREATE alone) 2 s later, taking it for a file being
            # written; and if anyone opens it meanwhile (notice list), it waits for an
            # IN_CLOSE_WRITE that never comes and never calls it until Asterisk restarts.
            os.rename(staging, target)
    except BaseException:
        _remove_quietly(staging)  # before the lock is released: until then the name is this file's
        os.close(fd)
        raise
    try:
        os.close(fd)  # releases the lock
    except BaseException:
        if not there:
            _remove_quietly(target)
        raise
    return not there


def _already_there(target: str, archive: str | None) -> bool:
    """Whether TARGET is in outgoing/, or (with ARCHIVE) a file of its name is in the archive:
    Asterisk has called it. outgoing/ first: Asterisk moves a file from there to the archive,
    never back, so a file on its way is seen in one or the other."""
    if os.path.lexists(target):
        return True
    return archive is not None and os.path.lexists(os.path.join(archive, os.path.basename(target)))


def _write_timed(fd: int, data: bytes, staging: str, due: int, mode: int, ids: tuple[int, int] | None) -> None:
    """DATA into the staging file, fsynced, with its mode, owner and mtime."""
    _write_all(fd, data)
    os.fsync(fd)
    os.chmod(staging, mode)
    if ids:
        os.chown(staging, *ids)
    # Asterisk takes the mtime once, when the file appears: it must be final before the rename.
    os.utime(staging, (due, due))


class BeingWritten(FileExistsError):
    """The staging file of this name is another live writer's: it holds the lock."""


def _create_staging(staging: str) -> int:
    """Create STAGING (O_EXCL: never another's file) and lock it. A leftover of the same name
    (its writer killed) is taken back and the file made anew. A live writer's file (locked),
    or a name other writers keep making anew and moving on (three tries), is BeingWritten."""
    for _ in range(3):
        try:
            fd = os.open(staging, CREATE_FLAGS, 0o600)
        except FileExistsError:
            found = _reclaim(staging)
            if found == NOT_OURS:
                raise
            if found == BUSY:
                break
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # Between open() and flock() another process may have found the file unlocked and
            # removed it: then STAGING is no longer this file, and renaming it would move theirs.
            if _still_at(staging, os.fstat(fd)):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    raise BeingWritten(errno.EEXIST, os.strerror(errno.EEXIST), staging)


# What _reclaim found: the file removed, its writer alive (or the file changed too recently),
# the file gone meanwhile, or not a file of ours (a link, a folder).
REMOVED, BUSY, GONE, NOT_OURS = "removed", "busy", "gone", "not ours"


def _reclaim(path: str, idle_since: float | None = None) -> str:
    """Remove the staging file PATH if its writer is gone: no process holds its lock (and,
    with IDLE_SINCE, it has not changed since). The removal happens under the lock, so no
    writer can be renaming it meanwhile."""
    try:
        fd = os.open(path, READ_FLAGS)
    except FileNotFoundError:
        return GONE
    except OSError as problem:
        if problem.errno == errno.ELOOP:
            return NOT_OURS
        raise
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return BUSY
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return NOT_OURS
        # ctime, not mtime: the writer sets the mtime to the due time, and nobody can set a ctime.
        if idle_since is not None and info.st_ctime > idle_since:
            return BUSY
        if not _still_at(path, info):
            return GONE
        os.unlink(path)
        return REMOVED
    finally:
        os.close(fd)


def being_written(path: str, now: float, grace: float = STAGING_GRACE) -> bool:
    """Whether a writer may still be writing the staging file PATH: it holds the file's lock,
    or the file changed within GRACE before NOW (a writer between its open() and its flock()),
    or it cannot be opened to tell."""
    try:
        fd = os.open(path, READ_FLAGS)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return os.fstat(fd).st_ctime > now - grace
    finally:
        os.close(fd)


def _still_at(path: str, info: os.stat_result) -> bool:
    """Whether PATH is still the file INFO describes: not removed or made anew meanwhile."""
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino)


class Cleaned(Value):
    """What clean_staging did in FOLDER: the paths it REMOVED, and those left as BUSY (being
    written, or changed within STAGING_GRACE)."""

    __slots__ = ("folder", "removed", "busy")


def clean_staging(spool_dir: str, now: float, grace: float = STAGING_GRACE) -> Cleaned:
    """Remove the staging files of ours (notice-*.call) in <spool>/tmp whose writer is gone:
    no process holds their lock and they have not changed for GRACE seconds before NOW."""
    _check_folder(os.path.join(spool_dir, OUTGOING))  # a wrong spool_dir is not an empty tmp/
    return _clean_folder(os.path.join(spool_dir, STAGING), now, grace,
                         lambda problem: explain(problem, spool_dir, "remove"))


def clean_queue_staging(data_dir: str, now: float, grace: float = STAGING_GRACE) -> Cleaned:
    """clean_staging() for <data_dir>/tmp, where notice-spool stages in queue delivery
    (queue_call_file): a killed one leaves its file there, not in the spool's tmp/."""
    folder = os.path.join(data_dir, STAGING)
    return _clean_folder(folder, now, grace, lambda problem: explain_failure(
        problem, problem.filename or folder, "remove", "the user notice-spool runs as, or fix data_dir's owner"))


def _clean_folder(folder: str, now: float, grace: float, explained: Callable[[OSError], str]) -> Cleaned:
    removed, busy = [], []
    for name in names_in(folder, missing_ok=True):
        if not (name.startswith(FILE_PREFIX) and name.endswith(FILE_SUFFIX)):
            continue
        path = os.path.join(folder, name)
        try:
            outcome = _reclaim(path, now - grace)
        except OSError as problem:
            raise SpoolError(explained(problem)) from None
        if outcome == REMOVED:
            removed.append(path)
        elif outcome == BUSY:
            busy.append(path)
    return Cleaned(folder, removed, busy)


def _fsync_or_take_back(folder: str, targets: list[str]) -> None:
    """Make the renames into FOLDER durable. If that fails, the moves may not be: take the
    notices back rather than report a failure and leave them to fire anyway."""
    if not targets:
        return
    try:
        fsync_folder(folder)
    except BaseException:
        for target in targets:
            _remove_quietly(target)
        targets.clear()
        raise


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _check_folder(path: str) -> None:
    if not os.path.isdir(path):
        raise missing_folder(path)


def _ensure_staging_dir(staging_dir: str, outgoing: str) -> None:
    """Create <spool>/tmp when missing, owned and permitted like outgoing/."""
    if os.path.isdir(staging_dir):
        # A tmp/ that leads into outgoing/ (a symlink) would let Asterisk read half-written files.
        if os.path.samefile(staging_dir, outgoing):
            raise SpoolError(f"{staging_dir} is {outgoing} itself; make tmp/ a folder of its own beside outgoing/")
        return
    ensure_folder_like(staging_dir, outgoing)


def ensure_folder_like(folder: str, like_folder: str) -> None:
    """Create FOLDER when missing, owned and permitted like LIKE_FOLDER."""
    if os.path.isdir(folder):
        return
    if os.path.lexists(folder) and not os.path.isdir(folder):  # isdir again: another run may have made it
        raise SpoolError(f"{folder} exists but is not a folder; move it away so notice-cli can put files there")
    like = os.stat(like_folder)
    try:
        os.mkdir(folder, like.st_mode & 0o7777)
    except FileExistsError:
        if os.path.isdir(folder):
            return  # another notice-spool created it just now
        raise
    os.chmod(folder, like.st_mode & 0o7777)
    if os.geteuid() == 0:
        os.chown(folder, like.st_uid, like.st_gid)


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


def writable_by(folder: str, ids: tuple[int, int] | None) -> bool:
    """Whether the user IDS (uid, gid; None: this process's user, with its other groups) may
    create files in FOLDER, by its owner, group and mode (another user's other groups aside)."""
    uid, groups = (ids[0], {ids[1]}) if ids else (os.geteuid(), {os.getegid(), *os.getgroups()})
    info = os.stat(folder)
    if uid == 0:
        return True
    if info.st_uid == uid:
        return info.st_mode & 0o300 == 0o300
    if info.st_gid in groups:
        return info.st_mode & 0o030 == 0o030
    return info.st_mode & 0o003 == 0o003


def _current_user(pwd) -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


