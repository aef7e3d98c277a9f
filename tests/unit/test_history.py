"""What users read of delivery outcomes, in direct delivery, through CliRunner on a fake spool:
notice history one row per notice however many attempts' call files Asterisk archived, its
final outcome (from the ledger in reported delivery, from Asterisk's Status in Playback's),
--outcome, --summary; notice show with every attempt, what followed it and on_failure's runs;
notice list of a later attempt's file; and ledgers of any content, shown exactly or skipped.
Queue delivery's side is in test_history_queue.py."""

import json
import os
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from fakespool import ARCHIVE, OUTGOING, PREPARED_DIR, RECORDINGS
from notice_cli import cli
from notice_cli.callfile import render
from notice_cli.history import CHOICES, Summary
from notice_cli.notice import Notice, call_file_for, call_file_name
from notice_cli.outcome import FailureRun, Report
from notice_cli.outcomes import entry_line
from notice_cli.settings import Settings

CLIENT, OTHER = "79991234567", "79990000001"
DATA = "/var/lib/notice-cli"
RETRY_TIME = 60


def at(*args) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp())


def iso(moment: int) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat()


D1, D2, D3, D4, D5, D6 = (at(2099, 12, 1, hour) for hour in (9, 10, 11, 12, 13, 14))


@pytest.fixture
def spool(command_spool, monkeypatch):
    """command_spool with prepared recording 3, data_dir, and a config file of reported
    delivery (confirm = key) that turns syslog off."""
    command_spool.create_file(PREPARED_DIR + "/3.wav", contents=b"RIFF")
    command_spool.create_dir(DATA)
    monkeypatch.setenv("NOTICE_CONFIG", "/etc/notice-test.conf")
    command_spool.create_file("/etc/notice-test.conf", contents=(
        f"[notice]\nsyslog_facility = none\nconfirm = key\nretry_time = {RETRY_TIME}\nmax_retries = 2\n"))
    return command_spool


def run(*args):
    return CliRunner().invoke(cli.notice, list(args), prog_name="notice")


def call_file(notice_id, attempt=1, due=D1, folder=OUTGOING, tail="", mtime=None, number=CLIENT, reported=True):
    """The call file of ATTEMPT of a notice as notice-cli writes it (reported delivery, or
    Playback's), with TAIL appended as Asterisk appends it, its mtime MTIME (or DUE)."""
    settings = Settings(retry_time=RETRY_TIME, confirm="key" if reported else "none")
    text = render(call_file_for(Notice(notice_id, number, RECORDINGS + "/prepared/3", due), settings, attempt))
    path = f"{folder}/{call_file_name(notice_id, attempt)}"
    os.makedirs(folder, exist_ok=True)
    with open(path, "w") as stream:
        stream.write(text + tail)
    os.utime(path, (mtime or due, mtime or due))
    return path


def archived(notice_id, attempt, started, status, due=D1, number=CLIENT, reported=True):
    """Attempt ATTEMPT, begun at STARTED, as Asterisk archives it with STATUS."""
    tail = f"\nStartRetry: 4242 1 ({started + RETRY_TIME})\nStatus: {status}\n"
    return call_file(notice_id, attempt, due, ARCHIVE, tail, started + 30, number, reported)


def ledger(notice_id, *entries, raw=b""):
    """NOTICE_ID's ledger with ENTRIES as notice report writes them, then RAW bytes."""
    os.makedirs(f"{DATA}/outcomes", exist_ok=True)
    with open(f"{DATA}/outcomes/{notice_id}.jsonl", "ab") as stream:
        stream.write(b"".join(map(entry_line, entries)) + raw)


RUN = FailureRun(D2 + 200, "/usr/local/bin/page-operator", 1, "paged ops\nticket 42 \x1b[31m")


