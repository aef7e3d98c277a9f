"""What the inventory commands print: a listing's rows in three forms -- an aligned table for
a person, JSON and CSV for a script -- and one notice in full. No click here.

The columns of list and history are one table each (LIST_COLUMNS, HISTORY_COLUMNS): a
column's name, the fields of a listed notice it shows and their formatter; adding a column
is one line there. rows() and the plain writers say what a listing prints, one value at a
time: they are the specification. write_listing() prints the same bytes faster, a chunk of
rows at a time (fast_listing.py, where the story of its speed is told).

Times are ISO 8601 with the configured zone's offset at that instant, in every form.
"""

from __future__ import annotations

import csv
import json
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import TextIO

from . import fast_listing
from .callfile import read, read_fields
from .fast_listing import clock
from .found import Found, Listed
from .history import ANSWERED, UNREPORTED, Finished, playback_verdict, reported_verdict
from .notice import MAX_RETRIES_VARIABLE
from .outcome import RETRY, FailureRun
from .outcomes import reports_in
from .record import ABORT, END, HANDED, PENDING, attempt_log, calls_of, outcome_of, state_of
from .recordings import recording_namer
from .settings import QUEUE, Settings

FORMS = ("table", "json", "csv")
MISSING = "-"  # an unknown value in a table; null in JSON, empty in CSV
# A listed notice as one row of fields: the time it is listed at (Listed.at), then its own: a
# SpooledNotice's (list), which history's Finished carries first, then its final outcome.
FIELDS = ("at", *Finished._fields)


class Column(namedtuple("Column", "name fields formatter")):
    """A column of a listing: its NAME (in the header); the FIELDS of a listed notice it
    shows (names in FIELDS, space-separated; several make one value, the tuple of theirs);
    and its FORMATTER: None for the value as it is, else a function of the listing's
    settings that gives the function of a value that the column shows."""

    __slots__ = ()

    @property
    def indexes(self) -> tuple[int, ...]:
        return tuple(FIELDS.index(field) for field in self.fields.split())

    def getter(self) -> Callable:
        """The column's value in a row of FIELDS."""
        return itemgetter(*self.indexes)


def _times(settings: Settings) -> Callable:
    return clock(settings.zone)


def _recording_names(settings: Settings) -> Callable:
    return recording_namer(settings.recordings_dir)


def _states(settings: Settings) -> Callable:
    """A notice's state; in queue delivery a pending call file is one the engine handed."""
    if settings.delivery != QUEUE:
        return state_of
    def handed_or(calling_attempts: tuple) -> str:
        state = state_of(calling_attempts)
        return HANDED if state == PENDING else state

    return handed_or


def _statuses(settings: Settings) -> Callable:
    return outcome_of


def _calls(settings: Settings) -> Callable:
    return calls_of


# notice list: when Asterisk calls next (the scheduled time, the next attempt's while it
# retries, the current one's while it calls), the recording as the operator named it, the
# calls made so far (SpooledNotice.calls) and the state (SpooledNotice.state).
LIST_COLUMNS = (
    Column("id", "id", None),
    Column("due", "at", _times),
    Column("number", "number", None),
    Column("recording", "recording", _recording_names),
    Column("attempts", "attempts attempt", _calls),
    Column("state", "calling attempts attempt", _states),
)
# notice history: when it was scheduled, the final outcome (history.py: its result and its
# word), the calls made and when the last one began, and Asterisk's Status of the latest call
# file (SpooledNotice.outcome).
HISTORY_COLUMNS = (
    Column("id", "id", None),
    Column("due", "at", _times),
    Column("number", "number", None),
    Column("result", "result", None),
    Column("outcome", "final", None),
    Column("attempts", "attempts", None),
    Column("last_attempt", "last_attempt", _times),
    Column("status", "status", _statuses),
)


def formatters(columns: Sequence[Column], settings: Settings) -> list[Callable | None]:
    """Each of COLUMNS' formatter for SETTINGS (None: the value as it is); columns that have
    the same one share it (one clock() for the times of a listing)."""
    made = {factory: factory(settings) for factory in {column.formatter for column in columns} - {None}}
    return [made.get(column.formatter) for column in columns]


