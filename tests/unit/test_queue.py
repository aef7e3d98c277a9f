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


def test_due_notices_come_in_due_order_up_to_the_limit_and_only_while_queued(tmp_path):
    connection = queue.open_queue(str(tmp_path))
    queue.enqueue(connection, [queued(n, NOW + due) for n, due in ((1, 30), (2, 10), (3, 20), (4, 90))], NOW)
    assert [row[0] for row in queue.due_by(connection, NOW + 60, 10)] == ["n2", "n3", "n1"]
    assert [row[0] for row in queue.due_by(connection, NOW + 60, 2)] == ["n2", "n3"]
    assert queue.mark(connection, "n2", "handed", NOW + 11)
    assert [row[0] for row in queue.due_by(connection, NOW + 60, 10)] == ["n3", "n1"]
    assert not queue.mark(connection, "nobody", "missed", NOW)
    with pytest.raises(ValueError):
        queue.mark(connection, "n3", "lost", NOW)
    assert queue.counts(connection)["handed"] == 1


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
