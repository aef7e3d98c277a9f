"""record.py: a notice read back from its call file in every state Asterisk leaves it in, the
files that are not ours, the fast reading of files as written agreeing with the lexer, and
both readers and the writer following the one table of the call file's fields."""

import itertools
from types import SimpleNamespace

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from notice_cli import callfile, notice as notice_module, record
from notice_cli.callfile import FIELDS, CallFile, Number, Text, field, parse, render
from notice_cli.notice import Notice, call_file_for, call_file_name, check_notice_id, content_id, notice_id_of
from notice_cli.errors import InvalidInput
from notice_cli.record import (Attempt, SpooledNotice, attempt_log, listed_match, number_in_channel, read_listed,
                               read_notice, read_plainly)
from notice_cli.settings import Settings

ID = "20261128094512-9f3a1c2b"
NAME = call_file_name(ID)
DUE = 1796110200  # 2026-12-01T07:30:00Z
RECORDING = "/var/spool/asterisk/notice/rec_1732790000.42"
WRITTEN = render(call_file_for(Notice(ID, "79991234567", RECORDING, DUE), Settings(retry_time=60)))
# What Asterisk appends (pbx_spool.c safe_append: an empty line, then the event; StartRetry's time
# is the attempt's start + RetryTime; observed the same on Asterisk 16 and 22).
START_1 = "\nStartRetry: 4242 1 (1796110260)\n"  # began at DUE
END_1 = "\nEndRetry: 4242 1 (1796110230)\n"  # ended 30 s later; next attempt at +60
START_2 = "\nStartRetry: 4242 2 (1796110350)\n"  # began at DUE + 90
END_2 = "\nEndRetry: 4242 2 (1796110380)\n"
ABORT_2 = "\nAbortRetry: 5151 2 (1796110500)\n"
START_3 = "\nStartRetry: 5151 3 (1796110560)\n"  # began at DUE + 300
DELAYED = "\nDelayedRetry: 4242 1 (1796110240)\n"


def read(text, name=NAME, template=None):
    return read_notice(name, text, template)


def listed_and_read(text, name=NAME, template=None):
    """The notice read the fast way of a listing (read_listed, from the bytes) and the plain way
    (read_plainly: as pbx_spool reads the text), each with the rule that the file's name and
    NOTICE_ID agree; read_notice, which takes either way, reads it as the plain way does."""
    plain = read_plainly(name, text, template)
    assert read(text, name, template) == plain
    return read_listed(name, text.encode("utf-8", "surrogateescape"), template), plain


def fast(text):
    """Whether read_listed takes TEXT the fast way: its regular expression matches."""
    data = text.encode("utf-8", "surrogateescape")
    return b"#" not in data and b";" not in data and record._AS_LISTED(data) is not None


# --- each state ----------------------------------------------------------------------------

def test_fresh_notice_is_pending_at_its_due_time():
    notice = read(WRITTEN)
    assert notice == SpooledNotice(id=ID, number="79991234567", recording=RECORDING, due=DUE, retry_time=60,
                                   max_retries=2, attempts=0, last_attempt=None, calling=False, status=None, attempt=None)
    assert notice.state == "pending"
    assert notice.needs_mtime is False
    assert notice.next_call(None) == DUE


def test_call_in_progress_is_calling_since_its_start():
    notice = read(WRITTEN + START_1)
    assert (notice.attempts, notice.last_attempt, notice.calling, notice.state) == (1, DUE, True, "calling")
    # Asterisk moved the mtime to start + 2 * RetryTime: meaningless while it calls
    assert notice.needs_mtime is False
    assert notice.next_call(DUE + 120) == DUE


def test_failed_attempt_waits_for_the_next_at_the_mtime_asterisk_set():
    notice = read(WRITTEN + START_1 + END_1)
    assert (notice.attempts, notice.last_attempt, notice.calling, notice.state) == (1, DUE, False, "retrying")
    assert notice.needs_mtime is True
    assert notice.next_call(DUE + 90.0) == DUE + 90


def test_second_attempt_running():
    notice = read(WRITTEN + START_1 + END_1 + START_2)
    assert (notice.attempts, notice.last_attempt, notice.state) == (2, DUE + 90, "calling")


def test_attempt_abandoned_by_a_restart_and_started_again():
    notice = read(WRITTEN + START_1 + END_1 + START_2 + ABORT_2 + START_3)
    assert (notice.attempts, notice.last_attempt, notice.state) == (3, DUE + 300, "calling")
    assert read(WRITTEN + START_1 + END_1 + START_2 + ABORT_2).state == "retrying"


