"""log.py: the syslog line of each scheduled notice, with the configured tag and facility,
none without a syslog, and one connection for many."""

import os
import syslog

import pytest

from notice_cli import log


# --- syslog ------------------------------------------------------------------------------

def test_no_syslog_socket_means_no_syslog(fs, syslog_calls):
    assert not os.path.exists("/dev/log")
    log.log_scheduled("notice x", "user", "notice-spool")
    assert syslog_calls == []


def test_facility_none_means_no_syslog(fs, syslog_calls):
    fs.create_file("/dev/log")
    log.log_scheduled("notice x", "none", "notice-spool")
    assert syslog_calls == []


@pytest.mark.parametrize("facility, code", [
    ("user", syslog.LOG_USER), ("daemon", syslog.LOG_DAEMON), ("local0", syslog.LOG_LOCAL0),
    ("local7", syslog.LOG_LOCAL7),
])
def test_scheduled_notice_goes_to_syslog_with_tag_and_facility(fs, syslog_calls, facility, code):
    fs.create_file("/dev/log")
    log.log_scheduled("notice 1 to 123 at 2026-12-01T10:30:00+03:00", facility, "clinic")
    assert syslog_calls == [
        ("openlog", "clinic", syslog.LOG_PID, code),
        ("syslog", syslog.LOG_INFO, "notice 1 to 123 at 2026-12-01T10:30:00+03:00"),
        ("closelog",),
    ]


def test_syslog_lines_share_one_connection(fs, monkeypatch):
    import syslog

    calls = []
    monkeypatch.setattr(syslog, "openlog", lambda *args: calls.append(("openlog",) + args))
    monkeypatch.setattr(syslog, "syslog", lambda *args: calls.append(("syslog",) + args))
    monkeypatch.setattr(syslog, "closelog", lambda: calls.append(("closelog",)))
    fs.create_file("/dev/log")
    log.log_lines(iter(["one", "two"]), "local3", "notice-import")
    assert calls == [("openlog", "notice-import", syslog.LOG_PID, syslog.LOG_LOCAL3),
                     ("syslog", syslog.LOG_INFO, "one"), ("syslog", syslog.LOG_INFO, "two"), ("closelog",)]
