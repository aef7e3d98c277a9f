"""spool.py's reading, removing and batch spooling in a fake file system: only our files are
read, files Asterisk moves meanwhile are passed over, removal is checked on the file as it is,
and many call files are staged and renamed one by one with one folder fsync per batch."""

import errno
import os
import stat

import pytest

from notice_cli import spool
from notice_cli.errors import SpoolError

SPOOL = "/var/spool/asterisk"
OUTGOING = SPOOL + "/outgoing"
ARCHIVE = SPOOL + "/outgoing_done"
STAGING = SPOOL + "/tmp"
DUE = 1796110200


def call_file(n: int) -> tuple[str, str, int]:
    notice_id = f"20261128093000-{n:08x}"
    return f"Channel: Local/{n}@x\nSetvar: NOTICE_ID={notice_id}\n", f"notice-{notice_id}.call", DUE + n


@pytest.fixture
def layout(fs, run_as):
    for folder in (OUTGOING, STAGING):
        fs.create_dir(folder)
    return fs


# --- reading -----------------------------------------------------------------------------------

def test_call_files_reads_only_regular_files_named_like_ours(layout):
    layout.create_file(f"{OUTGOING}/notice-a.call", contents="A\n")
    layout.create_file(f"{OUTGOING}/notice-b.call", contents="B\n" * 40000)  # longer than one read
    layout.create_file(f"{OUTGOING}/other.call", contents="not ours")
    layout.create_file(f"{OUTGOING}/notice-c.call.tmp", contents="not ours")
    layout.create_dir(f"{OUTGOING}/notice-d.call")
    layout.create_symlink(f"{OUTGOING}/notice-e.call", f"{OUTGOING}/notice-a.call")
    assert sorted(spool.call_files(OUTGOING)) == [("notice-a.call", "A\n"), ("notice-b.call", "B\n" * 40000)]


def test_call_file_gone_between_the_scan_and_the_read_is_passed_over(layout, monkeypatch):
    for name in ("notice-a.call", "notice-b.call", "notice-c.call"):
        layout.create_file(f"{OUTGOING}/{name}", contents=name)
    real_open = spool.os.open

    def moved_by_asterisk(path, *args, **kwargs):
        if path.endswith("notice-b.call") and os.path.exists(f"{OUTGOING}/notice-b.call"):
            os.rename(f"{OUTGOING}/notice-b.call", f"{SPOOL}/notice-b.call")  # into the archive, as it were
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(spool.os, "open", moved_by_asterisk)
    assert sorted(name for name, _ in spool.call_files(OUTGOING)) == ["notice-a.call", "notice-c.call"]


def test_a_listing_leaves_access_times_alone(tmp_path):
    """On the real file system: reading the spool is no use of a call file (O_NOATIME); with
    relatime, a read would set an access time older than a day to now."""
    if os.geteuid() != 0 and tmp_path.stat().st_uid != os.geteuid():
        pytest.skip("O_NOATIME needs the files' owner or root")
    path = tmp_path / "notice-a.call"
    path.write_text("A\n")
    os.utime(path, (DUE - 7 * 86400, DUE))  # accessed a week before it changed
    assert list(spool.call_files(str(tmp_path))) == [("notice-a.call", "A\n")]
    assert path.stat().st_atime == DUE - 7 * 86400


