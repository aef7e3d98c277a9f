"""The call-file model: exact rendering, refusal of anything Asterisk would misread, and
parsing back what Asterisk's lexer sees."""

import pytest
from hypothesis import given, settings, strategies as st

from notice_cli.callfile import CallFile, check_value, lines_of, parse, read, read_fields, render
from notice_cli.errors import InvalidInput
from notice_cli.notice import Notice, call_file_for
from notice_cli.settings import Settings

EXAMPLE = CallFile(
    channel="Local/79991234567@from-internal",
    application="Playback",
    data="/var/spool/asterisk/notice/rec_1732790000.42",
    variables=(("NOTICE_ID", "20261128010203-0a1b2c3d"),),
)


def changed(call, **changes):
    """CALL with CHANGES to some of its attributes."""
    return CallFile(**{**{name: getattr(call, name) for name in CallFile.__slots__}, **changes})


def test_renders_the_documented_call_file():
    assert render(EXAMPLE) == (
        "Channel: Local/79991234567@from-internal\n"
        "MaxRetries: 2\n"
        "RetryTime: 20\n"
        "WaitTime: 20\n"
        "Application: Playback\n"
        "Data: /var/spool/asterisk/notice/rec_1732790000.42\n"
        "Archive: yes\n"
        "Setvar: NOTICE_ID=20261128010203-0a1b2c3d\n"
    )


def test_caller_id_line_only_when_set_and_no_timeout_key():
    text = render(changed(EXAMPLE, caller_id='"Clinic" <74951234567>'))
    assert text.splitlines()[1] == 'CallerID: "Clinic" <74951234567>'
    assert "CallerID" not in render(EXAMPLE)
    assert "Timeout" not in text


def test_notice_becomes_this_call_file():
    notice = Notice("20261128010203-0a1b2c3d", "+79991234567", "/srv/rec/hello", 1800000000)
    call = call_file_for(notice, Settings(channel="PJSIP/{number}@trunk", max_retries=0, caller_id="Desk"))
    assert call == CallFile(
        channel="PJSIP/+79991234567@trunk", application="Playback", data="/srv/rec/hello",
        caller_id="Desk", max_retries=0, retry_time=20, wait_time=20, archive=True,
        variables=(("NOTICE_ID", "20261128010203-0a1b2c3d"), ("NOTICE_NUMBER", "+79991234567"),
                   ("NOTICE_DUE", "1800000000")),
    )


@pytest.mark.parametrize("bad, reason", [
    ("a\nChannel: Local/666@evil", "control character"),
    ("a\rb", "control character"),
    ("a\0b", "control character"),
    ("a\tb", "control character"),
    ("a;b", "';'"),
    ("a #b", "'#'"),
    ("#a", "'#'"),
    ("a#b", "'#'"),
    (" a", "blank"),
    ("a ", "blank"),
    ("", "empty"),
])
def test_values_asterisk_would_misread_are_refused(bad, reason):
    with pytest.raises(InvalidInput, match=reason):
        check_value("caller ID", bad)
    with pytest.raises(InvalidInput, match=reason):
        render(changed(EXAMPLE, caller_id=bad or "x", data=bad or ""))


def test_line_of_1024_bytes_is_refused_and_1023_accepted():
    fits = "x" * (1023 - len("CallerID: \n"))
    assert render(changed(EXAMPLE, caller_id=fits)).splitlines()[1] == "CallerID: " + fits
    with pytest.raises(InvalidInput, match="1024 bytes"):
        render(changed(EXAMPLE, caller_id=fits + "x"))
    # bytes, not characters: Cyrillic letters take two bytes each
    with pytest.raises(InvalidInput, match="1024 bytes"):
        render(changed(EXAMPLE, caller_id="я" * 600))


def test_lexer_view_drops_comments_and_unescapes_semicolon():
    text = "# a comment\nChannel: Local/1@x ; trailing\nData: a\\;b\nCallerID: A#B\nWaitTime: 5 #note\n\nNoColon\n"
    assert list(read_fields(text)) == [
        ("Channel", "Local/1@x"), ("Data", "a;b"), ("CallerID", "A#B"), ("WaitTime", "5"),
    ]


def test_parse_ignores_lines_asterisk_appends():
    text = render(EXAMPLE) + "StartRetry: 1234 1 (1800000000)\nStatus: Completed\n"
    assert parse(text) == EXAMPLE


def test_call_files_compare_and_show_by_their_values():
    assert EXAMPLE == changed(EXAMPLE) and EXAMPLE != changed(EXAMPLE, wait_time=21)
    assert repr(EXAMPLE).startswith("CallFile(channel='Local/79991234567@from-internal', application='Playback', ")


def test_setvar_without_equals_is_skipped_as_asterisk_skips_it():
    text = render(EXAMPLE) + "Setvar: NOTICE_NUMBER\nset: A=b=c\n"
    assert parse(text).variables == (("NOTICE_ID", "20261128010203-0a1b2c3d"), ("A", "b=c"))


@pytest.mark.parametrize("line, attribute, value", [
    ("RetryTime: 0", "retry_time", 300),
    ("RetryTime: soon", "retry_time", 300),
    ("WaitTime: 0", "wait_time", 45),
    ("MaxRetries: many", "max_retries", 0),
    ("archive: On", "archive", True),
    ("Archive: maybe", "archive", False),
    ("Data: first\nData: last", "data", "last"),
    ("startretry: 1 2 (3)\nDelayedRetry: 1 2 (4)", "retries", [("StartRetry", "1 2 (3)"), ("DelayedRetry", "1 2 (4)")]),
])
def test_values_are_taken_as_pbx_spool_takes_them(line, attribute, value):
    assert read(f"Channel: Local/1@x\n{line}\n")[attribute] == value


def test_a_missing_line_reads_as_nothing_or_as_asterisks_default():
    assert read("Unknown: x\n") == {
        "channel": None, "caller_id": None, "max_retries": 0, "retry_time": 300, "wait_time": 45, "application": None,
        "data": None, "context": None, "extension": None, "priority": None, "archive": False, "variables": (),
        "retries": [], "status": None}


VALUE = st.text(st.characters(min_codepoint=0x20, blacklist_characters=";#\x7f",
                              blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=80).map(str.strip).filter(bool)


@settings(max_examples=500, deadline=None)
@given(channel=VALUE, data=VALUE, caller_id=st.none() | VALUE, retries=st.integers(0, 1000),
       retry_time=st.integers(1, 604800), wait_time=st.integers(1, 86400),
       variables=st.lists(st.tuples(st.from_regex(r"[A-Z_]{1,12}", fullmatch=True), VALUE), max_size=3))
def test_render_parse_round_trip(channel, data, caller_id, retries, retry_time, wait_time, variables):
    call = CallFile(channel=channel, application="Playback", data=data, caller_id=caller_id,
                    max_retries=retries, retry_time=retry_time, wait_time=wait_time, archive=True,
                    variables=tuple(variables))
    assert parse(render(call)) == call


@settings(max_examples=500, deadline=None)
@given(value=st.text(max_size=40))
def test_any_value_either_round_trips_or_is_refused(value):
    try:
        text = render(changed(EXAMPLE, caller_id=value or None))
    except InvalidInput:
        return
    assert parse(text).caller_id == (value or None)
    assert len(text.splitlines()) == len(lines_of(EXAMPLE)) + (1 if value else 0)


def test_undecodable_bytes_are_refused():
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        check_value("caller ID", "Desk\udcff")
