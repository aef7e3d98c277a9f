"""The queue store (queue.py) on a real folder: SQLite cannot run on pyfakefs."""

import os
import sqlite3

import pytest

from notice_cli import queue
from notice_cli.errors import EXIT_SPOOL, SpoolError

NOW = 1796110200


def queued(number: int, due: int) -> queue.Queued:
    return queue.Queued(f"n{number}", f"7999000000{number}", "/rec/hello", due, f"Channel: Local/{number}@x\n")


def test_a_new_queue_is_laid_out_marked_as_ours_and_in_wal_mode(tmp_path):
    connection = queue.open_queue(str(tmp_path))
    assert connection.execute("PRAGMA application_id").fetchone()[0] == queue.APPLICATION_ID
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert queue.counts(connection) == dict.fromkeys(queue.STATES, 0)
    connection.close()
    queue.open_queue(str(tmp_path)).close()  # and opened again as it is


def test_enqueue_is_durable_in_one_transaction_and_leaves_an_id_already_there(tmp_path):
    connection = queue.open_queue(str(tmp_path))
    assert queue.enqueue(connection, [queued(1, NOW + 10), queued(2, NOW + 5)], NOW) == ["n1", "n2"]
    assert queue.enqueue(connection, [queued(2, NOW + 99), queued(3, NOW + 7)], NOW) == ["n3"]
    other = sqlite3.connect(tmp_path / queue.FILE_NAME)  # another process's view
    assert other.execute("SELECT id, due FROM notice ORDER BY id").fetchall() == [
        ("n1", NOW + 10), ("n2", NOW + 5), ("n3", NOW + 7)]
    other.close()


def test_a_failed_enqueue_queues_none_of_its_notices(tmp_path):
    connection = queue.open_queue(str(tmp_path))
    broken = queue.Queued("n9", None, "/rec/hello", NOW, "x")  # NOT NULL: the insert fails
    with pytest.raises(SpoolError, match="no notice was queued"):
        queue.enqueue(connection, [queued(1, NOW), broken], NOW)
    assert queue.counts(connection)["queued"] == 0


def test_due_notices_are_claimed_in_due_order_up_to_the_limit_and_only_while_queued(tmp_path):
    connection = queue.open_queue(str(tmp_path))
    queue.enqueue(connection, [queued(n, NOW + due) for n, due in ((1, 30), (2, 10), (3, 20), (4, 90))], NOW)
    assert [entry.id for entry in queue.claim_due(connection, NOW + 60, 2, NOW)] == ["n2", "n3"]
    assert [entry.id for entry in queue.in_state(connection, queue.HANDING)] == ["n2", "n3"]
    assert queue.mark(connection, "n2", queue.HANDED, NOW + 11, was=(queue.HANDING,))
    assert not queue.mark(connection, "n2", queue.HANDED, NOW + 11, was=(queue.QUEUED,))  # not in that state
    assert [entry.id for entry in queue.claim_due(connection, NOW + 60, 10, NOW)] == ["n1"]
    assert queue.claim_due(connection, NOW + 60, 10, NOW) == []
    assert not queue.mark(connection, "nobody", queue.MISSED, NOW)
    with pytest.raises(ValueError):
        queue.mark(connection, "n3", "lost", NOW)
    assert queue.counts(connection) == {**dict.fromkeys(queue.STATES, 0), "queued": 1, "handing": 2, "handed": 1}


def test_overdue_notices_are_missed_and_a_queued_one_rescheduled(tmp_path):
    connection = queue.open_queue(str(tmp_path))
    queue.enqueue(connection, [queued(1, NOW - 4000), queued(2, NOW - 10), queued(3, NOW + 50)], NOW)
    assert [entry.id for entry in queue.miss_overdue(connection, NOW - 3600, NOW)] == ["n1"]
    assert queue.find(connection, "n1").state == queue.MISSED and queue.find(connection, "n1").outcome == "late"
    assert queue.reschedule(connection, "n3", NOW + 500, "new text", NOW)
    assert queue.find(connection, "n3")[3:5] == (NOW + 500, "new text")
    assert not queue.reschedule(connection, "n1", NOW + 500, "x", NOW)  # missed: not queued any more
    assert queue.first_due(connection).id == "n2"
    assert queue.due_between(connection, NOW, NOW + 3600) == 1


def test_replace_queues_the_new_and_cancels_the_old_in_one_step_and_can_be_undone(tmp_path):
    connection = queue.open_queue(str(tmp_path))
    queue.enqueue(connection, [queued(1, NOW + 50)], NOW)
    queue.claim_due(connection, NOW + 60, 1, NOW)
    queue.mark(connection, "n1", queue.HANDED, NOW)
    new = queued(2, NOW + 900)
    assert not queue.replace(connection, "n1", new, NOW, was=(queue.QUEUED,))
    assert queue.find(connection, "n2") is None
    assert queue.replace(connection, "n1", new, NOW, was=(queue.HANDED,))
    assert (queue.find(connection, "n1").state, queue.find(connection, "n1").outcome) == (queue.CANCELLED, "moved to n2")
    assert queue.find(connection, "n2").state == queue.QUEUED
    queue.undo_replace(connection, "n1", "n2", queue.HANDED, NOW)
    assert queue.find(connection, "n2") is None and queue.find(connection, "n1").state == queue.HANDED


