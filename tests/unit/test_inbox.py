"""inbox.py: the call files notice-spool leaves in data_dir/inbox, taken into the queue (on a
real folder: SQLite cannot run on pyfakefs)."""

import os

import pytest

from queuesite import QueueSite
from realspool import RECORDING
from notice_cli import queue
from notice_cli.inbox import REJECTED, opened_queue, take_inbox
from notice_cli.schedule import schedule

NOW = 4071006240
NUMBERS = ("79991234567", "79990000001", "79990000002")


@pytest.fixture
def site(tmp_path_factory):
    site = QueueSite(tmp_path_factory.mktemp("inbox"))
    yield site
    site.close()


def spooled_by_notice_spool(site, count=3):
    """COUNT notices scheduled as notice-spool schedules them in queue delivery: (id, due, text) each."""
    settings = site.settings()
    done = [schedule(NUMBERS[n], RECORDING, f"+{n + 1}h", settings, NOW) for n in range(count)]
    return [(scheduled.notice.id, scheduled.notice.due, scheduled.call_file) for scheduled in done]


def test_the_inbox_is_taken_into_the_queue_whole_and_emptied(site):
    scheduled = spooled_by_notice_spool(site)
    assert len(site.in_inbox()) == 3 and site.spooled() == []
    connection = queue.open_queue(str(site.data_dir))
    taken = take_inbox(connection, str(site.data_dir), NOW)
    assert (sorted(taken.taken), taken.left) == (sorted(notice_id for notice_id, _, _ in scheduled), [])
    assert site.in_inbox() == []
    for notice_id, due, text in scheduled:
        entry = queue.find(connection, notice_id)
        assert (entry.state, entry.due, entry.call_file) == (queue.QUEUED, due, text)
    connection.close()


def test_a_take_cut_short_after_its_commit_finds_the_notices_queued_and_removes_their_files(site):
    """A crash between the commit and the unlinks leaves the files: the next take queues
    nothing twice and removes them."""
    (notice_id, due, text), = spooled_by_notice_spool(site, 1)
    name = os.listdir(site.inbox)[0]
    kept = (site.inbox / name).read_bytes()
    connection = queue.open_queue(str(site.data_dir))
    assert take_inbox(connection, str(site.data_dir), NOW).taken == [notice_id]
    (site.inbox / name).write_bytes(kept)  # as if the unlink never happened
    queue.mark(connection, notice_id, queue.HANDED, NOW)  # meanwhile the engine handed it
    taken = take_inbox(connection, str(site.data_dir), NOW + 5)
    assert taken.taken == [] and site.in_inbox() == []
    assert queue.find(connection, notice_id).state == queue.HANDED  # not queued again
    assert queue.counts(connection)[queue.QUEUED] == 0
    connection.close()


def test_a_file_that_is_not_a_notice_as_written_is_set_aside_never_queued_and_named(site):
    (notice_id, _, _), (tampered, _, _) = spooled_by_notice_spool(site, 2)
    with open(site.inbox / f"notice-{tampered}.call", "a") as stream:
        stream.write("Application: System\n")  # a line notice-spool never writes
    (site.inbox / "notice-stray.call").write_text("Channel: Local/1@x\nApplication: Playback\nData: x\n")
    (site.inbox / "readme.txt").write_text("hello\n")
    connection = queue.open_queue(str(site.data_dir))
    taken = take_inbox(connection, str(site.data_dir), NOW)
    assert taken.taken == [notice_id]
    assert sorted(taken.left) == sorted([f"notice-{tampered}.call", "notice-stray.call", "readme.txt"])
    assert site.in_inbox() == []
    assert sorted(os.listdir(site.data_dir / REJECTED)) == sorted(taken.left)  # kept for the admin
    assert queue.find(connection, tampered) is None
    connection.close()


def test_no_inbox_is_nothing_to_take(site):
    connection = queue.open_queue(str(site.data_dir))
    taken = take_inbox(connection, str(site.data_dir), NOW)
    assert (taken.taken, taken.left) == ([], [])
    assert not site.inbox.exists()
    connection.close()
