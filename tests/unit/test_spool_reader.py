"""spool_reader.py in a fake file system: only our files are read, files Asterisk moves
meanwhile are passed over, and removal is checked on the file as it is."""

import errno
import os

import pytest

from fakespool import ARCHIVE, OUTGOING, SPOOL
from notice_cli import spool, spool_reader
from notice_cli.errors import SpoolError

DUE = 1796110200


# --- reading -----------------------------------------------------------------------------------

def test_call_files_reads_only_regular_files_named_like_ours(spool_folders):
    spool_folders.create_file(f"{OUTGOING}/notice-a.call", contents="A\n")
    spool_folders.create_file(f"{OUTGOING}/notice-b.call", contents="B\n" * 40000)  # longer than one read
    spool_folders.create_file(f"{OUTGOING}/other.call", contents="not ours")
    spool_folders.create_file(f"{OUTGOING}/notice-c.call.tmp", contents="not ours")
    spool_folders.create_dir(f"{OUTGOING}/notice-d.call")
    spool_folders.create_symlink(f"{OUTGOING}/notice-e.call", f"{OUTGOING}/notice-a.call")
    assert sorted(spool_reader.call_files(OUTGOING)) == [("notice-a.call", "A\n"), ("notice-b.call", "B\n" * 40000)]


def test_call_file_gone_between_the_scan_and_the_read_is_passed_over(spool_folders, monkeypatch):
    for name in ("notice-a.call", "notice-b.call", "notice-c.call"):
        spool_folders.create_file(f"{OUTGOING}/{name}", contents=name)
    real_open = spool_reader.os.open

    def moved_by_asterisk(path, *args, **kwargs):
        if path.endswith("notice-b.call") and os.path.exists(f"{OUTGOING}/notice-b.call"):
            os.rename(f"{OUTGOING}/notice-b.call", f"{SPOOL}/notice-b.call")  # into the archive, as it were
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(spool_reader.os, "open", moved_by_asterisk)
    assert sorted(name for name, _ in spool_reader.call_files(OUTGOING)) == ["notice-a.call", "notice-c.call"]


def test_a_listing_leaves_access_times_alone(tmp_path):
    """On the real file system: reading the spool is no use of a call file (O_NOATIME); with
    relatime, a read would set an access time older than a day to now."""
    if os.geteuid() != 0 and tmp_path.stat().st_uid != os.geteuid():
        pytest.skip("O_NOATIME needs the files' owner or root")
    path = tmp_path / "notice-a.call"
    path.write_text("A\n")
    os.utime(path, (DUE - 7 * 86400, DUE))  # accessed a week before it changed
    assert list(spool_reader.call_files(str(tmp_path))) == [("notice-a.call", "A\n")]
    assert path.stat().st_atime == DUE - 7 * 86400


