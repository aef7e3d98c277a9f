"""What the inventory commands print: one generator of rows per listing, and the three forms
the rows take -- an aligned table for a person, JSON and CSV for a script. No click here.

Times are ISO 8601 with the configured zone's offset at that instant, in every form.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import tzinfo
from itertools import chain, islice, repeat
from json.encoder import encode_basestring
from operator import itemgetter
from typing import TextIO

from .inventory import Found, Listed
from .record import ABORT, END, STATES, SpooledNotice, attempt_log, outcome_of
from .recordings import recording_namer
from .callfile import read_fields
from .when import format_due

FORMS = ("table", "json", "csv")
PENDING_COLUMNS = ("id", "due", "number", "recording", "attempts", "state")
FINISHED_COLUMNS = ("id", "due", "number", "outcome", "attempts", "last_attempt")
MISSING = "-"  # an unknown value in a table; null in JSON, empty in CSV
CHUNK = 4096  # rows formatted and written at a time
# A chunk of a listing's rows as its columns, [ids, dues, ...], each a tuple of up to CHUNK
# values: the form in which the rows are made and written (see below).
Chunk = list
NEXT_OBJECT = ",\n "  # between two objects of a JSON listing: one a line

# A listing of 100,000 notices costs about a second of system calls, and each Python-level
# step per row adds a hundredth of that: so the rows are made and written a chunk at a time,
# a column at a time, by C loops (map, zip, join, %) over these getters and lookup tables,
# with Python code run once per distinct value (times, recordings, outcomes repeat).
_ID, _NUMBER, _RECORDING, _ATTEMPTS, _LAST_ATTEMPT, _CALLING, _STATUS = (
    itemgetter(SpooledNotice._fields.index(field))
    for field in ("id", "number", "recording", "attempts", "last_attempt", "calling", "status"))
_MINUTES_SECONDS = [f"{minute:02d}:{second:02d}" for minute in range(60) for second in range(60)]


def clock(zone: tzinfo):
    """format_due in ZONE, for the many times of a listing: an hour (UTC) through which the
    zone's offset stays the same is formatted once -- its local date and hour, its offset --
    and a time in it is that with the time's minute and second, the same text for a tenth of
    the work. An hour that does not start at a whole local hour (an offset of +05:30) or in
    which the offset changes goes through format_due for each time. No zone changes its
    offset twice within an hour (the closest changes in the tz database are 4 days apart),
    so one that is the same at the hour's first and last second is the same throughout."""
    hours = {}

    def when(at: int | None) -> str | None:
        if at is None:
            return None
        hour, second = divmod(at, 3600)
        parts = hours.get(hour)
        if parts is None:
            parts = hours[hour] = _hour_parts(hour * 3600, zone) if type(at) is int else ()
        return parts[0] + _MINUTES_SECONDS[second] + parts[1] if parts else format_due(at, zone)

    return when


def _hour_parts(start: int, zone: tzinfo) -> tuple[str, str] | tuple[()]:
    """(local date and hour, offset) of the hour from START, e.g. ('2026-12-01T10:', '+03:00'),
    if its times differ in minutes and seconds alone; else ()."""
    first = format_due(start, zone)
    head, tail = first[:14], first[19:]
    if first[14:19] == "00:00" and format_due(start + 3599, zone) == f"{head}59:59{tail}":
        return head, tail
    return ()


def pending_rows(listed: Iterable[Listed], zone: tzinfo, recordings_dir: str) -> Iterator[Chunk]:
    """The rows of PENDING_COLUMNS, one per pending notice, a chunk at a time."""
    when = clock(zone)
    name = recording_namer(recordings_dir)
    for ats, notices in _chunks(listed):
        attempts = tuple(map(_ATTEMPTS, notices))
        states = tuple(map(STATES.__getitem__, zip(map(_CALLING, notices), map(bool, attempts))))
        yield [tuple(map(_ID, notices)), _each(when, ats), tuple(map(_NUMBER, notices)),
               _each(name, map(_RECORDING, notices)), attempts, states]


def finished_rows(listed: Iterable[Listed], zone: tzinfo) -> Iterator[Chunk]:
    """The rows of FINISHED_COLUMNS, one per finished notice, a chunk at a time."""
    when = clock(zone)
    for ats, notices in _chunks(listed):
        yield [tuple(map(_ID, notices)), _each(when, ats), tuple(map(_NUMBER, notices)),
               _each(outcome_of, map(_STATUS, notices)), tuple(map(_ATTEMPTS, notices)),
               _each(when, map(_LAST_ATTEMPT, notices))]


