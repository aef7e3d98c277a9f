"""The rules of recordings.py, no file system: which file belongs to which dialplan recording,
what a Playback argument plays, and which recordings may go at a given time."""

import pytest
from hypothesis import given, settings, strategies as st

from notice_cli.recordings import (CALLING, CHANGED, DAY, FAILED, MISSING, NOT_DIALPLAN, OUTSIDE, PLAYED, PREPARED, REMOVED,
                                   SAYINGS, UNSURE, Candidate, Collected, Decided, Fate, decide, dialplan_recording_of,
                                   names_played, newest_uses, recording_namer)

NOW = 1_800_000_000
REC = "rec_1732790000.42-1732790012"


@pytest.mark.parametrize("file_name, name", [
    (f"{REC}.wav", REC),
    (f"{REC}.gsm", REC),
    (f"{REC}.g726-16", REC),
    ("rec_1732790000.42.wav", "rec_1732790000.42"),
    ("rec_1732790000.42", None),  # no audio extension: not a file of rec_1732790000
    (f"{REC}.txt", None),
    (f"{REC}.wav.tmp", None),
    (f"{REC}.Wav", None),
    ("hello.wav", None),  # an admin's: never the dialplan's
    ("3.wav", None),
    ("Rec_1.wav", None),
    ("rec_ 1.wav", None),
    ("rec_*.wav", None),
    (".rec_1.wav", None),
    ("rec_1&rec_2.wav", None),
    ("rec_" + "1" * 197 + ".wav", None),  # over 200 characters
    (".wav", None),
    ("rec_.wav", "rec_"),
])
def test_the_dialplan_recording_a_file_holds(file_name, name):
    assert dialplan_recording_of(file_name) == name


@pytest.mark.parametrize("data, names", [
    (f"/var/spool/asterisk/notice/{REC}", {REC}),
    ("/var/spool/asterisk/notice/rec_1732790000.42", {"rec_1732790000.42"}),  # .42 is no extension
    ("/var/spool/asterisk/notice/rec_1.wav", {"rec_1.wav", "rec_1"}),
    ("/var/spool/asterisk/notice/prepared/3", {"3"}),
    ("rec_1", {"rec_1"}),
    ("/a/rec_1&/b/rec_2,skip", {"rec_1", "rec_2"}),
    ("/elsewhere/rec_1", {"rec_1"}),  # whatever the folder: a name counted too many keeps a file longer
    ("", {""}),
])
def test_names_a_playback_argument_plays(data, names):
    assert names_played(data) == names


def test_newest_use_of_each_recording():
    assert newest_uses([("/r/rec_1", 5.0), ("/r/rec_2", 7.0), ("/r/rec_1", 9.0), ("/r/rec_1&/r/rec_2", 6.0),
                        ("/r/rec_1", 8.0)]) == {"rec_1": 9.0, "rec_2": 7.0}
    assert newest_uses([]) == {}


def test_recording_namer_names_inside_the_folder():
    name = recording_namer("/var/spool/asterisk/notice/")
    assert name("/var/spool/asterisk/notice/rec_1") == "rec_1"
    assert name("/var/spool/asterisk/notice/prepared/3") == "prepared/3"
    assert name("/srv/other/rec_1") == "/srv/other/rec_1"
    assert name(None) is None


# --- decide --------------------------------------------------------------------------------------

def candidate(name, age_days, seconds=0):
    return Candidate(name, ((f"{name}.wav", 1, hash(name), 0),), NOW - age_days * DAY - seconds)


def names(candidates):
    return [found.name for found in candidates]


def test_retention_boundary_of_a_recording_no_notice_used():
    old, exact, young = candidate("rec_old", 30, 1), candidate("rec_exact", 30), candidate("rec_young", 29)
    decided = decide([old, exact, young], {}, {}, NOW, 30)
    assert (names(decided.remove), names(decided.played), names(decided.recent)) == (
        ["rec_old"], [], ["rec_exact", "rec_young"])


def test_a_recording_a_pending_notice_plays_is_kept_whatever_its_age():
    ancient = candidate("rec_1", 3650)
    decided = decide([ancient], {"rec_1": "notice x"}, {"rec_1": NOW - 3650 * DAY}, NOW, 0)
    assert decided == Decided([], [ancient], [])


def test_finished_recently_is_kept_finished_long_ago_goes():
    recorded_long_ago = [candidate("rec_recent", 400), candidate("rec_long_ago", 400), candidate("rec_edge", 400)]
    finished = {"rec_recent": NOW - 29 * DAY, "rec_long_ago": NOW - 31 * DAY, "rec_edge": NOW - 30 * DAY}
    decided = decide(recorded_long_ago, {}, finished, NOW, 30)
    assert (names(decided.remove), names(decided.recent)) == (["rec_long_ago"], ["rec_recent", "rec_edge"])


