"""output.py: the three forms of a listing from one generator of rows (a chunk at a time),
exactly; values that need escaping in JSON and CSV; unknown values in each form."""

import csv
import io
import json
from datetime import timezone

import pytest
from hypothesis import given, strategies as st

from notice_cli.inventory import Listed
from notice_cli.output import MISSING, FINISHED_COLUMNS, PENDING_COLUMNS, clock, finished_rows, pending_rows, write
from notice_cli.record import SpooledNotice
from notice_cli.when import UTC, format_due, zone_named

COLUMNS = ("id", "when", "count")
ROWS = [("a", "2099-12-01T10:30:00+00:00", 0), ("bbbbbb", None, 12)]


def printed(rows, form, columns=COLUMNS):
    out = io.StringIO()
    write(chunks_of(rows), columns, form, out)
    return out.getvalue()


def chunks_of(rows):
    """ROWS as the generators give them: a chunk of output.CHUNK rows at a time, as columns."""
    import notice_cli.output as output
    for start in range(0, len(rows), output.CHUNK):
        yield list(zip(*rows[start:start + output.CHUNK]))


def rows_of(chunks):
    return [row for chunk in chunks for row in zip(*chunk)]


def test_table_aligns_columns_and_shows_unknown_values_as_a_dash():
    assert printed(ROWS, "table") == (
        "ID      WHEN                       COUNT\n"
        "a       2099-12-01T10:30:00+00:00  0\n"
        "bbbbbb  -                          12\n")


def test_json_is_an_array_of_objects_one_per_line():
    assert printed(ROWS, "json") == (
        '[{"id": "a", "when": "2099-12-01T10:30:00+00:00", "count": 0},\n'
        ' {"id": "bbbbbb", "when": null, "count": 12}]\n')


def test_csv_has_a_header_and_empty_fields_for_unknown_values():
    assert printed(ROWS, "csv") == "id,when,count\r\na,2099-12-01T10:30:00+00:00,0\r\nbbbbbb,,12\r\n"


@pytest.mark.parametrize("form, text", [("table", "ID  WHEN  COUNT\n"), ("json", "[]\n"), ("csv", "id,when,count\r\n")])
def test_no_rows(form, text):
    assert printed([], form) == text


@given(st.lists(st.tuples(st.text(), st.one_of(st.none(), st.text()), st.integers(0, 10**6)), max_size=5))
def test_json_and_csv_give_back_any_values(rows):
    assert json.loads(printed(rows, "json")) == [dict(zip(COLUMNS, row)) for row in rows]
    back = list(csv.reader(io.StringIO(printed(rows, "csv"), newline="")))
    assert back == [list(COLUMNS)] + [[a, b or "", str(c)] for a, b, c in rows]


def notice(**fields):
    base = dict(id="n1", number="79991234567", recording="/var/spool/asterisk/notice/prepared/3", due=4100000000,
                retry_time=20, max_retries=2, attempts=0, last_attempt=None, calling=False, status=None)
    return SpooledNotice(**{**base, **fields})


def test_pending_rows_show_the_recording_as_named_and_the_state():
    listed = [Listed(4100000000, notice()), Listed(None, notice(id="n2", recording="/srv/other", attempts=1))]
    assert rows_of(pending_rows(listed, UTC, "/var/spool/asterisk/notice/")) == [
        ("n1", "2099-12-03T16:53:20+00:00", "79991234567", "prepared/3", 0, "pending"),
        ("n2", None, "79991234567", "/srv/other", 1, "retrying"),
    ]
    assert PENDING_COLUMNS == ("id", "due", "number", "recording", "attempts", "state")


def test_finished_rows_show_the_outcome_and_the_last_attempt():
    listed = [Listed(4100000000, notice(attempts=2, last_attempt=4100000060, status="Completed")),
              Listed(4100000000, notice(id="n2"))]
    assert rows_of(finished_rows(listed, UTC)) == [
        ("n1", "2099-12-03T16:53:20+00:00", "79991234567", "Completed", 2, "2099-12-03T16:54:20+00:00"),
        ("n2", "2099-12-03T16:53:20+00:00", "79991234567", "unknown", 0, None),
    ]
    assert FINISHED_COLUMNS == ("id", "due", "number", "outcome", "attempts", "last_attempt")


# --- the fast paths give exactly what the plain way gives ---------------------------------------

ZONES = ["UTC", "Europe/Moscow", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Asia/Kathmandu",
         "Europe/Amsterdam", "America/St_Johns", "Pacific/Apia"]


@pytest.mark.parametrize("zone_name", ZONES)
def test_clock_shows_every_instant_as_format_due_does(zone_name):
    zone = zone_named(zone_name)
    when = clock(zone)
    # every second around the DST changes of a year, then a spread over two centuries, twice
    # (the second time from what clock() remembers)
    changes = [at for at in range(1_700_000_000, 1_700_000_000 + 366 * 86400, 1800)
               if format_due(at, zone)[-6:] != format_due(at + 1800, zone)[-6:]]
    instants = [at for change in changes for at in range(change - 3700, change + 5400, 7)]
    instants += list(range(-2_300_000_000, 7_000_000_000, 9_876_543)) + [None, 0, -1, 253402300799]
    for at in instants + instants:
        assert when(at) == (None if at is None else format_due(at, zone))


def old_table(rows, columns):
    """The table as it was written before the fast path: ljust per value."""
    rows = list(rows)
    header = [column.upper() for column in columns]
    cells = [[MISSING if value is None else str(value) for value in column] for column in zip(*rows)] or [[] for _ in columns]
    widths = [max([len(title)] + [len(value) for value in column]) for title, column in zip(header, cells)]
    lines = ["  ".join([title.ljust(width) for title, width in zip(header, widths)][:-1] + header[-1:])]
    for row in zip(*cells):
        lines.append("  ".join([value.ljust(width) for value, width in zip(row, widths)][:-1] + [row[-1]]))
    return "\n".join(lines) + "\n"


VALUES = st.one_of(st.none(), st.integers(-10**12, 10**12),
                   st.text(alphabet=st.sampled_from('ab "\\,;\r\n\t\x00\x1f\x7f%é\u2028\U0001f4de'), max_size=6),
                   st.sampled_from(["", "2099-12-03T16:53:20+00:00", "pending", "a%sb", "%(x)s"]))


@given(st.lists(st.tuples(VALUES, VALUES, VALUES), max_size=9), st.sampled_from([0, 1, 2, 5]))
def test_writers_give_what_the_plain_ways_give(rows, chunk):
    columns = ("a", "b%", 'c"')
    import notice_cli.output as output
    saved = output.CHUNK
    output.CHUNK = chunk or saved  # chunks of a few rows: the joins between chunks are checked too
    try:
        assert printed(rows, "table", columns) == old_table(rows, columns)
        plain_csv = io.StringIO(newline="")
        csv.writer(plain_csv).writerows([columns] + [["" if value is None else value for value in row] for row in rows])
        assert printed(rows, "csv", columns) == plain_csv.getvalue()
        objects = [json.dumps(dict(zip(columns, row)), ensure_ascii=False) for row in rows]
        assert printed(rows, "json", columns) == ("[" + ",\n ".join(objects) + "]\n" if rows else "[]\n")
    finally:
        output.CHUNK = saved