def test_without_the_right_to_o_noatime_the_files_are_read_all_the_same(spool_folders, monkeypatch):
    for name in ("notice-a.call", "notice-b.call", "notice-c.call"):
        spool_folders.create_file(f"{OUTGOING}/{name}", contents=name)
    real_open, refused = spool_reader.os.open, []

    def not_the_owner(path, flags, *args, **kwargs):
        if flags & os.O_NOATIME:  # as the kernel answers anyone but the owner or root
            refused.append(path)
            raise PermissionError(errno.EPERM, "Operation not permitted", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(spool_reader.os, "open", not_the_owner)
    assert sorted(spool_reader.call_files(OUTGOING)) == [(name, name) for name in ("notice-a.call", "notice-b.call",
                                                                              "notice-c.call")]
    assert len(refused) == 1  # asked once, then not again


def test_call_files_are_read_one_at_a_time(spool_folders):
    for n in range(3):
        spool_folders.create_file(f"{OUTGOING}/notice-{n}.call", contents=str(n))
    files = spool_reader.call_files(OUTGOING)
    first = next(files)
    os.unlink(f"{OUTGOING}/{first[0]}")  # a generator: what is not read yet can still change
    assert len(list(files)) == 2


def test_missing_outgoing_is_a_spool_error_and_missing_archive_is_empty(fs):
    with pytest.raises(SpoolError, match=f"spool folder {OUTGOING} does not exist"):
        list(spool_reader.call_files(OUTGOING))
    assert list(spool_reader.call_files(ARCHIVE, missing_ok=True)) == []
    assert spool.names_in(ARCHIVE, missing_ok=True) == []
    with pytest.raises(SpoolError, match="does not exist"):
        spool.names_in(OUTGOING)


def test_unreadable_file_is_a_spool_error_naming_it(spool_folders, run_as):
    spool_folders.create_file(f"{OUTGOING}/notice-a.call", contents="A")
    os.chmod(f"{OUTGOING}/notice-a.call", 0o600)
    run_as(1000, 1000)
    with pytest.raises(SpoolError) as caught:
        list(spool_reader.call_files(OUTGOING))
    assert str(caught.value).startswith(f"permission denied on {OUTGOING}/notice-a.call")


def test_read_call_file_and_its_mtime(spool_folders):
    spool_folders.create_file(f"{OUTGOING}/notice-a.call", contents="Channel: x\n")
    os.utime(f"{OUTGOING}/notice-a.call", (DUE, DUE))
    assert spool_reader.read_call_file(OUTGOING, "notice-a.call") == "Channel: x\n"
    assert spool_reader.mtime_of(OUTGOING, "notice-a.call") == DUE
    assert spool_reader.read_call_file(OUTGOING, "notice-b.call") is None
    assert spool_reader.mtime_of(OUTGOING, "notice-b.call") is None
    spool_folders.create_dir(f"{OUTGOING}/notice-d.call")
    assert spool_reader.read_call_file(OUTGOING, "notice-d.call") is None


def test_text_that_is_not_utf8_is_read_without_failing(spool_folders):
    spool_folders.create_file(f"{OUTGOING}/notice-a.call", contents=b"CallerID: \xff\n")
    assert spool_reader.read_call_file(OUTGOING, "notice-a.call") == "CallerID: \udcff\n"


# --- removing ----------------------------------------------------------------------------------

def test_remove_asks_about_the_file_as_it_is_now(spool_folders):
    spool_folders.create_file(f"{OUTGOING}/notice-a.call", contents="now\n")
    os.utime(f"{OUTGOING}/notice-a.call", (DUE, DUE))
    seen = []

    def refusal(text, mtime):
        seen.append((text, mtime))
        return None

    assert spool_reader.remove_call_file(OUTGOING, "notice-a.call", refusal) is None
    assert seen == [("now\n", DUE)]
    assert os.listdir(OUTGOING) == []


def test_remove_refused_leaves_the_file(spool_folders):
    spool_folders.create_file(f"{OUTGOING}/notice-a.call", contents="x")
    assert spool_reader.remove_call_file(OUTGOING, "notice-a.call", lambda text, mtime: "busy") == "busy"
    assert os.listdir(OUTGOING) == ["notice-a.call"]


def test_remove_of_a_file_that_is_gone_or_not_a_regular_file(spool_folders):
    spool_folders.create_file(f"{SPOOL}/elsewhere", contents="keep me")
    spool_folders.create_symlink(f"{OUTGOING}/notice-l.call", f"{SPOOL}/elsewhere")
    never = lambda text, mtime: pytest.fail("asked about a file that is not there")  # noqa: E731
    assert spool_reader.remove_call_file(OUTGOING, "notice-gone.call", never) == "it is no longer there"
    assert spool_reader.remove_call_file(OUTGOING, "notice-l.call", never) == "it is no longer there"
    assert os.path.exists(f"{SPOOL}/elsewhere") and os.path.islink(f"{OUTGOING}/notice-l.call")


def test_remove_denied_is_a_spool_error(spool_folders, run_as):
    spool_folders.create_file(f"{OUTGOING}/notice-a.call", contents="x")
    os.chmod(OUTGOING, 0o755)
    run_as(1000, 1000)
    with pytest.raises(SpoolError, match="permission denied on .*notice-a.call; run as root"):
        spool_reader.remove_call_file(OUTGOING, "notice-a.call", lambda text, mtime: None)
    assert os.listdir(OUTGOING) == ["notice-a.call"]


def test_a_socket_or_a_fifo_named_like_a_call_file_is_no_call_file(tmp_path):
    """open() refuses a socket (ENXIO) where an lstat() would have said it is no regular file:
    it is passed over like a folder or a link, not reported as a failure to read."""
    import socket

    (tmp_path / "outgoing").mkdir()
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(tmp_path / "outgoing" / "notice-sock.call"))
        os.mkfifo(tmp_path / "outgoing" / "notice-fifo.call")
        for name in ("notice-sock.call", "notice-fifo.call"):
            assert spool_reader.read_call_file(str(tmp_path / "outgoing"), name) is None
        assert list(spool_reader.call_files(str(tmp_path / "outgoing"))) == []
