"""Property-based: a notice's ledger (data_dir/outcomes/<id>.jsonl) of any content, as notice
history and notice show read it. Lines as notice report writes them, with any values it may
write, mixed with lines it never writes (bytes, foreign JSON, its own lines with one value
wrong, brackets nested past the parser's depth) and a last line cut short; each case must end
so:

* every entry notice report wrote is read back exactly, in order, and nothing else;
* notice history's row has the final outcome those entries say (a model of it here);
* notice show gives each attempt's report and every on_failure run exactly, in JSON and as
  text that any UTF-8 terminal prints, one line a run.

Never a traceback. NOTICE_FUZZ_EXAMPLES sets the number of cases (CI: see the Makefile).
"""

import io
import json

import pytest
from hypothesis import given, strategies as st

from notice_cli.callfile import render
from notice_cli.history import with_outcomes
from notice_cli.inventory import find, finished
from notice_cli.notice import Notice, call_file_for, call_file_name
from notice_cli.outcome import OUTCOMES, RETRY, THEN, FailureRun, Report
from notice_cli.outcomes import MAX_TIME, entries_in, entry_line
from notice_cli.output import shown_notice, write_shown
from notice_cli.settings import Settings
from notice_cli.when import UTC, format_due
from strategies import FUZZ, fuzz_root

ID = "r1"
DUE = 4100000000
ARCHIVED = 3  # attempts Asterisk archived, each a call file of its own


@pytest.fixture(scope="module")
def site():
    """A spool whose archive holds the three attempts' files of notice ID, and a data_dir."""
    with fuzz_root() as root:
        settings = Settings(spool_dir=str(root / "spool"), data_dir=str(root / "data"),
                            recordings_dir=str(root / "recordings"), tz=UTC, confirm="key")
        archive = root / "spool" / "outgoing_done"
        archive.mkdir()
        (root / "data" / "outcomes").mkdir(parents=True)
        for attempt in range(1, ARCHIVED + 1):
            text = render(call_file_for(Notice(ID, "79991234567", str(root / "recordings" / "hello"), DUE),
                                        settings, attempt))
            start = DUE + 100 * attempt
            (archive / call_file_name(ID, attempt)).write_text(
                text + f"\nStartRetry: 4242 1 ({start + settings.retry_time})\nStatus: Completed\n")
        yield root, settings


TIMES = st.integers(0, MAX_TIME)
REPORTS = st.builds(Report, TIMES, st.integers(1, ARCHIVED + 2), st.sampled_from(OUTCOMES), st.integers(0, 86400),
                    st.sampled_from(THEN), st.none() | TIMES)
RUNS = st.builds(FailureRun, TIMES, st.text(), st.none() | st.integers(-2**70, 2**70), st.text(max_size=300))
WRONG = {"at": [-1, MAX_TIME + 1, 1.5, "1", None, True], "attempt": [0, 1002, "1"], "outcome": ["x", "", None],
         "played": [-1, 86401, 2.0], "then": ["retry ", "Delivered"], "next_at": [-1, "", MAX_TIME + 1]}


@st.composite
def miswritten(draw):
    """A line of notice report's with one thing wrong: a value, a key more or less, the order."""
    fields = json.loads(entry_line(draw(REPORTS)))
    how = draw(st.sampled_from(["value", "more", "less", "order"]))
    if how == "value":
        key = draw(st.sampled_from(sorted(WRONG)))
        fields[key] = draw(st.sampled_from(WRONG[key]))
    elif how == "more":
        fields["extra"] = 1
    elif how == "less":
        del fields[draw(st.sampled_from(sorted(fields)))]
    else:
        fields = dict(reversed(list(fields.items())))
    return json.dumps(fields).encode()


JUNK = st.one_of(
    st.binary(max_size=200), st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.recursive(st.none() | st.integers() | st.text(max_size=5), lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.text(max_size=5), inner, max_size=3)).map(lambda value: json.dumps(value).encode()),
    miswritten(), st.integers(1, 300_000).map(lambda depth: b"[" * depth),
    st.just(b'{"at": "' + b"x" * 3_000_000 + b'"}'),
).map(lambda line: line.replace(b"\n", b" "))
PIECES = st.lists(st.one_of(REPORTS, RUNS, JUNK), max_size=10)


def model(reports: list) -> tuple:
    """(result, outcome) of notice ID by its REPORTS: the first of the latest attempt decides,
    unless no report is of the latest archived file's attempt or later."""
    if not reports:
        return "unknown", "unreported"
    latest = max(report.attempt for report in reports)
    last = next(report for report in reports if report.attempt == latest)
    if latest < ARCHIVED:
        return "unknown", "unreported"
    return ("pending", None) if last.then == RETRY else (last.then, last.outcome)


@FUZZ
@given(pieces=PIECES, cut=st.integers(0, 80))
def test_any_ledger_is_read_exactly_or_skipped_never_a_crash(site, pieces, cut):
    root, settings = site
    lines = [piece if isinstance(piece, bytes) else entry_line(piece).rstrip(b"\n") for piece in pieces]
    data = b"".join(line + b"\n" for line in lines)
    written = [piece for piece in pieces if not isinstance(piece, bytes)]
    if cut and lines:  # the last line cut short by a crash: no line feed, so not read
        data = data[:-1][:len(data) - 1 - cut % (len(lines[-1]) + 1)]
        written = written[:-1] if not isinstance(pieces[-1], bytes) else written
    (root / "data" / "outcomes" / f"{ID}.jsonl").write_bytes(data)

    assert entries_in(data) == written
    reports = [entry for entry in written if isinstance(entry, Report)]
    runs = [entry for entry in written if isinstance(entry, FailureRun)]
    [(_, row)] = with_outcomes(finished(settings), settings.data_dir)
    assert (row.result, row.final, row.attempts) == (*model(reports), ARCHIVED)

    shown = shown_notice(find(settings, ID), settings)
    assert (shown["result"], shown["outcome"]) == model(reports)
    assert shown["on_failure"] == [{"at": format_due(run.at, UTC), "program": run.program, "exit": run.exit,
                                    "output": run.output} for run in runs]
    first = {}
    for report in reports:
        first.setdefault(report.attempt, report)
    logged = {entry["attempt"]: entry for entry in shown["attempt_log"]}
    assert set(logged) == set(first) | set(range(1, ARCHIVED + 1))
    for attempt, report in first.items():
        assert (logged[attempt]["outcome"], logged[attempt]["played"], logged[attempt]["then"],
                logged[attempt]["next_call"]) == (report.outcome, report.played, report.then,
                                                  None if report.next_at is None else format_due(report.next_at, UTC))
    for form in ("json", "table"):
        out = io.StringIO()
        write_shown(shown, form, out)
        out.getvalue().encode("utf-8")  # what a terminal or a pipe takes
        if form == "json":
            assert json.loads(out.getvalue()) == shown
        else:
            assert sum(line.startswith("  on_failure, ") for line in out.getvalue().split("\n")) == len(runs)