def test_delayed_retry_does_not_end_the_running_call():
    notice = read(WRITTEN + START_1 + DELAYED)
    assert (notice.attempts, notice.state) == (1, "calling")


@pytest.mark.parametrize("status", ["Completed", "Expired", "Failed"])
def test_archived_notice_has_asterisks_outcome(status):
    notice = read(WRITTEN + START_1 + END_1 + START_2 + f"Status: {status}\n")
    assert (notice.status, notice.outcome, notice.attempts, notice.last_attempt) == (status, status, 2, DUE + 90)


REPORTED = Settings(retry_time=60, confirm="key")


def reported(attempt=1):
    return render(call_file_for(Notice(ID, "79991234567", RECORDING, DUE), REPORTED, attempt))


def test_a_file_of_reported_delivery_says_which_attempt_it_is():
    first, third = read(reported()), read(reported(3), name=call_file_name(ID, 3))
    assert (first.attempt, first.recording, first.state, first.calls, first.next_call(DUE + 500)) == (
        1, RECORDING, "pending", 0, DUE)
    # the file of attempt 3, spooled by notice report for its time (the mtime); two calls made before it
    assert (third.attempt, third.state, third.calls, third.needs_mtime, third.next_call(DUE + 500.0)) == (
        3, "retrying", 2, True, DUE + 500)
    calling = read(reported(3) + START_1, name=call_file_name(ID, 3))
    assert (calling.state, calling.calls, calling.next_call(None)) == ("calling", 3, DUE)
    assert read(WRITTEN).attempt is None and read(WRITTEN).calls == 0


@pytest.mark.parametrize("written, attempt", [("1", 1), ("1001", 1001), ("0", 1), ("1002", 1), ("x", 1), ("", 1)])
def test_an_attempt_number_notice_cli_never_writes_is_read_as_the_first(written, attempt):
    text = reported().replace("NOTICE_ATTEMPT=1\n", f"NOTICE_ATTEMPT={written}\n")
    assert read(text).attempt == attempt


def test_the_delivery_context_alone_or_the_attempt_variable_alone_is_reported_delivery():
    without_attempt = "".join(line for line in reported().splitlines(True) if "NOTICE_ATTEMPT" not in line)
    assert read(without_attempt).attempt == 1
    assert read(WRITTEN + "Setvar: NOTICE_ATTEMPT=2\n").attempt == 2


def test_a_file_named_for_a_later_attempt_is_that_attempt_whichever_way_it_is_read():
    """A Playback file by hand under an attempt's name is one of the notice's attempts, not a
    second notice of the same id (notice history lists a notice once)."""
    fast_way, plain_way = listed_and_read(WRITTEN, name=call_file_name(ID, 2))
    assert fast_way == plain_way and plain_way.attempt == 2 and fast(WRITTEN)
    assert listed_and_read(WRITTEN, name=call_file_name("other", 2)) == (None, None)


def test_archived_before_its_status_line_is_unknown():
    """Asterisk renames the file into outgoing_done/ first and appends Status after."""
    notice = read(WRITTEN + START_1)
    assert (notice.status, notice.outcome) == (None, "unknown")


def test_line_being_appended_is_not_read_yet():
    notice = read(WRITTEN + START_1 + "\nEndRet")
    assert (notice.attempts, notice.state) == (1, "calling")
    assert read(WRITTEN + START_1 + END_1 + "Status: Compl").status is None


def test_partial_due_line_leaves_the_due_time_unknown_but_the_notice_ours():
    cut = WRITTEN[: WRITTEN.index("Setvar: NOTICE_DUE") + 10]
    notice = read(cut)
    assert notice.id == ID and notice.due is None and notice.needs_mtime is True
    assert notice.next_call(DUE + 5.5) == DUE + 5


# --- not ours --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "notice-20261128094512-0000000.call",  # another id than the file says
    "20261128094512-9f3a1c2b.call",
    f"notice-{ID}.call.bak",
    f".notice-{ID}.call",
    "article.call",
])
def test_file_whose_name_does_not_agree_is_not_ours(name):
    assert read(WRITTEN, name=name) is None


def test_file_without_notice_id_is_not_ours():
    text = "Channel: Local/123@from-internal\nApplication: Playback\nData: hello\n"
    assert read(text) is None
    assert read(WRITTEN.replace(f"NOTICE_ID={ID}", "NOTICE_ID=someone-else")) is None


