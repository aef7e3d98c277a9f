"""The log of what was scheduled: one syslog line per notice, through one connection for an
import's thousands; silently off when there is no syslog."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # for annotations only: collections.abc would slow notice-spool's start
    from collections.abc import Iterable

SYSLOG_SOCKET = "/dev/log"


def log_scheduled(message: str, facility: str, tag: str) -> None:
    """One line per scheduled notice in syslog; silently off when there is no syslog."""
    log_lines([message], facility, tag)


def log_lines(messages: Iterable[str], facility: str, tag: str) -> None:
    """Each of MESSAGES as a line in syslog, through one connection (an import logs thousands)."""
    if facility == "none" or not os.path.exists(SYSLOG_SOCKET):
        return
    import syslog

    syslog.openlog(tag, syslog.LOG_PID, getattr(syslog, "LOG_" + facility.upper()))
    for message in messages:
        syslog.syslog(syslog.LOG_INFO, message)
    syslog.closelog()