@pytest.fixture
def outcomes(spool):
    """Finished notices of each kind:
    r-confirmed  busy, then hung up after 4 s, then confirmed: delivered on the third call
    r-busy       busy three times: not delivered, on_failure run
    r-pending    heard, called again (retry_on has heard): its second call file waits in outgoing/
    r-unreported archived with no report (no [notice-deliver] in the dialplan)
    p-answered, p-expired   Playback delivery: Completed and Expired
    """
    archived("r-confirmed", 1, D1, "Expired")
    archived("r-confirmed", 2, D1 + 90, "Completed")
    archived("r-confirmed", 3, D1 + 160, "Completed")
    ledger("r-confirmed", Report(D1 + 30, 1, "busy", 0, "retry", D1 + 90),
           Report(D1 + 100, 2, "hung_up", 4, "retry", D1 + 160), Report(D1 + 200, 3, "confirmed", 21, "delivered"))
    for attempt in (1, 2, 3):
        archived("r-busy", attempt, D2 + 90 * (attempt - 1), "Expired", due=D2, number=OTHER)
    ledger("r-busy", Report(D2 + 30, 1, "busy", 0, "retry", D2 + 90), Report(D2 + 120, 2, "busy", 0, "retry", D2 + 180),
           Report(D2 + 190, 3, "busy", 0, "not delivered"), RUN)
    archived("r-pending", 1, D3, "Completed", due=D3)
    ledger("r-pending", Report(D3 + 40, 1, "heard", 30, "retry", D3 + 100))
    call_file("r-pending", 2, due=D3, mtime=D3 + 100)
    archived("r-unreported", 1, D4, "Completed", due=D4)
    archived("p-answered", 1, D5, "Completed", due=D5, reported=False)
    archived("p-expired", 1, D6, "Expired", due=D6, number=OTHER, reported=False)
    return spool


HISTORY = f"""\
ID            DUE                        NUMBER       RESULT         OUTCOME     ATTEMPTS  LAST_ATTEMPT               STATUS
r-confirmed   2099-12-01T09:00:00+00:00  79991234567  delivered      confirmed   3         {iso(D1 + 160)}  Completed
r-busy        2099-12-01T10:00:00+00:00  79990000001  not delivered  busy        3         {iso(D2 + 180)}  Expired
r-pending     2099-12-01T11:00:00+00:00  79991234567  pending        -           1         {iso(D3)}  Completed
r-unreported  2099-12-01T12:00:00+00:00  79991234567  unknown        unreported  1         {iso(D4)}  Completed
p-answered    2099-12-01T13:00:00+00:00  79991234567  unknown        answered    1         {iso(D5)}  Completed
p-expired     2099-12-01T14:00:00+00:00  79990000001  not delivered  unanswered  1         {iso(D6)}  Expired
"""


def ids(*args):
    result = run("history", "--json", *args)
    assert result.exit_code == 0, result.output
    return [row["id"] for row in json.loads(result.stdout)]


# --- notice history ------------------------------------------------------------------------------

def test_history_has_one_row_per_notice_with_its_final_outcome(outcomes):
    result = run("history")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == HISTORY


def test_history_json_and_csv_carry_the_same_rows(outcomes):
    rows = json.loads(run("history", "--json").stdout)
    assert rows[0] == {"id": "r-confirmed", "due": iso(D1), "number": CLIENT, "result": "delivered",
                       "outcome": "confirmed", "attempts": 3, "last_attempt": iso(D1 + 160), "status": "Completed"}
    assert [(row["result"], row["outcome"]) for row in rows] == [
        ("delivered", "confirmed"), ("not delivered", "busy"), ("pending", None), ("unknown", "unreported"),
        ("unknown", "answered"), ("not delivered", "unanswered")]
    assert run("history", "--csv").stdout.splitlines()[2:4] == [
        f"r-busy,{iso(D2)},{OTHER},not delivered,busy,3,{iso(D2 + 180)},Expired",
        f"r-pending,{iso(D3)},{CLIENT},pending,,1,{iso(D3)},Completed"]


