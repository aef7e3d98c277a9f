"""The `notice` group (cli.notice) through CliRunner on a fake spool: list, show, cancel,
history, import and spool, with every filter, format and error, over call files in every
state Asterisk leaves them in. Outputs are compared whole."""

import json
import os
import re
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from fakespool import ARCHIVE, OUTGOING, PREPARED_DIR, RECORDINGS, SPOOL, STAGING
from notice_cli import cli
from notice_cli.callfile import render
from notice_cli.notice import Notice, call_file_for
from notice_cli.settings import Settings

CLIENT, OTHER = "79991234567", "79990000001"


def at(*args) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp())


DUE_A, DUE_B, DUE_C = at(2099, 12, 1, 10, 30), at(2099, 12, 1, 9, 0), at(2099, 12, 2, 8, 0)


@pytest.fixture
def spool(command_spool, monkeypatch):
    """command_spool with prepared recording 3, and a config file that turns syslog off."""
    command_spool.create_file(PREPARED_DIR + "/3.wav", contents=b"RIFF")
    monkeypatch.setenv("NOTICE_CONFIG", "/etc/notice-test.conf")
    command_spool.create_file("/etc/notice-test.conf", contents="[notice]\nsyslog_facility = none\n")
    return command_spool


def run(*args, input=None):
    return CliRunner().invoke(cli.notice, list(args), input=input, prog_name="notice")


def call_file(notice_id, number=CLIENT, due=DUE_A, tail="", folder=OUTGOING, mtime=None,
              recording=RECORDINGS + "/rec_1732790000.42", retry_time=20):
    """A call file as notice-spool writes it, with TAIL appended as Asterisk appends it."""
    path = f"{folder}/notice-{notice_id}.call"
    text = render(call_file_for(Notice(notice_id, number, recording, due), Settings(retry_time=retry_time)))
    os.makedirs(folder, exist_ok=True)
    with open(path, "w") as stream:
        stream.write(text + tail)
    os.utime(path, (mtime or due, mtime or due))
    return path


def started(attempt, when, retry_time=20):
    return f"\nStartRetry: 4242 {attempt} ({when + retry_time})\n"


def ended(attempt, when):
    return f"\nEndRetry: 4242 {attempt} ({when})\n"


@pytest.fixture
def pending(spool):
    """Three pending notices in three states, and files that are not ours."""
    call_file("a-pending", due=DUE_A)
    # retrying: the first attempt failed at DUE_B; Asterisk set the mtime to the next attempt
    call_file("b-retrying", due=DUE_B, tail=started(1, DUE_B) + ended(1, DUE_B + 25), mtime=DUE_B + 45)
    # calling: the attempt began at DUE_C - 60 (a prepared recording, another client)
    call_file("c-calling", number=OTHER, due=DUE_C - 60, tail=started(1, DUE_C - 60), mtime=DUE_C + 40,
              recording=RECORDINGS + "/prepared/3")
    spool.create_file(f"{OUTGOING}/article.call", contents="Channel: Local/1@x\nApplication: Playback\nData: x\n")
    spool.create_file(f"{OUTGOING}/notice-foreign.call", contents="Channel: Local/1@x\nSetvar: NOTICE_ID=other\n")
    # half-way: staged, not yet renamed
    spool.create_file(f"{STAGING}/notice-staged.call", contents=f"Channel: Local/79990000008@from-internal\n"
                      f"Application: Playback\nData: {RECORDINGS}/prepared/3\nSetvar: NOTICE_ID=staged\n")
    return spool


TABLE = """\
ID          DUE                        NUMBER       RECORDING          ATTEMPTS  STATE
b-retrying  2099-12-01T09:00:45+00:00  79991234567  rec_1732790000.42  1         retrying
a-pending   2099-12-01T10:30:00+00:00  79991234567  rec_1732790000.42  0         pending
c-calling   2099-12-02T07:59:00+00:00  79990000001  prepared/3         1         calling
"""


# --- list ----------------------------------------------------------------------------------------

def test_list_shows_our_pending_notices_by_next_call(pending):
    result = run("list")
    assert result.exit_code == 0, result.output
    assert result.stdout == TABLE
    assert result.stderr == ""


def test_list_json_and_csv_carry_the_same_rows(pending):
    rows = json.loads(run("list", "--json").stdout)
    assert rows == [
        {"id": "b-retrying", "due": "2099-12-01T09:00:45+00:00", "number": CLIENT,
         "recording": "rec_1732790000.42", "attempts": 1, "state": "retrying"},
        {"id": "a-pending", "due": "2099-12-01T10:30:00+00:00", "number": CLIENT,
         "recording": "rec_1732790000.42", "attempts": 0, "state": "pending"},
        {"id": "c-calling", "due": "2099-12-02T07:59:00+00:00", "number": OTHER,
         "recording": "prepared/3", "attempts": 1, "state": "calling"},
    ]
    assert run("list", "--csv").stdout_bytes.decode() == (  # RFC 4180 line ends, CRLF
        "id,due,number,recording,attempts,state\r\n"
        "b-retrying,2099-12-01T09:00:45+00:00,79991234567,rec_1732790000.42,1,retrying\r\n"
        "a-pending,2099-12-01T10:30:00+00:00,79991234567,rec_1732790000.42,0,pending\r\n"
        "c-calling,2099-12-02T07:59:00+00:00,79990000001,prepared/3,1,calling\r\n"
    )


