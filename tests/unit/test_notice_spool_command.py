"""notice-spool's click command (cli.notice_spool_command) through CliRunner: the output lines,
the exit codes, --help and --version, the options and their precedence over the environment.
The spool is a pyfakefs file system, so every write is checked without touching the machine."""

import os
import re
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from fakespool import OUTGOING, RECORDINGS, STAGING
from notice_cli.cli import notice_spool_command
from notice_cli.settings import SETTINGS

FUTURE = "2099*12*01**10***30"
FUTURE_EPOCH = int(datetime(2099, 12, 1, 10, 30, tzinfo=timezone.utc).timestamp())
LINE = re.compile(r"notice (\d{14}-[0-9a-f]{8}) scheduled for (\S+): (\S+)\n")


def run(*args, env=None):
    return CliRunner().invoke(notice_spool_command, list(args), env=env, prog_name="notice-spool")


def outgoing_files():
    return sorted(os.listdir(OUTGOING))


def test_schedules_and_prints_one_line(command_spool):
    result = run("79991234567", "rec_1732790000.42", FUTURE)
    assert result.exit_code == 0, result.output
    notice_id, due, path = LINE.fullmatch(result.stdout).groups()
    assert due == "2099-12-01T10:30:00+00:00"
    assert path == f"{OUTGOING}/notice-{notice_id}.call"
    assert outgoing_files() == [f"notice-{notice_id}.call"]
    assert os.stat(path).st_mtime_ns == FUTURE_EPOCH * 10**9
    with open(path) as call_file:
        assert call_file.read() == (
            "Channel: Local/79991234567@from-internal\nMaxRetries: 2\nRetryTime: 20\nWaitTime: 20\n"
            f"Application: Playback\nData: {RECORDINGS}/rec_1732790000.42\nArchive: yes\n"
            f"Setvar: NOTICE_ID={notice_id}\nSetvar: NOTICE_NUMBER=79991234567\n"
            f"Setvar: NOTICE_DUE={FUTURE_EPOCH}\n"
        )
    assert result.stderr == ""


def test_each_notice_gets_a_new_name(command_spool):
    for _ in range(5):
        assert run("79991234567", "rec_1732790000.42", FUTURE).exit_code == 0
    assert len(set(outgoing_files())) == 5


def test_due_time_is_shown_in_the_configured_zone(command_spool):
    result = run("--tz", "Europe/Moscow", "79991234567", "rec_1732790000.42", FUTURE)
    assert LINE.fullmatch(result.stdout).group(2) == "2099-12-01T10:30:00+03:00"
    (name,) = outgoing_files()
    assert os.stat(f"{OUTGOING}/{name}").st_mtime == FUTURE_EPOCH - 3 * 3600


def test_dry_run_prints_the_call_file_and_writes_nothing(command_spool):
    result = run("--dry-run", "--caller-id", '"Clinic" <74951234567>', "--max-retries", "0",
                 "+79991234567", "rec_1732790000.42", FUTURE)
    assert result.exit_code == 0
    header, *lines = result.stdout.splitlines()
    assert re.fullmatch(r"# notice \d{14}-[0-9a-f]{8} due 2099-12-01T10:30:00\+00:00 \(dry run: not spooled\)", header)
    assert lines[:3] == ["Channel: Local/+79991234567@from-internal", 'CallerID: "Clinic" <74951234567>', "MaxRetries: 0"]
    assert outgoing_files() == [] and not os.path.exists(STAGING)


def test_options_beat_environment(command_spool):
    env = {"NOTICE_CHANNEL": "SIP/{number}", "NOTICE_WAIT_TIME": "30", "NOTICE_RETRY_TIME": "60"}
    result = run("--dry-run", "--channel", "PJSIP/{number}@trunk", "--wait-time", "45",
                 "79991234567", "rec_1732790000.42", FUTURE, env=env)
    assert "Channel: PJSIP/79991234567@trunk\n" in result.stdout
    assert "WaitTime: 45\n" in result.stdout and "RetryTime: 60\n" in result.stdout