# --- the specification: a listing one value at a time -------------------------------------------

def rows(columns: Sequence[Column], listed: Iterable[Listed], settings: Settings) -> Iterator[tuple]:
    """The row of each LISTED notice: its value in each of COLUMNS, formatted."""
    getters = [column.getter() for column in columns]
    shown = formatters(columns, settings)
    for at, notice in listed:
        fields = (at, *notice)
        yield tuple(get(fields) if format is None else format(get(fields)) for get, format in zip(getters, shown))


def plain_table(names: Sequence[str], rows: Iterable[tuple], out: TextIO) -> None:
    """Columns as wide as their widest value, two blanks apart (the last one not padded), a
    header in capitals; a value as str() makes it, an unknown one (None) as MISSING."""
    lines = [[name.upper() for name in names]]
    lines += [[MISSING if value is None else str(value) for value in row] for row in rows]
    widths = [max(len(line[at]) for line in lines) for at in range(len(names))]
    for line in lines:
        out.write("  ".join([*map(str.ljust, line[:-1], widths), line[-1]]) + "\n")


def plain_json(names: Sequence[str], rows: Iterable[tuple], out: TextIO) -> None:
    """A JSON array of objects, one a line, each as json.dumps(ensure_ascii=False) writes it;
    an unknown value is null."""
    objects = [json.dumps(dict(zip(names, row)), ensure_ascii=False) for row in rows]
    out.write("[" + ",\n ".join(objects) + "]\n" if objects else "[]\n")


def plain_csv(names: Sequence[str], rows: Iterable[tuple], out: TextIO) -> None:
    """CSV as RFC 4180 has it (the csv module's default dialect: CRLF line ends, so a field
    with a carriage return is quoted too), with a header row; an unknown value (None) is an
    empty field."""
    writer = csv.writer(out)
    writer.writerow(names)
    writer.writerows(rows)


PLAIN_WRITERS = {"table": plain_table, "json": plain_json, "csv": plain_csv}


def plain_listing(columns: Sequence[Column], listed: Iterable[Listed], settings: Settings, form: str,
                  out: TextIO) -> None:
    """The rows of the LISTED notices under COLUMNS, in FORM, to OUT."""
    PLAIN_WRITERS[form]([column.name for column in columns], rows(columns, listed, settings), out)


# --- the same bytes, fast --------------------------------------------------------------------------

def write_listing(columns: Sequence[Column], listed: Iterable[Listed], settings: Settings, form: str,
                  out: TextIO) -> None:
    """What plain_listing() writes, by fast_listing.py."""
    chunks = fast_listing.chunks(listed, [column.indexes for column in columns], formatters(columns, settings))
    names = [column.name for column in columns]
    if form == "table":
        fast_listing.write_table(chunks, names, out, MISSING)
    else:
        {"json": fast_listing.write_json, "csv": fast_listing.write_csv}[form](chunks, names, out)


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


def shown_notice(found: Found, settings: Settings) -> dict:
    """Everything about one notice, as JSON-ready values."""
    when = clock(settings.zone)
    notice = found.notice
    if notice.attempt is None:
        log = _playback_log(found, when)
        result, outcome = playback_verdict(notice.status, found.pending)
    else:
        log = _reported_log(found, when)
        result, outcome = reported_verdict(notice, reports_in(found.ledger), archived=not found.pending)
    next_call = notice.next_call(found.mtime) if found.pending else None
    return {
        "id": notice.id,
        "state": _states(settings)((notice.calling, notice.attempts, notice.attempt)) if found.pending else "finished",
        "result": result,
        "outcome": outcome,
        "status": None if found.pending else notice.outcome,
        "number": notice.number,
        "recording": recording_namer(settings.recordings_dir)(notice.recording),
        "due": when(notice.due),
        "next_call": when(next_call),
        "attempts": notice.calls,
        "max_attempts": _max_attempts(found),
        "attempt_log": log,
        "on_failure": [{"at": when(run.at), "program": run.program, "exit": run.exit, "output": run.output}
                       for run in found.ledger if isinstance(run, FailureRun)],
        "file": found.path,
        "fields": [list(pair) for pair in read_fields(found.text)],
    }


