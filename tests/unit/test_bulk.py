"""bulk.py: reading an import file (header, line numbers, fields) and checking its rows into
a plan: ids from the content or given, rows already in the spool or repeated, every problem."""

from datetime import datetime, timezone

import pytest

from notice_cli.bulk import Imported, plan, read_rows
from notice_cli.errors import InvalidInput
from notice_cli.notice import Notice, content_id
from notice_cli.settings import Settings

RECORDINGS = "/srv/recordings"
NOW = datetime(2026, 11, 28, tzinfo=timezone.utc).timestamp()
DUE = int(datetime(2026, 12, 1, 10, 30, tzinfo=timezone.utc).timestamp())
SETTINGS = Settings(recordings_dir=RECORDINGS, prepared_dir=RECORDINGS + "/prepared", tz=timezone.utc)


@pytest.fixture
def recordings(fs):
    fs.create_file(RECORDINGS + "/hello.wav")
    fs.create_file(RECORDINGS + "/prepared/2.gsm")
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