def test_config_file_option(command_spool):
    command_spool.create_file("/etc/notice-test.conf", contents="[notice]\nmax_retries = 5\n")
    result = run("--dry-run", "--config", "/etc/notice-test.conf", "79991234567", "rec_1732790000.42", FUTURE)
    assert "MaxRetries: 5\n" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["7999 1234", "rec_1732790000.42", FUTURE], "number '7999 1234' is not a phone number"),
    (["79991234567\nChannel: Local/666@evil", "rec_1732790000.42", FUTURE], "is not a phone number"),
    (["1" * 33, "rec_1732790000.42", FUTURE], "at most 32 characters"),
    (["79991234567", "../../../etc/passwd", FUTURE], "is not a recording name"),
    (["79991234567", "rec;x", FUTURE], "is not a recording name"),
    (["79991234567", "missing", FUTURE], f"recording 'missing' is not in {RECORDINGS}"),
    (["79991234567", "rec_1732790000.42", "2020*01*01**10***30"], "is in the past"),
    (["79991234567", "rec_1732790000.42", "2099*02*30**10***30"], "not a date and time on the calendar"),
    (["--max-retries", "x", "79991234567", "rec_1732790000.42", FUTURE], "max_retries 'x' from option --max-retries"),
    (["--caller-id", "Desk;1", "79991234567", "rec_1732790000.42", FUTURE], "caller_id 'Desk;1' from option --caller-id"),
])
def test_invalid_input_exits_3_with_one_line_and_writes_nothing(command_spool, args, message):
    result = run(*args)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("notice-spool: error: ")
    assert message in result.stderr
    assert outgoing_files() == [] and not os.path.exists(STAGING)


def test_missing_spool_exits_4(command_spool):
    result = run("--spool-dir", "/srv/nowhere", "79991234567", "rec_1732790000.42", FUTURE)
    assert result.exit_code == 4
    assert result.stderr == ("notice-spool: error: spool folder /srv/nowhere/outgoing does not exist; "
                             "is Asterisk installed, and is spool_dir right?\n")


def test_environment_variable_error_names_the_variable(command_spool):
    result = run("79991234567", "rec_1732790000.42", FUTURE, env={"NOTICE_TZ": "Moon/Base"})
    assert result.exit_code == 3
    assert "tz 'Moon/Base' from environment variable NOTICE_TZ" in result.stderr


@pytest.mark.parametrize("args", [[], ["79991234567"], ["1", "2", "3", "4"], ["--no-such-option", "1", "2", "3"]])
def test_usage_errors_exit_2(command_spool, args):
    result = run(*args)
    assert result.exit_code == 2
    assert "Usage: notice-spool [OPTIONS] NUMBER RECORDING WHEN" in result.stderr


def test_help_documents_every_setting_and_the_exit_codes(command_spool):
    result = run("--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for setting in SETTINGS:
        assert setting.option in text and setting.env in text
    assert "NOTICE_CONFIG" in text and "--dry-run" in text
    assert "Exit codes: 0 scheduled, 2 bad command line, 3 invalid number" in text
    assert "notice-spool 79991234567 rec_1732790000.42 '2026*12*01**10***30'" in text


def test_version(command_spool):
    result = run("--version")
    assert result.exit_code == 0 and re.fullmatch(r"notice-spool, version \d+\.\d+\.\d+\n", result.stdout)


def test_a_number_as_recording_picks_that_prepared_recording(command_spool):
    command_spool.create_file(RECORDINGS + "/prepared/3.gsm", contents=b"gsm")
    result = run("--dry-run", "79991234567", "3", FUTURE)
    assert result.exit_code == 0
    assert f"Data: {RECORDINGS}/prepared/3\n" in result.stdout
    command_spool.create_file("/srv/prepared/3.wav")
    result = run("--dry-run", "--prepared-dir", "/srv/prepared", "79991234567", "03", FUTURE)
    assert "Data: /srv/prepared/3\n" in result.stdout


@pytest.mark.parametrize("recording, message", [
    ("4", f"prepared recording '4' is not in {RECORDINGS}/prepared: no 4.wav"),
    ("0", "prepared recording '0' does not exist: they are numbered 1 to 999"),
    ("1000", "numbered 1 to 999"),
])
def test_unknown_prepared_recording_exits_3(command_spool, recording, message):
    command_spool.create_file(RECORDINGS + "/prepared/3.wav")
    result = run("79991234567", recording, FUTURE)
    assert result.exit_code == 3 and message in result.stderr
    assert outgoing_files() == []


def test_missing_prepared_folder_names_its_setting(command_spool):
    result = run("79991234567", "2", FUTURE)
    assert result.exit_code == 3
    assert f"prepared recordings folder {RECORDINGS}/prepared does not exist; create it or set prepared_dir" in result.stderr
