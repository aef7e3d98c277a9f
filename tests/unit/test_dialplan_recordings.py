"""The rules of dialplan_recordings.py, no file system: when each recording was last used, and
which recordings may go at a given time."""

from hypothesis import given, settings, strategies as st

from notice_cli.dialplan_recordings import DAY, Candidate, Decided, decide, newest_uses

NOW = 1_800_000_000


def test_newest_use_of_each_recording():
    assert newest_uses([("/r/rec_1", 5.0), ("/r/rec_2", 7.0), ("/r/rec_1", 9.0), ("/r/rec_1&/r/rec_2", 6.0),
                        ("/r/rec_1", 8.0)]) == {"rec_1": 9.0, "rec_2": 7.0}
    assert newest_uses([]) == {}


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
