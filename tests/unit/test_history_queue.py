"""What users read of delivery outcomes in queue delivery, on real folders (SQLite cannot run on
pyfakefs): notice history merges Asterisk's archive with the queue's missed, one row per
notice of reported delivery whichever attempt was missed; notice show and notice list find a
later attempt waiting in the queue or its inbox. Direct delivery's side is test_history.py."""

import json
import os
import time

import pytest
from click.testing import CliRunner

from queuesite import QueueSite
from notice_cli import cli, queue
from notice_cli.callfile import render
from notice_cli.notice import Notice, call_file_for, call_file_name
from notice_cli.outcome import Report
from notice_cli.outcomes import entry_line
from notice_cli.settings import Settings

CLIENT = "79991234567"
RETRY_TIME = 60
DUE = 4081734480  # 2099-05-06 07:08 UTC


@pytest.fixture
def site(tmp_path_factory, monkeypatch):
    """A QueueSite in reported delivery (confirm = key) whose environment CliRunner's commands see."""
    site = QueueSite(tmp_path_factory.mktemp("queue"))
    site.env.update(NOTICE_CONFIRM="key", NOTICE_RETRY_TIME=str(RETRY_TIME))
    site.seen_by_commands(monkeypatch)
    yield site
    site.close()


def run(*args):
    return CliRunner().invoke(cli.notice, list(args), prog_name="notice")


def iso(moment: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(moment))


def attempt_text(site, notice_id, attempt, due=DUE):
    settings = Settings(retry_time=RETRY_TIME, confirm="key")
    return render(call_file_for(Notice(notice_id, CLIENT, str(site.recordings / "hello"), due), settings, attempt))


def archived_first(site, notice_id, status="Completed", due=DUE):
    """Attempt 1 of NOTICE_ID as Asterisk archived it, begun at DUE."""
    path = site.archive / call_file_name(notice_id)
    path.write_text(attempt_text(site, notice_id, 1, due) + f"\nStartRetry: 4242 1 ({due + RETRY_TIME})\n"
                    f"Status: {status}\n")
    os.utime(path, (due + 30, due + 30))


def ledger(site, notice_id, *reports):
    folder = site.data_dir / "outcomes"
    folder.mkdir(exist_ok=True)
    with open(folder / f"{notice_id}.jsonl", "ab") as stream:
        stream.write(b"".join(map(entry_line, reports)))


def queue_second(site, notice_id, at, state=queue.QUEUED):
    """The queue's row of NOTICE_ID holding its second attempt's call file, due AT, in STATE."""
    site.enqueue(queue.Queued(notice_id, CLIENT, str(site.recordings / "hello"), at,
                              attempt_text(site, notice_id, 2)))
    if state != queue.QUEUED:
        connection = queue.open_queue(str(site.data_dir))
        try:
            assert queue.mark(connection, notice_id, state, at + 3600, "late")
        finally:
            connection.close()


@pytest.fixture
def attempts(site):
    """r-missed: hung up, called again, that call missed by the engine; r-queued: busy, its
    second call queued; r-inbox: busy, its second call still in the inbox; r-heard: heard."""
    archived_first(site, "r-missed")
    ledger(site, "r-missed", Report(DUE + 40, 1, "hung_up", 3, "retry", DUE + 100))
    queue_second(site, "r-missed", DUE + 100, queue.MISSED)
    archived_first(site, "r-queued", "Expired", DUE + 600)
    ledger(site, "r-queued", Report(DUE + 630, 1, "busy", 0, "retry", DUE + 700))
    queue_second(site, "r-queued", DUE + 700)
    archived_first(site, "r-inbox", "Expired", DUE + 1200)
    ledger(site, "r-inbox", Report(DUE + 1230, 1, "busy", 0, "retry", DUE + 1300))
    site.inbox.mkdir()
    inbox_file = site.inbox / call_file_name("r-inbox", 2)
    inbox_file.write_text(attempt_text(site, "r-inbox", 2, DUE + 1200))
    os.utime(inbox_file, (DUE + 1300, DUE + 1300))
    archived_first(site, "r-heard", due=DUE + 1800)
    ledger(site, "r-heard", Report(DUE + 1840, 1, "heard", 30, "delivered"))
    return site


def test_history_merges_the_archive_with_the_queues_missed_one_row_a_notice(attempts):
    rows = json.loads(run("history", "--json").stdout)
    assert rows == [
        {"id": "r-missed", "due": iso(DUE), "number": CLIENT, "result": "not delivered", "outcome": "missed",
         "attempts": 1, "last_attempt": None, "status": "Missed"},
        {"id": "r-queued", "due": iso(DUE + 600), "number": CLIENT, "result": "pending", "outcome": None,
         "attempts": 1, "last_attempt": iso(DUE + 600), "status": "Expired"},
        {"id": "r-inbox", "due": iso(DUE + 1200), "number": CLIENT, "result": "pending", "outcome": None,
         "attempts": 1, "last_attempt": iso(DUE + 1200), "status": "Expired"},
        {"id": "r-heard", "due": iso(DUE + 1800), "number": CLIENT, "result": "delivered", "outcome": "heard",
         "attempts": 1, "last_attempt": iso(DUE + 1800), "status": "Completed"}]
    assert [row["id"] for row in json.loads(run("history", "--json", "--outcome", "missed").stdout)] == ["r-missed"]
    summary = json.loads(run("history", "--summary", "--json", "--until", iso(DUE + 1000)).stdout)
    assert (summary["notices"], summary["results"]["not delivered"], summary["results"]["pending"]) == (2, 1, 1)


def test_show_finds_the_later_attempt_in_the_queue_and_in_the_inbox(attempts):
    queued = json.loads(run("show", "--json", "r-queued").stdout)
    assert {key: queued[key] for key in ("state", "result", "outcome", "next_call", "attempts", "file")} == {
        "state": "queued", "result": "pending", "outcome": None, "next_call": iso(DUE + 700), "attempts": 1,
        "file": str(attempts.queue_file)}
    assert [(entry["attempt"], entry["result"]) for entry in queued["attempt_log"]] == [
        (1, f"busy, 0 s of the message played; called again at {iso(DUE + 700)}")]
    assert ["Setvar", "NOTICE_ATTEMPT=2"] in queued["fields"]
    inbox = json.loads(run("show", "--json", "r-inbox").stdout)
    assert (inbox["state"], inbox["next_call"], inbox["attempt_log"][0]["outcome"]) == (
        "queued", iso(DUE + 1300), "busy")
    assert ["Setvar", "NOTICE_ATTEMPT=2"] in inbox["fields"]
    missed = run("show", "r-missed")
    assert missed.exit_code == 0
    assert "state      finished: Missed\noutcome    not delivered: missed\n" in missed.stdout
    assert f"  attempt 1: {iso(DUE)}, ended {iso(DUE + 40)}: hung_up, 3 s of the message played" in missed.stdout


def test_list_shows_a_queued_later_attempt_at_the_queues_time(attempts):
    rows = json.loads(run("list", "--json", "--since", iso(DUE + 650), "--until", iso(DUE + 750)).stdout)
    assert rows == [{"id": "r-queued", "due": iso(DUE + 700), "number": CLIENT, "recording": "hello",
                     "attempts": 1, "state": "queued"}]
