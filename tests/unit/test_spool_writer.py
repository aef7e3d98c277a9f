"""spool_writer.py in a fake file system: the staging-and-rename rules, each failure and what
it leaves behind (nothing), the staging locks and notice gc's cleaner, the owner, and many call
files staged and renamed one by one with one folder fsync per batch."""

import errno
import fcntl
import os
import pwd
import stat
import sys
import time

import pytest

from fakespool import ARCHIVE, OUTGOING, SPOOL, STAGING, make_dir
from notice_cli import spool, spool_writer
from notice_cli.errors import EXIT_SPOOL, SpoolError

NAME = "notice-20261128093000-0a1b2c3d.call"
TARGET = f"{OUTGOING}/{NAME}"
STAGED = f"{STAGING}/{NAME}"
TEXT = (
    "Channel: Local/79991234567@from-internal\n"
    "Application: Playback\n"
    "Data: /var/spool/asterisk/notice/rec_1764322200.42\n"
    "Archive: yes\n"
    "Setvar: NOTICE_ID=20261128093000-0a1b2c3d\n"
)
DUE = 1796110200  # 2026-12-01T07:30:00Z


def spool_it(text=TEXT, mode=0o644, owner=None):
    return spool_writer.spool_call_file(text, NAME, DUE, SPOOL, mode, owner)


def listing(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else None


def assert_nothing_spooled():
    """Rule 5: nothing in outgoing/ and no staging file left in tmp/ (tmp/ may be absent)."""
    assert listing(OUTGOING) in ([], None)
    assert listing(STAGING) in ([], None)


def files_with(data: bytes):
    """Every file in the whole fake file system whose content is DATA."""
    found = []
    for folder, _, names in os.walk("/"):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                with open(path, "rb") as stream:
                    if stream.read() == data:
                        found.append(path)
    return found


def called_from_spool() -> bool:
    """Whether the caller of the os function being patched is the writer itself, or spool.py's
    fsync_folder (pyfakefs' fake os.open calls its own chmod, which a test must not count or fail)."""
    return sys._getframe(2).f_code.co_filename in (spool_writer.__file__, spool.__file__)


def refusal(**kwargs) -> SpoolError:
    with pytest.raises(SpoolError) as caught:
        spool_it(**kwargs)
    assert caught.value.exit_code == EXIT_SPOOL == 4
    return caught.value


def call_file(n: int) -> tuple[str, str, int]:
    notice_id = f"20261128093000-{n:08x}"
    return f"Channel: Local/{n}@x\nSetvar: NOTICE_ID={notice_id}\n", f"notice-{notice_id}.call", DUE + n


# --- the happy path ------------------------------------------------------------------------

def test_spools_the_call_file_complete_with_mode_owner_and_due_mtime(packaged_spool):
    assert spool_it() == TARGET
    assert listing(OUTGOING) == [NAME]
    assert listing(STAGING) == []
    info = os.stat(TARGET)
    assert stat.S_ISREG(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o644
    # Asterisk reads the mtime once, in whole seconds: exactly the due second, no fraction.
    assert info.st_mtime_ns == DUE * 10**9
    assert info.st_atime_ns == DUE * 10**9
    # run as root with an asterisk user and no owner configured: given to asterisk
    assert (info.st_uid, info.st_gid) == (105, 109)
    with open(TARGET, "rb") as stream:
        assert stream.read() == TEXT.encode()


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o660, 0o664])
def test_call_file_gets_the_configured_mode(packaged_spool, mode):
    packaged_spool.umask = 0o077  # the mode is set, not left to the umask
    spool_it(mode=mode)
    assert stat.S_IMODE(os.stat(TARGET).st_mode) == mode


def test_text_is_written_as_utf8(packaged_spool):
    text = 'CallerID: "Клиника" <74951234567>\n'
    spool_it(text=text)
    with open(TARGET, "rb") as stream:
        assert stream.read() == text.encode("utf-8")