def _logged(attempt: int, started, ended, result: str, outcome=None, played=None, then=None, next_call=None) -> dict:
    """An attempt in notice show's log: what Asterisk's lines say of it, and in reported
    delivery its report (outcome, seconds played, what followed: then and the next call)."""
    return {"attempt": attempt, "started": started, "ended": ended, "result": result, "outcome": outcome,
            "played": played, "then": then, "next_call": next_call}


def _playback_log(found: Found, when: Callable) -> list[dict]:
    """The attempts of a notice of Playback delivery: Asterisk's lines in its one call file."""
    notice = found.notice
    log = []
    for number, attempt in enumerate(attempt_log(found.text, notice.retry_time), 1):
        if attempt.end:
            ending = ENDINGS[attempt.end]
        elif found.pending:
            ending = "calling now" if notice.calling else "unknown"
        else:
            ending = OUTCOMES.get(notice.outcome, notice.outcome)
        log.append(_logged(number, when(attempt.started), when(attempt.ended), ending))
    return log


def _reported_log(found: Found, when: Callable) -> list[dict]:
    """The attempts of a notice of reported delivery, each from its own call file (archived, or
    the latest) and its report in the ledger; an attempt not called yet is not one."""
    reports = {}
    for report in reports_in(found.ledger):
        reports.setdefault(report.attempt, report)  # notice report keeps one an attempt
    texts = {**dict(found.earlier), found.notice.attempt: found.text}
    log = []
    for attempt in sorted(reports.keys() | texts.keys()):
        calls = attempt_log(texts[attempt], found.notice.retry_time) if attempt in texts else []
        started = when(calls[0].started) if calls else None
        report = reports.get(attempt)
        if report is not None:
            log.append(_logged(attempt, started, when(report.at), _reported(report, when), report.outcome,
                               report.played, report.then, when(report.next_at)))
        elif calls:
            pending = attempt == found.notice.attempt and found.pending
            log.append(_unreported(attempt, started, when(calls[-1].ended), pending, found.notice.calling))
    return log


def _reported(report, when: Callable) -> str:
    followed = f"called again at {when(report.next_at)}" if report.then == RETRY else f"the end: {report.then}"
    return f"{report.outcome}, {report.played} s of the message played; {followed}"


def _unreported(attempt: int, started, ended, pending: bool, calling: bool) -> dict:
    """An attempt Asterisk began that has no report: one whose call file is still PENDING
    (CALLING now, or not), or one that ended without it."""
    if pending:
        return _logged(attempt, started, ended, "calling now" if calling else "unknown")
    return _logged(attempt, started, ended, "ended without a report: is [notice-deliver] in the dialplan?",
                   UNREPORTED)


def _max_attempts(found: Found) -> int | None:
    """The calls the notice may have: in reported delivery its NOTICE_MAX_RETRIES + 1 (each
    call file makes one), else its MaxRetries + 1; None if it does not say."""
    if found.notice.attempt is None:
        return found.notice.max_retries + 1
    written = dict(read(found.text)["variables"]).get(MAX_RETRIES_VARIABLE, "")
    return int(written) + 1 if written.isascii() and written.isdigit() and len(written) <= 4 else None


# notice show's line of the final outcome: its result, its outcome and, where they do not say
# enough, why.
_WHY = {
    ANSWERED: "Playback delivery cannot tell whether the message was heard",
    UNREPORTED: "the call ended without a report: is [notice-deliver] in the dialplan?",
}


def verdict_line(result: str, outcome: str | None) -> str:
    """notice show's line of the final outcome, e.g. 'not delivered: busy'."""
    if outcome is None:
        return result
    return f"{result}: {outcome}" + (f" ({_WHY[outcome]})" if outcome in _WHY else "")


