"""schedule.schedule() end to end in a fake file system: checks first, then one call file in
outgoing/ with its due mtime and one syslog line; a refusal or a dry run writes nothing."""

import os
import re
import stat
import syslog
import time
from datetime import datetime

import pytest

from fakespool import ASTERISK_GID, ASTERISK_UID, OUTGOING, RECORDING, RECORDINGS, SPOOL, STAGING, make_dir
from notice_cli.errors import EXIT_INVALID, EXIT_SPOOL, InvalidInput, NoticeError, SpoolError
from notice_cli.notice import Notice
from notice_cli.schedule import schedule
from notice_cli.settings import Settings
from notice_cli.when import zone_named
from zoneinfo import ZoneInfo

MOSCOW = zone_named("Europe/Moscow")  # checked now: the fake file system has no zoneinfo files
NOW = 1764322200.25  # 2025-11-28T09:30:00.25Z
ID_PREFIX = "20251128093000-"
KEYPAD = "2026*12*01**10***30"
DUE = int(datetime(2026, 12, 1, 10, 30, tzinfo=ZoneInfo(MOSCOW.key)).timestamp())
DUE_TEXT = "2026-12-01T10:30:00+03:00"
SETTINGS = Settings(spool_dir=SPOOL, recordings_dir=RECORDINGS, tz=MOSCOW)


def expected_call_file(notice_id, channel="Local/79991234567@from-internal", caller_id=None,
                       retries=(2, 20, 20)):
    return (
        f"Channel: {channel}\n"
        + (f"CallerID: {caller_id}\n" if caller_id else "")
        + f"MaxRetries: {retries[0]}\n"
        f"RetryTime: {retries[1]}\n"
        f"WaitTime: {retries[2]}\n"
        "Application: Playback\n"
        f"Data: {RECORDINGS}/{RECORDING}\n"
        "Archive: yes\n"
        f"Setvar: NOTICE_ID={notice_id}\n"
        "Setvar: NOTICE_NUMBER=79991234567\n"
        f"Setvar: NOTICE_DUE={DUE}\n"
    )


def read(path):
    with open(path) as stream:
        return stream.read()


def test_schedules_one_call_file_due_at_the_keyed_time(packaged_spool, recording_file):
    result = schedule("79991234567", RECORDING, KEYPAD, SETTINGS, NOW)

    notice_id = result.notice.id
    assert re.fullmatch(re.escape(ID_PREFIX) + "[0-9a-f]{8}", notice_id)
    assert result.notice == Notice(notice_id, "79991234567", f"{RECORDINGS}/{RECORDING}", DUE)
    path = f"{OUTGOING}/notice-{notice_id}.call"
    assert result.path == path
    assert result.due_text == DUE_TEXT
    assert sorted(os.listdir(OUTGOING)) == [f"notice-{notice_id}.call"]
    assert os.listdir(STAGING) == []
    info = os.stat(path)
    assert info.st_mtime_ns == DUE * 10**9
    assert stat.S_IMODE(info.st_mode) == 0o644
    assert (info.st_uid, info.st_gid) == (105, 109)
    assert read(path) == expected_call_file(notice_id) == result.call_file
    assert result.report() == f"notice {notice_id} scheduled for {DUE_TEXT}: {path}"


def test_relative_time_is_rounded_up_to_a_whole_second(packaged_spool, recording_file):
    result = schedule("+79991234567", f"{RECORDING}.wav", "+15m", SETTINGS, NOW)
    assert result.notice.due == 1764322200 + 900 + 1  # NOW has .25 s: never early
    assert os.stat(result.path).st_mtime_ns == (1764322200 + 901) * 10**9
    assert result.notice.recording == f"{RECORDINGS}/{RECORDING}"


