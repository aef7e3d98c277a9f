"""The fast path of a listing (output.write_listing): the bytes that output.rows() and the
plain writers there give, made and written a chunk of rows at a time. tests/unit/test_output.py
holds the two equal, over any values.

Why it is shaped so -- the one note on a listing's speed. A listing of 100,000 notices costs
about a second of system calls (scan, open, read, close each file: the floor `make bench`
measures against), and each Python-level step per notice adds about a hundredth of that:

* inventory.py scans with Python's cycle collector paused (collector_paused): the scan makes
  100,000s of tuples and strings and no reference cycle, which the collector would only walk
  again and again as the listing grows; gc.freeze() then moves the listing to the oldest
  generation at once, so that the young collections of the printing do not walk it through
  the generations. Measured at 50,000 files (Python 3.11, CPU time, best of 4): notice list
  1.17 s against 1.31 s without it, list --json 1.18 s against 1.30 s; history --csv the
  same either way.
  history.with_outcomes, which makes history's row of each notice after the scan, runs so
  too: 0.9 against 2.7 us a row at 100,000 (Python 3.11).
* A listing's entries are plain (at, notice) tuples, made so in the scan: Listed() would be a
  Python call a notice (a microsecond each, a tenth of the floor).
* The rows are made a column at a time, by C loops (map, zip, join) over itemgetters and
  lookup tables, and a formatter runs once per distinct value (_each: times, recordings,
  outcomes and states repeat).
* clock() formats a time from its hour's text: the zone's offset is looked up once an hour,
  not once a notice.
* Each form is written by joins over a whole chunk, not a format per line: JSON escapes only a
  column that needs it, and CSV goes through the csv module only for a chunk that needs quotes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain, islice, repeat
from json.encoder import encode_basestring
from operator import itemgetter
from typing import TextIO

from .when import format_due

CHUNK = 4096  # rows made and written at a time
# A chunk of a listing's rows as its columns, [ids, dues, ...], each a tuple of up to CHUNK
# values: the form in which the rows are made and written.
Chunk = list
NEXT_OBJECT = ",\n "  # between two objects of a JSON listing: one a line
_MINUTES_SECONDS = [f"{minute:02d}:{second:02d}" for minute in range(60) for second in range(60)]


def chunks(listed: Iterable[tuple], columns: Sequence[tuple[int, ...]],
           formatters: Sequence[Callable | None]) -> Iterator[Chunk]:
    """output.rows() of LISTED, (at, notice) pairs, a chunk at a time: COLUMNS are the columns'
    indexes in a row of output.FIELDS (the time listed at, 0, then the notice's fields), and
    FORMATTERS their formatters (None: the value as it is)."""
    notice_getters = {index: itemgetter(index - 1) for indexes in columns for index in indexes if index}
    entries = iter(listed)
    while chunk := list(islice(entries, CHUNK)):
        ats, notices = zip(*chunk)
        fields = {index: tuple(map(getter, notices)) for index, getter in notice_getters.items()}
        fields[0] = ats
        yield [_column(fields, indexes, formatter) for indexes, formatter in zip(columns, formatters)]


def _column(fields: dict[int, tuple], indexes: tuple[int, ...], formatter: Callable | None) -> tuple:
    """A column of a chunk: the field of its one index, or a tuple of the fields of its
    INDEXES for each row; formatted by FORMATTER, if any."""
    values = fields[indexes[0]] if len(indexes) == 1 else tuple(zip(*(fields[index] for index in indexes)))
    return values if formatter is None else _each(formatter, values)


def _each(function, values: Iterable) -> tuple:
    """FUNCTION of each of VALUES, called once per distinct value."""
    values = tuple(values)
    results = {value: function(value) for value in set(values)}
    return tuple(map(results.__getitem__, values))


def clock(zone):
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


def _hour_parts(start: int, zone) -> tuple[str, str] | tuple[()]:
    """(local date and hour, offset) of the hour from START, e.g. ('2026-12-01T10:', '+03:00'),
    if its times differ in minutes and seconds alone; else ()."""
    first = format_due(start, zone)
    head, tail = first[:14], first[19:]
    if first[14:19] == "00:00" and format_due(start + 3599, zone) == f"{head}59:59{tail}":
        return head, tail
    return ()


def write_table(chunks: Iterable[Chunk], columns: Sequence[str], out: TextIO, missing: str) -> None:
    """Columns as wide as their widest value, two blanks apart, a header in capitals. The
    widths need every row first (the listing is in memory anyway, sorted); only the columns
    whose values differ in length are padded (ids, times and numbers do not); an unknown
    value is MISSING."""
    header = [column.upper() for column in columns]
    texts = [[_texts(column, missing) for column in chunk] for chunk in chunks]
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


def write_json(chunks: Iterable[Chunk], columns: Sequence[str], out: TextIO) -> None:
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


def write_csv(chunks: Iterable[Chunk], columns: Sequence[str], out: TextIO) -> None:
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