def test_commented_out_id_is_not_read():
    text = WRITTEN.replace(f"Setvar: NOTICE_ID={ID}", f"; Setvar: NOTICE_ID={ID}")
    assert read(text) is None


# --- files of other shapes, read through the lexer -------------------------------------------

def test_edited_file_is_read_as_asterisk_reads_it():
    text = (f"; edited by hand\nchannel: Local/79991234567@from-internal\nsetvar:NOTICE_ID={ID}\n"
            f"Set: NOTICE_NUMBER=+79991234567   \nData:   {RECORDING}  ; the message\nRetryTime: 0\n"
            "MaxRetries: 5\n# Setvar: NOTICE_DUE=1\nSetvar: NOTICE_DUE=17961102x0\n")
    assert not fast(text)
    notice = read(text)
    assert notice == SpooledNotice(id=ID, number="+79991234567", recording=RECORDING, due=None,
                                   retry_time=300, max_retries=5, attempts=0, last_attempt=None,
                                   calling=False, status=None, attempt=None)


def test_file_without_number_variable_takes_it_from_the_channel_template():
    text = f"Channel: PJSIP/79991234567@trunk\nApplication: Playback\nData: x\nSetvar: NOTICE_ID={ID}\n"
    assert read(text, template="PJSIP/{number}@trunk").number == "79991234567"
    assert read(text, template="Local/{number}@from-internal").number is None
    assert read(text).number is None


@pytest.mark.parametrize("channel, template, number", [
    ("Local/79991234567@from-internal", "Local/{number}@from-internal", "79991234567"),
    ("PJSIP/+7999@trunk", "PJSIP/{number}@trunk", "+7999"),
    ("SIP/trunk/7999", "SIP/trunk/{number}", "7999"),
    ("Local/@from-internal", "Local/{number}@from-internal", None),
    ("PJSIP/7999@other", "PJSIP/{number}@trunk", None),
    ("PJSIP/7999@trunk", None, None),
])
def test_number_in_channel(channel, template, number):
    assert number_in_channel(channel, template) == number


def test_fields_with_an_unreadable_retry_line_count_the_attempt_without_a_time():
    notice = read(WRITTEN + "\nStartRetry: garbage\n")
    assert (notice.attempts, notice.last_attempt, notice.calling) == (1, None, True)


# --- the fast way and the lexer agree --------------------------------------------------------

TAILS = [START_1, END_1, START_2, END_2, ABORT_2, START_3, DELAYED]


@pytest.mark.parametrize("text, name", [
    (WRITTEN, NAME),
    (WRITTEN + START_1, NAME),
    (WRITTEN + START_1 + END_1 + START_2 + END_2 + START_3 + "Status: Expired\n", NAME),
    (WRITTEN + START_1 + "Status: Completed\n", NAME),
    (render(call_file_for(Notice("x_1", "+1", "/r/é", 1), Settings(caller_id='"Клиника" <7495>'))), "notice-x_1.call"),
])
def test_files_as_written_take_the_fast_way(text, name):
    assert fast(text)
    listed, read_back = listed_and_read(text, name)
    assert listed == read_back and listed is not None


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TAILS), max_size=6),
       st.sampled_from(["", "Status: Completed\n", "Status: Expired\n", "Status: Failed\n"]),
       st.integers(0, 1000), st.integers(1, 10**6))
def test_any_attempt_history_reads_the_same_both_ways(tail, status, retries, retry_time):
    text = WRITTEN.replace("MaxRetries: 2", f"MaxRetries: {retries}").replace("RetryTime: 60", f"RetryTime: {retry_time}")
    text += "".join(tail) + status
    listed, read_back = listed_and_read(text)
    assert fast(text) and listed == read_back


@hypothesis_settings(max_examples=500, deadline=None)
@given(st.data())
def test_any_change_to_a_written_file_is_either_read_the_same_or_not_taken_the_fast_way(data):
    """Insert, replace or delete characters that matter to the lexer anywhere: if the result
    still has the written shape, it must read as the lexer reads it."""
    text = WRITTEN + START_1 + END_1 + "Status: Completed\n"
    at = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 3))
    insert = data.draw(st.text(alphabet=" \t\r\n#;:=\\aS0(", max_size=3))
    changed = text[:at] + insert + text[at + cut:]
    if fast(changed):
        listed, read_back = listed_and_read(changed)
        assert listed == read_back