def test_short_writes_are_continued_until_everything_is_written(packaged_spool, monkeypatch):
    real_write = spool_writer.os.write
    sizes = []

    def short_write(fd, data):
        sizes.append(real_write(fd, bytes(data[:7])))
        return sizes[-1]

    monkeypatch.setattr(spool_writer.os, "write", short_write)
    spool_it()
    with open(TARGET, "rb") as stream:
        assert stream.read() == TEXT.encode()
    assert len(sizes) == -(-len(TEXT.encode()) // 7)


def test_steps_in_order_staged_in_tmp_finished_there_then_moved_then_folder_synced(packaged_spool, monkeypatch):
    """Rules 1-4: O_EXCL in tmp/, fsync, chmod, chown, utime, all before the rename; then the
    folder's fsync. At the rename the staged file already has its final mode, owner and mtime."""
    events = []
    fake = spool_writer.os

    def record(name, describe):
        real = getattr(fake, name)

        def wrapper(*args, **kwargs):
            if called_from_spool():
                events.append(describe(*args))
            return real(*args, **kwargs)

        monkeypatch.setattr(fake, name, wrapper)

    def on_fsync(fd):
        info = fake.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            which = "outgoing/" if info.st_ino == fake.stat(OUTGOING).st_ino else "another folder"
            return ("fsync", which)
        return ("fsync", "file", info.st_size)

    def on_rename(src, dst):
        info = fake.stat(src)
        with open(src, "rb") as stream:
            content = stream.read()
        return ("rename", src, dst, stat.S_IMODE(info.st_mode), info.st_uid, info.st_mtime_ns, content)

    record("open", lambda path, flags, *rest: ("open", path, flags & (os.O_CREAT | os.O_EXCL), flags & os.O_WRONLY))
    record("fsync", on_fsync)
    record("chmod", lambda path, mode: ("chmod", path, mode))
    record("chown", lambda path, uid, gid: ("chown", path, uid, gid))
    record("utime", lambda path, times: ("utime", path, times))
    record("rename", on_rename)

    spool_it()

    assert events == [
        ("open", STAGED, os.O_CREAT | os.O_EXCL, os.O_WRONLY),
        ("fsync", "file", len(TEXT.encode())),
        ("chmod", STAGED, 0o644),
        ("chown", STAGED, 105, 109),
        ("utime", STAGED, (DUE, DUE)),
        ("rename", STAGED, TARGET, 0o644, 105, DUE * 10**9, TEXT.encode()),
        ("open", OUTGOING, 0, 0),
        ("fsync", "outgoing/"),
    ]


# --- tmp/ --------------------------------------------------------------------------------

def test_missing_staging_folder_is_created_owned_and_permitted_like_outgoing(fs, run_as):
    make_dir(fs, OUTGOING, 0o2770, 105, 109)
    fs.umask = 0o077  # mkdir's mode is cut by the umask: the folder must be chmod'ed after
    assert spool_it() == TARGET
    info = os.stat(STAGING)
    assert stat.S_ISDIR(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o2770
    assert (info.st_uid, info.st_gid) == (105, 109)
    assert listing(STAGING) == []
    assert listing(OUTGOING) == [NAME]


def test_missing_staging_folder_is_created_by_a_non_root_user(fs, run_as):
    make_dir(fs, SPOOL, 0o755, 1000, 1000)
    make_dir(fs, OUTGOING, 0o750, 1000, 1000)
    run_as(1000, 1000)
    assert spool_it() == TARGET
    info = os.stat(STAGING)
    assert stat.S_IMODE(info.st_mode) == 0o750
    assert info.st_uid == 1000
    assert os.stat(TARGET).st_uid == 1000


def test_staging_folder_created_meanwhile_by_another_notice_spool_is_used(fs, run_as, monkeypatch):
    make_dir(fs, OUTGOING, 0o775, 105, 109)
    real_mkdir = spool_writer.os.mkdir

    def racing_mkdir(path, mode=0o777):
        real_mkdir(path, mode)  # the other process wins
        raise FileExistsError(errno.EEXIST, "File exists", path)

    monkeypatch.setattr(spool_writer.os, "mkdir", racing_mkdir)
    assert spool_it() == TARGET
    assert listing(OUTGOING) == [NAME]
    assert listing(STAGING) == []


def test_staging_path_taken_by_a_file_is_refused_and_left_alone(packaged_spool):
    os.rmdir(STAGING)
    packaged_spool.create_file(STAGING, contents="not a folder")
    problem = refusal()
    assert str(problem) == f"{STAGING} exists but is not a folder; move it away so notice-cli can put files there"
    with open(STAGING) as stream:
        assert stream.read() == "not a folder"
    assert listing(OUTGOING) == []


def test_staging_folder_that_leads_into_outgoing_is_refused(fs, run_as):
    """A tmp/ symlinked to outgoing/ would stage files where Asterisk reads them half-written."""
    make_dir(fs, OUTGOING, 0o775, 105, 109)
    fs.create_symlink(STAGING, OUTGOING)
    problem = refusal()
    assert str(problem) == f"{STAGING} is {OUTGOING} itself; make tmp/ a folder of its own beside outgoing/"
    assert listing(OUTGOING) == []


# --- outgoing/ missing -------------------------------------------------------------------

def test_missing_outgoing_is_refused_and_nothing_is_created(fs, run_as):
    make_dir(fs, SPOOL, 0o755)
    problem = refusal()
    assert str(problem) == (f"spool folder {OUTGOING} does not exist; "
                            "is Asterisk installed, and is spool_dir right?")
    assert listing(SPOOL) == []  # not even tmp/


def test_missing_spool_folder_is_refused_and_not_created(fs, run_as):
    problem = refusal()
    assert str(problem) == (f"spool folder {OUTGOING} does not exist; "
                            "is Asterisk installed, and is spool_dir right?")
    assert not os.path.exists(SPOOL)


def test_outgoing_that_is_a_file_is_refused(fs, run_as):
    fs.create_file(OUTGOING, contents="x")
    problem = refusal()
    assert str(problem).startswith(f"spool folder {OUTGOING} does not exist")
    assert not os.path.exists(STAGING)


# --- permissions -------------------------------------------------------------------------

PERMISSION_HINT = "; run as root or as the user Asterisk runs as, or fix the folder's owner"


def test_read_only_spool_folder_cannot_get_a_tmp_folder(fs, run_as):
    make_dir(fs, SPOOL, 0o555)
    make_dir(fs, OUTGOING, 0o777)
    run_as(1000, 1000)
    problem = refusal()
    assert str(problem) == f"permission denied on {STAGING}{PERMISSION_HINT}"
    assert not os.path.exists(STAGING)
    assert listing(OUTGOING) == []


def test_a_tmp_folder_another_run_makes_meanwhile_is_taken(fs, run_as, monkeypatch):
    """Eight imports at once on a spool without tmp/: one finds no tmp/, then finds something
    there; it is the folder another run has just made, not a file in the way."""
    make_dir(fs, OUTGOING, 0o777)
    real_lexists = os.path.lexists

    def made_meanwhile(path):
        if path == STAGING and not real_lexists(path):
            os.mkdir(STAGING)
        return real_lexists(path)

    monkeypatch.setattr(spool_writer.os.path, "lexists", made_meanwhile)
    spool_writer._ensure_staging_dir(STAGING, OUTGOING)
    assert os.path.isdir(STAGING)


def test_read_only_staging_folder_is_refused(fs, run_as):
    make_dir(fs, OUTGOING, 0o777)
    make_dir(fs, STAGING, 0o555)
    run_as(1000, 1000)
    problem = refusal()
    assert str(problem).startswith("permission denied on ")
    assert str(problem).endswith(PERMISSION_HINT)
    assert_nothing_spooled()


def test_read_only_outgoing_refuses_the_move_and_the_staging_file_is_removed(fs, run_as):
    make_dir(fs, OUTGOING, 0o555)
    make_dir(fs, STAGING, 0o777)
    run_as(1000, 1000)
    problem = refusal()
    # outgoing/, where the file was going, not tmp/ (the real rename() names TARGET: test_faults.py)
    assert str(problem).startswith(f"permission denied on {OUTGOING}")
    assert str(problem).endswith(PERMISSION_HINT)
    assert_nothing_spooled()


# --- EXDEV, ENOSPC -----------------------------------------------------------------------

def test_tmp_on_another_file_system_is_refused_without_a_copy(packaged_spool):
    os.rmdir(STAGING)
    packaged_spool.add_mount_point(STAGING)
    problem = refusal()
    assert str(problem) == (
        f"{STAGING} and {OUTGOING} are on different file systems, so the call file cannot be moved "
        "in atomically; make tmp/ a folder on the same file system as outgoing/"
    )
    assert_nothing_spooled()
    assert files_with(TEXT.encode()) == []  # no copy anywhere, staging file removed


def test_full_disk_is_refused_and_the_partial_file_removed(packaged_spool):
    packaged_spool.set_disk_usage(len(TEXT) // 2, SPOOL)
    problem = refusal()
    assert str(problem).startswith("no space left on the device of ")
    assert str(problem).endswith("; free some space and schedule the notice again")
    assert_nothing_spooled()
    assert packaged_spool.get_disk_usage(SPOOL).used == 0


# --- names that exist already ------------------------------------------------------------

def test_staging_file_another_writer_holds_is_neither_used_nor_removed(packaged_spool, locks):
    packaged_spool.create_file(STAGED, contents="another notice-spool is writing this")
    locks.hold(STAGED)
    problem = refusal()
    assert str(problem) == f"{STAGED} already exists; not overwriting it (schedule the notice again for a new name)"
    with open(STAGED) as stream:
        assert stream.read() == "another notice-spool is writing this"
    assert listing(STAGING) == [NAME]
    assert listing(OUTGOING) == []


def test_leftover_staging_file_of_a_killed_writer_is_taken_back(packaged_spool, locks):
    """An import run again after a crash meets the staging file of its own notice: unlocked,
    its writer is gone, so it is removed and the notice written anew."""
    packaged_spool.create_file(STAGED, contents="Channel: Local/7999")
    assert spool_it() == TARGET
    with open(TARGET, "rb") as stream:
        assert stream.read() == TEXT.encode()
    assert os.stat(TARGET).st_mtime_ns == DUE * 10**9
    assert listing(STAGING) == []


def test_staging_file_is_locked_from_its_creation_to_its_rename(packaged_spool, locks, monkeypatch):
    real_rename, real_open = spool_writer.os.rename, spool_writer.os.open
    opened = []

    def open_(path, flags, *rest):
        fd = real_open(path, flags, *rest)
        if path == STAGED and called_from_spool():
            opened.append(fd)
            assert locks.held_by == {}  # not locked before it exists
        return fd

    def rename(src, dst):
        assert locks.held_by == {opened[0]: os.stat(src).st_ino}
        return real_rename(src, dst)

    monkeypatch.setattr(spool_writer.os, "open", open_)
    monkeypatch.setattr(spool_writer.os, "rename", rename)
    spool_it()
    assert locks.taken == [(opened[0], fcntl.LOCK_EX)]  # blocking: waits out a gc looking at it
    assert locks.held_by == {}  # released once in outgoing/


def test_staging_file_removed_between_its_open_and_its_lock_is_made_again(packaged_spool, locks, monkeypatch):
    """notice gc (or an import) may find the file in the instant before the writer locks it,
    and remove it: the writer must not then rename whatever has that name, but write anew."""
    real_flock = locks.flock
    removed = []

    def flock(fd, operation):
        if not removed:
            os.unlink(STAGED)
            removed.append(STAGED)
        return real_flock(fd, operation)

    monkeypatch.setattr(locks, "flock", flock)
    assert spool_it() == TARGET
    assert removed == [STAGED]
    with open(TARGET, "rb") as stream:
        assert stream.read() == TEXT.encode()
    assert listing(STAGING) == []
    assert len(locks.taken) == 2


def test_a_failing_writer_removes_its_staging_file_before_it_lets_the_lock_go(packaged_spool, locks, monkeypatch):
    """Once the lock is free, another writer may take the name back and make its own file of
    it: removing after that would remove the other writer's file, and let a third make one."""
    real_unlink = spool_writer.os.unlink
    locked_at_removal = []

    def unlink(path, *args, **kwargs):
        if path == STAGED:
            locked_at_removal.append(os.stat(path).st_ino in locks.held_by.values())
        return real_unlink(path, *args, **kwargs)

    def full_disk(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool_writer.os, "unlink", unlink)
    monkeypatch.setattr(spool_writer.os, "write", full_disk)
    refusal()
    assert locked_at_removal == [True]
    assert_nothing_spooled()


def test_existing_staging_symlink_is_not_followed(packaged_spool):
    victim = OUTGOING + "/planted.call"
    packaged_spool.create_symlink(STAGED, victim)
    refusal()
    assert not os.path.lexists(victim)
    assert os.path.islink(STAGED) and os.readlink(STAGED) == victim
    assert listing(OUTGOING) == []


def test_existing_target_is_not_overwritten(packaged_spool):
    packaged_spool.create_file(TARGET, contents="an earlier notice")
    os.utime(TARGET, (1700000000, 1700000000))
    problem = refusal()
    assert str(problem) == f"{TARGET} already exists; not overwriting it (schedule the notice again for a new name)"
    with open(TARGET) as stream:
        assert stream.read() == "an earlier notice"
    assert os.stat(TARGET).st_mtime_ns == 1700000000 * 10**9
    assert listing(OUTGOING) == [NAME]
    assert listing(STAGING) == []


def test_existing_target_symlink_is_not_overwritten(packaged_spool):
    packaged_spool.create_symlink(TARGET, "/nowhere")
    refusal()
    assert os.readlink(TARGET) == "/nowhere"
    assert listing(STAGING) == []


# --- leftovers of killed writers: notice gc ---------------------------------------------
# (pyfakefs' os.open() sets a file's ctime, which the kernel does not: the grace period is
# tested with real files in test_spool_writer_locks.py)

def leftover(fs, name, contents="Channel: Local/7999"):
    """A staging file as a writer killed mid-write leaves it."""
    return fs.create_file(f"{STAGING}/{name}", contents=contents).path


def later() -> float:
    """A moment by which every file made so far has been idle for longer than the grace."""
    return time.time() + spool_writer.STAGING_GRACE + 1


def test_gc_removes_our_unlocked_staging_files_and_nothing_else(packaged_spool, locks):
    dead = leftover(packaged_spool, NAME)
    imported = leftover(packaged_spool, "notice-20991201103000-5e0c2a91.call", contents="")
    live = leftover(packaged_spool, "notice-20261128093001-11111111.call")
    locks.hold(live)
    others = [leftover(packaged_spool, name) for name in ("voicemail-4242.tmp", "notice-1.txt", "x.call")]
    packaged_spool.create_file(TARGET, contents=TEXT)
    packaged_spool.create_symlink(f"{STAGING}/notice-link.call", TARGET)
    packaged_spool.create_dir(f"{STAGING}/notice-folder.call")
    cleaned = spool_writer.clean_staging(SPOOL, later())
    assert (cleaned.folder, sorted(cleaned.removed), cleaned.busy) == (STAGING, sorted([dead, imported]), [live])
    assert listing(STAGING) == sorted([os.path.basename(path) for path in [live] + others]
                                      + ["notice-folder.call", "notice-link.call"])
    assert listing(OUTGOING) == [NAME]
    with open(TARGET) as stream:
        assert stream.read() == TEXT


def test_gc_without_a_staging_folder_removes_nothing(fs, run_as):
    make_dir(fs, OUTGOING, 0o775)
    assert spool_writer.clean_staging(SPOOL, later()) == spool_writer.Cleaned(STAGING, [], [])
    assert not os.path.exists(STAGING)


def test_gc_of_a_spool_that_is_not_there_is_refused(fs, run_as):
    with pytest.raises(SpoolError) as caught:
        spool_writer.clean_staging("/srv/nowhere", later())
    assert caught.value.exit_code == EXIT_SPOOL
    assert str(caught.value) == ("spool folder /srv/nowhere/outgoing does not exist; "
                                 "is Asterisk installed, and is spool_dir right?")


def test_gc_that_may_not_remove_a_leftover_is_refused_and_removes_nothing(fs, run_as, locks):
    make_dir(fs, OUTGOING, 0o775)
    make_dir(fs, STAGING, 0o755)
    leftover(fs, NAME)
    run_as(1000, 1000)
    with pytest.raises(SpoolError) as caught:
        spool_writer.clean_staging(SPOOL, later())
    assert caught.value.exit_code == EXIT_SPOOL
    # (the real unlink() names the whole path; pyfakefs' its last part)
    assert str(caught.value).startswith("permission denied on ") and NAME in str(caught.value)
    assert str(caught.value).endswith(PERMISSION_HINT)
    assert listing(STAGING) == [NAME]


# --- owner -------------------------------------------------------------------------------

def test_root_without_an_asterisk_user_leaves_the_file_as_created(packaged_spool, users):
    del users["asterisk"]
    spool_it()
    info = os.stat(TARGET)
    assert (info.st_uid, info.st_gid) == (0, 0)


def test_root_gives_the_file_to_the_configured_owner(packaged_spool, users):
    users["pbx"] = pwd.struct_passwd(("pbx", "x", 2000, 2001, "", "/", "/bin/false"))
    spool_it(owner="pbx")
    info = os.stat(TARGET)
    assert (info.st_uid, info.st_gid) == (2000, 2001)


def test_configured_owner_that_does_not_exist_is_refused_before_any_write(fs, run_as):
    make_dir(fs, OUTGOING, 0o775, 105, 109)
    problem = refusal(owner="ghost")
    assert str(problem) == "owner user ghost does not exist; create it or set owner to the user Asterisk runs as"
    assert listing(OUTGOING) == []
    assert not os.path.exists(STAGING)


def test_non_root_cannot_give_the_file_to_another_owner(fs, run_as):
    make_dir(fs, OUTGOING, 0o777)
    run_as(1000, 1000)
    problem = refusal(owner="asterisk")
    assert str(problem) == ("owner is asterisk but notice-spool runs as operator and cannot give files away; "
                            "run it as root or as asterisk, or unset owner")
    assert listing(OUTGOING) == []
    assert not os.path.exists(STAGING)


def test_non_root_without_a_user_name_is_named_by_its_uid(fs, run_as):
    make_dir(fs, OUTGOING, 0o777)
    run_as(4242, 4242)
    problem = refusal(owner="asterisk")
    assert str(problem).startswith("owner is asterisk but notice-spool runs as 4242 and cannot give files away")


@pytest.mark.parametrize("owner", [None, "operator"])
def test_non_root_keeps_the_file_as_its_own(fs, run_as, owner):
    make_dir(fs, OUTGOING, 0o777)
    make_dir(fs, STAGING, 0o777)
    run_as(1000, 1000)
    assert spool_it(owner=owner) == TARGET
    info = os.stat(TARGET)
    assert (info.st_uid, info.st_gid) == (1000, 1000)  # not given to asterisk (105)
    assert stat.S_IMODE(info.st_mode) == 0o644


# --- any failure: the staging file is removed, nothing reaches outgoing/ ------------------

@pytest.mark.parametrize("step", ["write", "fsync", "close", "chmod", "chown", "utime", "rename"])
def test_failure_at_any_step_leaves_nothing(packaged_spool, monkeypatch, step):
    real = getattr(spool_writer.os, step)
    calls = []

    def fail_once(*args, **kwargs):
        if not called_from_spool():
            return real(*args, **kwargs)
        calls.append(args)
        if len(calls) == 1:
            if step == "close":
                real(*args, **kwargs)  # do not leak the descriptor
            raise OSError(errno.EIO, "Input/output error")
        return real(*args, **kwargs)

    monkeypatch.setattr(spool_writer.os, step, fail_once)
    problem = refusal()
    assert calls, f"os.{step} was never called"
    assert str(problem) == f"cannot write {SPOOL}: Input/output error"
    assert_nothing_spooled()


def test_failed_folder_fsync_after_the_move_takes_the_notice_back(packaged_spool, monkeypatch):
    real_fsync = spool_writer.os.fsync
    seen_in_outgoing = []

    def fsync(fd):
        if stat.S_ISDIR(spool_writer.os.fstat(fd).st_mode):
            seen_in_outgoing.append(listing(OUTGOING))
            raise OSError(errno.EIO, "Input/output error")
        return real_fsync(fd)

    monkeypatch.setattr(spool_writer.os, "fsync", fsync)
    problem = refusal()
    assert seen_in_outgoing == [[NAME]]  # it had been moved in...
    assert str(problem) == f"cannot write {SPOOL}: Input/output error"
    assert_nothing_spooled()  # ...and was taken out again


def test_interrupt_while_writing_removes_the_staging_file_and_is_not_hidden(packaged_spool, monkeypatch):
    def interrupted(fd, data):
        raise KeyboardInterrupt

    monkeypatch.setattr(spool_writer.os, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        spool_it()
    assert_nothing_spooled()


# --- spooling many -------------------------------------------------------------------------------

def test_many_call_files_each_staged_timed_and_moved_with_a_folder_fsync_per_batch(packaged_spool, monkeypatch):
    monkeypatch.setattr(spool_writer, "SYNC_EVERY", 4)
    events = []
    real = {name: getattr(spool_writer.os, name) for name in ("open", "fsync", "utime", "rename")}

    def record(name):
        def wrapper(*args, **kwargs):
            if name == "fsync":
                is_folder = stat.S_ISDIR(spool_writer.os.fstat(args[0]).st_mode)
                events.append("fsync " + ("outgoing/" if is_folder else "file"))
            elif name == "rename":
                events.append(("rename", os.path.basename(args[1]), spool_writer.os.stat(args[0]).st_mtime))
            return real[name](*args, **kwargs)
        return wrapper

    for name in real:
        monkeypatch.setattr(spool_writer.os, name, record(name))
    durable = []
    files = [call_file(n) for n in range(10)]
    assert spool_writer.spool_call_files(files, SPOOL, 0o640, None, durable.append) == 10

    assert sorted(os.listdir(OUTGOING)) == sorted(name for _, name, _ in files)
    assert os.listdir(STAGING) == []
    for text, name, due in files:
        info = os.stat(f"{OUTGOING}/{name}")
        assert (info.st_mtime, stat.S_IMODE(info.st_mode)) == (due, 0o640)
        with open(f"{OUTGOING}/{name}") as stream:
            assert stream.read() == text
    per_file = [["fsync file", ("rename", name, due)] for _, name, due in files]
    expected = []
    for n, steps in enumerate(per_file, 1):
        expected += steps
        if n % 4 == 0 or n == 10:
            expected.append("fsync outgoing/")
    assert events == expected
    # told of each file only once its batch was durable, in order
    assert durable == [f"{OUTGOING}/{name}" for _, name, _ in files]


def test_failure_half_way_keeps_the_durable_ones_and_says_how_many(packaged_spool, monkeypatch):
    monkeypatch.setattr(spool_writer, "SYNC_EVERY", 4)
    real_write = spool_writer.os.write
    written = []

    def full_disk(fd, data):
        written.append(fd)
        if len(written) == 7:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(spool_writer.os, "write", full_disk)
    files = [call_file(n) for n in range(10)]
    with pytest.raises(SpoolError) as caught:
        spool_writer.spool_call_files(files, SPOOL, 0o644, None)
    assert str(caught.value) == (f"no space left on the device of {SPOOL}; free some space and "
                                 "schedule the notice again; the 6 notices spooled before the failure stay scheduled")
    assert sorted(os.listdir(OUTGOING)) == sorted(name for _, name, _ in files[:6])
    assert os.listdir(STAGING) == []


def test_a_notice_already_pending_or_archived_is_passed_over_untouched(packaged_spool):
    files = [call_file(n) for n in range(4)]
    packaged_spool.create_file(f"{OUTGOING}/{files[1][1]}", contents="pending already")
    packaged_spool.create_file(f"{ARCHIVE}/{files[2][1]}", contents="called already")
    durable, already = [], []
    assert spool_writer.spool_call_files(files, SPOOL, 0o644, None, durable.append, already.append) == 2
    assert durable == [f"{OUTGOING}/{files[0][1]}", f"{OUTGOING}/{files[3][1]}"]
    assert already == [f"{OUTGOING}/{files[1][1]}", f"{OUTGOING}/{files[2][1]}"]
    with open(f"{OUTGOING}/{files[1][1]}") as stream:
        assert stream.read() == "pending already"
    assert sorted(os.listdir(OUTGOING)) == sorted(name for _, name, _ in [files[0], files[1], files[3]])
    assert os.listdir(ARCHIVE) == [files[2][1]]
    assert os.listdir(STAGING) == []


def test_a_name_other_writers_keep_making_anew_is_being_written_not_a_failure(packaged_spool, locks, monkeypatch):
    """Imports of one file in step: each time this one goes to make the staging file, another
    has just made it (and not yet locked it, so it is taken back as a leftover)."""
    text, name, due = call_file(1)
    staged = f"{STAGING}/{name}"
    real_open = spool_writer.os.open
    made = []

    def open_(path, flags, *args, **kwargs):
        if path == staged and flags & os.O_EXCL:
            packaged_spool.create_file(staged, contents="another writer's")
            made.append(path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(spool_writer.os, "open", open_)
    already = []
    assert spool_writer.spool_call_files([(text, name, due)], SPOOL, 0o644, None, already=already.append) == 0
    assert (len(made), already) == (3, [f"{OUTGOING}/{name}"])
    assert os.listdir(OUTGOING) == []


def test_failed_folder_fsync_takes_back_the_unsynced_batch(packaged_spool, monkeypatch):
    monkeypatch.setattr(spool_writer, "SYNC_EVERY", 2)
    real_fsync = spool_writer.os.fsync
    folder_syncs = []

    def fsync(fd):
        if stat.S_ISDIR(spool_writer.os.fstat(fd).st_mode):
            folder_syncs.append(sorted(os.listdir(OUTGOING)))
            if len(folder_syncs) == 2:
                raise OSError(errno.EIO, "Input/output error")
        return real_fsync(fd)

    monkeypatch.setattr(spool_writer.os, "fsync", fsync)
    files = [call_file(n) for n in range(5)]
    with pytest.raises(SpoolError, match="Input/output error; the 2 notices spooled before the failure stay"):
        spool_writer.spool_call_files(files, SPOOL, 0o644, None)
    assert folder_syncs[1] == sorted(name for _, name, _ in files[:4])  # moved in...
    assert sorted(os.listdir(OUTGOING)) == sorted(name for _, name, _ in files[:2])  # ...the batch taken back


def test_nothing_to_spool_writes_nothing(packaged_spool):
    assert spool_writer.spool_call_files([], SPOOL, 0o644, None) == 0
    assert os.listdir(OUTGOING) == []


def test_missing_outgoing_refuses_before_any_write(fs, run_as):
    with pytest.raises(SpoolError, match=f"^spool folder {OUTGOING} does not exist"):
        spool_writer.spool_call_files([call_file(1)], SPOOL, 0o644, None)
