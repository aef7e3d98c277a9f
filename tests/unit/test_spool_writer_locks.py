"""spool_writer.py's staging lock with real files and the real kernel (pyfakefs' flock() does
nothing): a writer holds it from the file's creation to its rename, the lock dies with its
process, and notice gc and an import run again go by it."""

import fcntl
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from notice_cli import cli, spool_writer

NAME = "notice-20991201103000-5e0c2a91.call"
TEXT = "Channel: Local/79991234567@from-internal\nApplication: Playback\nData: /tmp/hello\n"
DUE = 4100000000
# A live writer: a process that holds the lock of a half-written staging file, as notice-spool does.
WRITER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b"Channel: Local/7999")
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def spool_dir(tmp_path):
    (tmp_path / "outgoing").mkdir()
    (tmp_path / "tmp").mkdir()
    return tmp_path


@contextmanager
def live_writer(path):
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "locked\n"
        yield writer
    finally:
        writer.kill()
        writer.wait()


def locked_by_another(path) -> bool:
    """Whether a lock is held on PATH through another open file (another process, or a writer)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def later() -> float:
    return time.time() + spool_writer.STAGING_GRACE + 1


def test_the_writer_holds_the_lock_from_the_first_write_to_the_rename(spool_dir, monkeypatch):
    seen = []
    staged = str(spool_dir / "tmp" / NAME)
    for step in ("write", "fsync", "utime", "rename"):
        real = getattr(spool_writer.os, step)

        def check(*args, real=real, step=step):
            if os.path.exists(staged):
                seen.append((step, locked_by_another(staged)))
            return real(*args)

        monkeypatch.setattr(spool_writer.os, step, check)
    spool_writer.spool_call_file(TEXT, NAME, DUE, str(spool_dir), 0o644, None)
    assert seen == [("write", True), ("fsync", True), ("utime", True), ("rename", True)]
    assert not locked_by_another(spool_dir / "outgoing" / NAME)  # released once moved


def test_the_lock_dies_with_its_process_and_gc_then_removes_the_file(spool_dir):
    path = str(spool_dir / "tmp" / NAME)
    folder = str(spool_dir / "tmp")
    with live_writer(path) as writer:
        assert spool_writer.clean_staging(str(spool_dir), later()) == spool_writer.Cleaned(folder, [], [path])
        with open(path) as stream:
            assert stream.read() == "Channel: Local/7999"
        writer.kill()  # SIGKILL, mid-write
        writer.wait()
        assert spool_writer.clean_staging(str(spool_dir), later()) == spool_writer.Cleaned(folder, [path], [])
    assert os.listdir(folder) == []


def test_an_import_run_again_goes_by_a_live_writer_and_takes_back_a_dead_ones_file(spool_dir):
    notices = [(TEXT, NAME, DUE)]
    with live_writer(spool_dir / "tmp" / NAME) as writer:
        already = []
        assert spool_writer.spool_call_files(notices, str(spool_dir), 0o644, None, already=already.append) == 0
        assert already == [str(spool_dir / "outgoing" / NAME)]  # being scheduled by the live writer
        assert os.listdir(spool_dir / "outgoing") == []
        assert (spool_dir / "tmp" / NAME).read_text() == "Channel: Local/7999"
        writer.kill()
        writer.wait()
        assert spool_writer.spool_call_files(notices, str(spool_dir), 0o644, None) == 1
    assert (spool_dir / "outgoing" / NAME).read_text() == TEXT
    assert os.stat(spool_dir / "outgoing" / NAME).st_mtime_ns == DUE * 10**9
    assert os.listdir(spool_dir / "tmp") == []


def test_gc_leaves_a_staging_file_that_changed_within_the_grace(spool_dir):
    path = spool_dir / "tmp" / NAME
    path.write_text("Channel: Local/7999")
    os.utime(path, (DUE, DUE))  # as a writer does: the mtime is the due time, the ctime is now
    changed = os.stat(path).st_ctime
    folder = str(spool_dir / "tmp")
    assert spool_writer.clean_staging(str(spool_dir), changed + spool_writer.STAGING_GRACE - 1) == \
        spool_writer.Cleaned(folder, [], [str(path)])
    assert spool_writer.clean_staging(str(spool_dir), changed + spool_writer.STAGING_GRACE + 1) == \
        spool_writer.Cleaned(folder, [str(path)], [])


def test_notice_gc_removes_the_leftover_and_leaves_the_live_writers_file(spool_dir, monkeypatch):
    for name in [name for name in os.environ if name.startswith("NOTICE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("NOTICE_CONFIG", os.devnull)
    (spool_dir / "tmp" / NAME).write_text("Channel: Local/7999")
    live = spool_dir / "tmp" / "notice-20991128094512-9f3a1c2b.call"
    with live_writer(live):
        monkeypatch.setattr(cli, "time", SimpleNamespace(time=later))
        result = CliRunner().invoke(cli.notice, ["gc", "--spool-dir", str(spool_dir),
                                                 "--recordings-dir", f"{spool_dir}/recordings"])
        assert (result.exit_code, result.stdout) == (
            0, f"removed 1 leftover staging file from {spool_dir}/tmp; 1 being written, left alone\n"
               f"no recordings folder {spool_dir}/recordings (recordings_dir): no recording removed\n")
        assert os.listdir(spool_dir / "tmp") == [live.name]
        assert live.read_text() == "Channel: Local/7999"