def test_an_attempt_archived_after_a_report_that_asked_for_it_and_without_its_own_is_unreported(outcomes):
    archived("r-pending", 2, D3 + 100, "Completed", due=D3)
    os.unlink(f"{OUTGOING}/notice-r-pending.2.call")
    assert json.loads(run("history", "--json", "--number", CLIENT, "--since", iso(D3), "--until", iso(D4)).stdout) == [
        {"id": "r-pending", "due": iso(D3), "number": CLIENT, "result": "unknown", "outcome": "unreported",
         "attempts": 2, "last_attempt": iso(D3 + 100), "status": "Completed"}]
    ledger("r-pending", Report(D3 + 130, 2, "heard", 30, "not delivered"))  # retry_on has heard: no retry left
    assert json.loads(run("history", "--json", "--since", iso(D3), "--until", iso(D4)).stdout)[0]["outcome"] == "heard"


def test_heard_is_not_delivered_when_retry_on_names_it_and_the_retries_are_spent(spool):
    archived("r-heard", 1, D1, "Completed")
    ledger("r-heard", Report(D1 + 40, 1, "heard", 30, "not delivered"))
    archived("r-machine", 1, D2, "Completed", due=D2)
    ledger("r-machine", Report(D2 + 40, 1, "machine", 3, "not delivered"))
    archived("r-voicemail", 1, D3, "Completed", due=D3)
    ledger("r-voicemail", Report(D3 + 40, 1, "voicemail", 30, "not delivered"))
    assert [(row["result"], row["outcome"]) for row in json.loads(run("history", "--json").stdout)] == [
        ("not delivered", "heard"), ("not delivered", "machine"), ("not delivered", "voicemail")]


def test_a_file_of_playback_delivery_named_for_an_attempt_joins_its_notice(spool):
    """A notice is one row even with a hand-made file among its attempts' files."""
    archived("r-mixed", 1, D1, "Expired", reported=False)
    call_file("r-mixed", 2, folder=ARCHIVE, tail="Status: Failed\n", reported=False)
    assert json.loads(run("history", "--json").stdout) == [
        {"id": "r-mixed", "due": iso(D1), "number": CLIENT, "result": "unknown", "outcome": "unreported",
         "attempts": 1, "last_attempt": None, "status": "Failed"}]


@pytest.mark.parametrize("args, expected", [
    (["--outcome", "delivered"], ["r-confirmed"]),
    (["--outcome", "not-delivered"], ["r-busy", "p-expired"]),
    (["--outcome", "not delivered"], ["r-busy", "p-expired"]),
    (["--outcome", "pending"], ["r-pending"]),
    (["--outcome", "unknown"], ["r-unreported", "p-answered"]),
    (["--outcome", "confirmed", "--outcome", "busy"], ["r-confirmed", "r-busy"]),
    (["--outcome", "unreported"], ["r-unreported"]),
    (["--outcome", "answered", "--outcome", "unanswered"], ["p-answered", "p-expired"]),
    (["--outcome", "heard"], []),
    (["--outcome", "not-delivered", "--number", OTHER, "--since", "2099-12-01 12:00"], ["p-expired"]),
])
def test_history_outcome_filter(outcomes, args, expected):
    assert ids(*args) == expected


@pytest.mark.parametrize("word", ["Delivered", "not_delivered", "Completed", "hungup", "", "pending,busy"])
def test_an_outcome_word_not_known_is_refused_in_one_line_with_exit_3(outcomes, word):
    result = run("history", "--outcome", word)
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == (f"notice history: error: outcome {word!r} is not one of " + ", ".join(CHOICES) + "\n")


def test_every_word_the_help_names_is_a_choice():
    help_text = " ".join(run("history", "--help").stdout.split())
    assert all(word in help_text for word in CHOICES)


# --- notice history --summary ----------------------------------------------------------------------

def test_summary_counts_each_final_outcome_and_the_totals(outcomes):
    result = run("history", "--summary")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == """\
RESULT         OUTCOME     NOTICES
delivered      confirmed   1
not delivered  busy        1
not delivered  unanswered  1
pending        -           1
unknown        answered    1
unknown        unreported  1

delivered      1
not delivered  2
pending        1
unknown        2
all            6
"""


