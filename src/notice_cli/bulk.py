"""Importing many notices from a CSV file: every row is checked before anything is spooled,
then all of them are spooled at once.

The header row names the columns, in any order (case and blanks aside):

    number     the client's number, as notice-spool takes it
    recording  a recording's name, or N for prepared recording N
    when       keypad, ISO 8601 or relative, as notice-spool takes it
    id         optional: the notice's id

A row without an id gets one from what it is: its due second and a hash of its number,
recording (as written) and due time (notice.content_id). Importing the same file again finds
every notice it already scheduled, pending or finished, by that id and skips it; so does a row
repeated in the file, and a row that another import of the file, running at the same time,
has spooled or is spooling (spool_writer.spool_call_files). A relative time (+1d) is relative
to each run, so each run schedules it anew: give absolute times, or ids, in a file that may be
imported twice.
"""

from __future__ import annotations

import csv
import os
import time
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator

from .callfile import render
from .errors import InvalidInput, InvalidRows, shown
from .dialplan_recordings import mark_used
from .log import log_lines
from .notice import Notice, call_file_for, call_file_name, check_notice_id, check_number, content_id, notice_id_of
from .recordings import check_recording_name, recording_path
from .schedule import check_reported_data_dir
from .settings import QUEUE, Settings
from .spool import ARCHIVE, OUTGOING, names_in
from .spool_writer import spool_call_files
from .when import check_future, format_due, parse_instant

COLUMNS = ("number", "recording", "when", "id")
QUEUE_CHUNK = 10_000  # notices a transaction of queue delivery's import (_queue)
REQUIRED = ("number", "recording", "when")


class Plan(namedtuple("Plan", "notices skipped problems")):
    """What an import file asks for: the NOTICES to spool (checked), the rows SKIPPED as
    (line, id, why) because their notice is already there, and the PROBLEMS of invalid rows,
    one line each ("line 7: number ... is not a phone number")."""

    __slots__ = ()


class Imported(namedtuple("Imported", "spooled skipped invalid")):
    """How many notices were spooled, and how many rows were skipped as already there or
    as invalid (with --skip-invalid)."""

    __slots__ = ()

    def report(self, source: str) -> str:
        text = f"spooled {_count(self.spooled, 'notice')} from {source}"
        if self.skipped:
            text += f"; {self.skipped} already scheduled (skipped)"
        if self.invalid:
            text += f"; {_count(self.invalid, 'invalid row')} skipped"
        return text


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"