def test_listed_filters_by_state_number_and_time_and_waiting_recordings(tmp_path):
    connection = queue.open_queue(str(tmp_path))
    queue.enqueue(connection, [queued(n, NOW + 100 * n) for n in range(1, 6)], NOW)
    queue.mark(connection, "n5", queue.CANCELLED, NOW)
    assert [entry.id for entry in queue.listed(connection, (queue.QUEUED,))] == ["n1", "n2", "n3", "n4"]
    assert [entry.id for entry in queue.listed(connection, (queue.QUEUED,), ["79990000002"])] == ["n2"]
    assert [entry.id for entry in queue.listed(connection, (queue.QUEUED, queue.CANCELLED), since=NOW + 300,
                                               until=NOW + 500)] == ["n3", "n4"]  # until is not included
    assert [entry.id for entry in queue.listed(connection, (queue.CANCELLED,), since=NOW + 500,
                                               until=NOW + 501)] == ["n5"]
    assert queue.waiting_recordings(connection) == {"/rec/hello"}
    assert queue.known(connection, ["n1", "n5", "n9"]) == {"n1": "queued", "n5": "cancelled"}


@pytest.mark.parametrize("content, message", [
    (b"not a database at all, just text\n" * 200, "is not a notice-cli queue or is damaged"),
    (None, "is not a notice-cli queue (another program's file?)"),  # a real SQLite file of another program
])
def test_a_foreign_or_damaged_file_is_refused_and_never_written(tmp_path, content, message):
    path = tmp_path / queue.FILE_NAME
    if content is None:
        foreign = sqlite3.connect(path)
        foreign.execute("CREATE TABLE crm (client TEXT)")
        foreign.commit()
        foreign.close()
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(SpoolError, match="never overwritten|move it away") as refusal:
        queue.open_queue(str(tmp_path))
    assert message in str(refusal.value) and refusal.value.exit_code == EXIT_SPOOL
    assert path.read_bytes() == before


def test_a_queue_of_another_schema_is_refused(tmp_path):
    queue.open_queue(str(tmp_path)).close()
    newer = sqlite3.connect(tmp_path / queue.FILE_NAME)
    newer.execute(f"PRAGMA user_version = {queue.SCHEMA_VERSION + 1}")
    newer.close()
    with pytest.raises(SpoolError, match="schema 2, this notice-cli reads schema 1"):
        queue.open_queue(str(tmp_path))


def test_a_missing_data_dir_is_named(tmp_path):
    with pytest.raises(SpoolError, match=f"data_dir {tmp_path}/none does not exist"):
        queue.open_queue(str(tmp_path / "none"))
    assert not os.path.exists(tmp_path / "none")


def test_claims_from_two_connections_in_turn_never_take_the_same_notice(tmp_path):
    queue.open_queue(str(tmp_path)).close()
    first, second = queue.open_queue(str(tmp_path)), queue.open_queue(str(tmp_path))
    queue.enqueue(first, [queued(n, NOW + n) for n in range(100)], NOW)
    claims = []
    while True:
        taken = [queue.claim_due(connection, NOW + 1000, 7, NOW) for connection in (first, second)]
        if not any(taken):
            break
        claims += [entry.id for entries in taken for entry in entries]
    assert sorted(claims) == sorted(f"n{n}" for n in range(100))  # each once
    assert queue.counts(second)[queue.HANDING] == 100
    first.close()
    second.close()


def test_known_answers_for_more_ids_than_sqlite_binds_in_one_statement(tmp_path):
    connection = queue.open_queue(str(tmp_path))
    queue.enqueue(connection, [queued(n, NOW) for n in range(1200)], NOW)
    asked = [f"n{n}" for n in range(0, 2400, 2)]
    assert queue.known(connection, asked) == {f"n{n}": "queued" for n in range(0, 1200, 2)}
    connection.close()


def test_the_recordings_waiting_are_those_of_notices_not_yet_in_the_spool(tmp_path):
    connection = queue.open_queue(str(tmp_path))
    notices = [queue.Queued(f"n{n}", "79990000000", f"/rec/{state}", NOW, "x") for n, state in enumerate(queue.STATES)]
    queue.enqueue(connection, notices, NOW)
    for notice, state in zip(notices, queue.STATES):
        queue.mark(connection, notice.id, state, NOW)
    assert queue.waiting_recordings(connection) == {"/rec/queued", "/rec/handing"}  # handed ones are in outgoing/
    connection.close()


def test_uncancel_puts_a_cancelled_notice_back_with_no_outcome_and_nothing_else(tmp_path):
    connection = queue.open_queue(str(tmp_path))
    queue.enqueue(connection, [queued(1, NOW + 50), queued(2, NOW + 60)], NOW)
    queue.mark(connection, "n1", queue.CANCELLED, NOW, "cancelled")
    assert queue.uncancel(connection, "n1", queue.HANDED, NOW + 1)
    assert queue.find(connection, "n1")[5:] == (queue.HANDED, NOW + 1, None)
    assert not queue.uncancel(connection, "n2", queue.HANDED, NOW + 1)  # queued, not cancelled: left as it is
    assert queue.find(connection, "n2").state == queue.QUEUED


def test_two_commands_that_find_no_queue_at_the_same_moment_make_one(tmp_path):
    """Both see an empty file before either lays it out: the second finds it laid out."""
    first, second = (sqlite3.connect(tmp_path / queue.FILE_NAME, isolation_level=None) for _ in range(2))
    assert queue._marks(first) == queue._marks(second) == (0, 0, 0)
    queue._lay_out(first, str(tmp_path / queue.FILE_NAME))
    queue._lay_out(second, str(tmp_path / queue.FILE_NAME))  # no "table notice already exists"
    assert queue._marks(second) == (queue.APPLICATION_ID, queue.SCHEMA_VERSION, queue._marks(first)[2])
    first.close()
    second.close()
    queue.open_queue(str(tmp_path)).close()
