"""The pace of queue delivery: how many notices notice run may hand to Asterisk now, and the
second each is to start at. No I/O: engine.py counts what is in progress and asks.

Asterisk starts a call file at its mtime, a whole second (pbx_spool), and starts every file
that is due at once. So the engine paces by what it hands and by the mtime it gives each
file:
- max_calls: a handed file counts as a call in progress from the moment it is in outgoing/
  until Asterisk archives it, waiting, calling or waiting to retry alike: Asterisk retries on
  its own, and a retry must find its channel free. The engine hands no more than the room
  left.
- call_rate: the engine gives each file a start second of its own, at most call_rate files
  to a second, never before the notice's due second: a notice may ring later than its due
  time when the trunk is busy, never earlier.
"""

from __future__ import annotations

import math

NO_LIMIT = 0


def room(max_calls: int, in_progress: int) -> int | None:
    """How many more notices may be handed with IN_PROGRESS calls already handed; None: no limit."""
    if max_calls == NO_LIMIT:
        return None
    return max(0, max_calls - in_progress)


class StartSeconds:
    """The start seconds given so far, and how many files start in each, so that no second
    gets more than CALL_RATE (0: no limit)."""

    def __init__(self, call_rate: int):
        self.call_rate = call_rate
        self.taken: dict[int, int] = {}
        # Every second from the next one up to here is full: a search for room starts here,
        # not at each notice's due second (10,000 notices due at one second, 1 a second: a
        # scan of 10,000 seconds each, 6 s, without it).
        self.full_until = 0

    def give(self, due: int, now: float) -> int:
        """take() the second of peek()."""
        second = self.peek(due, now)
        self.take(second, now)
        return second

    def peek(self, due: int, now: float) -> int:
        """The second a notice due at DUE would start at, handed at NOW: DUE itself, or if that
        has passed the next whole second (a file whose mtime has passed would start at once,
        in no second of the engine's choosing); then, with a call rate, the first second from
        there with room left."""
        second = max(due, math.floor(now) + 1)
        if self.call_rate == NO_LIMIT:
            return second
        if second <= self.full_until:
            second = self.full_until + 1
        while self.taken.get(second, 0) >= self.call_rate:
            second += 1
        return second

    def take(self, second: int, now: float) -> None:
        """Count a notice starting at SECOND."""
        if self.call_rate == NO_LIMIT:
            return
        self.taken[second] = self.taken.get(second, 0) + 1
        if self.taken[second] >= self.call_rate and second == max(self.full_until, math.floor(now)) + 1:
            self.full_until = second
            while self.taken.get(self.full_until + 1, 0) >= self.call_rate:
                self.full_until += 1

    def forget_before(self, now: float) -> None:
        """Drop the seconds gone by: only the coming ones can still fill up."""
        for second in [second for second in self.taken if second <= now]:
            del self.taken[second]
        self.full_until = max(self.full_until, math.floor(now))


def is_late(due: int, now: float, late_limit: int) -> bool:
    """Whether a notice due at DUE can no longer be started at NOW: late_limit has passed."""
    return now - due > late_limit