# --- a listing reads the raw bytes as read_notice reads the text --------------------------------

@pytest.mark.parametrize("text, taken_fast", [
    (WRITTEN, True),
    (WRITTEN + START_1, True),
    (WRITTEN + START_1 + END_1 + START_2 + ABORT_2 + START_3 + DELAYED + "Status: Expired\n", True),
    (WRITTEN + END_1 + DELAYED, True),  # events without a start: no attempt
    (WRITTEN + START_1 + "\nEndRet", False),  # a line being appended is not read yet
    (WRITTEN + START_1 + "EndRet", True),
    (WRITTEN + START_1 + END_1 + "Status: Compl", True),
    (WRITTEN[: WRITTEN.index("Setvar: NOTICE_DUE") + 10], False),
    (WRITTEN.replace("Data: ", "Data: \udcff\x85\u2028é "), True),  # bytes that are not UTF-8, and others
    (WRITTEN.replace("RetryTime: 60", "RetryTime: 0"), True),
    (WRITTEN.replace("Data: ", "Data: ; "), False),
    (WRITTEN.replace("Data: /", "Data: x #/"), False),
    (WRITTEN.replace("Data: ", "Data:  "), False),
    (WRITTEN.replace("\n", "\r\n"), False),
    (WRITTEN + "\nStartRetry: garbage\n", False),
    ("", False),
])
def test_listing_reads_the_bytes_as_read_notice_reads_the_text(text, taken_fast):
    listed, read_back = listed_and_read(text)
    assert listed == read_back and type(listed) is type(read_back)
    assert fast(text) is taken_fast


@pytest.mark.parametrize("name", [NAME, "notice-20261128094512-0000000.call", "article.call", f".notice-{ID}.call"])
def test_listing_keeps_the_rule_that_name_and_id_agree(name):
    listed, read_back = listed_and_read(WRITTEN + START_1, name)
    assert listed == read_back and (listed is None) is (name != NAME)


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TAILS), max_size=6),
       st.sampled_from(["", "Status: Completed\n", "Status: Expired\n", "Status: Failed\n", "Status: Comp"]),
       st.integers(0, 1000), st.integers(0, 10**6))
def test_any_attempt_history_is_listed_as_read(tail, status, retries, retry_time):
    text = WRITTEN.replace("MaxRetries: 2", f"MaxRetries: {retries}").replace("RetryTime: 60", f"RetryTime: {retry_time}")
    listed, read_back = listed_and_read(text + "".join(tail) + status)
    assert listed == read_back and fast(text + "".join(tail) + status)


@hypothesis_settings(max_examples=1000, deadline=None)
@given(st.data())
def test_any_change_to_a_written_file_is_listed_as_read(data):
    """Insert, replace or delete characters that matter to the lexer, or are not ASCII or not
    UTF-8 at all, anywhere: the bytes are read as read_notice reads their text."""
    text = WRITTEN + START_1 + END_1 + START_2 + "Status: Completed\n"
    at = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 3))
    insert = data.draw(st.text(alphabet=" \t\r\n\x00\x0b#;:=\\aS0()\x85\u2028é\udcff", max_size=3))
    name = data.draw(st.sampled_from([NAME, "notice-x.call"]))
    listed, read_back = listed_and_read(text[:at] + insert + text[at + cut:], name, "Local/{number}@from-internal")
    assert listed == read_back


# --- one table: what render() writes, the fast pattern matches and the lexer reads ------------

CALL = call_file_for(Notice(ID, "+79991234567", RECORDING, DUE), Settings(retry_time=60, max_retries=3))
APPENDED = ["", START_1, START_1 + END_1, START_1 + END_1 + START_2 + ABORT_2 + START_3 + DELAYED, END_1 + DELAYED]


@pytest.mark.parametrize("caller_id, archive, tail, status", list(itertools.product(
    [None, '"Clinic" <74951234567>'], [True, False], APPENDED, ["", "Status: Completed\n"])))
def test_every_combination_of_optional_lines_takes_the_fast_way_and_reads_alike(caller_id, archive, tail, status):
    call = CallFile(**{**{name: getattr(CALL, name) for name in CallFile.__slots__}, "caller_id": caller_id,
                       "archive": archive})
    text = render(call) + tail + status
    listed, read_back = listed_and_read(text)
    assert fast(text) and listed == read_back
    assert parse(text) == call
    assert (listed.id, listed.number, listed.due, listed.recording, listed.max_retries, listed.retry_time) == (
        ID, "+79991234567", DUE, RECORDING, 3, 60)


