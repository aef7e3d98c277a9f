"""bulk.py: reading an import file (header, line numbers, fields) and checking its rows into
a plan: ids from the content or given, rows already in the spool or repeated, every problem;
and spooling it while another import of the same file runs (cron overlapping itself)."""

import os
from datetime import datetime, timezone

import pytest

from fakespool import ARCHIVE, OUTGOING, PREPARED_DIR, RECORDINGS, SPOOL, STAGING
from notice_cli import spool_writer
from notice_cli.bulk import Imported, import_notices, plan, read_rows
from notice_cli.errors import InvalidInput
from notice_cli.notice import Notice, content_id
from notice_cli.settings import Settings
from notice_cli.when import UTC

NOW = datetime(2026, 11, 28, tzinfo=timezone.utc).timestamp()
DUE = int(datetime(2026, 12, 1, 10, 30, tzinfo=timezone.utc).timestamp())
SETTINGS = Settings(spool_dir=SPOOL, recordings_dir=RECORDINGS, prepared_dir=PREPARED_DIR, tz=UTC)


@pytest.fixture
def recordings(fs):
    """The recordings the rows play: hello in the recordings folder, and prepared recording 2."""
    fs.create_file(RECORDINGS + "/hello.wav")
    fs.create_file(PREPARED_DIR + "/2.gsm")
    return fs


def rows(text):
    return list(read_rows(text.splitlines(keepends=True), "f.csv"))


def test_rows_carry_the_line_they_start_on():
    assert rows('number,recording,when\n1,a,b\n\n  ,  ,\n2,"x\ny",c\n3,a\n4,a,b\n') == [
        (2, {"number": "1", "recording": "a", "when": "b"}),
        (5, {"number": "2", "recording": "x\ny", "when": "c"}),
        (7, "has 2 fields, the header 3"),
        (8, {"number": "4", "recording": "a", "when": "b"}),
    ]


def test_header_names_columns_in_any_order_and_case():
    assert rows(" When ,ID,Number,RECORDING\nb,x,1,a\n") == [(2, {"when": "b", "id": "x", "number": "1", "recording": "a"})]


def test_row_the_csv_reader_cannot_take_is_refused_with_its_line(recordings):
    with pytest.raises(InvalidInput, match="f.csv line 3 is not CSV: field larger than field limit"):
        rows("number,recording,when\n1,a,b\n2," + "a" * 200000 + ",b\n")


def test_plan_checks_every_row(recordings):
    checked = plan(rows("number,recording,when\n79991234567,hello,2026-12-01 10:30\n+7999,2,+1h\nx,hello,+1h\n"),
                   SETTINGS, NOW, {})
    assert checked.notices == [
        Notice(content_id("79991234567", "hello", DUE), "79991234567", RECORDINGS + "/hello", DUE),
        Notice(content_id("+7999", "2", int(NOW) + 3600), "+7999", RECORDINGS + "/prepared/2", int(NOW) + 3600),
    ]
    assert checked.skipped == []
    assert checked.problems == ["line 4: number 'x' is not a phone number: use digits only, optionally one "
                                "leading '+', at most 32 characters"]


def test_plan_skips_what_the_spool_has_and_repeats_in_the_file(recordings):
    done = content_id("1", "hello", DUE)
    waiting = content_id("2", "hello", DUE)
    text = ("number,recording,when\n1,hello,2026-12-01 10:30\n2,hello,2026-12-01T10:30Z\n"
            "3,hello,2026*12*01**10***30\n3,hello,2026-12-01 10:30\n")
    checked = plan(rows(text), SETTINGS, NOW, {done: "finished", waiting: "pending"})
    assert [notice.number for notice in checked.notices] == ["3"]
    assert checked.skipped == [(2, done, "already finished"), (3, waiting, "already pending"),
                               (5, content_id("3", "hello", DUE), "the same as line 4")]


def test_a_notice_that_fired_is_skipped_even_though_its_time_has_passed(recordings):
    fired = content_id("1", "hello", DUE)
    later = DUE + 86400
    checked = plan(rows("number,recording,when\n1,hello,2026-12-01 10:30\n"), SETTINGS, later, {fired: "finished"})
    assert (checked.notices, checked.problems) == ([], [])
    assert plan(rows("number,recording,when\n1,hello,2026-12-01 10:30\n"), SETTINGS, later, {}).problems == [
        "line 2: time '2026-12-01 10:30' is in the past (2026-12-01T10:30:00+00:00); give a future time"]


def test_given_ids_are_checked_and_must_differ(recordings):
    text = "id,number,recording,when\nok_1,1,hello,+1h\n../x,1,hello,+1h\nok_1,2,hello,+2h\n,3,hello,+3h\n"
    checked = plan(rows(text), SETTINGS, NOW, {})
    assert [notice.id for notice in checked.notices] == ["ok_1", content_id("3", "hello", int(NOW) + 3 * 3600)]
    assert checked.problems[0].startswith("line 3: notice id '../x' is not a notice id")
    assert checked.problems[1] == "line 4: id ok_1 is also on line 2; ids must differ"


def test_each_recording_is_looked_up_once(recordings, monkeypatch):
    import notice_cli.bulk as bulk

    looked_up = []
    real = bulk.recording_path
    monkeypatch.setattr(bulk, "recording_path", lambda name, settings: looked_up.append(name) or real(name, settings))
    text = "number,recording,when\n" + "".join(f"{n},hello,+{n}h\n{n},nope,+{n}h\n" for n in range(1, 50))
    checked = plan(rows(text), SETTINGS, NOW, {})
    assert looked_up == ["hello", "nope"]
    assert len(checked.notices) == 49 and len(checked.problems) == 49


