"""queue_inventory.py where the command line cannot reach: the moments between two steps (a
notice handed while cancel or move looks at it), the listing's merge, a queued notice's call
file moved, and the health notice status reports, on real folders (SQLite cannot run on
pyfakefs). The commands themselves are in test_queue_commands.py."""

import time

import pytest

from queuesite import QueueSite
from realspool import RECORDING
from notice_cli import queue
from notice_cli.errors import NotCancelled, NotFound
from notice_cli.inventory import EVERYTHING, Picked
from notice_cli.queue_inventory import (Health, cancel_waiting, find_queued, health, merged, move, queue_targets,
                                        queued, restore_handed, retimed)
from notice_cli.record import read_notice
from notice_cli.schedule import schedule

CLIENT, OTHER = "79991234567", "79990000001"


@pytest.fixture
def site(tmp_path_factory):
    site = QueueSite(tmp_path_factory.mktemp("inventory"))
    yield site
    site.close()


def test_a_notice_handed_while_cancel_asked_is_cancelled_and_named_for_the_spools_cancel(site):
    now = int(time.time())
    site.enqueue(site.notice("q1", now + 30), site.notice("q2", now + 7200))
    settings = site.settings()
    targets = queue_targets(settings, ["q1", "q2", "nobody"], [], now)
    assert ([entry.id for entry in targets.waiting], targets.handed, targets.unknown) == (["q1", "q2"], [], ["nobody"])
    site.engine().step(now)  # meanwhile the engine hands q1
    cancelled, handed_now, refused = cancel_waiting(settings, targets, now)
    assert ([notice.id for notice in cancelled], handed_now, refused) == (["q2"], ["q1"], [])
    assert site.states() == {"q1": ("cancelled", "cancelled"), "q2": ("cancelled", "cancelled")}
    restore_handed(settings, ["q1"], now)  # the spool's cancel found Asterisk calling it
    assert site.states()["q1"] == ("handed", None)


def test_a_notice_being_handed_is_not_cancelled_but_refused_and_named(site):
    """The engine writes its call file this moment: taken back then, it could still ring."""
    now = int(time.time())
    site.enqueue(site.notice("q1", now + 30))
    settings = site.settings()
    targets = queue_targets(settings, ["q1"], [], now)
    connection = queue.open_queue(str(site.data_dir))
    queue.claim_due(connection, now + 60, 1, now)  # the engine claims it meanwhile
    connection.close()
    cancelled, handed_now, refused = cancel_waiting(settings, targets, now)
    assert (cancelled, handed_now) == ([], [])
    assert refused == [("q1", "it is being handed to Asterisk this moment; try again in a second")]
    assert site.states()["q1"] == ("handing", None)


def test_move_leaves_a_notice_being_handed_to_the_engine(site):
    now = int(time.time())
    site.enqueue(site.notice("q1", now + 30))
    connection = queue.open_queue(str(site.data_dir))
    queue.claim_due(connection, now + 60, 1, now)
    connection.close()
    with pytest.raises(NotCancelled, match="notice q1 is being handed to Asterisk this moment; try again in a second"):
        move(site.settings(), "q1", "+1h", now)
    assert site.entry("q1").due == now + 30


def test_a_moved_call_file_drops_asterisks_lines_and_carries_its_new_id_and_time(site):
    asterisks = "\nStartRetry: 4242 1 (4071006260)\n\nEndRetry: 4242 1 (4071006270)\n"
    text = site.notice("old", 4071006240).call_file + asterisks
    new = retimed(text, "new", 4071009999)
    notice = read_notice("notice-new.call", new)
    assert (notice.id, notice.due, notice.number, notice.attempts) == ("new", 4071009999, CLIENT, 0)
    assert new == site.notice("new", 4071009999).call_file


def test_the_queue_and_its_inbox_are_listed_by_the_filter_and_without_the_handed_this_moment(site):
    now = int(time.time())
    settings = site.settings()
    site.enqueue(site.notice("q1", now + 100), site.notice("q2", now + 200, number=OTHER))
    inbox_id = schedule(OTHER, RECORDING, "+1h", settings, now).notice.id
    assert [notice.id for _, notice in queued(settings)] == ["q1", "q2", inbox_id]
    assert {notice.state for _, notice in queued(settings)} == {"queued"}
    assert [notice.id for _, notice in queued(settings, Picked(frozenset([OTHER]), None, now + 3000))] == ["q2"]
    assert [notice.id for _, notice in queued(settings, EVERYTHING, frozenset(["q1"]))] == ["q2", inbox_id]


def test_merged_keeps_the_spools_notices_of_unknown_time_last():
    spooled = [(10, "a"), (30, "c"), (None, "x")]
    assert merged(spooled, [(20, "b"), (40, "d")]) == [(10, "a"), (20, "b"), (30, "c"), (40, "d"), (None, "x")]
    assert merged(spooled, []) is spooled


def test_find_queued_sees_the_waiting_and_the_missed_only(site):
    now = int(time.time())
    site.enqueue(*(site.notice(notice_id, now + 100) for notice_id in ("waiting", "handing", "done", "dropped")),
                 site.notice("late", now - 4000))
    site.engine().step(now)  # marks late missed; the others are not due within lead
    connection = queue.open_queue(str(site.data_dir))
    queue.mark(connection, "handing", queue.HANDING, now)
    queue.mark(connection, "waiting", queue.QUEUED, now)
    queue.mark(connection, "done", queue.FINISHED, now, "Completed")
    queue.mark(connection, "dropped", queue.CANCELLED, now, "cancelled")
    connection.close()
    settings = site.settings()
    assert find_queued(settings, "waiting").notice.state == "queued"
    assert find_queued(settings, "handing").notice.state == "queued"
    missed = find_queued(settings, "late")
    assert (missed.pending, missed.notice.status) == (False, "Missed")
    assert find_queued(settings, "done") is None and find_queued(settings, "dropped") is None
    assert find_queued(settings, "nobody") is None


def test_health_before_any_queue_counts_the_inbox_and_says_when_no_engine_takes_it(site):
    now = int(time.time())
    settings = site.settings()
    inbox_id = schedule(CLIENT, RECORDING, "+30m", settings, now).notice.id
    found = health(settings, now)
    assert not site.queue_file.exists()  # status makes no queue
    assert (found.engine, found.inbox, found.due_soon, found.first.id) == (None, 1, 1, inbox_id)
    assert found.problem(settings.lead, now) is None  # not due within lead yet
    assert found.problem(settings.lead, now + 1800 - 60) == ("no engine runs and notices are due: start it "
                                                           "(systemctl start notice-run)")


def test_a_running_engine_with_notices_due_is_healthy_and_a_stall_is_a_problem_anyway():
    first = queue.Entry("n1", CLIENT, "/r", 100, None, "queued", None, None)
    assert Health((1234, 50), {}, 0, 0, 1, first, None).problem(60, 200) is None
    assert Health((1234, 50), {}, 0, 0, 1, first, "n0").problem(60, 200) == (
        "Asterisk has not begun notice n0, due a while ago: is Asterisk running?")
    assert Health(None, {}, 0, 0, 0, None, None).problem(60, 200) is None


def test_move_of_a_notice_nowhere_says_where_it_looked(site):
    with pytest.raises(NotFound, match=f"notice nobody is not pending in {site.outgoing} nor waiting in the queue"):
        move(site.settings(), "nobody", "+1h", time.time())
