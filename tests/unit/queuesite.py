"""Queue delivery on real folders (SQLite cannot run on pyfakefs): a spool as Asterisk has it
(outgoing/, outgoing_done/, tmp/), a data_dir, the settings and the environment that point
notice-cli there, an engine driven by explicit times, and the one part of Asterisk these
tests play: archiving a call file it finished, as pbx_spool does (record.py's note). Nothing
here judges what Asterisk would do."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from realspool import RECORDING, Site
from notice_cli import queue
from notice_cli.callfile import render
from notice_cli.engine import Engine
from notice_cli.notice import Notice, call_file_for, call_file_name
from notice_cli.settings import load

PID = 4242  # the pid pbx_spool writes in its lines


class QueueSite(Site):
    """Site (realspool.py) in queue delivery: BASE/spool with outgoing/, outgoing_done/ and
    tmp/, and BASE/data, the data_dir."""

    def __init__(self, base: Path):
        super().__init__(base)
        self.archive = self.spool / "outgoing_done"
        self.staging.mkdir()
        self.archive.mkdir()
        self.data_dir = base / "data"
        self.data_dir.mkdir()
        self.inbox = self.data_dir / "inbox"
        self.queue_file = self.data_dir / queue.FILE_NAME
        self.env.update(NOTICE_DATA_DIR=str(self.data_dir), NOTICE_DELIVERY="queue")
        self.engines: list[Engine] = []

    def seen_by_commands(self, monkeypatch) -> None:
        """The site's environment, and no other NOTICE_* variable, for the commands CliRunner runs."""
        for name in [name for name in os.environ if name.startswith("NOTICE_")]:
            monkeypatch.delenv(name)
        for name, value in self.env.items():
            if name.startswith("NOTICE_") or name == "TZ":
                monkeypatch.setenv(name, value)

    def settings(self, **changes):
        """The Settings a command run in the site's environment has, with CHANGES."""
        return load({}, environ=self.env)._replace(**changes)

    def engine(self, **changes) -> Engine:
        """An engine over the site (what notice run holds, without its loop and lock); the
        lines it says are in its .said."""
        said: list[str] = []
        engine = Engine(self.settings(**changes), said.append)
        engine.said = said
        engine.connection = queue.open_queue(str(self.data_dir))
        self.engines.append(engine)
        return engine

    def close(self) -> None:
        for engine in self.engines:
            engine.connection.close()

    # --- the queue ---------------------------------------------------------------------------

    def notice(self, notice_id: str, due: int, number: str = "79991234567", recording: str | None = None):
        """The queue's record of a notice as notice-cli writes its call file."""
        recording = recording or str(self.recordings / RECORDING)
        text = render(call_file_for(Notice(notice_id, number, recording, due), self.settings()))
        return queue.Queued(notice_id, number, recording, due, text)

    def enqueue(self, *notices, now: int = 0) -> None:
        connection = queue.open_queue(str(self.data_dir))
        try:
            queue.enqueue(connection, notices, now)
        finally:
            connection.close()

    def entry(self, notice_id: str) -> queue.Entry | None:
        connection = queue.open_queue(str(self.data_dir))
        try:
            return queue.find(connection, notice_id)
        finally:
            connection.close()

    def states(self) -> dict[str, tuple[str, str | None]]:
        """{id: (state, outcome)} of every notice in the queue, read as another process does."""
        connection = sqlite3.connect(self.queue_file)
        try:
            return {row[0]: (row[1], row[2]) for row in connection.execute("SELECT id, state, outcome FROM notice")}
        finally:
            connection.close()

    # --- the folders -------------------------------------------------------------------------

    def handed(self) -> list[str]:
        return self.spooled()

    def in_inbox(self) -> list[str]:
        return sorted(os.listdir(self.inbox)) if self.inbox.is_dir() else []

    def queue_staged(self) -> list[str]:
        staging = self.data_dir / "tmp"
        return sorted(os.listdir(staging)) if staging.is_dir() else []

    def call_file(self, notice_id: str) -> Path:
        return self.outgoing / call_file_name(notice_id)

    def mtime(self, notice_id: str) -> int:
        info = os.stat(self.call_file(notice_id))
        assert info.st_mtime_ns % 10**9 == 0, "a call file's mtime is a whole second"
        return info.st_mtime_ns // 10**9

    # --- Asterisk's part ---------------------------------------------------------------------

    def begin(self, notice_id: str, at: int, attempt: int = 1, retry_time: int = 20) -> None:
        """Asterisk begins an attempt at AT: it appends StartRetry and moves the mtime to the
        next attempt (pbx_spool's safe_append)."""
        path = self.call_file(notice_id)
        with open(path, "a") as stream:
            stream.write(f"\nStartRetry: {PID} {attempt} ({at + retry_time})\n")
        os.utime(path, (at + retry_time, at + retry_time))

    def finish(self, notice_id: str, status: str) -> Path:
        """Asterisk archives the handed call file: renamed into outgoing_done/, then its
        Status line appended (pbx_spool's remove_from_queue)."""
        archived = self.archive / call_file_name(notice_id)
        os.rename(self.call_file(notice_id), archived)
        with open(archived, "a") as stream:
            stream.write(f"Status: {status}\n")
        return archived