def test_summary_of_a_range_in_json(outcomes):
    result = run("history", "--summary", "--json", "--since", "2099-12-01 10:00", "--until", "2099-12-01 13:00")
    assert json.loads(result.stdout) == {
        "since": iso(D2), "until": iso(D5), "notices": 3,
        "results": {"delivered": 0, "not delivered": 1, "pending": 1, "unknown": 1},
        "outcomes": [{"result": "not delivered", "outcome": "busy", "notices": 1},
                     {"result": "pending", "outcome": None, "notices": 1},
                     {"result": "unknown", "outcome": "unreported", "notices": 1}]}


def test_summary_of_what_a_filter_keeps_and_of_nothing(outcomes):
    assert json.loads(run("history", "--summary", "--json", "--outcome", "delivered").stdout)["notices"] == 1
    assert run("history", "--summary", "--number", "70000000000").stdout == (
        "RESULT  OUTCOME  NOTICES\n\ndelivered      0\nnot delivered  0\npending        0\nunknown        0\nall            0\n")
    assert json.loads(run("history", "--summary", "--json", "--until", "2000-01-01").stdout) == {
        "since": None, "until": "2000-01-01T00:00:00+00:00", "notices": 0,
        "results": {"delivered": 0, "not delivered": 0, "pending": 0, "unknown": 0}, "outcomes": []}


def test_summary_orders_results_then_outcomes_whatever_the_rows_order():
    class Row:
        def __init__(self, result, final):
            self.result, self.final = result, final

    rows = [(0, Row("unknown", "answered")), (0, Row("delivered", "heard")), (0, Row("not delivered", "heard")),
            (0, Row("delivered", "confirmed")), (0, Row("delivered", "heard"))]
    summary = Summary.of(rows, None, None)
    assert summary.outcomes == ((("delivered", "confirmed"), 1), (("delivered", "heard"), 2),
                                (("not delivered", "heard"), 1), (("unknown", "answered"), 1))
    assert (summary.results, summary.notices) == (
        {"delivered": 3, "not delivered": 1, "pending": 0, "unknown": 1}, 5)


