"""engine.py: notice run's steps on real folders (SQLite cannot run on pyfakefs), driven by
Engine.step(now) with explicit times; and notice run itself, the process, for its lock and
SIGTERM. Where a test needs a call finished, it plays Asterisk's part as pbx_spool does it
(queuesite.py); it never guesses what Asterisk would do."""

import os
import signal
import time
from collections import Counter

import pytest

from queuesite import QueueSite
from realspool import NOTICE, RECORDING, check_call_file
from notice_cli import queue
from notice_cli.engine import GONE_AFTER, STALL, EngineRunning, engine_running, hold_lock
from notice_cli.errors import EXIT_ENGINE_RUNNING
from notice_cli.notice import call_file_name
from notice_cli.schedule import schedule
from notice_cli.spool_writer import spool_call_files

NOW = 4071006240  # 2099: every time here is explicit
LATE_LIMIT = 3600


@pytest.fixture
def site(tmp_path_factory):
    site = QueueSite(tmp_path_factory.mktemp("engine"))
    yield site
    site.close()


def ids(count, prefix="n"):
    return [f"{prefix}{index:03d}" for index in range(count)]


def test_a_notice_spool_notice_is_taken_in_and_handed_lead_seconds_before_its_time_timed_to_its_second(site):
    scheduled = schedule("79991234567", RECORDING, "2099-01-02 03:05:40", site.settings(), NOW - 10)
    notice_id, due = scheduled.notice.id, scheduled.notice.due
    assert due == NOW + 100
    engine = site.engine(lead=60)
    engine.step(NOW)
    assert (site.in_inbox(), site.handed(), site.states()) == ([], [], {notice_id: ("queued", None)})
    engine.step(NOW + 39.9)
    assert site.handed() == []
    engine.step(NOW + 40)
    assert site.handed() == [call_file_name(notice_id)]
    assert check_call_file(site.call_file(notice_id), "79991234567", due) == ("79991234567", due)
    assert site.call_file(notice_id).read_text() == scheduled.call_file
    assert site.states() == {notice_id: ("handed", None)}
    assert site.staged() == [] and site.queue_staged() == []
    assert engine.said == ["handed 1 notice(s) to Asterisk"]


def test_no_more_than_max_calls_are_in_outgoing_and_a_finished_one_makes_room(site):
    site.enqueue(*(site.notice(notice_id, NOW + 10) for notice_id in ids(5)))
    engine = site.engine(max_calls=2)
    engine.step(NOW)
    assert site.handed() == [call_file_name(notice_id) for notice_id in ids(2)]  # in due order (then id)
    engine.step(NOW + 1)
    assert len(site.handed()) == 2
    site.begin("n000", NOW + 10)
    site.begin("n001", NOW + 10)
    engine.step(NOW + 11)  # both calling: still no room
    assert len(site.handed()) == 2
    site.finish("n000", "Completed")
    engine.step(NOW + 20)
    assert site.handed() == [call_file_name("n001"), call_file_name("n002")]
    assert site.states()["n000"] == ("finished", "Completed")
    at = NOW + 21
    while site.handed():  # Asterisk finishes each in turn; the engine never exceeds 2
        for name in site.handed():
            site.finish(name[len("notice-"):-len(".call")], "Expired")
        engine.step(at)
        assert len(site.handed()) <= 2
        at += 1
    assert Counter(state for state, _ in site.states().values()) == {"finished": 5}


def test_call_rate_gives_no_second_more_than_its_rate_and_no_notice_a_second_before_its_time(site):
    site.enqueue(*(site.notice(notice_id, NOW + 10) for notice_id in ids(7)))
    site.enqueue(site.notice("later", NOW + 50))
    engine = site.engine(call_rate=2)
    engine.step(NOW)
    assert len(site.handed()) == 8
    starts = Counter(site.mtime(notice_id) for notice_id in ids(7))
    assert starts == {NOW + 10: 2, NOW + 11: 2, NOW + 12: 2, NOW + 13: 1}
    assert site.mtime("later") == NOW + 50
    assert engine.said == ["handed 8 notice(s) to Asterisk, 5 paced after their time"]
    site.enqueue(*(site.notice(notice_id, NOW + 10) for notice_id in ids(3, "m")))  # more for the same second
    engine.step(NOW + 1)
    assert sorted(site.mtime(notice_id) for notice_id in ids(3, "m")) == [NOW + 13, NOW + 14, NOW + 14]
    every = Counter(site.mtime(name[len("notice-"):-len(".call")]) for name in site.handed())
    assert max(every.values()) == 2