def test_settings_shape_the_call_file_and_its_mode(packaged_spool, recording_file):
    settings = SETTINGS._replace(channel="PJSIP/{number}@trunk", caller_id='"Clinic" <74951234567>',
                                 max_retries=0, retry_time=60, wait_time=30, file_mode=0o640)
    result = schedule("79991234567", RECORDING, KEYPAD, settings, NOW)
    assert read(result.path) == expected_call_file(result.notice.id, channel="PJSIP/79991234567@trunk",
                                                   caller_id='"Clinic" <74951234567>', retries=(0, 60, 30))
    assert stat.S_IMODE(os.stat(result.path).st_mode) == 0o640


def test_every_notice_gets_a_new_file_name(packaged_spool, recording_file):
    first = schedule("79991234567", RECORDING, KEYPAD, SETTINGS, NOW)
    second = schedule("79991234567", RECORDING, KEYPAD, SETTINGS, NOW)
    assert first.path != second.path
    assert sorted(os.listdir(OUTGOING)) == sorted(os.path.basename(p) for p in (first.path, second.path))


def test_dry_run_writes_nothing_and_shows_the_call_file(packaged_spool, recording_file, syslog_calls):
    packaged_spool.create_file("/dev/log")
    result = schedule("79991234567", RECORDING, KEYPAD, SETTINGS, NOW, dry_run=True)
    assert result.path is None
    assert os.listdir(OUTGOING) == []
    assert os.listdir(STAGING) == []
    assert syslog_calls == []
    text = expected_call_file(result.notice.id)
    assert result.call_file == text
    assert result.report() == (f"# notice {result.notice.id} due {DUE_TEXT} (dry run: not spooled)\n"
                               + text.rstrip("\n"))


def test_dry_run_needs_no_spool_at_all(fs, run_as):
    fs.create_file(f"{RECORDINGS}/{RECORDING}.gsm")
    result = schedule("79991234567", RECORDING, KEYPAD, SETTINGS, NOW, dry_run=True)
    assert result.path is None
    assert not os.path.exists(OUTGOING)
    assert not os.path.exists(STAGING)


def test_scheduled_notice_is_logged_to_syslog(packaged_spool, recording_file, syslog_calls):
    packaged_spool.create_file("/dev/log")
    settings = SETTINGS._replace(syslog_facility="local2", syslog_tag="clinic")
    result = schedule("79991234567", RECORDING, KEYPAD, settings, NOW)
    assert syslog_calls == [
        ("openlog", "clinic", syslog.LOG_PID, syslog.LOG_LOCAL2),
        ("syslog", syslog.LOG_INFO,
         f"notice {result.notice.id} to 79991234567 at {DUE_TEXT}: {RECORDINGS}/{RECORDING} ({result.path})"),
        ("closelog",),
    ]


def test_no_syslog_socket_no_log(packaged_spool, recording_file, syslog_calls):
    result = schedule("79991234567", RECORDING, KEYPAD, SETTINGS, NOW)
    assert os.path.exists(result.path)
    assert syslog_calls == []


@pytest.mark.parametrize("number, recording, when, message", [
    ("7999-123", RECORDING, KEYPAD, "number '7999-123' is not a phone number"),
    ("79991234567", "rec_missing", KEYPAD, f"recording 'rec_missing' is not in {RECORDINGS}"),
    ("79991234567", "../etc/passwd", KEYPAD, "recording '../etc/passwd' is not a recording name"),
    ("79991234567", RECORDING, "2025*11*28**12***29", "time '2025*11*28**12***29' is in the past"),
    ("79991234567", RECORDING, "2026*02*30**10***00", "time '2026*02*30**10***00' is not a date and time"),
    ("79991234567", RECORDING, "tomorrow", "time 'tomorrow' is not understood"),
])
def test_refused_input_leaves_no_trace(packaged_spool, recording_file, syslog_calls, number, recording, when, message):
    packaged_spool.create_file("/dev/log")
    with pytest.raises(InvalidInput) as caught:
        schedule(number, recording, when, SETTINGS, NOW)
    assert caught.value.exit_code == EXIT_INVALID
    assert str(caught.value).startswith(message)
    assert os.listdir(OUTGOING) == []
    assert os.listdir(STAGING) == []
    assert syslog_calls == []