@pytest.mark.parametrize("args, message", [
    (["--summary", "--csv"], "--summary prints a table, or JSON with --json"),
    (["--prune-before", "2099-12-02", "--outcome", "busy"], "--prune-before deletes by archive time alone"),
    (["--prune-before", "2099-12-02", "--summary"], "--prune-before deletes by archive time alone"),
])
def test_summary_and_outcome_refuse_what_they_cannot_do_with_exit_2(outcomes, args, message):
    result = run("history", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert len(os.listdir(ARCHIVE)) == 10


# --- notice list ---------------------------------------------------------------------------------

def test_list_shows_a_later_attempts_file_retrying_at_its_time_with_the_calls_made(outcomes):
    call_file("r-first", due=D4)
    assert json.loads(run("list", "--json").stdout) == [
        {"id": "r-pending", "due": iso(D3 + 100), "number": CLIENT, "recording": "prepared/3", "attempts": 1,
         "state": "retrying"},
        {"id": "r-first", "due": iso(D4), "number": CLIENT, "recording": "prepared/3", "attempts": 0,
         "state": "pending"}]
    with open(f"{OUTGOING}/notice-r-pending.2.call", "a") as stream:
        stream.write(f"\nStartRetry: 4242 1 ({D3 + 100 + RETRY_TIME})\n")
    assert run("list", "--csv", "--number", CLIENT).stdout.splitlines()[1] == (
        f"r-pending,{iso(D3 + 100)},{CLIENT},prepared/3,2,calling")


# --- notice show ---------------------------------------------------------------------------------

def test_show_tells_every_attempt_and_what_followed_it(outcomes):
    result = run("show", "r-confirmed")
    assert (result.exit_code, result.stderr) == (0, "")
    head, fields = result.stdout.split("call file:\n")
    assert head == f"""\
id         r-confirmed
state      finished: Completed
outcome    delivered: confirmed
number     79991234567
recording  prepared/3
due        {iso(D1)}
attempts   3 of 3
file       {ARCHIVE}/notice-r-confirmed.3.call
  attempt 1: {iso(D1)}, ended {iso(D1 + 30)}: busy, 0 s of the message played; called again at {iso(D1 + 90)}
  attempt 2: {iso(D1 + 90)}, ended {iso(D1 + 100)}: hung_up, 4 s of the message played; called again at {iso(D1 + 160)}
  attempt 3: {iso(D1 + 160)}, ended {iso(D1 + 200)}: confirmed, 21 s of the message played; the end: delivered
"""
    assert "  Context: notice-deliver\n" in fields and "  Setvar: NOTICE_ATTEMPT=3\n" in fields


def test_show_json_of_a_notice_not_delivered_with_its_on_failure_run(outcomes):
    shown = json.loads(run("show", "--json", "r-busy").stdout)
    assert {key: shown[key] for key in shown if key not in ("fields", "attempt_log")} == {
        "id": "r-busy", "state": "finished", "result": "not delivered", "outcome": "busy", "status": "Expired",
        "number": OTHER, "recording": "prepared/3", "due": iso(D2), "next_call": None, "attempts": 3,
        "max_attempts": 3, "file": f"{ARCHIVE}/notice-r-busy.3.call",
        "on_failure": [{"at": iso(D2 + 200), "program": "/usr/local/bin/page-operator", "exit": 1,
                        "output": "paged ops\nticket 42 \x1b[31m"}]}
    assert shown["attempt_log"][2] == {
        "attempt": 3, "started": iso(D2 + 180), "ended": iso(D2 + 190),
        "result": "busy, 0 s of the message played; the end: not delivered", "outcome": "busy", "played": 0,
        "then": "not delivered", "next_call": None}
    assert [entry["next_call"] for entry in shown["attempt_log"]] == [iso(D2 + 90), iso(D2 + 180), None]
    text = run("show", "r-busy").stdout
    # the output as a Python literal: one line, whatever the program printed
    assert (f"  on_failure, {iso(D2 + 200)}: /usr/local/bin/page-operator exited 1; "
            "output 'paged ops\\nticket 42 \\x1b[31m'\n") in text
    assert "\x1b" not in text


def test_show_finds_the_file_of_the_attempt_waiting_in_outgoing(outcomes):
    result = run("show", "r-pending")
    assert result.exit_code == 0
    assert result.stdout.split("call file:\n")[0] == f"""\
id         r-pending
state      retrying
outcome    pending
number     79991234567
recording  prepared/3
due        {iso(D3)}
next call  {iso(D3 + 100)}
attempts   1 of 3
file       {OUTGOING}/notice-r-pending.2.call
  attempt 1: {iso(D3)}, ended {iso(D3 + 40)}: heard, 30 s of the message played; called again at {iso(D3 + 100)}
"""


def test_show_while_the_later_attempt_calls_and_once_it_has_reported(outcomes):
    with open(f"{OUTGOING}/notice-r-pending.2.call", "a") as stream:
        stream.write(f"\nStartRetry: 4242 1 ({D3 + 100 + RETRY_TIME})\n")
    shown = json.loads(run("show", "--json", "r-pending").stdout)
    assert (shown["state"], shown["result"], shown["attempts"], shown["attempt_log"][1]["result"]) == (
        "calling", "pending", 2, "calling now")
    # reported, and not archived yet (pbx_spool waits for the dialplan to end)
    ledger("r-pending", Report(D3 + 150, 2, "confirmed", 30, "delivered"))
    shown = json.loads(run("show", "--json", "r-pending").stdout)
    assert (shown["state"], shown["result"], shown["outcome"]) == ("calling", "delivered", "confirmed")


def test_show_of_a_notice_archived_without_a_report(outcomes):
    lines = run("show", "r-unreported").stdout.splitlines()
    why = "the call ended without a report: is [notice-deliver] in the dialplan?"
    assert lines[2] == f"outcome    unknown: unreported ({why})"
    assert lines[8] == f"  attempt 1: {iso(D4)}: ended without a report: is [notice-deliver] in the dialplan?"


def test_show_of_attempts_whose_files_were_pruned_tells_them_from_the_ledger(outcomes):
    os.unlink(f"{ARCHIVE}/notice-r-confirmed.call")
    log = json.loads(run("show", "--json", "r-confirmed").stdout)["attempt_log"]
    assert [(entry["attempt"], entry["started"], entry["outcome"]) for entry in log] == [
        (1, None, "busy"), (2, iso(D1 + 90), "hung_up"), (3, iso(D1 + 160), "confirmed")]


def test_show_finds_the_latest_attempt_even_when_the_ledger_does_not_name_it(outcomes):
    os.unlink(f"{DATA}/outcomes/r-confirmed.jsonl")
    shown = json.loads(run("show", "--json", "r-confirmed").stdout)
    assert (shown["file"], shown["result"], shown["outcome"]) == (
        f"{ARCHIVE}/notice-r-confirmed.3.call", "unknown", "unreported")
    assert [entry["outcome"] for entry in shown["attempt_log"]] == ["unreported"] * 3


def test_show_of_a_playback_notice_reads_no_ledger(outcomes):
    os.makedirs(f"{DATA}/outcomes/p-expired.jsonl")  # a ledger that could not be read: not read at all
    shown = json.loads(run("show", "--json", "p-expired").stdout)
    assert (shown["result"], shown["outcome"], shown["status"], shown["on_failure"]) == (
        "not delivered", "unanswered", "Expired", [])


# --- ledgers of any content --------------------------------------------------------------------------

HOSTILE = [
    b"{\"at\": 4100000000, \"attempt\": 1, \"outcome\": \"conf",  # cut short by a crash: no line feed
    b"not json\n",
    b"\xff\xfe\x00\n",
    b"{\"foreign\": true}\n",
    b"[" * 200_000 + b"\n",
    b"{\"at\": \"" + b"x" * 5_000_000 + b"\"}\n",  # a huge line
    b"{\"at\": 1, \"attempt\": 1, \"outcome\": \"delivered\", \"played\": 0, \"then\": \"delivered\", \"next_at\": null}\n",
    b"{\"at\": 1e3, \"attempt\": 1, \"outcome\": \"busy\", \"played\": 0, \"then\": \"retry\", \"next_at\": null}\n",
    b"\n\n",
]


@pytest.mark.parametrize("raw", HOSTILE)
def test_a_line_the_reporter_never_writes_is_skipped_and_the_rest_shown(outcomes, raw):
    """Before, between and after the lines notice report wrote, in both notices' ledgers."""
    shown_before = json.loads(run("show", "--json", "r-busy").stdout)
    for notice_id in ("r-confirmed", "r-busy"):
        path = f"{DATA}/outcomes/{notice_id}.jsonl"
        with open(path, "rb") as stream:
            lines = stream.read().splitlines(True)
        with open(path, "wb") as stream:
            stream.write(raw.rstrip(b"\n") + b"\n" + lines[0] + raw.rstrip(b"\n") + b"\n" + b"".join(lines[1:]) + raw)
    result = run("history")
    assert (result.exit_code, result.stdout) == (0, HISTORY)
    assert json.loads(run("show", "--json", "r-busy").stdout) == shown_before
    assert run("history", "--summary").exit_code == 0


def test_a_report_cut_short_is_not_taken_and_the_attempt_before_decides(outcomes):
    line = entry_line(Report(D3 + 130, 2, "confirmed", 30, "delivered"))
    ledger("r-pending", raw=line[:-1])
    assert ids("--outcome", "pending") == ["r-pending"]
    ledger("r-pending", raw=b"\n" + line)  # the next report starts on a line of its own (outcomes.Ledger)
    assert ids("--outcome", "confirmed") == ["r-confirmed", "r-pending"]


def test_any_value_of_a_well_formed_line_is_shown_exactly(spool):
    archived("r-odd", 1, D1, "Completed")
    output = "".join(map(chr, range(0, 0x80))) + "\u2028\U0001f4de" + "é" * 3000
    ledger("r-odd", Report(D1 + 40, 1, "hung_up", 86400, "not delivered"),
           FailureRun(10**12 - 1, "/x y/\"quoted\"\n", -9, output), FailureRun(D1 + 50, "/bin/true", None, ""))
    shown = json.loads(run("show", "--json", "r-odd").stdout)
    assert shown["on_failure"] == [
        {"at": "33658-09-27T01:46:39+00:00", "program": "/x y/\"quoted\"\n", "exit": -9, "output": output},
        {"at": iso(D1 + 50), "program": "/bin/true", "exit": None, "output": ""}]
    assert shown["attempt_log"][0]["played"] == 86400
    text = run("show", "r-odd").stdout
    assert f"  on_failure, {iso(D1 + 50)}: /bin/true did not finish; output ''\n" in text
    assert f"  on_failure, 33658-09-27T01:46:39+00:00: '/x y/\"quoted\"\\n' exited -9; output {output!r}\n" in text


@pytest.mark.parametrize("command", [["history"], ["show", "r-busy"], ["history", "--summary"]])
def test_a_ledger_that_cannot_be_read_is_one_line_and_exit_4(outcomes, command):
    os.unlink(f"{DATA}/outcomes/r-busy.jsonl")
    os.mkdir(f"{DATA}/outcomes/r-busy.jsonl")
    result = run(*command)
    assert (result.exit_code, result.stdout) == (4, "")
    assert result.stderr.startswith(f"notice {command[0]}: error: ") and result.stderr.count("\n") == 1
    assert f"{DATA}/outcomes/r-busy.jsonl" in result.stderr


# --- what notice report keeps, read back ----------------------------------------------------------

def asterisk_archives(name, status):
    """pbx_spool's end of a call file: renamed into outgoing_done/, then its Status line."""
    os.makedirs(ARCHIVE, exist_ok=True)
    os.rename(f"{OUTGOING}/{name}", f"{ARCHIVE}/{name}")
    with open(f"{ARCHIVE}/{name}", "a") as stream:
        stream.write(f"Status: {status}\n")


def asterisk_begins(name, started):
    with open(f"{OUTGOING}/{name}", "a") as stream:
        stream.write(f"\nStartRetry: 4242 1 ({started + RETRY_TIME})\n")


def test_history_show_and_list_follow_what_notice_report_keeps(spool):
    call_file("r-live", due=D1)
    asterisk_begins("notice-r-live.call", D1)
    reported = run("report", "r-live", "1", "busy", "0")
    assert reported.exit_code == 0, reported.output
    asterisk_archives("notice-r-live.call", "Expired")
    assert [(row["result"], row["outcome"], row["attempts"]) for row in json.loads(run("history", "--json").stdout)] == [
        ("pending", None, 1)]
    assert [(row["id"], row["state"], row["attempts"]) for row in json.loads(run("list", "--json").stdout)] == [
        ("r-live", "retrying", 1)]
    shown = json.loads(run("show", "--json", "r-live").stdout)
    assert (shown["file"], shown["attempt_log"][0]["outcome"]) == (f"{OUTGOING}/notice-r-live.2.call", "busy")
    asterisk_begins("notice-r-live.2.call", D1 + 100)
    assert run("report", "r-live", "2", "confirmed", "12").exit_code == 0
    asterisk_archives("notice-r-live.2.call", "Completed")
    assert [(row["result"], row["outcome"], row["attempts"], row["status"])
            for row in json.loads(run("history", "--json").stdout)] == [("delivered", "confirmed", 2, "Completed")]
    assert run("list", "--json").stdout == "[]\n"
    log = json.loads(run("show", "--json", "r-live").stdout)["attempt_log"]
    assert [(entry["attempt"], entry["outcome"], entry["played"], entry["then"]) for entry in log] == [
        (1, "busy", 0, "retry"), (2, "confirmed", 12, "delivered")]