def read_rows(lines: Iterable[str], source: str) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(line number, {column: value}) per row of the CSV LINES, or (line, problem) for a row
    with the wrong number of fields; empty lines are passed over. The header is checked here."""
    reader = csv.reader(_decoded(lines, source))
    try:
        header = next(reader, None)
    except csv.Error as problem:
        raise InvalidInput(f"{source} line 1 is not CSV: {problem}") from None
    if header is None:
        raise InvalidInput(f"{source} is empty; it needs a header row: {','.join(REQUIRED)}")
    names = [name.strip().lower() for name in header]
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise InvalidInput(f"{source} has unknown column{'s' if len(unknown) > 1 else ''} "
                           f"{', '.join(shown(name) for name in unknown)} in its header; "
                           f"the columns are {', '.join(COLUMNS)} (id is optional)")
    missing = [name for name in REQUIRED if name not in names]
    if missing or len(set(names)) != len(names):
        raise InvalidInput(f"{source}'s header must name each of {', '.join(REQUIRED)} once "
                           f"(and id at most once); it is {shown(','.join(header))}")
    last = reader.line_num
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as problem:
            raise InvalidInput(f"{source} line {reader.line_num} is not CSV: {problem}") from None
        line, last = last + 1, reader.line_num
        if not any(field.strip() for field in fields):
            continue
        if len(fields) != len(names):
            yield line, f"has {_count(len(fields), 'field')}, the header {len(names)}"
        else:
            yield line, dict(zip(names, fields))


def _decoded(lines: Iterable[str], source: str) -> Iterator[str]:
    """LINES, with a file that is not UTF-8 refused in one line rather than a traceback."""
    number = 0
    try:
        for number, line in enumerate(lines, 1):
            yield line
    except UnicodeDecodeError:
        raise InvalidInput(f"{source} is not UTF-8 text (after line {number}); save it as UTF-8 CSV") from None


def plan(rows: Iterable[tuple[int, dict[str, str] | str]], settings: Settings, now: float,
         known: dict[str, str]) -> Plan:
    """Check every row. KNOWN maps the ids already in the spool to 'pending' or 'finished'."""
    notices, skipped, problems = [], [], []
    first_line: dict[str, int] = {}
    recordings: dict[str, str | InvalidInput] = {}
    zone = settings.zone
    for line, row in rows:
        if isinstance(row, str):
            problems.append(f"line {line}: {row}")
            continue
        try:
            number = check_number(row["number"].strip())
            recording = check_recording_name(row["recording"].strip())
            due = parse_instant(row["when"], zone, now)
            given = (row.get("id") or "").strip()
            notice_id = check_notice_id(given) if given else content_id(number, recording, due)
            if notice_id in known:
                skipped.append((line, notice_id, f"already {known[notice_id]}"))
                continue
            if notice_id in first_line:
                if given:
                    raise InvalidInput(f"id {notice_id} is also on line {first_line[notice_id]}; ids must differ")
                skipped.append((line, notice_id, f"the same as line {first_line[notice_id]}"))
                continue
            check_future(due, row["when"], zone, now)
            path = _recording(recording, settings, recordings)
        except InvalidInput as problem:
            problems.append(f"line {line}: {problem}")
            continue
        first_line[notice_id] = line
        notices.append(Notice(notice_id, number, path, due))
    return Plan(notices, skipped, problems)


def _recording(name: str, settings: Settings, found: dict[str, str | InvalidInput]) -> str:
    """recording_path(), asked once per name: a file of 10,000 rows names a few recordings."""
    if name not in found:
        try:
            found[name] = recording_path(name, settings)
        except InvalidInput as problem:
            found[name] = problem
    if isinstance(found[name], InvalidInput):
        raise found[name]
    return found[name]


def known_ids(settings: Settings) -> dict[str, str]:
    """The ids of the notices in the spool: pending (outgoing/) or finished (outgoing_done/)."""
    known = {}
    for folder, state in ((ARCHIVE, "finished"), (OUTGOING, "pending")):
        for name in names_in(os.path.join(settings.spool_dir, folder), missing_ok=folder == ARCHIVE):
            notice_id = notice_id_of(name)
            if notice_id:
                known[notice_id] = state
    return known


class InQueue:
    """The ids known to the spool (SPOOLED, a dict) and, asked one at a time, to the queue in
    DATA_DIR (queue delivery): an import run again skips a notice still queued, even one past
    its time while the engine was down, rather than refuse its row as in the past."""

    def __init__(self, data_dir: str, spooled: dict[str, str]):
        from .queue import FILE_NAME, open_queue

        self.spooled = spooled
        self.found: dict[str, str | None] = {}
        self.connection = open_queue(data_dir) if os.path.exists(os.path.join(data_dir, FILE_NAME)) else None

    def __contains__(self, notice_id: str) -> bool:
        return self[notice_id] is not None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()

    def __getitem__(self, notice_id: str) -> str | None:
        if notice_id in self.spooled:
            return self.spooled[notice_id]
        if notice_id not in self.found:
            from .queue import known

            state = known(self.connection, [notice_id]).get(notice_id) if self.connection else None
            self.found[notice_id] = None if state is None else f"{state} in the queue"
        return self.found[notice_id]


def import_notices(lines: Iterable[str], source: str, settings: Settings, now: float,
                   skip_invalid: bool = False, progress: Callable[[int], None] | None = None,
                   planned: Callable[[Plan], None] | None = None) -> Imported:
    """Check every row of the CSV LINES, then spool all their notices: nothing if a row is
    invalid (InvalidRows, one problem per row) unless SKIP_INVALID. PLANNED(plan) is told of
    the plan before spooling; PROGRESS(n) after each durable n notices."""
    known = known_ids(settings)
    if settings.delivery == QUEUE:
        known = InQueue(settings.data_dir, known)
    try:
        checked = plan(read_rows(lines, source), settings, now, known)
    finally:
        if isinstance(known, InQueue):
            known.close()
    if checked.problems and not skip_invalid:
        raise InvalidRows(f"{_count(len(checked.problems), 'invalid row')} in {source}; nothing was imported "
                          "(correct them, or use --skip-invalid to import the valid rows)", checked.problems)
    check_reported_data_dir(settings)
    mark_used(notice.recording for notice in checked.notices)  # before a gc meanwhile removes one
    if planned:
        planned(checked)
    spooled, meanwhile = _spool(checked.notices, source, settings, progress)
    return Imported(spooled, len(checked.skipped) + meanwhile, len(checked.problems))


def _queue(call_files, notices: list[Notice], settings: Settings, moved: Callable[[str], None],
           already: Callable[[str], None]) -> None:
    """Queue delivery's import: the notices into the queue QUEUE_CHUNK at a time, each chunk
    one transaction, durable when it commits; one the queue holds already (an import run
    again) is left as it is. On a failure the chunks committed stay queued (each notice whole,
    as direct delivery's import leaves those it spooled) and SpoolError says how many."""
    from .errors import SpoolError
    from .inbox import opened_queue
    from .queue import Queued, enqueue

    # Rendered before any transaction, and inserted a chunk at a time: a transaction holds the
    # queue's write lock, and the engine waits for it at most queue.BUSY_TIMEOUT (100,000 call
    # files rendered inside one held it 12 s; a chunk of 10,000 takes about 0.25 s).
    rows = [Queued(notice.id, notice.number, notice.recording, notice.due, text)
            for notice, (text, _, _) in zip(notices, call_files)]
    now = int(time.time())
    connection = opened_queue(settings.data_dir, now)
    done = 0
    try:
        for start in range(0, len(rows), QUEUE_CHUNK):
            chunk = rows[start:start + QUEUE_CHUNK]
            try:
                added = set(enqueue(connection, chunk, now))
            except SpoolError as problem:
                if not done:
                    raise
                reason = str(problem).rsplit("; no notice was queued", 1)[0]
                raise SpoolError(f"{reason}; the {done} notices queued before the failure stay queued") from None
            for notice in chunk:
                (moved if notice.id in added else already)(call_file_name(notice.id))
            done += len(added)
    finally:
        connection.close()


def _spool(notices: list[Notice], source: str, settings: Settings,
           progress: Callable[[int], None] | None) -> tuple[int, int]:
    """Spool NOTICES and log each one spooled; return how many were spooled, and how many
    another import of the same file (cron overlapping itself) spooled since known_ids()
    looked, or is spooling right now: those are already scheduled."""
    spooled: set[str] = set()
    meanwhile: list[str] = []

    def moved(path: str) -> None:
        spooled.add(os.path.basename(path))
        if progress:
            progress(1)

    def already(path: str) -> None:
        meanwhile.append(path)
        if progress:
            progress(1)

    call_files = ((render(call_file_for(notice, settings)), notice.file_name, notice.due) for notice in notices)
    try:
        if settings.delivery == QUEUE:
            _queue(call_files, notices, settings, moved, already)
        else:
            spool_call_files(call_files, settings.spool_dir, settings.file_mode, settings.owner, moved, already)
    finally:
        zone = settings.zone
        log_lines((f"notice {notice.id} to {notice.number} at {format_due(notice.due, zone)}: "
                   f"{notice.recording} (imported from {source})" for notice in notices if notice.file_name in spooled),
                  settings.syslog_facility, settings.syslog_tag)
    return len(spooled), len(meanwhile)
