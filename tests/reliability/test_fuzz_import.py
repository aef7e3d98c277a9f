"""Property-based tests of `notice import`: generated CSV files, run through the notice group
itself (CliRunner, the import command's own file opening and decoding) against a real spool.

A file is made of records written the way a spreadsheet or a script writes them: a header
naming the columns in any order, case and blanks (or a header gone wrong), rows whose fields
carry the classic attacks of strategies.py (numbers, recordings or prepared ordinals, times in
every form, ids), fields with quotes, commas, CR and LF inside (quoted by csv.writer), stray
quotes, blank lines, a missing or extra field, rows repeated, a byte order mark, LF, CRLF or
CR line ends, and sometimes bytes that are not UTF-8.

The oracle is a model of the import rules as the README states them, written here apart from
bulk.py: the line each record starts on is counted from what was written; a number, a
recording name, an id are checked against their stated forms; a recording is looked up in
the folders this test filled. Only the time is taken from notice-spool's own parser
(when.parse_instant): the time forms are fuzzed on their own in test_fuzz_spool.py, and an
import takes a time "as notice-spool takes it". Then each case ends in exactly one way:

* the file cannot be read as a whole (not UTF-8, no usable header, empty): exit 3, one line
  `notice import: error: ...`, nothing spooled;
* a row is invalid and --skip-invalid is not given: exit 3, one line per invalid row naming
  its line number, in order, then the error line; nothing spooled;
* otherwise exit 0: each valid row is one call file in outgoing/ that parses back (as
  Asterisk's lexer reads it) to exactly its number, recording path, NOTICE_ID and due time,
  with its mtime at that second; with --skip-invalid each invalid row is named on stderr;
  rows repeated or already in the spool are counted as skipped.

Never a traceback, never a file left in tmp/. After an import that succeeded, the same file is
imported again, later and with some of its notices archived as if they had fired: nothing new
is scheduled but rows with a relative time and no id, which are relative to each run.

The classic attacks are also tried by name, one row each, in a file whose verdicts are written
out here rather than taken from the model (test_named_attacks_in_an_import_file).
NOTICE_FUZZ_EXAMPLES sets the number of files per run.
"""

import csv
import functools
import io
import os
import re
import sys
import time
from datetime import datetime, timezone
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from unittest import mock

import pytest
from click.testing import CliRunner
from hypothesis import event, given, strategies as st

from notice_cli import cli
from notice_cli.callfile import parse
from notice_cli.errors import InvalidInput
from notice_cli.notice import content_id
from notice_cli.when import parse_instant, zone_named
from strategies import (FUZZ, NUMBERS, PREPARED, RECORDING_CHOICES, RECORDING_NAMES, RECORDINGS, RELATIVE,
                        VALID_NUMBERS, WHENS, ZONES, attacked, fuzz_root, staged)