def write_shown(shown: dict, form: str, out: TextIO) -> None:
    if form == "json":
        out.write(json.dumps(shown, ensure_ascii=False, indent=2) + "\n")
        return
    state = shown["state"] if shown["status"] is None else f"finished: {shown['status']}"
    lines = [
        ("id", shown["id"]), ("state", state), ("outcome", verdict_line(shown["result"], shown["outcome"])),
        ("number", shown["number"]), ("recording", shown["recording"]), ("due", shown["due"]),
    ]
    if shown["next_call"] and shown["next_call"] != shown["due"]:
        lines.append(("next call", shown["next_call"]))
    lines.append(("attempts", f"{shown['attempts']} of {shown['max_attempts'] or MISSING}"))
    lines.append(("file", shown["file"]))
    for name, value in lines:
        out.write(f"{name:<10} {MISSING if value is None else value}\n")
    for attempt in shown["attempt_log"]:
        ended = f", ended {attempt['ended']}" if attempt["ended"] else ""
        out.write(f"  attempt {attempt['attempt']}: {attempt['started'] or MISSING}{ended}: {attempt['result']}\n")
    for run in shown["on_failure"]:
        code = f"exited {run['exit']}" if run["exit"] is not None else "did not finish"
        program = run["program"] if run["program"].isprintable() else repr(run["program"])  # one line, whatever the ledger says
        out.write(f"  on_failure, {run['at']}: {program} {code}; output {run['output']!r}\n")
    out.write("call file:\n")
    for key, value in shown["fields"]:
        out.write(f"  {key}: {value}\n")


def write_summary(summary, zone, form: str, out: TextIO) -> None:
    """notice history --summary: the count of each final outcome (history.Summary) as a table
    and the totals of each result under it, or JSON."""
    when = clock(zone)
    if form == "json":
        shown = {"since": when(summary.since), "until": when(summary.until), "notices": summary.notices,
                 "results": summary.results,
                 "outcomes": [{"result": result, "outcome": outcome, "notices": count}
                              for (result, outcome), count in summary.outcomes]}
        out.write(json.dumps(shown, ensure_ascii=False, indent=2) + "\n")
        return
    plain_table(("result", "outcome", "notices"), [(*pair, count) for pair, count in summary.outcomes], out)
    out.write("\n")
    for name, count in (*summary.results.items(), ("all", summary.notices)):
        out.write(f"{name:<15}{count}\n")


def write_health(health, problem: str | None, zone, now: float, form: str, out: TextIO) -> None:
    """notice status: the engine's health (queue_inventory.Health) as lines or JSON."""
    when = clock(zone)
    first = health.first
    shown = {
        "engine": "running" if health.engine else "not running",
        "pid": health.engine[0] if health.engine else None,
        "since": when(health.engine[1]) if health.engine else None,
        "queued": health.counts.get("queued", 0) + health.counts.get("handing", 0) + health.inbox,
        "handed": health.counts.get("handed", 0),
        "calling": health.calling,
        "due_next_hour": health.due_soon,
        "first_queued": None if first is None else {"id": first.id, "number": first.number, "due": when(first.due),
                                                    "overdue_seconds": max(0, int(now - first.due))},
        "finished": health.counts.get("finished", 0),
        "missed": health.counts.get("missed", 0),
        "problem": problem,
    }
    if form == "json":
        out.write(json.dumps(shown, ensure_ascii=False, indent=2) + "\n")
        return
    engine = shown["engine"] + (f" since {shown['since']} (pid {shown['pid']})" if health.engine else "")
    if first is None:
        first_line = "none"
    else:
        late = shown["first_queued"]["overdue_seconds"]
        first_line = f"{first.id} to {first.number} at {shown['first_queued']['due']}" + (
            f", overdue by {late} s" if late else "")
    for name, value in (("engine", engine), ("queued", shown["queued"]), ("handed", shown["handed"]),
                        ("calling now", shown["calling"]), ("due in the next hour", shown["due_next_hour"]),
                        ("first queued", first_line), ("finished", shown["finished"]), ("missed", shown["missed"])):
        out.write(f"{name + ':':<22}{value}\n")