def test_a_recording_written_after_its_last_use_counts_from_then():
    decided = decide([candidate("rec_1", 2)], {}, {"rec_1": NOW - 60 * DAY}, NOW, 30)
    assert names(decided.recent) == ["rec_1"]


def test_retention_zero_removes_every_recording_no_pending_notice_plays():
    decided = decide([candidate("rec_1", 0, 1), candidate("rec_2", 0, 1)], {"rec_2": "notice y"}, {}, NOW, 0)
    assert (names(decided.remove), names(decided.played)) == (["rec_1"], ["rec_2"])


@settings(max_examples=300, deadline=None)
@given(ages=st.lists(st.tuples(st.integers(0, 100 * DAY), st.none() | st.integers(0, 100 * DAY), st.booleans()),
                     max_size=12),
       retention=st.integers(0, 100), longer=st.integers(0, 100))
def test_decide_keeps_every_played_or_recent_one_and_more_retention_removes_no_more(ages, retention, longer):
    candidates = [Candidate(f"rec_{i}", (), NOW - age) for i, (age, _, _) in enumerate(ages)]
    finished = {f"rec_{i}": NOW - ago for i, (_, ago, _) in enumerate(ages) if ago is not None}
    playing = {f"rec_{i}": "notice" for i, (_, _, played) in enumerate(ages) if played}
    decided = decide(candidates, playing, finished, NOW, retention)
    assert sorted(decided.remove + decided.played + decided.recent) == sorted(candidates)
    for gone in decided.remove:
        assert gone.name not in playing
        assert gone.mtime < NOW - retention * DAY and finished.get(gone.name, 0) < NOW - retention * DAY
    for kept in decided.recent:
        assert max(kept.mtime, finished.get(kept.name, 0)) >= NOW - retention * DAY
    assert set(decide(candidates, playing, finished, NOW, retention + longer).remove) <= set(decided.remove)


# --- what is said --------------------------------------------------------------------------------

def test_every_outcome_has_its_clause_and_those_of_discard_a_line():
    assert set(SAYINGS) == {REMOVED, PLAYED, MISSING, CHANGED, PREPARED, NOT_DIALPLAN, OUTSIDE, FAILED, UNSURE,
                            CALLING}
    folder = "/var/spool/asterisk/notice"
    assert [Fate(outcome, "rec_1", "notice 2026-a").line(folder) for outcome in (
        REMOVED, PLAYED, MISSING, CHANGED, PREPARED)] == [
        f"removed recording rec_1 from {folder}",
        "kept recording rec_1: notice 2026-a plays it",
        f"no recording rec_1 in {folder}: nothing removed",
        "kept recording rec_1: it changed while being removed",
        f"kept recording rec_1: {folder} is the prepared recordings' folder (prepared_dir)",
    ]
    assert Fate(PLAYED, "rec_1", "notice 2026-a").clause() == "kept its recording rec_1 (notice 2026-a plays it)"
    assert Fate(PREPARED, "prepared/3", None).clause() == "its recording prepared/3 is kept (prepared)"
    assert Fate(FAILED, "rec_1", "permission denied on /x").clause() == (
        "its recording rec_1 could not be removed: permission denied on /x")


@pytest.mark.parametrize("collected, line", [
    (Collected("/r", 30, ["rec_1", "rec_2"], [], [], None), "removed 2 recordings unused for 30 days from /r"),
    (Collected("/r", 1, ["rec_1"], ["rec_2"], [], None),
     "removed 1 recording unused for 1 day from /r (kept: 1 played by pending notices)"),
    (Collected("/r", 7, [], ["rec_2", "rec_3"], ["rec_4"], None),
     "removed 0 recordings unused for 7 days from /r (kept: 2 played by pending notices, 1 changed meanwhile)"),
    (Collected("/r", 30, [], [], [], None, ["rec_5"]),
     "removed 0 recordings unused for 30 days from /r (kept: 1 maybe played by a call file being written or not readable)"),
    (Collected("/r", 30, [], [], [], MISSING), "no recordings folder /r (recordings_dir): no recording removed"),
    (Collected("/r", 30, [], [], [], PREPARED),
     "left the recordings in /r alone: it is the prepared recordings' folder (prepared_dir) too"),
])
def test_what_gc_says(collected, line):
    assert collected.report() == line