def the_call_with(**more):
    """CALL with attributes MORE besides, as render() takes it (by attribute)."""
    return SimpleNamespace(**{name: getattr(CALL, name) for name in CallFile.__slots__}, **more)


@pytest.mark.parametrize("added, value, line", [
    (Text("Account", "account", optional=True), "clinic", "Account: clinic\n"),
    (Text("Account", "account", optional=True), None, ""),
    (Number("Tries", "tries", default=1, least=1), 2, "Tries: 2\n"),
])
def test_a_field_added_to_the_table_is_written_matched_and_read(monkeypatch, added, value, line):
    archive = FIELDS.index(field("archive"))
    fields = FIELDS[:archive] + (added,) + FIELDS[archive:]
    text = render(the_call_with(**{added.attribute: value}), fields) + START_1
    assert text == render(CALL).replace("Archive:", f"{line}Archive:") + START_1
    assert callfile.read(text, fields)[added.attribute] == value
    assert fast(text) is (line == "")  # by the table without it: the slow way
    monkeypatch.setattr(record, "_AS_LISTED", listed_match(fields))
    listed, read_back = listed_and_read(text)
    assert fast(text) and listed == read_back and listed.attempts == 1


def test_a_variable_added_to_the_notices_table_is_written_matched_and_read(monkeypatch):
    variables = notice_module.NOTICE_VARIABLES + (("NOTICE_RECORDING", "recording", None),)
    monkeypatch.setattr(notice_module, "NOTICE_VARIABLES", variables)
    text = render(call_file_for(Notice(ID, "79991234567", RECORDING, DUE), Settings(retry_time=60)))
    assert text == WRITTEN + f"Setvar: NOTICE_RECORDING={RECORDING}\n"
    assert not fast(text)
    monkeypatch.setattr(record, "_AS_LISTED", listed_match(variables=variables))
    listed, read_back = listed_and_read(text)
    assert fast(text) and listed == read_back and listed.id == ID


def test_a_table_that_moves_what_a_listing_keeps_is_refused_at_once():
    retry_time, max_retries = FIELDS[3], FIELDS[2]
    with pytest.raises(RuntimeError, match="read_listed\\(\\) unpacks"):
        listed_match(FIELDS[:2] + (retry_time, max_retries) + FIELDS[4:])


# --- the attempt log of `notice show` ----------------------------------------------------------

def test_attempt_log_pairs_each_start_with_its_end():
    text = WRITTEN + START_1 + END_1 + START_2 + ABORT_2 + START_3 + "Status: Completed\n"
    assert attempt_log(text, 60) == [
        Attempt(DUE, DUE + 30, "EndRetry"),
        Attempt(DUE + 90, DUE + 300, "AbortRetry"),
        Attempt(DUE + 300, None, None),
    ]
    assert attempt_log(WRITTEN, 60) == []
    assert attempt_log(WRITTEN + START_1 + "\nEndRetry: 42", 60) == [Attempt(DUE, None, None)]


# --- ids -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, notice_id", [
    (f"notice-{ID}.call", ID),
    ("notice-clinic_42.call", "clinic_42"),
    ("notice-" + "a" * 64 + ".call", "a" * 64),
    ("notice-" + "a" * 65 + ".call", None),
    ("notice--x.call", None),
    ("notice-a.b.call", None),
    ("notice-.call", None),
    ("notice-x.call.tmp", None),
])
def test_notice_id_of_a_file_name(name, notice_id):
    assert notice_id_of(name) == notice_id


@pytest.mark.parametrize("text", ["../x", "a/b", ".hidden", "-x", "", "a b", "é", "a" * 65, "x;y"])
def test_ids_that_could_name_another_file_are_refused(text):
    with pytest.raises(InvalidInput, match="is not a notice id"):
        check_notice_id(text)


def test_content_id_is_the_due_second_and_a_hash_of_the_content():
    first = content_id("79991234567", "rec_1", DUE)
    assert first == content_id("79991234567", "rec_1", DUE)
    assert first.startswith("20261201073000-") and len(first) == 23
    assert len({first, content_id("79991234568", "rec_1", DUE), content_id("79991234567", "rec_2", DUE),
                content_id("79991234567", "rec_1", DUE + 60)}) == 4
    assert notice_id_of(call_file_name(first)) == first
