"""What the inventory commands print: one generator of rows per listing, and the three forms
the rows take -- an aligned table for a person, JSON and CSV for a script. No click here.

Times are ISO 8601 with the configured zone's offset at that instant, in every form.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import tzinfo
from functools import lru_cache
from itertools import islice, repeat
from json.encoder import encode_basestring
from typing import TextIO

from .inventory import Found, Listed
from .record import ABORT, END, attempt_log
from .callfile import read_fields
from .when import format_due

FORMS = ("table", "json", "csv")
PENDING_COLUMNS = ("id", "due", "number", "recording", "attempts", "state")
FINISHED_COLUMNS = ("id", "due", "number", "outcome", "attempts", "last_attempt")
MISSING = "-"  # an unknown value in a table; null in JSON, empty in CSV
CHUNK = 4096  # rows formatted and written at a time


def clock(zone: tzinfo):
    """format_due in ZONE, remembering recent instants (notices share due minutes)."""
    @lru_cache(maxsize=4096)
    def when(at: int | None) -> str | None:
        return None if at is None else format_due(at, zone)

    return when


def pending_rows(listed: Iterable[Listed], zone: tzinfo, recordings_dir: str) -> Iterator[tuple]:
    """One row of PENDING_COLUMNS per pending notice."""
    when = clock(zone)
    name = recording_namer(recordings_dir)
    for at, notice in listed:
        yield notice.id, when(at), notice.number, name(notice.recording), notice.attempts, notice.state


def finished_rows(listed: Iterable[Listed], zone: tzinfo) -> Iterator[tuple]:
    """One row of FINISHED_COLUMNS per finished notice."""
    when = clock(zone)
    for at, notice in listed:
        yield notice.id, when(at), notice.number, notice.outcome, notice.attempts, when(notice.last_attempt)


def recording_namer(recordings_dir: str):
    """The recording as the operator named it: its path inside the recordings folder
    (rec_1732790000.42, prepared/3), else the whole path."""
    prefix = recordings_dir.rstrip("/") + "/"
    cut = len(prefix)

    def name(path: str | None) -> str | None:
        return path[cut:] if path and path.startswith(prefix) else path

    return name


def write(rows: Iterable[tuple], columns: tuple[str, ...], form: str, out: TextIO) -> None:
    {"table": write_table, "json": write_json, "csv": write_csv}[form](rows, columns, out)


def write_table(rows: Iterable[tuple], columns: tuple[str, ...], out: TextIO) -> None:
    """Columns as wide as their widest value, two blanks apart, a header in capitals. The
    widths need every row first (the listing is in memory anyway, sorted); the work is done
    a column at a time by str and map, not by a Python loop per value."""
    header = [column.upper() for column in columns]
    cells = [_texts(column) for column in zip(*rows)] or [[] for _ in columns]
    widths = [max(len(title), *map(len, column), 0) for title, column in zip(header, cells)]
    padded = [list(map(str.ljust, column, repeat(width))) for column, width in zip(cells[:-1], widths)]
    out.write("  ".join([title.ljust(width) for title, width in zip(header, widths)][:-1] + header[-1:]) + "\n")
    lines = map("  ".join, zip(*padded, cells[-1]))
    for chunk in iter(lambda: list(islice(lines, CHUNK)), []):
        out.write("\n".join(chunk) + "\n")


def _texts(column: tuple) -> list[str]:
    if None in column:
        column = [MISSING if value is None else value for value in column]
    return list(map(str, column))


def write_json(rows: Iterable[tuple], columns: tuple[str, ...], out: TextIO) -> None:
    """A JSON array of objects, one per line, written a chunk of rows at a time (memory stays
    flat); each value is encoded by json's own encode_basestring, as ensure_ascii=False does,
    a column at a time."""
    template = "{{" + ", ".join(f"{encode_basestring(column)}: {{}}" for column in columns) + "}}"
    separator = "["
    rows = iter(rows)
    while True:
        chunk = list(islice(rows, CHUNK))
        if not chunk:
            break
        encoded = [_json_column(column) for column in zip(*chunk)]
        out.write(separator + ",\n ".join(map(template.format, *encoded)))
        separator = ",\n "
    out.write("[]\n" if separator == "[" else "]\n")


def _json_column(column: tuple) -> list[str]:
    values = [value for value in column if value is not None]
    kinds = set(map(type, values))
    if kinds - {str, int}:
        raise TypeError(f"a listing's values are text, whole numbers or None, not {kinds}")
    if len(kinds) > 1:  # not one type: value by value
        return [_json_value(value) for value in column]
    encode = encode_basestring if kinds == {str} else str
    if len(values) == len(column):
        return list(map(encode, column))
    return ["null" if value is None else encode(value) for value in column]


def _json_value(value) -> str:
    if value is None:
        return "null"
    return encode_basestring(value) if type(value) is str else str(value)


def write_csv(rows: Iterable[tuple], columns: tuple[str, ...], out: TextIO) -> None:
    """CSV as RFC 4180 has it (the csv module's default: CRLF line ends, so a field with a
    carriage return is quoted too), with a header row; an unknown value is an empty field."""
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)


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