def _chunks(listed: Iterable[Listed]) -> Iterator[tuple[tuple, tuple]]:
    """(times, notices) of each CHUNK of LISTED."""
    entries = iter(listed)
    while chunk := list(islice(entries, CHUNK)):
        yield tuple(zip(*chunk))


def _each(function, values: Iterable) -> tuple:
    """FUNCTION of each of VALUES, called once per distinct value."""
    values = tuple(values)
    results = {value: function(value) for value in set(values)}
    return tuple(map(results.__getitem__, values))


def write(chunks: Iterable[Chunk], columns: tuple[str, ...], form: str, out: TextIO) -> None:
    """The rows of CHUNKS under COLUMNS, in FORM, to OUT."""
    {"table": write_table, "json": write_json, "csv": write_csv}[form](chunks, columns, out)


def write_table(chunks: Iterable[Chunk], columns: tuple[str, ...], out: TextIO) -> None:
    """Columns as wide as their widest value, two blanks apart, a header in capitals. The
    widths need every row first (the listing is in memory anyway, sorted); only the columns
    whose values differ in length are padded (ids, times and numbers do not)."""
    header = [column.upper() for column in columns]
    texts = [[_texts(column, MISSING) for column in chunk] for chunk in chunks]
    lengths = [set(chain.from_iterable(map(len, chunk[at]) for chunk in texts))  # the last column is not padded
               for at in range(len(columns) - 1)]
    widths = [max([len(title), *sizes]) for title, sizes in zip(header, lengths)]
    out.write("  ".join([*map(str.ljust, header, widths), header[-1]]) + "\n")
    before = [""] + ["  "] * (len(columns) - 1)
    for chunk in texts:
        padded = [column if sizes == {width} else tuple(map(str.ljust, column, repeat(width)))
                  for column, sizes, width in zip(chunk, lengths, widths)] + chunk[-1:]
        out.write(_lines(padded, before, "\n"))


def _texts(column: tuple, missing: str) -> tuple[str, ...]:
    """COLUMN's values as text, as str() makes them, an unknown one (None) as MISSING; the
    column itself if it is all text already."""
    try:
        "".join(column)  # all text (C code): nothing to change
        return column
    except TypeError:
        if type(None) not in set(map(type, column)):
            return tuple(map(str, column))
        return tuple(missing if value is None else str(value) for value in column)


def _lines(texts: list[Iterable[str]], before: list[str], end: str) -> str:
    """The lines of a chunk whose column I has the values TEXTS[I], each after BEFORE[I], each
    line ending in END: all the pieces of all the lines in one join (C code over the chunk,
    not a format or a join per line)."""
    pieces = []
    for column, separator in zip(texts, before):
        pieces += (repeat(separator), column)
    pieces.append(repeat(end))
    return "".join(chain.from_iterable(zip(*pieces)))


def write_json(chunks: Iterable[Chunk], columns: tuple[str, ...], out: TextIO) -> None:
    """A JSON array of objects, one per line, written a chunk of rows at a time (memory stays
    flat); each value is encoded as json.dumps(ensure_ascii=False) does, by json's own
    encode_basestring, a column at a time -- or, for a column of text that has nothing to
    escape (ids, times, numbers), not at all: the line's pieces quote it."""
    keys = [encode_basestring(column) for column in columns]
    opening = "["
    for chunk in chunks:
        texts, quoted = zip(*map(_json_texts, chunk))
        marks = ['"' if is_text else "" for is_text in quoted]
        before = [close + (", " if at else NEXT_OBJECT + "{") + key + ": " + mark
                  for at, (key, close, mark) in enumerate(zip(keys, [""] + marks, marks))]
        lines = _lines(list(texts), before, marks[-1] + "}")
        out.write(opening + lines[len(NEXT_OBJECT):] if opening == "[" else lines)
        opening = ""
    out.write("[]\n" if opening == "[" else "]\n")


def _json_texts(column: tuple) -> tuple[Iterable[str], bool]:
    """(the JSON of each value, or the value itself if it only needs quotes, whether it does)
    of a chunk's COLUMN."""
    try:
        joined = "".join(column)
    except TypeError:
        kinds = set(map(type, column))
        if kinds == {int}:
            return list(map(int.__repr__, column)), False
        if kinds - {str, int, type(None)}:
            raise TypeError(f"a listing's values are text, whole numbers or None, not {kinds}") from None
        return list(map(_json_value, column)), False
    # encode_basestring escapes '"', '\\' and the control characters, which are not printable
    if '"' not in joined and "\\" not in joined and joined.isprintable():
        return column, True
    return list(map(encode_basestring, column)), False


