"""spool.py: a failure on the spool, or on another folder notice-cli writes (Asterisk's
configuration), in one line an admin can act on."""

import errno
import os

import pytest

from fakespool import OUTGOING, SPOOL, STAGING
from notice_cli import spool

STAGED = STAGING + "/notice-20261128093000-0a1b2c3d.call"
TARGET = OUTGOING + "/notice-20261128093000-0a1b2c3d.call"
PERMISSION_HINT = "; run as root or as the user Asterisk runs as, or fix the folder's owner"


def failure(code, *filenames):
    return OSError(code, os.strerror(code), *filenames)


@pytest.mark.parametrize("code, filename, message", [
    (errno.EXDEV, None, f"{SPOOL}/tmp and {SPOOL}/outgoing are on different file systems, so the call file "
                        "cannot be moved in atomically; make tmp/ a folder on the same file system as outgoing/"),
    (errno.EACCES, STAGED, f"permission denied on {STAGED}{PERMISSION_HINT}"),
    (errno.EPERM, None, f"permission denied on {SPOOL}{PERMISSION_HINT}"),
    (errno.EROFS, STAGED, f"{STAGED} is on a read-only file system; the spool must be writable"),
    (errno.ENOSPC, None, f"no space left on the device of {SPOOL}; free some space and schedule the notice again"),
    (errno.EDQUOT, STAGED, f"no space left on the device of {STAGED}; free some space and schedule the notice again"),
    (errno.EEXIST, STAGED, f"{STAGED} already exists; not overwriting it (schedule the notice again for a new name)"),
    (errno.ENOENT, f"{SPOOL}/outgoing", f"{SPOOL}/outgoing does not exist; is spool_dir right?"),
    (errno.EIO, STAGED, f"cannot write {STAGED}: Input/output error"),
])
def test_explain(code, filename, message):
    assert spool.explain(failure(code, *([filename] if filename else [])), SPOOL) == message


def test_explain_a_failed_move_names_where_it_was_going():
    problem = failure(errno.EACCES, STAGED, None, TARGET)
    assert spool.explain(problem, SPOOL) == f"permission denied on {TARGET}{PERMISSION_HINT}"


@pytest.mark.parametrize("code, message", [
    (errno.EACCES, "permission denied on /etc/asterisk/x.conf; run as root or as the owner of the files"),
    (errno.EPERM, "permission denied on /etc/asterisk/x.conf; run as root or as the owner of the files"),
    (errno.EROFS, "/etc/asterisk/x.conf is on a read-only file system"),
    (errno.ENOSPC, "no space left on the device of /etc/asterisk/x.conf; free some space"),
    (errno.EDQUOT, "no space left on the device of /etc/asterisk/x.conf; free some space"),
    (errno.EIO, "cannot read /etc/asterisk/x.conf: Input/output error"),
])
def test_a_failure_in_another_folder_says_who_may_write_there(code, message):
    problem = failure(code, "/etc/asterisk/x.conf")
    assert spool.explain_failure(problem, "/etc/asterisk/x.conf", "read", "the owner of the files") == message