def test_list_in_the_configured_zone(pending):
    result = run("list", "--tz", "Europe/Moscow", "--csv")
    assert result.stdout.splitlines()[2] == "a-pending,2099-12-01T13:30:00+03:00,79991234567,rec_1732790000.42,0,pending"


@pytest.mark.parametrize("args, ids", [
    (["--number", CLIENT], ["b-retrying", "a-pending"]),
    (["--number", OTHER, "--number", CLIENT], ["b-retrying", "a-pending", "c-calling"]),
    (["--number", "70000000000"], []),
    (["--since", "2099-12-01 10:00"], ["a-pending", "c-calling"]),
    (["--until", "2099-12-01T10:30:00Z"], ["b-retrying"]),
    (["--since", "2099-12-01", "--until", "2099-12-02"], ["b-retrying", "a-pending"]),
    (["--since", "2099*12*02**07***59"], ["c-calling"]),
    (["--since", "-1d", "--until", "+1d"], []),
    (["--number", CLIENT, "--since", "2099-12-01 09:30"], ["a-pending"]),
])
def test_list_filters(pending, args, ids):
    result = run("list", "--json", *args)
    assert result.exit_code == 0, result.output
    assert [row["id"] for row in json.loads(result.stdout)] == ids


@pytest.mark.parametrize("args, message", [
    (["--number", "79-99"], "number '79-99' is not a phone number"),
    (["--since", "yesterday"], "time 'yesterday' is not understood"),
    (["--until", "2099-02-30"], "is not a valid ISO 8601"),
    (["--tz", "Moon/Base"], "tz 'Moon/Base' from option --tz"),
])
def test_list_refuses_a_bad_filter_with_exit_3(pending, args, message):
    result = run("list", *args)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith("notice list: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_empty_spool_lists_a_header_an_empty_array_or_a_csv_header(spool):
    assert run("list").stdout == "ID  DUE  NUMBER  RECORDING  ATTEMPTS  STATE\n"
    assert run("list", "--json").stdout == "[]\n"
    assert run("list", "--csv").stdout_bytes == b"id,due,number,recording,attempts,state\r\n"


def test_missing_spool_exits_4(spool):
    result = run("list", "--spool-dir", "/srv/nowhere")
    assert result.exit_code == 4
    assert result.stderr == ("notice list: error: spool folder /srv/nowhere/outgoing does not exist; "
                             "is Asterisk installed, and is spool_dir right?\n")


def test_list_of_a_file_being_appended_and_of_an_older_file(spool):
    call_file("appending", tail=started(1, DUE_A) + "\nEndRe")
    spool.create_file(f"{OUTGOING}/notice-old.call", contents=(
        "Channel: PJSIP/74950000000@trunk\nApplication: Playback\nData: /srv/hello\nSetvar: NOTICE_ID=old\n"))
    os.utime(f"{OUTGOING}/notice-old.call", (DUE_C, DUE_C))
    result = run("list", "--csv", "--channel", "PJSIP/{number}@trunk")
    assert result.stdout_bytes.decode() == (
        "id,due,number,recording,attempts,state\r\n"
        "appending,2099-12-01T10:30:00+00:00,79991234567,rec_1732790000.42,1,calling\r\n"
        "old,2099-12-02T08:00:00+00:00,74950000000,/srv/hello,0,pending\r\n"
    )


def test_list_through_a_pipe_that_closes_early_is_quiet(pending, monkeypatch):
    def closed(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("notice_cli.fast_listing.write_table", closed)
    result = run("list")
    assert (result.exit_code, result.stderr) == (0, "")


# --- show ----------------------------------------------------------------------------------------

def test_show_a_retrying_notice_in_full(pending):
    result = run("show", "b-retrying")
    assert result.exit_code == 0
    assert result.stdout == f"""\
id         b-retrying
state      retrying
outcome    pending
number     79991234567
recording  rec_1732790000.42
due        2099-12-01T09:00:00+00:00
next call  2099-12-01T09:00:45+00:00
attempts   1 of 3
file       {OUTGOING}/notice-b-retrying.call
  attempt 1: 2099-12-01T09:00:00+00:00, ended 2099-12-01T09:00:25+00:00: failed (busy, no answer or unreachable); tried again
call file:
  Channel: Local/79991234567@from-internal
  MaxRetries: 2
  RetryTime: 20
  WaitTime: 20
  Application: Playback
  Data: {RECORDINGS}/rec_1732790000.42
  Archive: yes
  Setvar: NOTICE_ID=b-retrying
  Setvar: NOTICE_NUMBER=79991234567
  Setvar: NOTICE_DUE={DUE_B}
  StartRetry: 4242 1 ({DUE_B + 20})
  EndRetry: 4242 1 ({DUE_B + 25})
"""


def test_show_json_of_a_calling_notice(pending):
    shown = json.loads(run("show", "--json", "c-calling").stdout)
    assert {key: shown[key] for key in shown if key != "fields"} == {
        "id": "c-calling", "state": "calling", "result": "pending", "outcome": None, "status": None,
        "number": OTHER, "recording": "prepared/3",
        "due": "2099-12-02T07:59:00+00:00", "next_call": "2099-12-02T07:59:00+00:00", "attempts": 1,
        "max_attempts": 3, "file": f"{OUTGOING}/notice-c-calling.call",
        "attempt_log": [{"attempt": 1, "started": "2099-12-02T07:59:00+00:00", "ended": None,
                         "result": "calling now", "outcome": None, "played": None, "then": None,
                         "next_call": None}],
        "on_failure": [],
    }
    assert shown["fields"][-1] == ["StartRetry", f"4242 1 ({DUE_C - 60 + 20})"]


def test_show_a_finished_notice(spool):
    call_file("done", due=DUE_A, folder=ARCHIVE,
              tail=started(1, DUE_A) + ended(1, DUE_A + 20) + started(2, DUE_A + 40) + "Status: Completed\n")
    lines = run("show", "done").stdout.splitlines()
    assert lines[:8] == ["id         done", "state      finished: Completed",
                         "outcome    unknown: answered (Playback delivery cannot tell whether the message was heard)",
                         f"number     {CLIENT}", "recording  rec_1732790000.42", "due        2099-12-01T10:30:00+00:00",
                         "attempts   2 of 3", f"file       {ARCHIVE}/notice-done.call"]
    assert lines[9] == "  attempt 2: 2099-12-01T10:30:40+00:00: answered; the recording was played"


@pytest.mark.parametrize("notice_id, code, message", [
    ("nope", 5, f"notice nope is neither pending in {OUTGOING} nor finished in {ARCHIVE}"),
    ("foreign", 5, "is neither pending"),
    ("../outgoing/x", 3, "is not a notice id"),
])
def test_show_what_is_not_there(pending, notice_id, code, message):
    result = run("show", notice_id)
    assert result.exit_code == code
    assert result.stderr.startswith("notice show: error: ") and message in result.stderr


# --- cancel --------------------------------------------------------------------------------------

def test_cancel_removes_the_pending_notice(pending):
    result = run("cancel", "a-pending")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("cancelled a-pending: 79991234567 due 2099-12-01T10:30:00+00:00"
                             "; kept its recording rec_1732790000.42 (notice b-retrying plays it)\n")
    assert not os.path.exists(f"{OUTGOING}/notice-a-pending.call")
    assert os.path.exists(f"{RECORDINGS}/rec_1732790000.42.wav")
    assert [row["id"] for row in json.loads(run("list", "--json").stdout)] == ["b-retrying", "c-calling"]


def test_cancel_by_call_file_path_and_a_retrying_notice_between_attempts(pending):
    result = run("cancel", f"{OUTGOING}/notice-a-pending.call", "b-retrying")
    assert result.exit_code == 0
    assert sorted(os.listdir(OUTGOING)) == ["article.call", "notice-c-calling.call", "notice-foreign.call"]


def test_cancel_tells_which_ids_were_not_found_and_cancels_the_others(pending):
    result = run("cancel", "nope", "a-pending", "foreign")
    assert result.exit_code == 5
    assert result.stdout == ("cancelled a-pending: 79991234567 due 2099-12-01T10:30:00+00:00"
                             "; kept its recording rec_1732790000.42 (notice b-retrying plays it)\n")
    assert result.stderr == f"notice cancel: error: not pending in {SPOOL}/outgoing: nope, foreign\n"
    assert os.path.exists(f"{OUTGOING}/notice-foreign.call")


@pytest.mark.parametrize("target", [
    f"{ARCHIVE}/notice-a-pending.call", f"{SPOOL}/tmp/notice-staged.call", "/etc/passwd",
    f"{OUTGOING}/../tmp/notice-staged.call", f"{OUTGOING}/article.call", "../a-pending",
])
def test_cancel_refuses_anything_outside_outgoing_and_removes_nothing(pending, target):
    before = sorted(os.listdir(OUTGOING)), sorted(os.listdir(STAGING))
    result = run("cancel", "--yes", "a-pending", target)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert (sorted(os.listdir(OUTGOING)), sorted(os.listdir(STAGING))) == before


def test_cancel_all_for_a_client(pending):
    call_file("d-later", due=DUE_C + 600)
    result = run("cancel", "--number", CLIENT)
    assert result.exit_code == 0
    assert sorted(result.stdout.splitlines()) == [  # the last of the three notices that played it
        "cancelled a-pending: 79991234567 due 2099-12-01T10:30:00+00:00; removed its recording rec_1732790000.42",
        "cancelled b-retrying: 79991234567 due 2099-12-01T09:00:00+00:00; removed its recording rec_1732790000.42",
        "cancelled d-later: 79991234567 due 2099-12-02T08:10:00+00:00; removed its recording rec_1732790000.42",
    ]
    assert [row["number"] for row in json.loads(run("list", "--json").stdout)] == [OTHER]
    assert sorted(os.listdir(RECORDINGS)) == ["prepared"]


def test_cancel_for_a_client_without_notices_exits_5(pending):
    result = run("cancel", "--number", "70000000000")
    assert (result.exit_code, result.stderr) == (5, "notice cancel: error: no pending notice to 70000000000\n")


def test_notice_being_called_is_reported_and_left(pending):
    result = run("cancel", "c-calling", "a-pending")
    assert result.exit_code == 6
    assert result.stdout == ("cancelled a-pending: 79991234567 due 2099-12-01T10:30:00+00:00"
                             "; kept its recording rec_1732790000.42 (notice b-retrying plays it)\n")
    assert result.stderr == (
        "notice cancel: c-calling not cancelled: Asterisk is calling 79990000001 now (attempt 1)\n"
        "notice cancel: error: 1 of 2 notices left in the spool; cancel them once their call is over "
        "(or --force if Asterisk is not running)\n")
    assert os.path.exists(f"{OUTGOING}/notice-c-calling.call")


def test_a_name_not_found_decides_the_exit_code_over_a_notice_left(pending):
    """Exit 5 before 6: the admin has a wrong id to correct; the others are handled alike."""
    result = run("cancel", "nope", "c-calling", "a-pending")
    assert result.exit_code == 5
    assert result.stdout.startswith("cancelled a-pending: ")
    assert result.stderr == (
        "notice cancel: c-calling not cancelled: Asterisk is calling 79990000001 now (attempt 1)\n"
        f"notice cancel: error: not pending in {SPOOL}/outgoing: nope\n")
    assert os.path.exists(f"{OUTGOING}/notice-c-calling.call")


def test_notice_due_this_moment_is_left_unless_forced(spool):
    import time

    call_file("now", due=int(time.time()) + 1)
    result = run("cancel", "now")
    assert result.exit_code == 6
    assert "now not cancelled: it is due this moment and Asterisk may be starting the call" in result.stderr
    assert os.path.exists(f"{OUTGOING}/notice-now.call")
    forced = run("cancel", "--force", "now")
    assert forced.exit_code == 0 and not os.path.exists(f"{OUTGOING}/notice-now.call")


def test_a_forced_cancel_keeps_the_recording_asterisk_may_be_calling_with(pending):
    """--force removes the call file of a notice being called; the call goes on and plays the
    recording, which therefore stays."""
    own = "rec_1732790099.7-1732790100"
    open(f"{RECORDINGS}/{own}.wav", "wb").close()
    call_file("e-calling", due=DUE_C - 60, tail=started(1, DUE_C - 60), mtime=DUE_C + 40, recording=f"{RECORDINGS}/{own}")
    forced = run("cancel", "--force", "e-calling")
    assert (forced.exit_code, forced.stdout) == (0, "cancelled e-calling: 79991234567 due 2099-12-02T07:59:00+00:00; "
                                                    f"kept its recording {own} (Asterisk may be calling with it)\n")
    assert os.path.exists(f"{RECORDINGS}/{own}.wav")


def test_cancel_asks_on_a_terminal(pending, monkeypatch):
    monkeypatch.setattr(cli, "on_terminal", lambda stream: True)
    declined = run("cancel", "a-pending", "b-retrying", input="n\n")
    assert declined.exit_code == 0
    assert declined.stderr == (
        "Cancel 2 notices:\n"
        "  a-pending: 79991234567 due 2099-12-01T10:30:00+00:00 (pending)\n"
        "  b-retrying: 79991234567 due 2099-12-01T09:00:00+00:00 (retrying)\n"
        "Cancel them? [y/N]: n\n"
        "notice cancel: nothing cancelled\n")
    assert os.path.exists(f"{OUTGOING}/notice-a-pending.call")
    accepted = run("cancel", "a-pending", input="y\n")
    assert accepted.exit_code == 0 and not os.path.exists(f"{OUTGOING}/notice-a-pending.call")
    unasked = run("cancel", "--yes", "b-retrying")
    assert "Cancel" not in unasked.stderr and not os.path.exists(f"{OUTGOING}/notice-b-retrying.call")


def test_call_starting_while_the_question_is_asked_is_not_removed(pending, monkeypatch):
    """Each file is checked again right before its removal, not as it was listed."""
    monkeypatch.setattr(cli, "on_terminal", lambda stream: True)

    def answer_while_asterisk_starts_the_call(question, **kwargs):
        with open(f"{OUTGOING}/notice-a-pending.call", "a") as stream:
            stream.write(started(1, DUE_A))
        return True

    monkeypatch.setattr(cli.click, "confirm", answer_while_asterisk_starts_the_call)
    result = run("cancel", "a-pending")
    assert result.exit_code == 6
    assert "a-pending not cancelled: Asterisk is calling 79991234567 now (attempt 1)" in result.stderr
    assert os.path.exists(f"{OUTGOING}/notice-a-pending.call")


def test_cancel_says_what_became_of_each_recording(spool):
    spool.create_file(RECORDINGS + "/hello.wav", contents=b"RIFF")
    call_file("p-prepared", recording=RECORDINGS + "/prepared/3")
    call_file("q-admin", due=DUE_B, recording=RECORDINGS + "/hello")
    call_file("r-recorded", due=DUE_C)
    result = run("cancel", "p-prepared", "q-admin", "r-recorded")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        "cancelled p-prepared: 79991234567 due 2099-12-01T10:30:00+00:00; its recording prepared/3 is kept (prepared)\n"
        "cancelled q-admin: 79991234567 due 2099-12-01T09:00:00+00:00; its recording hello is kept (not recorded by "
        "the dialplan)\n"
        "cancelled r-recorded: 79991234567 due 2099-12-02T08:00:00+00:00; removed its recording rec_1732790000.42\n")
    assert sorted(os.listdir(RECORDINGS)) == ["hello.wav", "prepared"]
    assert os.listdir(RECORDINGS + "/prepared") == ["3.wav"]


def test_cancel_without_ids_or_number_is_a_usage_error(pending):
    result = run("cancel")
    assert result.exit_code == 2 and "give the ids of the notices to cancel, or --number" in result.stderr


# --- history -------------------------------------------------------------------------------------

@pytest.fixture
def archive(spool):
    """Finished notices as Asterisk archives them, and one it has just moved (no Status yet)."""
    call_file("h-completed", due=DUE_A, folder=ARCHIVE, tail=started(1, DUE_A) + "Status: Completed\n",
              mtime=DUE_A + 30)
    call_file("h-expired", number=OTHER, due=DUE_B, folder=ARCHIVE, mtime=DUE_B + 100,
              tail=started(1, DUE_B) + ended(1, DUE_B + 20) + started(2, DUE_B + 40) + ended(2, DUE_B + 60)
              + started(3, DUE_B + 80) + "Status: Expired\n")
    call_file("h-failed", due=DUE_C, folder=ARCHIVE, tail="Status: Failed\n", mtime=DUE_C)
    call_file("h-moving", due=DUE_C + 60, folder=ARCHIVE, tail=started(1, DUE_C + 60), mtime=DUE_C + 100)
    spool.create_file(f"{ARCHIVE}/article.call", contents="Channel: Local/1@x\nStatus: Completed\n")
    return spool


def test_history_reports_what_asterisk_did(archive):
    result = run("history")
    assert result.exit_code == 0
    assert result.stdout == """\
ID           DUE                        NUMBER       RESULT         OUTCOME     ATTEMPTS  LAST_ATTEMPT               STATUS
h-expired    2099-12-01T09:00:00+00:00  79990000001  not delivered  unanswered  3         2099-12-01T09:01:20+00:00  Expired
h-completed  2099-12-01T10:30:00+00:00  79991234567  unknown        answered    1         2099-12-01T10:30:00+00:00  Completed
h-failed     2099-12-02T08:00:00+00:00  79991234567  not delivered  failed      0         -                          Failed
h-moving     2099-12-02T08:01:00+00:00  79991234567  unknown        -           1         2099-12-02T08:01:00+00:00  unknown
"""
    assert run("history", "--csv").stdout.splitlines()[3] == (
        "h-failed,2099-12-02T08:00:00+00:00,79991234567,not delivered,failed,0,,Failed")
    assert json.loads(run("history", "--json").stdout)[2] == {
        "id": "h-failed", "due": "2099-12-02T08:00:00+00:00", "number": CLIENT, "result": "not delivered",
        "outcome": "failed", "attempts": 0, "last_attempt": None, "status": "Failed"}


@pytest.mark.parametrize("args, ids", [
    (["--number", OTHER], ["h-expired"]),
    (["--since", "2099-12-02"], ["h-failed", "h-moving"]),
    (["--until", "2099-12-01 10:30"], ["h-expired"]),
])
def test_history_filters(archive, args, ids):
    assert [row["id"] for row in json.loads(run("history", "--json", *args).stdout)] == ids


def test_history_without_an_archive_folder_is_empty(spool):
    assert run("history", "--csv").stdout_bytes == b"id,due,number,result,outcome,attempts,last_attempt,status\r\n"


def test_prune_deletes_our_files_archived_before_the_date(archive):
    result = run("history", "--prune-before", "2099-12-02")
    assert result.exit_code == 0
    assert result.stdout == "deleted 2 finished notices archived before 2099-12-02T00:00:00+00:00\n"
    assert sorted(os.listdir(ARCHIVE)) == ["article.call", "notice-h-failed.call", "notice-h-moving.call"]


def test_prune_asks_on_a_terminal(archive, monkeypatch):
    monkeypatch.setattr(cli, "on_terminal", lambda stream: True)
    result = run("history", "--prune-before", "2100-01-01", input="n\n")
    assert "Delete 4 finished notices archived before 2100-01-01T00:00:00+00:00? [y/N]" in result.stderr
    assert len(os.listdir(ARCHIVE)) == 5
    assert run("history", "--prune-before", "2100-01-01", "--yes").stdout.startswith("deleted 4 ")


def test_prune_takes_no_filters(archive):
    result = run("history", "--prune-before", "2099-12-02", "--number", CLIENT)
    assert result.exit_code == 2 and "--prune-before deletes by archive time alone" in result.stderr


# --- import --------------------------------------------------------------------------------------

CSV = ("number,recording,when\n"
       "79991234567,rec_1732790000.42,2099-12-01 10:30\n"
       "+79990000001,3,2099*12*01**11***00\n"
       "79990000002,rec_1732790000.42.wav,2099-12-01T12:00:00+03:00\n")


def outgoing():
    return sorted(name for name in os.listdir(OUTGOING))


def test_import_spools_every_row_and_prints_a_summary(spool):
    spool.create_file("/srv/notices.csv", contents=CSV)
    result = run("import", "/srv/notices.csv")
    assert result.exit_code == 0, result.output
    assert result.stdout == "spooled 3 notices from /srv/notices.csv\n"
    rows = json.loads(run("list", "--json").stdout)
    assert [(row["due"], row["number"], row["recording"]) for row in rows] == [
        ("2099-12-01T09:00:00+00:00", "79990000002", "rec_1732790000.42"),
        ("2099-12-01T10:30:00+00:00", "79991234567", "rec_1732790000.42"),
        ("2099-12-01T11:00:00+00:00", "+79990000001", "prepared/3"),
    ]
    due = at(2099, 12, 1, 10, 30)
    name = f"notice-{[row['id'] for row in rows if row['number'] == CLIENT][0]}.call"
    assert os.stat(f"{OUTGOING}/{name}").st_mtime == due
    assert re.fullmatch(r"notice-20991201103000-[0-9a-f]{8}\.call", name)
    assert os.listdir(STAGING) == []


def test_importing_the_same_file_again_schedules_nothing_twice(spool):
    spool.create_file("/srv/notices.csv", contents=CSV)
    assert run("import", "/srv/notices.csv").exit_code == 0
    first = outgoing()
    again = run("import", "/srv/notices.csv")
    assert again.exit_code == 0
    assert again.stdout == "spooled 0 notices from /srv/notices.csv; 3 already scheduled (skipped)\n"
    assert outgoing() == first
    # one of them has fired and is archived; another row is added to the file
    os.makedirs(ARCHIVE)
    os.rename(f"{OUTGOING}/{first[0]}", f"{ARCHIVE}/{first[0]}")
    with open("/srv/notices.csv", "a") as stream:
        stream.write("79990000009,3,2099-12-03 10:00\n")
    third = run("import", "/srv/notices.csv")
    assert third.stdout == "spooled 1 notice from /srv/notices.csv; 3 already scheduled (skipped)\n"
    assert len(outgoing()) == 3


def test_rows_an_overlapping_import_spooled_are_already_scheduled_and_exit_0(spool, monkeypatch):
    """Cron overlapping itself: another import of the file spools two of its rows after this
    one has looked at the spool and before it spools them."""
    import notice_cli.bulk as bulk  # the module cli will use: pyfakefs unloads one a former test loaded

    spool.create_file("/srv/notices.csv", contents=CSV)
    real_known_ids = bulk.known_ids

    def known_ids_then_another_run(settings):
        known = real_known_ids(settings)
        monkeypatch.setattr(bulk, "known_ids", real_known_ids)  # the other run looks as usual
        rows = CSV.splitlines(keepends=True)
        bulk.import_notices(rows[:1] + rows[2:], "/srv/notices.csv", settings, time.time())
        return known

    monkeypatch.setattr(bulk, "known_ids", known_ids_then_another_run)
    result = run("import", "/srv/notices.csv")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == "spooled 1 notice from /srv/notices.csv; 2 already scheduled (skipped)\n"
    assert len(outgoing()) == 3
    assert os.listdir(STAGING) == []


def test_import_reports_every_bad_row_and_spools_nothing(spool):
    spool.create_file("/srv/bad.csv", contents=(
        "Number , Recording,WHEN\n"
        "79991234567,rec_1732790000.42,2099-12-01 10:30\n"
        "\n"
        "7999 123,rec_1732790000.42,2099-12-01 10:30\n"
        "79991234567,missing,2099-12-01 10:30\n"
        '79991234567,rec_1732790000.42,"2099-12-01\n10:30"\n'
        "79991234567,rec_1732790000.42,2020-01-01 10:30\n"
        "79991234567,rec_1732790000.42\n"
        "79991234567,../etc/passwd,+1h\n"))
    result = run("import", "/srv/bad.csv")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == (
        "notice import: line 4: number '7999 123' is not a phone number: use digits only, optionally one "
        "leading '+', at most 32 characters\n"
        f"notice import: line 5: recording 'missing' is not in {RECORDINGS}: no missing.wav (or .gsm, .ulaw, "
        ".alaw, .sln, .g722, ...) there\n"
        "notice import: line 6: time '2099-12-01\\n10:30' has no time of day; add it, e.g. '2026-12-01 10:30'\n"
        "notice import: line 8: time '2020-01-01 10:30' is in the past (2020-01-01T10:30:00+00:00); give a future time\n"
        "notice import: line 9: has 2 fields, the header 3\n"
        "notice import: line 10: recording '../etc/passwd' is not a recording name: use letters, digits, '_', "
        "'-' and '.', not starting with '.' or '-', no '/' (a name in the recordings folder, e.g. rec_1732790000.42)\n"
        "notice import: error: 6 invalid rows in /srv/bad.csv; nothing was imported (correct them, or use "
        "--skip-invalid to import the valid rows)\n")
    assert outgoing() == []
    assert not os.path.exists(STAGING) or os.listdir(STAGING) == []


def test_import_skip_invalid_spools_the_valid_rows(spool):
    spool.create_file("/srv/bad.csv", contents=CSV + "bad,rec_1732790000.42,2099-12-01 10:30\n")
    result = run("import", "--skip-invalid", "/srv/bad.csv")
    assert result.exit_code == 0
    assert result.stdout == "spooled 3 notices from /srv/bad.csv; 1 invalid row skipped\n"
    assert result.stderr.startswith("notice import: line 5: number 'bad' is not a phone number")
    assert result.stderr.endswith(" (skipped)\n")
    assert len(outgoing()) == 3


def test_import_from_stdin_with_ids_and_a_byte_order_mark(spool):
    text = "\ufeffid,number,recording,when\nclinic-1,79991234567,3,2099-12-01 10:30\nclinic-2,79991234567,3,+1d\n"
    result = CliRunner().invoke(cli.notice, ["import", "-"], input=text.encode("utf-8"))
    assert result.exit_code == 0, result.output
    assert result.stdout == "spooled 2 notices from <stdin>\n"
    assert outgoing() == ["notice-clinic-1.call", "notice-clinic-2.call"]
    with open(f"{OUTGOING}/notice-clinic-1.call") as stream:
        assert "Setvar: NOTICE_ID=clinic-1\n" in stream.read()


def test_repeated_rows_are_spooled_once_and_repeated_ids_are_invalid(spool):
    row = "79991234567,3,2099-12-01 10:30\n"
    spool.create_file("/srv/twice.csv", contents="number,recording,when\n" + row + row)
    assert run("import", "/srv/twice.csv").stdout == "spooled 1 notice from /srv/twice.csv; 1 already scheduled (skipped)\n"
    spool.create_file("/srv/ids.csv", contents="id,number,recording,when\nx,1,3,2099-12-01 10:30\nx,2,3,2099-12-01 10:30\n")
    result = run("import", "/srv/ids.csv")
    assert result.exit_code == 3 and "line 3: id x is also on line 2; ids must differ" in result.stderr


@pytest.mark.parametrize("contents, message", [
    ("", "/srv/x.csv is empty; it needs a header row: number,recording,when"),
    ("number,recording,time\n", "/srv/x.csv has unknown column 'time' in its header"),
    ("number,recording\n", "/srv/x.csv's header must name each of number, recording, when once"),
    ("number,number,recording,when\n", "must name each of number, recording, when once"),
    (b"number,recording,when\n\xff\xfe,3,+1h\n", "/srv/x.csv is not UTF-8 text"),
])
def test_import_refuses_a_file_it_cannot_read(spool, contents, message):
    spool.create_file("/srv/x.csv", contents=contents)
    result = run("import", "/srv/x.csv")
    assert result.exit_code == 3
    assert result.stderr.startswith("notice import: error: ") and message in result.stderr


def test_import_into_a_missing_spool_exits_4(spool):
    spool.create_file("/srv/notices.csv", contents=CSV)
    result = run("import", "--spool-dir", "/srv/nowhere", "/srv/notices.csv")
    assert result.exit_code == 4 and "spool folder /srv/nowhere/outgoing does not exist" in result.stderr


def test_import_of_a_missing_file_is_a_usage_error(spool):
    result = run("import", "/srv/none.csv")
    assert result.exit_code == 2 and "No such file or directory" in result.stderr


def test_import_shows_progress_on_a_terminal(spool, monkeypatch):
    import click._termui_impl

    monkeypatch.setattr(cli, "on_terminal", lambda stream: True)
    monkeypatch.setattr(click._termui_impl, "isatty", lambda stream: True)  # click's own check
    spool.create_file("/srv/notices.csv", contents=CSV)
    result = run("import", "/srv/notices.csv")
    assert result.exit_code == 0
    assert "spooling" in result.stderr and "100%" in result.stderr
    assert result.stdout == "spooled 3 notices from /srv/notices.csv\n"


# --- notice spool is notice-spool ------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["--dry-run", "79991234567", "rec_1732790000.42", "2099*12*01**10***30"],
    ["7999 1234", "rec_1732790000.42", "2099*12*01**10***30"],
    ["--spool-dir", "/srv/nowhere", "79991234567", "rec_1732790000.42", "2099*12*01**10***30"],
    ["79991234567"],
])
def test_notice_spool_behaves_as_notice_spool(spool, args):
    group = run("spool", *args)
    alone = CliRunner().invoke(cli.notice_spool_command, args, prog_name="notice-spool")
    assert group.exit_code == alone.exit_code
    assert re.sub(r"\d{14}-[0-9a-f]{8}", "ID", group.stdout) == re.sub(r"\d{14}-[0-9a-f]{8}", "ID", alone.stdout)
    assert group.stderr.replace("notice spool", "notice-spool") == alone.stderr


