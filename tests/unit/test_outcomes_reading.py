"""outcomes.entries_in: a ledger's line is an entry exactly as entry_line() writes it, or it is
not read; no line, however hostile, stops the reading of the others."""

import json

import pytest

from notice_cli.outcome import FailureRun, Report
from notice_cli.outcomes import MAX_TIME, entries_in, entry_line

REPORT = Report(1796110230, 1, "busy", 0, "retry", 1796110290)
RUN = FailureRun(1796110300, "/usr/local/bin/alert", 0, "sent")


def report_line(**changes) -> bytes:
    fields = json.loads(entry_line(REPORT))
    fields.update(changes)
    return (json.dumps(fields) + "\n").encode()


@pytest.mark.parametrize("line", [
    b"[" * 100_000 + b"\n",  # json.loads raises RecursionError, not ValueError
    b"{" * 100_000 + b"\n",
    report_line(at=MAX_TIME + 1), report_line(at=10**30), report_line(next_at=10**30),
    report_line(attempt=0), report_line(attempt=1002), report_line(played=86401),
    b'{"at":1796110300,"on_failure":"/bin/x","exit":0,"output":"a\\ud800b"}\n',  # printed, it would fail
    b'{"at":1796110300,"on_failure":"/bin/\\udc80","exit":0,"output":""}\n',
])
def test_a_hostile_line_is_skipped_and_the_others_read(line):
    assert entries_in(entry_line(REPORT) + line + entry_line(RUN)) == [REPORT, RUN]


def test_any_text_a_stream_can_print_is_read_exactly():
    run = FailureRun(1796110300, "/usr/bin/x", -15, "".join(map(chr, range(128))) + "\u2028\U0001f4de\ufffd")
    assert entries_in(entry_line(run)) == [run]


def test_the_largest_values_written_are_read():
    largest = Report(MAX_TIME, 1001, "heard", 86400, "delivered", MAX_TIME)
    assert entries_in(entry_line(largest)) == [largest]