def test_summary():
    assert Imported(1, 0, 0).report("f.csv") == "spooled 1 notice from f.csv"
    assert Imported(0, 3, 1).report("-") == "spooled 0 notices from -; 3 already scheduled (skipped); 1 invalid row skipped"


def test_a_time_after_the_year_9999_is_refused_as_notice_spool_refuses_it(recordings):
    checked = plan(rows("number,recording,when\n1,hello,9999-12-31T23:59:59-12:00\n"), SETTINGS, NOW, {})
    assert (checked.notices, checked.problems) == ([], [
        "line 2: time '9999-12-31T23:59:59-12:00' is after the year 9999; give a time before then"])


# --- imports of the same file overlapping: each race, driven by a hook ------------------------

HEADER = "number,recording,when\n"
NUMBERS = ["79990000000", "79990000001", "79990000002", "79990000003"]
ROWS = [f"{number},hello,2026-12-01 10:30\n" for number in NUMBERS]
NAMES = [f"notice-{content_id(number, 'hello', DUE)}.call" for number in NUMBERS]


def import_rows(*rows, meanwhile=None):
    """An import of a file of ROWS; MEANWHILE(plan) runs between its look at the spool and its
    spooling, where another run overlaps it."""
    return import_notices((HEADER + "".join(rows)).splitlines(keepends=True), "f.csv", SETTINGS, NOW,
                          planned=meanwhile)


def inodes(names):
    return {name: os.stat(f"{OUTGOING}/{name}").st_ino for name in names}


def test_rows_another_run_spooled_since_this_one_looked_are_already_scheduled(spool_folders, recordings):
    theirs = {}

    def another_run(plan):
        assert import_rows(ROWS[1], ROWS[3]) == Imported(2, 0, 0)
        theirs.update(inodes([NAMES[1], NAMES[3]]))

    imported = import_rows(*ROWS, meanwhile=another_run)
    assert imported == Imported(2, 2, 0)
    assert imported.report("f.csv") == "spooled 2 notices from f.csv; 2 already scheduled (skipped)"
    assert sorted(os.listdir(OUTGOING)) == sorted(NAMES)
    assert inodes(theirs) == theirs  # theirs, not written again
    assert os.listdir(STAGING) == []


def test_a_row_another_run_spooled_and_asterisk_called_meanwhile_is_not_spooled_again(spool_folders, recordings):
    def another_run_then_asterisk(plan):
        import_rows(ROWS[2])
        os.mkdir(ARCHIVE)
        os.rename(f"{OUTGOING}/{NAMES[2]}", f"{ARCHIVE}/{NAMES[2]}")

    assert import_rows(*ROWS, meanwhile=another_run_then_asterisk) == Imported(3, 1, 0)
    assert sorted(os.listdir(OUTGOING)) == sorted(NAMES[:2] + NAMES[3:])
    assert os.listdir(ARCHIVE) == [NAMES[2]]


def test_a_row_another_run_is_writing_right_now_is_left_to_it(spool_folders, recordings, locks):
    def another_run_writing(plan):
        spool_folders.create_file(f"{STAGING}/{NAMES[1]}", contents="Channel: Local/7999")
        locks.hold(f"{STAGING}/{NAMES[1]}")

    assert import_rows(*ROWS, meanwhile=another_run_writing) == Imported(3, 1, 0)
    assert sorted(os.listdir(OUTGOING)) == sorted(NAMES[:1] + NAMES[2:])
    with open(f"{STAGING}/{NAMES[1]}") as stream:
        assert stream.read() == "Channel: Local/7999"  # neither taken over nor removed


def test_a_row_another_run_moves_in_just_before_this_run_stages_it_is_not_replaced(spool_folders, recordings, monkeypatch):
    """A look at outgoing/ before the staging file is made would let the rename replace the
    other run's file: the look comes after, under the staging file's lock."""
    real_open = spool_writer.os.open
    theirs = {}

    def open_(path, flags, *args, **kwargs):
        if path == f"{STAGING}/{NAMES[2]}" and flags & os.O_CREAT and not theirs:
            theirs[NAMES[2]] = None
            assert import_rows(ROWS[2]) == Imported(1, 0, 0)
            theirs.update(inodes([NAMES[2]]))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(spool_writer.os, "open", open_)
    assert import_rows(*ROWS) == Imported(3, 1, 0)
    assert inodes(theirs) == theirs
    assert os.listdir(STAGING) == []


def test_another_run_that_comes_to_a_row_this_run_is_writing_leaves_it(spool_folders, recordings, locks, monkeypatch):
    """Between this run's look at outgoing/ and its rename, another run of the file finds the
    row being written (the staging file locked): it writes nothing and counts it scheduled."""
    real_utime = spool_writer.os.utime
    theirs = []

    def utime(path, times):
        if path == f"{STAGING}/{NAMES[2]}" and not theirs:
            theirs.append(import_rows(ROWS[2], ROWS[3]))
            assert sorted(os.listdir(OUTGOING)) == sorted(NAMES[:2] + NAMES[3:])
        return real_utime(path, times)

    monkeypatch.setattr(spool_writer.os, "utime", utime)
    assert import_rows(*ROWS) == Imported(3, 1, 0)
    assert theirs == [Imported(1, 1, 0)]
    assert sorted(os.listdir(OUTGOING)) == sorted(NAMES)
    assert os.listdir(STAGING) == []


def test_each_notice_spooled_is_logged_once_and_only_those(spool_folders, recordings, monkeypatch):
    import notice_cli.bulk as bulk

    logged = []
    monkeypatch.setattr(bulk, "log_lines", lambda lines, facility, tag: logged.extend(lines))
    import_rows(*ROWS, meanwhile=lambda plan: import_rows(ROWS[0], ROWS[2]))
    assert [line.split()[3] for line in logged] == ["79990000000", "79990000002", "79990000001", "79990000003"]
