"""Scheduling one notice: from the three arguments the dialplan passes to a call file in
Asterisk's spool. Every check comes before the first write, so a refusal leaves no trace."""

from __future__ import annotations

import os

from .callfile import render
from .errors import SpoolError
from .log import log_scheduled
from .notice import Notice, call_file_for, check_number, new_notice_id
from .recordings import check_recording_name, recording_path
from .settings import QUEUE, Settings
from .spool_writer import queue_call_file, spool_call_file
from .value import Value
from .when import format_due, parse_when


class Scheduled(Value):
    """The notice, its due time as ISO 8601 in the configured zone, the call file's text, and
    its path in outgoing/ (None for a dry run)."""

    __slots__ = ("notice", "due_text", "call_file", "path")

    def report(self) -> str:
        if self.path is None:
            header = f"# notice {self.notice.id} due {self.due_text} (dry run: not spooled)\n"
            return header + self.call_file.rstrip("\n")
        return f"notice {self.notice.id} scheduled for {self.due_text}: {self.path}"


def schedule(number: str, recording: str, when: str, settings: Settings, now: float,
             dry_run: bool = False) -> Scheduled:
    """Check everything, then spool the call file (unless DRY_RUN). Raises NoticeError."""
    zone = settings.zone
    notice = Notice(
        id=new_notice_id(now, os.urandom(4)),
        number=check_number(number),
        recording=recording_path(check_recording_name(recording), settings),
        due=parse_when(when, zone, now),
    )
    text = render(call_file_for(notice, settings))
    due_text = format_due(notice.due, zone)
    if dry_run:
        return Scheduled(notice, due_text, text, None)
    check_reported_data_dir(settings)
    # Queue delivery: into the inbox, which notice run takes into the queue; durable there as
    # in outgoing/, so the line below is as true.
    if settings.delivery == QUEUE:
        path = queue_call_file(text, notice.file_name, notice.due, settings.data_dir, settings.file_mode, settings.owner)
    else:
        path = spool_call_file(text, notice.file_name, notice.due, settings.spool_dir, settings.file_mode, settings.owner)
    log_scheduled(f"notice {notice.id} to {notice.number} at {due_text}: {notice.recording} ({path})",
                  settings.syslog_facility, settings.syslog_tag)
    return Scheduled(notice, due_text, text, path)


def check_reported_data_dir(settings: Settings) -> None:
    """In reported delivery the dialplan reports each attempt into data_dir (outcomes.py): a
    notice whose outcomes could not be kept is refused now, while the operator hears it."""
    from .outcome import reported

    if not reported(settings):
        return
    from .spool import missing_data_dir
    from .spool_writer import owner_ids, writable_by

    if not os.path.isdir(settings.data_dir):
        raise missing_data_dir(settings.data_dir)
    ids = owner_ids(settings.owner)
    if not writable_by(settings.data_dir, ids):
        raise SpoolError(f"data_dir {settings.data_dir} is not writable by the user Asterisk runs as, whose "
                         "`notice report` keeps the outcomes there; give it to that user "
                         f"(chown asterisk: {settings.data_dir})")