COLUMNS = ("number", "recording", "when", "id")
REQUIRED = COLUMNS[:3]
LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z: notice-spool refuses a later time
# Bytes that are never UTF-8, wherever they stand between two characters.
NOT_UTF8 = (b"\xff", b"\xfe", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf8\x88\x80\x80\x80")
BLANK_LINES = ("", "  ", ",,", " , ,\t", ",")
TERMINATORS = ("\n", "\r\n", "\r")
PROBLEM = re.compile(r"notice import: line ([0-9]+): [^\n]+")
RELATIVE_TIME = re.compile(r"\+(?:[0-9]+[smhdw])+")


# --- a file, as written and as the import must read it ---------------------------------------

@dataclass
class Record:
    """One record: the TEXT written (with its line end) and the FIELDS a CSV reader finds in it."""
    text: str
    fields: list


def translated(text: str) -> str:
    """Text as a file opened in text mode hands it over: CRLF and CR are line feeds."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def written(fields: list, quoting: int, end: str) -> Record:
    """FIELDS as csv.writer writes them. Its line terminator has both CR and LF, so a field with
    either is quoted; the record's own line end is END."""
    out = io.StringIO()
    csv.writer(out, quoting=quoting, lineterminator="\r\n").writerow(fields)
    return Record(out.getvalue()[:-2] + end, [translated(value) for value in fields])


def raw(line: str, end: str) -> Record:
    """A line written by hand (a blank one, a stray quote), read as the CSV reader reads it."""
    return Record(line + end, next(csv.reader([line]), []))


@dataclass
class ImportFile:
    """An import file: its records (the header first), their line end, a byte order mark or
    not, a line end after the last record or not, and bytes that are not UTF-8 put in or not."""
    records: list
    end: str  # the line end of every record
    bom: bool = False
    final_line_end: bool = True
    bad_bytes: tuple = None  # (where, bytes that are not UTF-8)

    def text(self) -> str:
        text = "".join(record.text for record in self.records)
        if not self.final_line_end and text.endswith(self.end):
            text = text[: -len(self.end)]
        return ("\ufeff" if self.bom else "") + text

    def data(self) -> bytes:
        text = self.text()
        if self.bad_bytes is None:
            return text.encode("utf-8", "surrogateescape")
        where, bad = self.bad_bytes
        at = where % (len(text) + 1)
        if self.bom:
            at = max(at, 1)
        return text[:at].encode("utf-8", "surrogateescape") + bad + text[at:].encode("utf-8", "surrogateescape")

    def lines(self) -> list:
        """(line number, fields) of each record after the header: the line it starts on."""
        line = 1 + translated(self.records[0].text).count("\n")
        numbered = []
        for record in self.records[1:]:
            numbered.append((line, record.fields))
            line += translated(record.text).count("\n")
        return numbered


# --- the strategies --------------------------------------------------------------------------

HEADER_ATTACKS = ("time", "phone", "", "numbér", "\ufeffnumber", "number;", "when\n", "id id")
IDS = attacked(st.sampled_from(["clinic-1", "clinic-2", "a", "A_b-9", "x" * 64, "x" * 65, "-x", "../x"]))


def padded(values: st.SearchStrategy) -> st.SearchStrategy:
    """Values, sometimes with blanks around them (a CSV file's usual spaces after commas)."""
    return st.one_of(values, st.tuples(st.sampled_from([" ", "  ", "\t", "\u00a0"]), values).map(
        lambda pair: pair[0] + pair[1] + pair[0]))


@st.composite
def future_times(draw):
    """Times years ahead, in every absolute form: valid unless a DST gap swallows them."""
    moment = draw(st.datetimes(min_value=datetime(2027, 1, 1), max_value=datetime(2099, 12, 31)))
    form = draw(st.sampled_from(["keypad", "iso", "iso seconds", "iso offset"]))
    if form == "keypad":
        return moment.strftime("%Y*%m*%d**%H***%M")
    if form == "iso":
        return moment.isoformat(sep=draw(st.sampled_from(["T", " "])), timespec="minutes")
    if form == "iso seconds":
        return moment.isoformat(timespec=draw(st.sampled_from(["seconds", "milliseconds"])))
    return moment.isoformat(timespec="seconds") + draw(st.sampled_from(["Z", "+03:00", "-05:00", "+05:30"]))


# Each column's values: as a valid row has them (still refused at times: a past time, a
# recording not there), and attacked.
VALID_VALUES = {
    "number": padded(VALID_NUMBERS),
    "recording": padded(st.one_of(RECORDING_CHOICES, st.sampled_from(["hello.wav", "0007"]))),
    "when": padded(st.one_of(future_times(), RELATIVE)),
    "id": st.one_of(st.just(""), st.just(""), st.sampled_from(["clinic-1", "clinic-2", "a", "A_b-9", "x" * 64])),
}
ATTACKED_VALUES = {
    "number": padded(NUMBERS),
    "recording": padded(st.one_of(RECORDING_NAMES, st.sampled_from(["7", "999", "0", "1000", "hello.WAV", "7.gsm"]))),
    "when": WHENS,
    "id": padded(IDS),
}


@functools.lru_cache(maxsize=None)  # a strategy made once is drawn from quickly
def one_in(count: int) -> st.SearchStrategy:
    """True once in COUNT draws (st.integers would favour its bounds)."""
    return st.sampled_from([False] * (count - 1) + [True])


@st.composite
def header_names(draw):
    """The header's names: the columns in any order, case and blanks; sometimes wrong."""
    columns = list(REQUIRED) + (["id"] if draw(st.booleans()) else [])
    columns = draw(st.permutations(columns))
    names = [draw(st.sampled_from([name, name.upper(), name.title(), f" {name} ", f"{name}\t"])) for name in columns]
    wrong = draw(st.sampled_from(["none"] * 30 + ["unknown", "missing", "twice"]))
    if wrong == "unknown":
        names[draw(st.integers(0, len(names) - 1))] = draw(st.sampled_from(HEADER_ATTACKS))
    elif wrong == "missing":
        del names[draw(st.integers(0, len(names) - 1))]
    elif wrong == "twice":
        names.append(draw(st.sampled_from(names)))
    return columns, names


@st.composite
def import_files(draw):
    columns, names = draw(header_names())
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    end = draw(st.sampled_from(TERMINATORS))
    records = [raw("", end) if draw(one_in(50)) else written(names, quoting, end)]
    rows = []
    all_clean = draw(one_in(3))
    for _ in range(draw(st.integers(0, 7))):
        kind = draw(st.sampled_from(["row"] * 8 + ["blank", "stray quote", "field count", "again"]))
        if kind == "blank":
            rows.append(raw(draw(st.sampled_from(BLANK_LINES)), end))
            continue
        if kind == "again" and rows:
            rows.append(draw(st.sampled_from(rows)))
            continue
        clean = all_clean or not draw(one_in(3))  # most rows valid in every field, others attacked here and there
        values = [draw(VALID_VALUES[column] if clean or draw(st.booleans()) else ATTACKED_VALUES[column])
                  for column in columns]
        if kind == "field count":
            values = values[:-1] if draw(st.booleans()) else values + [draw(st.sampled_from(["", "x", "+1h"]))]
        record = written(values, quoting, end)
        if kind == "stray quote":
            record = _with_stray_quote(record, draw(st.integers(0, 200)), end)
        rows.append(record)
    bad = draw(st.tuples(st.integers(0, 10**6), st.sampled_from(NOT_UTF8))) if draw(one_in(15)) else None
    return ImportFile([*records, *rows], end, bom=draw(st.booleans()), final_line_end=draw(st.booleans()),
                      bad_bytes=bad)


def _with_stray_quote(record: Record, at: int, end: str) -> Record:
    """RECORD with a '"' put in at AT, if the line is still one record by itself (a quote left
    open would run on into the next lines: another file altogether)."""
    line = record.text[: -len(end)]
    if "\n" in line or "\r" in line:
        return record
    at %= len(line) + 1
    line = line[:at] + '"' + line[at:]
    found = list(csv.reader(io.StringIO(line + "\nx\n")))
    return raw(line, end) if found[1:] == [["x"]] else record


# --- the model -------------------------------------------------------------------------------

class Planned(NamedTuple):
    """A notice a row must schedule, and what the row said of its time and id."""
    number: str
    recording: str  # the path Playback gets
    due: int
    when: str
    given_id: str


@dataclass
class Expected:
    """What an import of a file must do: refuse it whole, or these PROBLEMS (line numbers),
    these NOTICES (id -> Planned), this many rows SKIPPED."""
    whole_file_refused: bool = False
    problems: list = field(default_factory=list)
    notices: dict = field(default_factory=dict)
    skipped: int = 0


def expected(file: ImportFile, root: Path, zone: str, now: float, known: set) -> Expected:
    try:
        text = file.data().decode("utf-8-sig")
    except UnicodeDecodeError:
        return Expected(whole_file_refused=True)
    if not text or (sys.version_info < (3, 11) and "\0" in text):  # older csv refuses NUL
        return Expected(whole_file_refused=True)
    names = [name.strip().lower() for name in header_fields(file)]
    if not set(names) <= set(COLUMNS) or not set(REQUIRED) <= set(names) or len(set(names)) != len(names):
        return Expected(whole_file_refused=True)
    result = Expected()
    first = {}
    for line, fields in file.lines():
        if not any(value.strip() for value in fields):
            continue
        if len(fields) != len(names):
            result.problems.append(line)
            continue
        row = dict(zip(names, fields))
        number, recording, given = row["number"].strip(), row["recording"].strip(), row.get("id", "").strip()
        due = _instant(row["when"], zone, now)
        if not (_is_number(number) and _is_recording_name(recording) and due is not None
                and (not given or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", given))):
            result.problems.append(line)
            continue
        notice_id = given or content_id(number, recording, due)
        if notice_id in known:
            result.skipped += 1
        elif notice_id in first:
            if given:
                result.problems.append(line)
            else:
                result.skipped += 1
        elif not now < due <= LAST_SECOND or _recording(root, recording) is None:
            result.problems.append(line)
        else:
            first[notice_id] = line
            result.notices[notice_id] = Planned(number, _recording(root, recording), due, row["when"], given)
    return result


def header_fields(file: ImportFile) -> list:
    """The header's fields as a reader of the file finds them: a file that starts with U+FEFF
    starts with a byte order mark, even where the header attack "\ufeffnumber" put it."""
    fields = list(file.records[0].fields)
    if not file.bom and file.records[0].text.startswith("\ufeff"):
        fields[0] = fields[0][1:]
    return fields


def _instant(text: str, zone: str, now: float):
    try:
        return parse_instant(text, zone_named(zone), now)
    except InvalidInput:
        return None


def _is_number(text: str) -> bool:
    return len(text) <= 32 and re.fullmatch(r"\+?[0-9]+", text) is not None


def _is_recording_name(text: str) -> bool:
    return len(text) <= 200 and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", text) is not None


def _recording(root: Path, name: str):
    """The path Playback gets for the recording NAME, or None: the folders hold RECORDINGS as
    .wav and the prepared recordings PREPARED; digits alone pick a prepared one."""
    if name.isdigit():
        return str(root / "recordings" / "prepared" / str(int(name))) if int(name) in PREPARED else None
    stem = name[: -len(".wav")] if name.endswith(".wav") else name
    return str(root / "recordings" / stem) if stem in RECORDINGS else None


# --- the harness -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spool_root():
    with fuzz_root() as root:
        (root / "spool" / "outgoing_done").mkdir()
        yield root


def run_import(root: Path, data: bytes, zone: str, now: float, skip_invalid: bool):
    """`notice import` through the notice group in-process, at the time NOW, with a clean
    environment; (exit code, stdout, stderr)."""
    source = root / "notices.csv"
    source.write_bytes(data)
    args = ["import", "--spool-dir", str(root / "spool"), "--recordings-dir", str(root / "recordings"),
            "--prepared-dir", str(root / "recordings" / "prepared"), "--syslog-facility", "none", "--tz", zone,
            *(["--skip-invalid"] if skip_invalid else []), str(source)]
    environ = {"NOTICE_CONFIG": os.devnull, "TZ": "UTC", "PATH": os.environ.get("PATH", "")}
    with mock.patch.dict(os.environ, environ, clear=True), mock.patch("time.time", return_value=now):
        result = CliRunner().invoke(cli.notice, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def ids_in(folder: Path) -> set:
    return {path.name[len("notice-"):-len(".call")] for path in folder.iterdir()} if folder.is_dir() else set()


def plural(count: int, thing: str) -> str:
    return f"{count} {thing}{'' if count == 1 else 's'}"


def check_import(root: Path, file: ImportFile, zone: str, now: float, skip_invalid: bool) -> Expected:
    """Import FILE and check the outcome against the model; return what was expected."""
    outgoing, archive = root / "spool" / "outgoing", root / "spool" / "outgoing_done"
    before = ids_in(outgoing)
    want = expected(file, root, zone, now, before | ids_in(archive))
    code, out, err = run_import(root, file.data(), zone, now, skip_invalid)
    source = root / "notices.csv"
    assert staged(root) == []
    assert "Traceback" not in err
    lines = err.splitlines()
    if want.whole_file_refused or (want.problems and not skip_invalid):
        assert (code, out) == (3, ""), err
        assert ids_in(outgoing) == before
        assert err.endswith("\n") and lines[-1].startswith("notice import: error: ")
        if want.whole_file_refused:
            assert len(lines) == 1, err
        else:
            assert [int(PROBLEM.fullmatch(line).group(1)) for line in lines[:-1]] == want.problems, err
            assert lines[-1].startswith(f"notice import: error: {plural(len(want.problems), 'invalid row')} in "
                                        f"{source}; nothing was imported")
        return want
    assert code == 0, err
    assert [int(PROBLEM.fullmatch(line).group(1)) for line in lines] == want.problems, err
    assert all(line.endswith(" (skipped)") for line in lines)
    report = f"spooled {plural(len(want.notices), 'notice')} from {source}"
    if want.skipped:
        report += f"; {want.skipped} already scheduled (skipped)"
    if want.problems:
        report += f"; {plural(len(want.problems), 'invalid row')} skipped"
    assert out == report + "\n"
    assert ids_in(outgoing) == before | set(want.notices)
    for notice_id, (number, recording, due, _, _) in want.notices.items():
        path = outgoing / f"notice-{notice_id}.call"
        call = parse(path.read_text())
        assert (call.channel, call.application, call.data, call.archive, call.caller_id) == \
            (f"Local/{number}@from-internal", "Playback", recording, True, None)
        assert call.variables == (("NOTICE_ID", notice_id), ("NOTICE_NUMBER", number), ("NOTICE_DUE", str(due)))
        assert os.stat(path).st_mtime_ns == due * 10**9
    return want


def outcome(want: Expected) -> str:
    """The kind of case, for hypothesis' statistics (--hypothesis-show-statistics)."""
    if want.whole_file_refused:
        return "file refused whole"
    return f"{'some' if want.notices else 'no'} notices, {'some' if want.problems else 'no'} invalid rows"


def empty_spool(root: Path) -> None:
    for folder in ("outgoing", "outgoing_done"):
        for path in (root / "spool" / folder).iterdir():
            path.unlink()


# --- the tests -------------------------------------------------------------------------------

@FUZZ
@given(file=import_files(), zone=st.sampled_from(ZONES), skip_invalid=st.booleans(),
       later=st.sampled_from([0, 0, 1, 3600, 3 * 86400]), archived=st.sets(st.integers(0, 7)))
def test_import_files(spool_root, file, zone, skip_invalid, later, archived):
    now = time.time()
    try:
        first = check_import(spool_root, file, zone, now, skip_invalid)
        event("import: " + outcome(first))
        if first.whole_file_refused or (first.problems and not skip_invalid):
            return
        # Import it again, later, with some of its notices fired and archived meanwhile.
        for at, notice_id in enumerate(sorted(first.notices)):
            if at in archived:
                name = f"notice-{notice_id}.call"
                os.rename(spool_root / "spool" / "outgoing" / name, spool_root / "spool" / "outgoing_done" / name)
        again = check_import(spool_root, file, zone, now + later, skip_invalid)
        event("again: " + outcome(again))
        if later == 0:
            assert again.notices == {}
        for planned in again.notices.values():  # relative to this run: scheduled anew, as documented
            assert planned.given_id == "" and RELATIVE_TIME.fullmatch(planned.when.strip())
    finally:
        empty_spool(spool_root)


def _iso(instant: float) -> str:
    return datetime.fromtimestamp(instant, timezone.utc).isoformat(timespec="seconds")


def named_rows(now: float) -> list:
    """(attack, number, recording, when, id, valid): the classic attacks by name, one per row,
    and the edges of the rules next to them. Times are read in Europe/Berlin."""
    return [
        ("a valid row", "79991234567", "hello", "2030-01-01 10:00", "", True),
        ("newline in the number", "7999\n1234", "hello", "+1h", "", False),
        ("CR in the number", "7999\r1234", "hello", "+1h", "", False),
        ("NUL in the number", "7999\x001234", "hello", "+1h", "", False),
        ("';' in the number", "79991234567;Application: System", "hello", "+1h", "", False),
        ("' #' in the number", "79991234567 #1", "hello", "+1h", "", False),
        ("shell in the number", "$(reboot)", "hello", "+1h", "", False),
        ("Arabic-Indic digits", "\u0667\u0669\u0669\u0669", "hello", "+1h", "", False),
        ("full-width digits", "\uff17\uff19\uff19\uff19", "hello", "+1h", "", False),
        ("33 digits", "9" * 33, "hello", "+1h", "", False),
        ("32 digits", "9" * 32, "hello", "+2h", "", True),
        ("'+' and 31 digits", "+" + "9" * 31, "hello", "+2h", "", True),
        ("blanks around the number", " 79991234567 ", "hello", "+3h", "", True),
        ("../ in the recording", "79991234567", "../hello", "+1h", "", False),
        ("an absolute recording", "79991234567", "/etc/passwd", "+1h", "", False),
        ("shell in the recording", "79991234567", "hello;rm -rf /", "+1h", "", False),
        ("a recording with its extension", "79991234567", "hello.wav", "+4h", "", True),
        ("prepared 07", "79991234567", "07", "+5h", "", True),
        ("prepared 0", "79991234567", "0", "+1h", "", False),
        ("prepared 1000", "79991234567", "1000", "+1h", "", False),
        ("an Arabic-Indic ordinal", "79991234567", "\u0667", "+1h", "", False),
        ("an over-long recording", "79991234567", "a" * 201, "+1h", "", False),
        ("a leap day", "79991234567", "hello", "2028-02-29 10:00", "", True),
        ("no leap day", "79991234567", "hello", "2027-02-29 10:00", "", False),
        ("the DST gap", "79991234567", "hello", "2030-03-31 02:30", "", False),
        ("the DST fold", "79991234567", "hello", "2030*10*27**02***30", "", True),
        ("the last minute of 9999", "79991234567", "hello", "9999*12*31**23***59", "", True),
        ("after 9999", "79991234567", "hello", "9999-12-31T23:59:59-12:00", "", False),
        ("a second before now", "79991234567", "hello", _iso(now - 1), "", False),
        ("a second after now", "79991234567", "hello", _iso(now + 1), "", True),
        ("newline in the time", "79991234567", "hello", "2030-01-01\n10:00", "", False),
        ("';' in the time", "79991234567", "hello", "2030-01-01 10:00;", "", False),
        ("Arabic-Indic digits in the time", "79991234567", "hello", "\u0662\u0660\u0663\u0660-01-01 10:00", "", False),
        ("full-width digits in the time", "79991234567", "hello", "\uff12\uff10\uff13\uff10-01-01 10:00", "", False),
        ("an id", "79991234567", "hello", "+6h", "clinic-1", True),
        ("the same id again", "79990000001", "hello", "+6h", "clinic-1", False),
        ("../ in the id", "79991234567", "hello", "+6h", "../x", False),
        ("the valid row again", "79991234567", "hello", "2030-01-01 10:00", "", None),  # skipped: repeated
    ]


@pytest.mark.parametrize("end", TERMINATORS)
def test_named_attacks_in_an_import_file(spool_root, end):
    now = time.time()
    rows = named_rows(now)
    file = ImportFile([written(["id", "number", "recording", "when"], csv.QUOTE_MINIMAL, end)] +
                      [written([given, number, recording, when], csv.QUOTE_MINIMAL, end)
                       for _, number, recording, when, given, _ in rows], end)
    lines = [line for line, _ in file.lines()]
    try:
        want = check_import(spool_root, file, "Europe/Berlin", now, True)
        assert want.problems == [line for line, row in zip(lines, rows) if row[-1] is False]
        assert want.skipped == 1 and len(want.notices) == sum(row[-1] is True for row in rows)
        fold = datetime(2030, 10, 27, 0, 30, tzinfo=timezone.utc).timestamp()  # 02:30 CEST, the earlier
        assert fold in {planned.due for planned in want.notices.values()}
        assert check_import(spool_root, file, "Europe/Berlin", now, False).notices == {}
    finally:
        empty_spool(spool_root)