def test_without_the_right_to_o_noatime_the_files_are_read_all_the_same(layout, monkeypatch):
    for name in ("notice-a.call", "notice-b.call", "notice-c.call"):
        layout.create_file(f"{OUTGOING}/{name}", contents=name)
    real_open, refused = spool.os.open, []

    def not_the_owner(path, flags, *args, **kwargs):
        if flags & os.O_NOATIME:  # as the kernel answers anyone but the owner or root
            refused.append(path)
            raise PermissionError(errno.EPERM, "Operation not permitted", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(spool.os, "open", not_the_owner)
    assert sorted(spool.call_files(OUTGOING)) == [(name, name) for name in ("notice-a.call", "notice-b.call",
                                                                              "notice-c.call")]
    assert len(refused) == 1  # asked once, then not again


def test_call_files_are_read_one_at_a_time(layout):
    for n in range(3):
        layout.create_file(f"{OUTGOING}/notice-{n}.call", contents=str(n))
    files = spool.call_files(OUTGOING)
    first = next(files)
    os.unlink(f"{OUTGOING}/{first[0]}")  # a generator: what is not read yet can still change
    assert len(list(files)) == 2


def test_missing_outgoing_is_a_spool_error_and_missing_archive_is_empty(fs):
    with pytest.raises(SpoolError, match=f"spool folder {OUTGOING} does not exist"):
        list(spool.call_files(OUTGOING))
    assert list(spool.call_files(ARCHIVE, missing_ok=True)) == []
    assert spool.names_in(ARCHIVE, missing_ok=True) == []
    with pytest.raises(SpoolError, match="does not exist"):
        spool.names_in(OUTGOING)


def test_unreadable_file_is_a_spool_error_naming_it(layout, run_as):
    layout.create_file(f"{OUTGOING}/notice-a.call", contents="A")
    os.chmod(f"{OUTGOING}/notice-a.call", 0o600)
    run_as(1000, 1000)
    with pytest.raises(SpoolError) as caught:
        list(spool.call_files(OUTGOING))
    assert str(caught.value).startswith(f"permission denied on {OUTGOING}/notice-a.call")


def test_read_call_file_and_its_mtime(layout):
    layout.create_file(f"{OUTGOING}/notice-a.call", contents="Channel: x\n")
    os.utime(f"{OUTGOING}/notice-a.call", (DUE, DUE))
    assert spool.read_call_file(OUTGOING, "notice-a.call") == "Channel: x\n"
    assert spool.mtime_of(OUTGOING, "notice-a.call") == DUE
    assert spool.read_call_file(OUTGOING, "notice-b.call") is None
    assert spool.mtime_of(OUTGOING, "notice-b.call") is None
    layout.create_dir(f"{OUTGOING}/notice-d.call")
    assert spool.read_call_file(OUTGOING, "notice-d.call") is None


def test_text_that_is_not_utf8_is_read_without_failing(layout):
    layout.create_file(f"{OUTGOING}/notice-a.call", contents=b"CallerID: \xff\n")
    assert spool.read_call_file(OUTGOING, "notice-a.call") == "CallerID: \udcff\n"


# --- removing ----------------------------------------------------------------------------------

def test_remove_asks_about_the_file_as_it_is_now(layout):
    layout.create_file(f"{OUTGOING}/notice-a.call", contents="now\n")
    os.utime(f"{OUTGOING}/notice-a.call", (DUE, DUE))
    seen = []

    def refusal(text, mtime):
        seen.append((text, mtime))
        return None

    assert spool.remove_call_file(OUTGOING, "notice-a.call", refusal) is None
    assert seen == [("now\n", DUE)]
    assert os.listdir(OUTGOING) == []


def test_remove_refused_leaves_the_file(layout):
    layout.create_file(f"{OUTGOING}/notice-a.call", contents="x")
    assert spool.remove_call_file(OUTGOING, "notice-a.call", lambda text, mtime: "busy") == "busy"
    assert os.listdir(OUTGOING) == ["notice-a.call"]


def test_remove_of_a_file_that_is_gone_or_not_a_regular_file(layout):
    layout.create_file(f"{SPOOL}/elsewhere", contents="keep me")
    layout.create_symlink(f"{OUTGOING}/notice-l.call", f"{SPOOL}/elsewhere")
    never = lambda text, mtime: pytest.fail("asked about a file that is not there")  # noqa: E731
    assert spool.remove_call_file(OUTGOING, "notice-gone.call", never) == "it is no longer there"
    assert spool.remove_call_file(OUTGOING, "notice-l.call", never) == "it is no longer there"
    assert os.path.exists(f"{SPOOL}/elsewhere") and os.path.islink(f"{OUTGOING}/notice-l.call")


def test_remove_denied_is_a_spool_error(layout, run_as):
    layout.create_file(f"{OUTGOING}/notice-a.call", contents="x")
    os.chmod(OUTGOING, 0o755)
    run_as(1000, 1000)
    with pytest.raises(SpoolError, match="permission denied on .*notice-a.call; run as root"):
        spool.remove_call_file(OUTGOING, "notice-a.call", lambda text, mtime: None)
    assert os.listdir(OUTGOING) == ["notice-a.call"]


# --- spooling many -------------------------------------------------------------------------------

def test_many_call_files_each_staged_timed_and_moved_with_a_folder_fsync_per_batch(layout, monkeypatch):
    monkeypatch.setattr(spool, "SYNC_EVERY", 4)
    events = []
    real = {name: getattr(spool.os, name) for name in ("open", "fsync", "utime", "rename")}

    def record(name):
        def wrapper(*args, **kwargs):
            if name == "fsync":
                is_folder = stat.S_ISDIR(spool.os.fstat(args[0]).st_mode)
                events.append("fsync " + ("outgoing/" if is_folder else "file"))
            elif name == "rename":
                events.append(("rename", os.path.basename(args[1]), spool.os.stat(args[0]).st_mtime))
            return real[name](*args, **kwargs)
        return wrapper

    for name in real:
        monkeypatch.setattr(spool.os, name, record(name))
    durable = []
    files = [call_file(n) for n in range(10)]
    assert spool.spool_call_files(files, SPOOL, 0o640, None, durable.append) == 10

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


def test_failure_half_way_keeps_the_durable_ones_and_says_how_many(layout, monkeypatch):
    monkeypatch.setattr(spool, "SYNC_EVERY", 4)
    real_write = spool.os.write
    written = []

    def full_disk(fd, data):
        written.append(fd)
        if len(written) == 7:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(spool.os, "write", full_disk)
    files = [call_file(n) for n in range(10)]
    with pytest.raises(SpoolError) as caught:
        spool.spool_call_files(files, SPOOL, 0o644, None)
    assert str(caught.value) == (f"no space left on the device of {SPOOL}; free some space and "
                                 "schedule the notice again; the 6 notices spooled before the failure stay scheduled")
    assert sorted(os.listdir(OUTGOING)) == sorted(name for _, name, _ in files[:6])
    assert os.listdir(STAGING) == []


def test_a_notice_already_pending_or_archived_is_passed_over_untouched(layout):
    files = [call_file(n) for n in range(4)]
    layout.create_file(f"{OUTGOING}/{files[1][1]}", contents="pending already")
    layout.create_file(f"{ARCHIVE}/{files[2][1]}", contents="called already")
    durable, already = [], []
    assert spool.spool_call_files(files, SPOOL, 0o644, None, durable.append, already.append) == 2
    assert durable == [f"{OUTGOING}/{files[0][1]}", f"{OUTGOING}/{files[3][1]}"]
    assert already == [f"{OUTGOING}/{files[1][1]}", f"{OUTGOING}/{files[2][1]}"]
    with open(f"{OUTGOING}/{files[1][1]}") as stream:
        assert stream.read() == "pending already"
    assert sorted(os.listdir(OUTGOING)) == sorted(name for _, name, _ in [files[0], files[1], files[3]])
    assert os.listdir(ARCHIVE) == [files[2][1]]
    assert os.listdir(STAGING) == []


def test_a_name_other_writers_keep_making_anew_is_being_written_not_a_failure(layout, locks, monkeypatch):
    """Imports of one file in step: each time this one goes to make the staging file, another
    has just made it (and not yet locked it, so it is taken back as a leftover)."""
    text, name, due = call_file(1)
    staged = f"{STAGING}/{name}"
    real_open = spool.os.open
    made = []

    def open_(path, flags, *args, **kwargs):
        if path == staged and flags & os.O_EXCL:
            layout.create_file(staged, contents="another writer's")
            made.append(path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(spool.os, "open", open_)
    already = []
    assert spool.spool_call_files([(text, name, due)], SPOOL, 0o644, None, already=already.append) == 0
    assert (len(made), already) == (3, [f"{OUTGOING}/{name}"])
    assert os.listdir(OUTGOING) == []


def test_failed_folder_fsync_takes_back_the_unsynced_batch(layout, monkeypatch):
    monkeypatch.setattr(spool, "SYNC_EVERY", 2)
    real_fsync = spool.os.fsync
    folder_syncs = []

    def fsync(fd):
        if stat.S_ISDIR(spool.os.fstat(fd).st_mode):
            folder_syncs.append(sorted(os.listdir(OUTGOING)))
            if len(folder_syncs) == 2:
                raise OSError(errno.EIO, "Input/output error")
        return real_fsync(fd)

    monkeypatch.setattr(spool.os, "fsync", fsync)
    files = [call_file(n) for n in range(5)]
    with pytest.raises(SpoolError, match="Input/output error; the 2 notices spooled before the failure stay"):
        spool.spool_call_files(files, SPOOL, 0o644, None)
    assert folder_syncs[1] == sorted(name for _, name, _ in files[:4])  # moved in...
    assert sorted(os.listdir(OUTGOING)) == sorted(name for _, name, _ in files[:2])  # ...the batch taken back


def test_nothing_to_spool_writes_nothing(layout):
    assert spool.spool_call_files([], SPOOL, 0o644, None) == 0
    assert os.listdir(OUTGOING) == []


def test_missing_outgoing_refuses_before_any_write(fs, run_as):
    with pytest.raises(SpoolError, match=f"^spool folder {OUTGOING} does not exist"):
        spool.spool_call_files([call_file(1)], SPOOL, 0o644, None)


def test_syslog_lines_share_one_connection(fs, monkeypatch):
    import syslog

    calls = []
    monkeypatch.setattr(syslog, "openlog", lambda *args: calls.append(("openlog",) + args))
    monkeypatch.setattr(syslog, "syslog", lambda *args: calls.append(("syslog",) + args))
    monkeypatch.setattr(syslog, "closelog", lambda: calls.append(("closelog",)))
    fs.create_file("/dev/log")
    spool.log_lines(iter(["one", "two"]), "local3", "notice-import")
    assert calls == [("openlog", "notice-import", syslog.LOG_PID, syslog.LOG_LOCAL3),
                     ("syslog", syslog.LOG_INFO, "one"), ("syslog", syslog.LOG_INFO, "two"), ("closelog",)]