def test_notice_spool_schedules(spool):
    result = run("spool", "79991234567", "rec_1732790000.42", "2099*12*01**10***30")
    assert result.exit_code == 0
    assert re.fullmatch(r"notice \S+ scheduled for 2099-12-01T10:30:00\+00:00: \S+\n", result.stdout)
    assert len(outgoing()) == 1


# --- gc (its lock and grace with real files: test_spool_writer_locks.py) -------------------------

def test_gc_removes_the_leftovers_and_says_how_many(spool, monkeypatch):
    for name in ("notice-20991128094512-9f3a1c2b.call", "notice-20991201103000-5e0c2a91.call", "voicemail.tmp"):
        spool.create_file(f"{STAGING}/{name}", contents="Channel: Local/7999")
    monkeypatch.setattr(cli, "time", SimpleNamespace(time=lambda: time.time() + 3600))
    result = run("gc")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, f"removed 2 leftover staging files from {STAGING}\n"
           f"removed 0 recordings unused for 30 days from {RECORDINGS}\n", "")
    assert os.listdir(STAGING) == ["voicemail.tmp"]
    assert run("gc").stdout.splitlines()[0] == f"removed 0 leftover staging files from {STAGING}"


def test_gc_removes_the_recordings_unused_for_the_retention(pending):
    old = time.time() - 31 * 86400
    for name in ("rec_old-1.wav", "rec_old-1.gsm", "hello.wav"):
        pending.create_file(f"{RECORDINGS}/{name}", contents=b"RIFF")
    for name in ("rec_old-1.wav", "rec_old-1.gsm", "hello.wav", "rec_1732790000.42.wav", "prepared/3.wav"):
        os.utime(f"{RECORDINGS}/{name}", (old, old))
    result = run("gc")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (f"removed 0 leftover staging files from {STAGING}; 1 being written, left alone\n"
                             f"removed 1 recording unused for 30 days from {RECORDINGS} "
                             "(kept: 1 played by pending notices)\n")
    assert sorted(os.listdir(RECORDINGS)) == ["hello.wav", "prepared", "rec_1732790000.42.wav"]
    assert run("gc", "--recording-retention", "32").stdout.splitlines()[1] == (
        f"removed 0 recordings unused for 32 days from {RECORDINGS} (kept: 1 played by pending notices)")


