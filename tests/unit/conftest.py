"""Shared fixtures for the pyfakefs tests: the spool and the recordings as each kind of test
needs them laid out (their paths are in fakespool.py), who the process runs as, the staging
files' locks, and what reaches syslog.

pyfakefs fakes the file system, not the user: permission checks follow pyfakefs' own user id
(pyfakefs.helpers.set_uid) while spool_writer.py asks os.geteuid(), and pwd reads the user database
through libc. So a test that cares who runs sets all three through these fixtures.
"""

import errno
import fcntl
import os
import pwd
import sys
import syslog

import pytest
from pyfakefs import helpers

from fakespool import (ASTERISK_GID, ASTERISK_UID, OUTGOING, PREPARED_DIR, RECORDING, RECORDINGS, STAGING,
                       make_dir)
from notice_cli import spool_writer

ROOT = pwd.struct_passwd(("root", "x", 0, 0, "root", "/root", "/bin/sh"))
ASTERISK = pwd.struct_passwd(("asterisk", "x", ASTERISK_UID, ASTERISK_GID, "Asterisk PBX", "/var/lib/asterisk",
                              "/usr/sbin/nologin"))
OPERATOR = pwd.struct_passwd(("operator", "x", 1000, 1000, "Operator", "/home/operator", "/bin/sh"))


@pytest.fixture
def users(monkeypatch):
    """The user database the code sees, by name; a test may add or delete entries."""
    database = {entry.pw_name: entry for entry in (ROOT, ASTERISK, OPERATOR)}

    def getpwnam(name):
        if name not in database:
            raise KeyError(f"getpwnam(): name not found: {name!r}")
        return database[name]

    def getpwuid(uid):
        for entry in database.values():
            if entry.pw_uid == uid:
                return entry
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwnam", getpwnam)
    monkeypatch.setattr(pwd, "getpwuid", getpwuid)
    return database


@pytest.fixture
def run_as(fs, monkeypatch, users):
    """run_as(uid, gid) makes the fake file system and the code under test see that user.
    Tests start as root (0, 0) whoever really runs them; pyfakefs resets its ids afterwards."""

    def become(uid: int, gid: int) -> None:
        helpers.set_uid(uid)
        helpers.set_gid(gid)
        # The real os module: pyfakefs swaps module globals named os for its fake while a
        # test runs, and its fake hands geteuid on to the real module.
        monkeypatch.setattr(sys.modules["os"], "geteuid", lambda: uid)

    become(0, 0)
    return become


class Locks:
    """flock() as the kernel does it, for the fake file system, whose flock() does nothing:
    a lock is an inode held through a descriptor until it is closed; another descriptor of
    the same file, in this process too, cannot take it meanwhile. hold(path) is another,
    live process holding that file's lock."""

    def __init__(self):
        self.held_by: dict[int, int] = {}  # descriptor: inode, the locks of this process
        self.elsewhere: set[int] = set()  # inodes other processes hold
        self.taken: list[tuple[int, int]] = []  # (descriptor, operation) of each flock() that locked

    def hold(self, path):
        self.elsewhere.add(os.stat(path).st_ino)

    def flock(self, fd, operation):
        inode = os.fstat(fd).st_ino
        held_here = any(held == inode for other, held in self.held_by.items() if other != fd)
        if inode in self.elsewhere or held_here:
            if operation & fcntl.LOCK_NB:
                raise BlockingIOError(errno.EWOULDBLOCK, os.strerror(errno.EWOULDBLOCK))
            raise AssertionError("a blocking flock() on a file another descriptor holds would wait forever")
        self.held_by[fd] = inode
        self.taken.append((fd, operation))

    def closed(self, fd):
        self.held_by.pop(fd, None)


@pytest.fixture
def locks(fs, monkeypatch):
    table = Locks()
    real_close = spool_writer.os.close

    def close(fd):
        table.closed(fd)
        return real_close(fd)

    # On pyfakefs' own fcntl and os objects: it puts them back in spool_writer's globals when the
    # test starts, after the fixtures.
    monkeypatch.setattr(spool_writer.fcntl, "flock", lambda fd, operation: table.flock(fd, operation))
    monkeypatch.setattr(spool_writer.os, "close", close)
    return table


# --- the spool and the recordings --------------------------------------------------------------

@pytest.fixture
def spool_folders(fs, run_as):
    """outgoing/ and tmp/ in the spool, and the recordings folder with prepared/: plain folders
    (root's, the umask's mode); run as root."""
    for folder in (OUTGOING, STAGING, PREPARED_DIR):
        fs.create_dir(folder)
    return fs


@pytest.fixture
def packaged_spool(fs, run_as):
    """Asterisk's spool as packaged: outgoing/ and tmp/ owned by asterisk, group-writable;
    run as root, with an asterisk user."""
    make_dir(fs, OUTGOING, 0o775, ASTERISK_UID, ASTERISK_GID)
    make_dir(fs, STAGING, 0o775, ASTERISK_UID, ASTERISK_GID)
    return fs


@pytest.fixture
def recording_file(fs):
    """RECORDING in the recordings folder (no prepared/ folder)."""
    return fs.create_file(f"{RECORDINGS}/{RECORDING}.wav", contents=b"RIFF")


@pytest.fixture
def command_spool(fs, monkeypatch, recording_file):
    """What a command run through CliRunner sees: outgoing/ and RECORDING, no config file (at
    its default path), and a clean environment: no NOTICE_* variable, TZ=UTC with the real zoneinfo."""
    fs.add_real_directory("/usr/share/zoneinfo")
    fs.create_dir(OUTGOING)
    for name in [name for name in os.environ if name.startswith("NOTICE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TZ", "UTC")
    return fs


@pytest.fixture
def syslog_calls(monkeypatch):
    """What reaches the stdlib syslog module (there is no syslog daemon in a test)."""
    calls = []
    for name in ("openlog", "syslog", "closelog"):
        monkeypatch.setattr(syslog, name, lambda *args, name=name: calls.append((name,) + args))
    return calls
