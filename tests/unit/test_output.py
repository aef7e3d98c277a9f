"""output.py: the columns of list and history, and the three forms of a listing, exactly;
values that need escaping in JSON and CSV; unknown values in each form. Each example holds
for the plain writers (the specification) and the fast ones alike, and property tests hold
the fast path (fast_listing.py) equal to the plain one over any values."""

import contextlib
import csv
import io
import json

import pytest
from hypothesis import given, strategies as st

import notice_cli.fast_listing as fast_listing
from notice_cli.found import Listed
from notice_cli.history import Finished
from notice_cli.output import (FORMS, HISTORY_COLUMNS, LIST_COLUMNS, MISSING, PLAIN_WRITERS, clock, plain_listing,
                               rows, write_listing)
from notice_cli.record import SpooledNotice
from notice_cli.settings import Settings
from notice_cli.when import UTC as ZONE_UTC, format_due, zone_named

COLUMNS = ("id", "when", "count")
ROWS = [("a", "2099-12-01T10:30:00+00:00", 0), ("bbbbbb", None, 12)]


def fast_write(chunks, columns, form, out):
    if form == "table":
        fast_listing.write_table(chunks, columns, out, MISSING)
    else:
        {"json": fast_listing.write_json, "csv": fast_listing.write_csv}[form](chunks, columns, out)


def printed(rows, form, columns=COLUMNS, way="fast"):
    """ROWS under COLUMNS in FORM, as the fast writers or the plain ones (WAY) write them."""
    out = io.StringIO()
    if way == "fast":
        fast_write(chunks_of(rows), columns, form, out)
    else:
        PLAIN_WRITERS[form](columns, rows, out)
    return out.getvalue()


def chunks_of(rows):
    """ROWS as the fast path makes them: a chunk of fast_listing.CHUNK rows at a time, as columns."""
    for start in range(0, len(rows), fast_listing.CHUNK):
        yield list(zip(*rows[start:start + fast_listing.CHUNK]))


def rows_of(chunks):
    return [row for chunk in chunks for row in zip(*chunk)]


WAYS = pytest.mark.parametrize("way", ["plain", "fast"])


@WAYS
def test_table_aligns_columns_and_shows_unknown_values_as_a_dash(way):
    assert printed(ROWS, "table", way=way) == (
        "ID      WHEN                       COUNT\n"
        "a       2099-12-01T10:30:00+00:00  0\n"
        "bbbbbb  -                          12\n")


@WAYS
def test_json_is_an_array_of_objects_one_per_line(way):
    assert printed(ROWS, "json", way=way) == (
        '[{"id": "a", "when": "2099-12-01T10:30:00+00:00", "count": 0},\n'
        ' {"id": "bbbbbb", "when": null, "count": 12}]\n')


@WAYS
def test_csv_has_a_header_and_empty_fields_for_unknown_values(way):
    assert printed(ROWS, "csv", way=way) == "id,when,count\r\na,2099-12-01T10:30:00+00:00,0\r\nbbbbbb,,12\r\n"


@WAYS
@pytest.mark.parametrize("form, text", [("table", "ID  WHEN  COUNT\n"), ("json", "[]\n"), ("csv", "id,when,count\r\n")])
def test_no_rows(form, text, way):
    assert printed([], form, way=way) == text


@WAYS
@given(st.lists(st.tuples(st.text(), st.one_of(st.none(), st.text()), st.integers(0, 10**6)), max_size=5))
def test_json_and_csv_give_back_any_values(way, rows):
    assert json.loads(printed(rows, "json", way=way)) == [dict(zip(COLUMNS, row)) for row in rows]
    back = list(csv.reader(io.StringIO(printed(rows, "csv", way=way), newline="")))
    assert back == [list(COLUMNS)] + [[a, b or "", str(c)] for a, b, c in rows]


def notice(**fields):
    base = dict(id="n1", number="79991234567", recording="/var/spool/asterisk/notice/prepared/3", due=4100000000,
                retry_time=20, max_retries=2, attempts=0, last_attempt=None, calling=False, status=None, attempt=None)
    return SpooledNotice(**{**base, **fields})


def finished(result="unknown", final=None, **fields):
    return Finished(*notice(**fields), result, final)


UTC = Settings(tz=ZONE_UTC, recordings_dir="/var/spool/asterisk/notice/")


def both_ways(columns, listed, settings):
    """The rows of LISTED under COLUMNS: the plain way's, once it is checked that the fast
    path's chunks carry the same."""
    plain = list(rows(columns, listed, settings))
    chunks = fast_listing.chunks(listed, [column.indexes for column in columns],
                                 [column.formatter and column.formatter(settings) for column in columns])
    assert rows_of(chunks) == plain
    return plain


def test_list_rows_show_the_recording_as_named_and_the_state():
    listed = [Listed(4100000000, notice()), Listed(None, notice(id="n2", recording="/srv/other", attempts=1)),
              Listed(4100000000, notice(id="n3", attempts=2, calling=True)),
              Listed(4100000300, notice(id="n4", attempt=3)), Listed(4100000000, notice(id="n5", attempt=1))]
    assert both_ways(LIST_COLUMNS, listed, UTC) == [
        ("n1", "2099-12-03T16:53:20+00:00", "79991234567", "prepared/3", 0, "pending"),
        ("n2", None, "79991234567", "/srv/other", 1, "retrying"),
        ("n3", "2099-12-03T16:53:20+00:00", "79991234567", "prepared/3", 2, "calling"),
        # reported delivery: the file of attempt 3 waits for its time, two calls made before it
        ("n4", "2099-12-03T16:58:20+00:00", "79991234567", "prepared/3", 2, "retrying"),
        ("n5", "2099-12-03T16:53:20+00:00", "79991234567", "prepared/3", 0, "pending"),
    ]
    assert [column.name for column in LIST_COLUMNS] == ["id", "due", "number", "recording", "attempts", "state"]