def test_gc_refuses_a_bad_retention_naming_its_source(spool, monkeypatch):
    monkeypatch.setenv("NOTICE_RECORDING_RETENTION", "30d")
    result = run("gc")
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == ("notice gc: error: recording_retention '30d' from environment variable "
                             "NOTICE_RECORDING_RETENTION must be a whole number from 1 to 36500\n")


def test_gc_of_a_missing_spool_exits_4(spool):
    result = run("gc", "--spool-dir", "/srv/nowhere")
    assert result.exit_code == 4
    assert result.stderr == ("notice gc: error: spool folder /srv/nowhere/outgoing does not exist; "
                             "is Asterisk installed, and is spool_dir right?\n")


# --- discard-recording ---------------------------------------------------------------------------

REC = "rec_1732790012.7-1732790020"


def test_discard_recording_removes_it_and_says_so(spool):
    for extension in ("wav", "gsm"):
        spool.create_file(f"{RECORDINGS}/{REC}.{extension}", contents=b"RIFF")
    result = run("discard-recording", REC)
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"removed recording {REC} from {RECORDINGS}\n", "")
    assert sorted(os.listdir(RECORDINGS)) == ["prepared", "rec_1732790000.42.wav"]
    again = run("discard-recording", REC)
    assert (again.exit_code, again.stdout) == (0, f"no recording {REC} in {RECORDINGS}: nothing removed\n")


