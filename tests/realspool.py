"""A real spool on disk for the tests that run the installed commands (tests/unit/test_entry.py,
and the crash, fault and concurrency tests of tests/reliability), the commands pointed at it,
and the one check of a call file those tests share: complete, ours, on time. The pyfakefs
tests' spool is in tests/unit/fakespool.py.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from notice_cli.callfile import parse
from notice_cli.notice import DUE_VARIABLE, NOTICE_ID_VARIABLE, NUMBER_VARIABLE, notice_id_of

BIN = Path(sys.executable).parent
NOTICE_SPOOL = str(BIN / "notice-spool")
NOTICE = str(BIN / "notice")
RECORDING = "hello"
# A keypad time far ahead, read in UTC: the form the dialplan passes (entry.py's fast path).
KEYPAD = "2099*01*02**03***04"
KEYPAD_DUE = 4071006240


class Site:
    """BASE/spool with outgoing/ (tmp/ is made by the first notice), BASE/recordings with one
    recording, an empty config file, and the environment that points the commands there."""

    def __init__(self, base: Path):
        self.base = base
        self.spool = base / "spool"
        self.outgoing = self.spool / "outgoing"
        self.staging = self.spool / "tmp"
        self.recordings = base / "recordings"
        self.outgoing.mkdir(parents=True)
        self.recordings.mkdir(exist_ok=True)
        (self.recordings / f"{RECORDING}.wav").write_bytes(b"RIFF")
        config = base / "notice.conf"
        config.write_text("")  # not the host's /etc/asterisk/notice.conf
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("NOTICE_")}
        self.env.update(NOTICE_CONFIG=str(config), NOTICE_SPOOL_DIR=str(self.spool),
                        NOTICE_RECORDINGS_DIR=str(self.recordings), NOTICE_SYSLOG_FACILITY="none", TZ="UTC")

    def start(self, *command, **popen) -> subprocess.Popen:
        return subprocess.Popen(list(command), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, **popen)

    def run(self, *command, timeout=120, **env) -> subprocess.CompletedProcess:
        """COMMAND run to its end in the site's environment, with ENV's variables added."""
        return subprocess.run(list(command), env={**self.env, **env}, capture_output=True, text=True,
                              timeout=timeout)

    def spooled(self) -> list[str]:
        return sorted(os.listdir(self.outgoing))

    def staged(self) -> list[str]:
        return sorted(os.listdir(self.staging)) if self.staging.is_dir() else []

    def write_csv(self, name: str, rows, header=("number", "recording", "when")) -> Path:
        path = self.base / name
        with open(path, "w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            writer.writerows(rows)
        return path


def check_call_file(path: Path, number: str | None = None, due: int | None = None) -> tuple[str, int]:
    """Assert that PATH is one of our call files, complete (every line we write, parsed as
    Asterisk's lexer reads them) and timed (mtime == NOTICE_DUE, a whole second); NUMBER and
    DUE, when given, must be its values. Returns (its number, its due second)."""
    text = path.read_text()
    call = parse(text)
    assert text.endswith("\n"), f"{path} is cut short"
    assert call.channel and call.application == "Playback" and call.data, f"{path}: {text!r}"
    assert call.archive and call.max_retries == 2 and call.retry_time == 20 and call.wait_time == 20, text
    assert [name for name, _ in call.variables] == [NOTICE_ID_VARIABLE, NUMBER_VARIABLE, DUE_VARIABLE], text
    variables = dict(call.variables)
    assert variables[NOTICE_ID_VARIABLE] == notice_id_of(path.name), f"{path}: {text!r}"
    file_number, file_due = variables[NUMBER_VARIABLE], int(variables[DUE_VARIABLE])
    assert call.channel == f"Local/{file_number}@from-internal", text
    assert os.stat(path).st_mtime_ns == file_due * 10**9, f"{path}: mtime is not its NOTICE_DUE {file_due}"
    if number is not None:
        assert file_number == number, f"{path}: {text!r}"
    if due is not None:
        assert file_due == due, f"{path}: {text!r}"
    return file_number, file_due
