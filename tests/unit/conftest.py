"""Shared fixtures for the pyfakefs tests of the spool: who the process runs as.

pyfakefs fakes the file system, not the user: permission checks follow pyfakefs' own user id
(pyfakefs.helpers.set_uid) while spool.py asks os.geteuid(), and pwd reads the user database
through libc. So a test that cares who runs sets all three through these fixtures.
"""

import pwd
import sys

import pytest
from pyfakefs import helpers

ROOT = pwd.struct_passwd(("root", "x", 0, 0, "root", "/root", "/bin/sh"))
ASTERISK = pwd.struct_passwd(("asterisk", "x", 105, 109, "Asterisk PBX", "/var/lib/asterisk", "/usr/sbin/nologin"))
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