def test_an_overdue_notice_starts_on_the_next_second_and_one_past_late_limit_is_missed(site):
    site.enqueue(site.notice("overdue", NOW - 100), site.notice("late", NOW - LATE_LIMIT - 1))
    engine = site.engine(late_limit=LATE_LIMIT)
    engine.step(NOW + 0.3)
    assert site.handed() == [call_file_name("overdue")]
    assert site.mtime("overdue") == NOW + 1  # never an mtime gone by: it would start at once, unpaced
    assert site.states() == {"overdue": ("handed", None), "late": ("missed", "late")}
    assert engine.said[0] == f"missed late to 79991234567: not started within {LATE_LIMIT} s of its time"


@pytest.mark.parametrize("status", ["Completed", "Expired", "Failed"])
def test_the_outcome_asterisk_archives_is_noted_once_its_status_line_is_there(site, status):
    site.enqueue(site.notice("n1", NOW + 10))
    engine = site.engine()
    engine.step(NOW)
    site.begin("n1", NOW + 10)
    os.rename(site.call_file("n1"), site.archive / call_file_name("n1"))  # archived, Status not yet appended
    engine.step(NOW + 30)
    assert site.states()["n1"] == ("handed", None)
    with open(site.archive / call_file_name("n1"), "a") as stream:
        stream.write(f"Status: {status}\n")
    engine.step(NOW + 31)
    assert site.states()["n1"] == ("finished", status)
    assert engine.said[-1] == f"finished n1 to 79991234567: {status} after 1 attempt(s)"
    assert (site.archive / call_file_name("n1")).exists()  # the archive stays Asterisk's


def test_a_handed_file_that_vanished_is_gone_after_gone_after(site):
    site.enqueue(site.notice("n1", NOW + 10))
    engine = site.engine()
    engine.step(NOW)
    os.unlink(site.call_file("n1"))  # Asterisk found it invalid, or someone removed it
    for at in range(NOW + 1, NOW + 1 + GONE_AFTER):
        engine.step(at)
        assert site.states()["n1"] == ("handed", None)
    engine.step(NOW + 1 + GONE_AFTER)
    assert site.states()["n1"] == ("finished", "gone")


def claimed(site, *notices):
    """NOTICES queued and claimed (state handing), as an engine killed before its hand-off left them."""
    site.enqueue(*notices)
    connection = queue.open_queue(str(site.data_dir))
    try:
        return queue.claim_due(connection, NOW + 60, len(notices), NOW)
    finally:
        connection.close()


def test_a_hand_off_a_crash_cut_short_before_the_file_is_handed_again_once(site):
    claimed(site, site.notice("n1", NOW + 10))
    engine = site.engine()
    engine.step(NOW + 1)
    assert site.handed() == [call_file_name("n1")] and site.mtime("n1") == NOW + 10
    assert site.states()["n1"] == ("handed", None)
    assert engine.said[0] == "handing again 1 notice(s) a stop or a failure cut short"
    inode = os.stat(site.call_file("n1")).st_ino
    engine.step(NOW + 2)
    assert os.stat(site.call_file("n1")).st_ino == inode and len(engine.said) == 2


def test_a_hand_off_a_crash_cut_short_after_the_file_is_not_written_again(site):
    entry, = claimed(site, site.notice("n1", NOW + 10))
    spool_call_files([(entry.call_file, call_file_name("n1"), NOW + 10)], str(site.spool), 0o644, None)
    site.begin("n1", NOW + 10)  # and Asterisk has begun calling it
    before = os.stat(site.call_file("n1"))
    text = site.call_file("n1").read_text()
    site.engine().step(NOW + 11)
    after = os.stat(site.call_file("n1"))
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert site.call_file("n1").read_text() == text
    assert site.states()["n1"] == ("handed", None)
    assert site.staged() == []


def test_a_hand_off_a_crash_cut_short_after_asterisk_finished_the_file_is_not_handed_again(site):
    entry, = claimed(site, site.notice("n1", NOW + 10))
    spool_call_files([(entry.call_file, call_file_name("n1"), NOW + 10)], str(site.spool), 0o644, None)
    site.begin("n1", NOW + 10)
    site.finish("n1", "Completed")
    engine = site.engine()
    engine.step(NOW + 40)
    assert site.handed() == [] and site.staged() == []
    engine.step(NOW + 41)
    assert site.states()["n1"] == ("finished", "Completed")


