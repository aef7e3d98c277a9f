"""Where the pyfakefs tests find Asterisk's spool and the recordings: the folders as Asterisk's
packages make them, and the recording the dialplan saved. conftest.py's fixtures lay them
out (spool_folders, packaged_spool, recording_file, command_spool); tests/realspool.py is a
spool on a real disk, for the tests that run the installed commands."""

import os

SPOOL = "/var/spool/asterisk"
OUTGOING = SPOOL + "/outgoing"
STAGING = SPOOL + "/tmp"
ARCHIVE = SPOOL + "/outgoing_done"
RECORDINGS = SPOOL + "/notice"
PREPARED_DIR = RECORDINGS + "/prepared"
RECORDING = "rec_1732790000.42"  # in RECORDINGS, as RECORDING.wav
ASTERISK_UID, ASTERISK_GID = 105, 109  # the asterisk user of conftest.py's user database


def make_dir(fs, path, mode, uid=0, gid=0):
    """A folder with exactly MODE (fs.create_dir applies the umask) and owner."""
    fs.create_dir(path)
    os.chmod(path, mode)
    os.chown(path, uid, gid)