def test_refused_setting_value_in_the_call_file_leaves_no_trace(packaged_spool, recording_file):
    with pytest.raises(InvalidInput, match="CallerID"):
        schedule("79991234567", RECORDING, KEYPAD, SETTINGS._replace(caller_id="Clinic;evil"), NOW)
    assert os.listdir(OUTGOING) == []
    assert os.listdir(STAGING) == []


def test_spool_failure_is_a_spool_error_and_not_logged(fs, run_as, syslog_calls):
    fs.create_file(f"{RECORDINGS}/{RECORDING}.wav")
    fs.create_file("/dev/log")
    with pytest.raises(SpoolError) as caught:
        schedule("79991234567", RECORDING, KEYPAD, SETTINGS, NOW)
    assert caught.value.exit_code == EXIT_SPOOL
    assert str(caught.value) == (f"spool folder {OUTGOING} does not exist; "
                                 "is Asterisk installed, and is spool_dir right?")
    assert syslog_calls == []
    assert not os.path.exists(STAGING)


def test_missing_owner_is_refused_before_anything_is_written(packaged_spool, recording_file, syslog_calls):
    packaged_spool.create_file("/dev/log")
    with pytest.raises(NoticeError) as caught:
        schedule("79991234567", RECORDING, KEYPAD, SETTINGS._replace(owner="ghost"), NOW)
    assert caught.value.exit_code == EXIT_SPOOL
    assert os.listdir(OUTGOING) == []
    assert os.listdir(STAGING) == []
    assert syslog_calls == []


def test_notice_id_is_the_creation_second_in_utc(packaged_spool, recording_file):
    now = time.mktime((2026, 7, 4, 23, 59, 59, 0, 0, -1))
    result = schedule("79991234567", RECORDING, "+1h", SETTINGS, now)
    assert result.notice.id.startswith(time.strftime("%Y%m%d%H%M%S", time.gmtime(now)) + "-")


# --- reported delivery: the outcomes' folder is checked before the notice is spooled ---------------

DATA_DIR = "/var/lib/notice-cli"
REPORTED = Settings(recordings_dir=RECORDINGS, confirm="key", data_dir=DATA_DIR)


@pytest.mark.parametrize("mode, uid, gid, writable", [
    (0o755, 0, 0, False),  # root's: Asterisk's `notice report` could not keep outcomes there
    (0o755, ASTERISK_UID, ASTERISK_GID, True),
    (0o775, 0, ASTERISK_GID, True),
    (0o755, 0, ASTERISK_GID, False),
    (0o777, 0, 0, True),
])
def test_a_reported_notice_needs_a_data_dir_asterisk_may_write(packaged_spool, recording_file, mode, uid, gid, writable):
    make_dir(packaged_spool, DATA_DIR, mode, uid, gid)
    if writable:
        assert schedule("79991234567", RECORDING, "2099*01*02**03***04", REPORTED, NOW).path
        return
    with pytest.raises(SpoolError, match=f"data_dir {DATA_DIR} is not writable by the user Asterisk runs as"):
        schedule("79991234567", RECORDING, "2099*01*02**03***04", REPORTED, NOW)
    assert os.listdir(OUTGOING) == []


def test_a_reported_notice_run_as_asterisk_is_checked_as_asterisk(packaged_spool, recording_file, run_as):
    make_dir(packaged_spool, DATA_DIR, 0o755, 0, 0)
    run_as(ASTERISK_UID, ASTERISK_GID)
    with pytest.raises(SpoolError, match="is not writable"):
        schedule("79991234567", RECORDING, "2099*01*02**03***04", REPORTED, NOW)


def test_a_playback_notice_needs_no_data_dir(packaged_spool, recording_file):
    assert schedule("79991234567", RECORDING, "2099*01*02**03***04", Settings(recordings_dir=RECORDINGS), NOW).path