def test_discard_recording_keeps_what_a_pending_notice_plays(pending):
    result = run("discard-recording", "rec_1732790000.42")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, "kept recording rec_1732790000.42: notice a-pending plays it\n", "")
    assert os.path.exists(f"{RECORDINGS}/rec_1732790000.42.wav")


@pytest.mark.parametrize("name", [
    "../rec_1732790000.42", "/etc/passwd", f"{RECORDINGS}/rec_1732790000.42", "rec_*", "rec_1732790000.4?",
    "rec_1732790000.42\n", "rec_1732790000.42 hello", "rec_1732790000.42;true", "hello", "3", "prepared",
])
def test_discard_recording_refuses_a_hostile_name_with_exit_3(spool, name):
    spool.create_file(RECORDINGS + "/hello.wav", contents=b"RIFF")
    result = run("discard-recording", name)
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr.startswith("notice discard-recording: error: recording ") and result.stderr.count("\n") == 1
    assert sorted(os.listdir(RECORDINGS)) == ["hello.wav", "prepared", "rec_1732790000.42.wav"]


def test_discard_recording_that_cannot_remove_exits_4(spool, run_as):
    os.chmod(RECORDINGS, 0o755)
    run_as(1000, 1000)
    result = run("discard-recording", "rec_1732790000.42")
    assert (result.exit_code, result.stdout) == (4, "")
    assert result.stderr == (f"notice discard-recording: error: permission denied on {RECORDINGS}/"
                             "rec_1732790000.42.wav; run as root or as the user Asterisk runs as, or fix the "
                             "folder's owner\n")


def test_discard_recording_with_a_missing_recordings_folder_exits_3(spool):
    result = run("discard-recording", "--recordings-dir", "/srv/nowhere", REC)
    assert (result.exit_code, result.stderr) == (
        3, "notice discard-recording: error: recordings folder /srv/nowhere does not exist; create it or set "
           "recordings_dir\n")


# --- help ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["list", "show", "cancel", "history", "import", "spool", "gc",
                                     "discard-recording"])
def test_every_command_has_help_with_an_example(spool, command):
    result = run(command, "--help")
    assert result.exit_code == 0
    text = result.stdout
    assert f"Usage: notice {command} [OPTIONS]" in text
    example = "notice-spool 79991234567" if command == "spool" else f"  notice {command} "
    assert example in text
    assert "--spool-dir" in text and "--config" in text


def test_group_help_lists_the_commands_and_exit_codes(spool):
    text = " ".join(run("--help").stdout.split())
    for command in ("cancel", "discard-recording", "gc", "history", "import", "list", "show", "spool"):
        assert f" {command} " in text
    assert "5 a notice named is not there, 6 a notice is being called and was not cancelled" in text
    assert re.fullmatch(r"notice, version \d+\.\d+\.\d+\n", run("--version").stdout)
