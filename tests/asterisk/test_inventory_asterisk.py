"""Issue 5 on a real Asterisk: schedule notices, list them, cancel one before it fires (it must
not fire), let the others complete or expire, and check that `notice history` reports exactly
what Asterisk did -- the outcome, the number of calls the phones received, the last one's time.

The `notice` console script is run as an admin runs it, with the sandbox's spool in its
environment.
"""

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from harness import iso, whole_second_ahead

CLIENT = "PJSIP/{number}@client"
BUSY = "PJSIP/{number}@busy"
RETRIES, RETRY_TIME = 1, 2


def notice_command() -> str:
    beside = Path(sys.executable).parent / "notice"
    if not beside.exists():
        pytest.fail(f"the notice console script is not installed beside {sys.executable}; run make venv")
    return str(beside)


@pytest.fixture
def notice(asterisk):
    """Run `notice ARGS` on the sandbox's spool; the completed process, checked unless CHECK is False."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("NOTICE_")}
    env.update(NOTICE_SPOOL_DIR=str(asterisk.spool_dir), NOTICE_RECORDINGS_DIR=str(asterisk.recordings_dir),
               NOTICE_TZ="UTC", NOTICE_SYSLOG_FACILITY="none", NOTICE_CONFIG=os.devnull)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([notice_command(), *args], env=env, capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"notice {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
        return done

    return run


def scheduled(notice, *args: str) -> dict:
    """`notice spool ARGS`: the notice's id and due time from its one line."""
    line = notice("spool", *args).stdout.split()
    return {"id": line[1], "due": line[4].rstrip(":")}


def listed(notice, command: str = "list") -> dict:
    return {row["id"]: row for row in json.loads(notice(command, "--json").stdout)}


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_list_cancel_and_history_tell_what_asterisk_did(asterisk, notice, tone):
    client = asterisk.phone("client").answer(calls=2)  # a second call would be the cancelled one
    busy = asterisk.phone("busy").busy(calls=RETRIES + 1)
    soon = whole_second_ahead(8)  # time to spool four, list them and cancel one, on a slow machine too
    policy = ("--max-retries", str(RETRIES), "--retry-time", str(RETRY_TIME))
    answered = scheduled(notice, "--channel", CLIENT, "7001", tone, iso(soon))
    rejected = scheduled(notice, "--channel", BUSY, *policy, "7002", tone, iso(soon))
    # the default channel, Local/<number>@from-internal: its dialplan leaves a mark if it runs
    cancelled = scheduled(notice, "7003", tone, iso(soon + 3))
    later = scheduled(notice, "7004", tone, "+1h")

    # all four pending, as scheduled
    pending = listed(notice)
    assert {notice_id: (row["number"], row["due"], row["attempts"], row["state"])
            for notice_id, row in pending.items()} == {
        answered["id"]: ("7001", answered["due"], 0, "pending"),
        rejected["id"]: ("7002", rejected["due"], 0, "pending"),
        cancelled["id"]: ("7003", cancelled["due"], 0, "pending"),
        later["id"]: ("7004", later["due"], 0, "pending"),
    }
    assert time.time() < soon, "too slow to list before the first notice's time"

    done = notice("cancel", "--yes", cancelled["id"])
    assert done.stdout.startswith(f"cancelled {cancelled['id']}: 7003 due {cancelled['due']}")
    assert not (asterisk.outgoing / f"notice-{cancelled['id']}.call").exists()
    assert notice("show", cancelled["id"], check=False).returncode == 5

    # While the busy client is retried, list shows the attempts made so far.
    seen_states = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (asterisk.outgoing / f"notice-{rejected['id']}.call").exists():
        row = listed(notice).get(rejected["id"])
        if row:
            seen_states.add((row["attempts"], row["state"]))
        time.sleep(0.2)
    assert (1, "retrying") in seen_states or (1, "calling") in seen_states, seen_states

    completed = asterisk.wait_archived(f"notice-{answered['id']}.call", timeout=20)
    expired = asterisk.wait_archived(f"notice-{rejected['id']}.call", timeout=20)
    assert completed.rstrip().endswith("Status: Completed") and expired.rstrip().endswith("Status: Expired")
    while time.time() < soon + 3 + 4:  # well past the cancelled notice's time
        time.sleep(0.2)

    # The cancelled notice never fired: no mark from its dialplan, no call, no archive.
    assert [mark for mark in asterisk.marks() if cancelled["id"] in mark] == []
    assert [invite.number for invite in client.invites()] == ["7001"]
    assert not (asterisk.outgoing_done / f"notice-{cancelled['id']}.call").exists()

    # History: exactly what Asterisk did, by its archive and by what the phones received.
    # (The session's Asterisk is shared: other tests' finished notices are in its archive too.)
    ours = {answered["id"], rejected["id"], cancelled["id"], later["id"]}
    history = {notice_id: row for notice_id, row in listed(notice, "history").items() if notice_id in ours}
    assert set(history) == {answered["id"], rejected["id"]}
    busy_calls = [invite.at for invite in busy.invites()]
    assert len(busy_calls) == RETRIES + 1
    for row, status, calls, archived in ((history[answered["id"]], "Completed", [client.invites()[0].at], completed),
                                         (history[rejected["id"]], "Expired", busy_calls, expired)):
        assert row["status"] == status
        assert row["attempts"] == len(calls) == archived.count("StartRetry:")
        # Asterisk notes the attempt in whole seconds, before the phone sees the INVITE
        assert 0 <= calls[-1] - epoch(row["last_attempt"]) < 1.5, (row, calls)
    assert history[answered["id"]]["due"] == answered["due"] and history[rejected["id"]]["number"] == "7002"

    shown = json.loads(notice("show", "--json", rejected["id"]).stdout)
    assert (shown["state"], shown["status"], shown["attempts"], shown["max_attempts"]) == (
        "finished", "Expired", RETRIES + 1, RETRIES + 1)
    assert (shown["result"], shown["outcome"]) == ("not delivered", "unanswered")
    assert ((history[answered["id"]]["result"], history[answered["id"]]["outcome"]),
            (history[rejected["id"]]["result"], history[rejected["id"]]["outcome"])) == (
        ("unknown", "answered"), ("not delivered", "unanswered"))
    assert [attempt["result"] for attempt in shown["attempt_log"]] == [
        "failed (busy, no answer or unreachable); tried again", "failed; no attempt left"]

    # The later one is still pending; cancelling it leaves nothing pending.
    assert list(listed(notice)) == [later["id"]]
    notice("cancel", "--yes", "--number", "7004")
    assert listed(notice) == {}