def test_history_rows_show_the_final_outcome_the_calls_and_asterisks_status():
    listed = [Listed(4100000000, finished(attempts=2, last_attempt=4100000060, status="Completed", final="answered")),
              Listed(4100000000, finished(id="n2")),
              Listed(4100000000, finished("not delivered", "busy", id="n3", attempts=3, status="Expired", attempt=3))]
    assert both_ways(HISTORY_COLUMNS, listed, UTC) == [
        ("n1", "2099-12-03T16:53:20+00:00", "79991234567", "unknown", "answered", 2, "2099-12-03T16:54:20+00:00",
         "Completed"),
        ("n2", "2099-12-03T16:53:20+00:00", "79991234567", "unknown", None, 0, None, "unknown"),
        ("n3", "2099-12-03T16:53:20+00:00", "79991234567", "not delivered", "busy", 3, None, "Expired"),
    ]
    assert [column.name for column in HISTORY_COLUMNS] == ["id", "due", "number", "result", "outcome", "attempts",
                                                           "last_attempt", "status"]


def test_a_state_is_the_notices_own():
    for calling in (False, True):
        for attempts in (0, 1, 3):
            for attempt in (None, 1, 2):
                spooled = notice(calling=calling, attempts=attempts, attempt=attempt)
                assert both_ways(LIST_COLUMNS[-2:], [Listed(None, spooled)], UTC) == [(spooled.calls, spooled.state)]


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


VALUES = st.one_of(st.none(), st.integers(-10**12, 10**12),
                   st.text(alphabet=st.sampled_from('ab "\\,;\r\n\t\x00\x1f\x7f%é\u2028\U0001f4de'), max_size=6),
                   st.sampled_from(["", "2099-12-03T16:53:20+00:00", "pending", "a%sb", "%(x)s"]))


@contextlib.contextmanager
def chunks_of_size(size):
    """Chunks of SIZE rows (0: as many as usual): the joins between chunks are checked too."""
    saved = fast_listing.CHUNK
    fast_listing.CHUNK = size or saved
    try:
        yield
    finally:
        fast_listing.CHUNK = saved


@given(table=st.integers(1, 3).flatmap(lambda width: st.tuples(st.just(("a", "b%", 'c"')[:width]),
                                                                 st.lists(st.tuples(*[VALUES] * width), max_size=9))),
       chunk=st.sampled_from([0, 1, 2, 5]))
def test_writers_give_what_the_plain_ways_give(table, chunk):
    columns, rows = table
    with chunks_of_size(chunk):
        for form in FORMS:
            assert printed(rows, form, columns) == printed(rows, form, columns, way="plain")


TEXTS = st.text(alphabet=st.sampled_from('ab7+ "\\,;/\r\n\x00é\U0001f4de'), max_size=5)
TIMES = st.one_of(st.none(), st.integers(-2_300_000_000, 7_000_000_000),
                  st.integers(4_100_000_000, 4_100_020_000))  # close together: hours repeat
LISTED = st.builds(
    lambda at, fields: Listed(at, Finished(*fields)), TIMES,
    st.tuples(TEXTS, st.one_of(st.none(), TEXTS),
              st.one_of(st.none(), TEXTS, st.sampled_from(["/srv/notice/rec_1", "/srv/notice/prepared/3", "/srv/x"])),
              TIMES, st.integers(1, 600), st.integers(0, 9), st.integers(0, 5), TIMES, st.booleans(),
              st.one_of(st.none(), st.sampled_from(["Completed", "Expired", "Failed"]), TEXTS),
              st.one_of(st.none(), st.integers(1, 1001)),
              st.sampled_from(["delivered", "not delivered", "pending", "unknown"]),
              st.one_of(st.none(), st.sampled_from(["confirmed", "busy", "unreported"]), TEXTS)))


@given(listed=st.lists(LISTED, max_size=9), zone=st.sampled_from(["UTC", "Asia/Kolkata", "America/St_Johns"]),
       chunk=st.sampled_from([0, 1, 2, 5]))
def test_a_listing_is_what_the_plain_way_prints(listed, zone, chunk):
    """Any notices, in any zone, as list and history show them (list's SpooledNotice fields are
    the first of history's Finished): the fast path gives the plain way's rows and its bytes, in
    every form."""
    settings = Settings(tz=zone_named(zone), recordings_dir="/srv/notice")
    with chunks_of_size(chunk):
        for columns in (LIST_COLUMNS, HISTORY_COLUMNS):
            both_ways(columns, listed, settings)
            for form in FORMS:
                fast, plain = io.StringIO(), io.StringIO()
                write_listing(columns, listed, settings, form, fast)
                plain_listing(columns, listed, settings, form, plain)
                assert fast.getvalue() == plain.getvalue()
