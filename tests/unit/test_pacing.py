"""pacing.py: the room max_calls leaves, the start second call_rate gives each notice, and when
a notice is too late to call. Pure functions: the engine's use of them is in test_engine.py."""

from collections import Counter

import pytest
from hypothesis import given, strategies as st

from notice_cli.pacing import StartSeconds, is_late, room

NOW = 4071006240


@pytest.mark.parametrize("max_calls, in_progress, left", [(0, 0, None), (0, 500, None), (10, 0, 10), (10, 7, 3),
                                                           (10, 10, 0), (10, 14, 0)])
def test_room_is_what_max_calls_leaves_and_never_negative(max_calls, in_progress, left):
    assert room(max_calls, in_progress) == left


def test_without_a_call_rate_a_notice_starts_on_its_due_second_or_the_next_one_to_come():
    starts = StartSeconds(0)
    assert [starts.give(NOW + 30, NOW) for _ in range(5)] == [NOW + 30] * 5
    assert starts.give(NOW - 100, NOW + 0.5) == NOW + 1  # overdue: the next whole second, not one gone by
    assert starts.give(NOW, NOW) == NOW + 1  # due this very second: it may have passed already


def test_a_call_rate_fills_each_second_up_to_it_then_the_next():
    starts = StartSeconds(3)
    given_seconds = [starts.give(NOW + 10, NOW) for _ in range(8)]
    assert given_seconds == [NOW + 10] * 3 + [NOW + 11] * 3 + [NOW + 12] * 2
    assert starts.give(NOW + 11, NOW) == NOW + 12  # a later notice takes what room is left, never an earlier second
    assert starts.give(NOW + 20, NOW) == NOW + 20


def test_seconds_gone_by_are_forgotten_and_those_to_come_kept():
    starts = StartSeconds(1)
    assert [starts.give(NOW + 1, NOW), starts.give(NOW + 1, NOW)] == [NOW + 1, NOW + 2]
    starts.forget_before(NOW + 1)
    assert starts.taken == {NOW + 2: 1}
    assert starts.give(NOW + 1, NOW + 1) == NOW + 3


@given(st.integers(1, 20), st.lists(st.tuples(st.integers(-100, 100), st.floats(0, 50)), max_size=200))
def test_no_second_gets_more_than_the_rate_and_none_starts_before_its_time_or_in_the_past(rate, asked):
    starts = StartSeconds(rate)
    given_seconds = []
    for due_offset, now_offset in sorted(asked, key=lambda pair: pair[1]):
        now = NOW + now_offset
        starts.forget_before(now)
        second = starts.give(NOW + due_offset, now)
        assert second >= NOW + due_offset and second > now
        given_seconds.append(second)
    assert max(Counter(given_seconds).values(), default=0) <= rate


@pytest.mark.parametrize("late_by, late", [(0, False), (3599, False), (3600, False), (3601, True)])
def test_a_notice_is_late_once_late_limit_has_passed(late_by, late):
    assert is_late(NOW, NOW + late_by, 3600) is late