def test_a_due_file_asterisk_has_not_begun_stops_hand_offs_until_it_does(site):
    site.enqueue(site.notice("a", NOW + 10), site.notice("b", NOW + 70))
    engine = site.engine(lead=60)
    engine.step(NOW)
    engine.step(NOW + 10 + STALL - 1)  # a is due, not yet begun: not a stall yet
    assert site.handed() == [call_file_name("a"), call_file_name("b")] and not engine.stalled
    site.enqueue(site.notice("c", NOW + 10 + STALL + 60))  # due within lead at the next step
    engine.step(NOW + 10 + STALL)
    assert engine.stalled and call_file_name("c") not in site.handed()
    assert engine.said[-1] == "Asterisk is not taking call files: handing stops until it does"
    site.begin("a", NOW + 10 + STALL)
    engine.step(NOW + 10 + STALL + 1)
    assert not engine.stalled and call_file_name("c") in site.handed()
    assert "Asterisk takes call files again" in engine.said


def test_a_handed_file_asterisk_never_began_is_taken_back_and_missed_after_late_limit(site):
    site.enqueue(site.notice("n1", NOW + 10))
    engine = site.engine(late_limit=LATE_LIMIT)
    engine.step(NOW)
    engine.step(NOW + 10 + LATE_LIMIT + 1)
    assert site.handed() == []
    assert site.states()["n1"] == ("missed", "late")
    assert not engine.stalled


def test_at_its_start_the_engine_takes_back_the_file_of_a_notice_cancelled_while_handed(site):
    site.enqueue(site.notice("gone", NOW + 300), site.notice("calling", NOW + 10))
    engine = site.engine(lead=300)
    engine.step(NOW)
    site.begin("calling", NOW + 10)
    connection = queue.open_queue(str(site.data_dir))
    for notice_id in ("gone", "calling"):  # a notice cancel killed before it removed the files
        queue.mark(connection, notice_id, queue.CANCELLED, NOW + 11, "cancelled")
    connection.close()
    engine.recover(NOW + 12)
    assert site.handed() == [call_file_name("calling")]
    assert engine.said[-1].startswith("left calling (cancelled) in outgoing/: Asterisk is calling 79991234567 now")


# --- notice run, the process ---------------------------------------------------------------------

def test_one_engine_per_data_dir_in_one_process_too(site):
    fd = hold_lock(str(site.data_dir), NOW)
    try:
        assert engine_running(str(site.data_dir)) == (os.getpid(), NOW)
        with pytest.raises(EngineRunning, match=f"another notice run \\(pid {os.getpid()}\\) is running on "):
            hold_lock(str(site.data_dir), NOW)
        assert EngineRunning.exit_code == EXIT_ENGINE_RUNNING == 7
    finally:
        os.close(fd)
    assert engine_running(str(site.data_dir)) is None


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_notice_run_hands_a_due_notice_refuses_a_second_engine_and_stops_cleanly_on_sigterm(site):
    due = int(time.time()) + 30
    site.enqueue(site.notice("n1", due))
    engine = site.start(NOTICE, "run")
    try:
        wait_for(lambda: site.handed() == [call_file_name("n1")])
        check_call_file(site.call_file("n1"), due=due)
        second = site.run(NOTICE, "run", timeout=30)
        assert second.returncode == 7 and second.stdout == ""
        assert second.stderr == (f"notice run: error: another notice run (pid {engine.pid}) is running on "
                                 f"{site.data_dir}; one engine per data_dir\n")
        status = site.run(NOTICE, "status")
        assert status.stdout.startswith("engine:               running since ")
        assert f"(pid {engine.pid})" in status.stdout.splitlines()[0]
        engine.send_signal(signal.SIGTERM)
        out, err = engine.communicate(timeout=30)
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()
    assert (engine.returncode, out) == (0, "")
    lines = err.splitlines()
    assert lines[0].startswith(f"notice run: started on {site.data_dir} (max_calls no limit")
    assert "notice run: handed 1 notice(s) to Asterisk" in lines and lines[-1] == "notice run: stopped"
    assert engine_running(str(site.data_dir)) is None
    assert site.states() == {"n1": ("handed", None)}


def test_call_rate_holds_across_a_restart_of_the_engine(site):
    """A new engine counts the start seconds its predecessor gave to files still waiting."""
    site.enqueue(*(site.notice(f"r{index}", NOW + 20) for index in range(4)))
    site.engine(call_rate=2).step(NOW)  # hands r0 r1 for NOW+20, r2 r3 for NOW+21
    site.enqueue(*(site.notice(f"s{index}", NOW + 20) for index in range(2)))
    again = site.engine(call_rate=2)
    again.recover(NOW + 1)
    again.step(NOW + 1)
    seconds = sorted(site.mtime(name[len("notice-"):-len(".call")]) for name in site.handed())
    assert seconds == [NOW + 20, NOW + 20, NOW + 21, NOW + 21, NOW + 22, NOW + 22]