def _json_value(value) -> str:
    if value is None:
        return "null"
    return encode_basestring(value) if type(value) is str else str(value)


def write_csv(chunks: Iterable[Chunk], columns: tuple[str, ...], out: TextIO) -> None:
    """CSV as RFC 4180 has it (the csv module's default: CRLF line ends, so a field with a
    carriage return is quoted too), with a header row; an unknown value is an empty field.
    A chunk whose fields need no quotes (no ',', '"', CR or LF: ids, times, numbers) is
    written as the csv module would write it, its fields between commas, in one join; any
    other chunk by the csv module itself, into memory, and OUT gets one write per chunk."""
    csv.writer(out).writerow(columns)
    for chunk in chunks:
        texts = list(map(_csv_texts, chunk))
        if None in texts or len(columns) < 2:  # a row of one empty field is written "", too
            buffer = io.StringIO()
            csv.writer(buffer).writerows(zip(*chunk))
            out.write(buffer.getvalue())
        else:
            out.write(_lines(texts, [""] + [","] * (len(columns) - 1), "\r\n"))


def _csv_texts(column: tuple) -> Iterable[str] | None:
    """COLUMN's fields as the csv module writes them if none needs quoting, else None."""
    texts = _texts(column, "")
    joined = "".join(texts)
    if "," in joined or '"' in joined or "\r" in joined or "\n" in joined:
        return None
    return texts


# --- one notice in full ----------------------------------------------------------------------

ENDINGS = {
    END: "failed (busy, no answer or unreachable); tried again",
    ABORT: "abandoned: Asterisk restarted during the call",
}
OUTCOMES = {
    "Completed": "answered; the recording was played",
    "Expired": "failed; no attempt left",
    "Failed": "Asterisk could not use the call file",
}


def shown_notice(found: Found, zone: tzinfo, recordings_dir: str) -> dict:
    """Everything about one notice, as JSON-ready values."""
    when = clock(zone)
    notice = found.notice
    log = []
    for number, attempt in enumerate(attempt_log(found.text, notice.retry_time), 1):
        if attempt.end:
            ending = ENDINGS[attempt.end]
        elif found.pending:
            ending = "calling now" if notice.calling else "unknown"
        else:
            ending = OUTCOMES.get(notice.outcome, notice.outcome)
        log.append({"attempt": number, "started": when(attempt.started), "ended": when(attempt.ended),
                    "result": ending})
    next_call = notice.next_call(found.mtime) if found.pending else None
    return {
        "id": notice.id,
        "state": notice.state if found.pending else "finished",
        "outcome": None if found.pending else notice.outcome,
        "number": notice.number,
        "recording": recording_namer(recordings_dir)(notice.recording),
        "due": when(notice.due),
        "next_call": when(next_call),
        "attempts": notice.attempts,
        "max_attempts": notice.max_retries + 1,
        "attempt_log": log,
        "file": found.path,
        "fields": [list(pair) for pair in read_fields(found.text)],
    }


def write_shown(shown: dict, form: str, out: TextIO) -> None:
    if form == "json":
        out.write(json.dumps(shown, ensure_ascii=False, indent=2) + "\n")
        return
    state = shown["state"] if shown["outcome"] is None else f"finished: {shown['outcome']}"
    lines = [
        ("id", shown["id"]), ("state", state), ("number", shown["number"]),
        ("recording", shown["recording"]), ("due", shown["due"]),
    ]
    if shown["next_call"] and shown["next_call"] != shown["due"]:
        lines.append(("next call", shown["next_call"]))
    lines.append(("attempts", f"{shown['attempts']} of {shown['max_attempts']}"))
    lines.append(("file", shown["file"]))
    for name, value in lines:
        out.write(f"{name:<10} {MISSING if value is None else value}\n")
    for attempt in shown["attempt_log"]:
        ended = f", ended {attempt['ended']}" if attempt["ended"] else ""
        out.write(f"  attempt {attempt['attempt']}: {attempt['started'] or MISSING}{ended}: {attempt['result']}\n")
    out.write("call file:\n")
    for key, value in shown["fields"]:
        out.write(f"  {key}: {value}\n")
