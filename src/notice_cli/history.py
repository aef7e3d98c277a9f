"""What became of each finished notice, for notice history and notice show: its final outcome
as a result and an outcome word, --outcome's choice of them, and --summary's counts.
inventory.py lists the archived call files (one row per notice); the ledgers of reported
delivery (outcomes.py) say what became of each attempt.

    the notice                         result          outcome
    reported delivery, ended           delivered       confirmed, heard (the last report's)
                                       not delivered   hung_up, voicemail, machine, busy, no_answer,
                                                       failed, or heard when retry_on names it
    ... called again (retry_on)        pending         - (none yet)
    ... archived with no report        unknown         unreported: is [notice-deliver] in the dialplan?
    Playback delivery: Completed       unknown         answered (whether it was heard, Playback
                                                       cannot tell)
                       Expired         not delivered   unanswered (no attempt was answered)
                       Failed          not delivered   failed (Asterisk could not use the call file)
    queue delivery's missed            not delivered   missed (too late to call)
"""

from __future__ import annotations

from collections import Counter, namedtuple
from collections.abc import Iterable

from .errors import InvalidInput, shown
from .inventory import collector_paused
from .outcome import DELIVERED_END, FAILED, NOT_DELIVERED_END, OUTCOMES, RETRY, Report
from .outcomes import read_ledger, reports_in
from .record import MISSED_STATUS, SpooledNotice

DELIVERED, NOT_DELIVERED, PENDING, UNKNOWN = DELIVERED_END, NOT_DELIVERED_END, "pending", "unknown"
RESULTS = (DELIVERED, NOT_DELIVERED, PENDING, UNKNOWN)
ANSWERED, UNANSWERED, MISSED, UNREPORTED = "answered", "unanswered", "missed", "unreported"
# Every outcome word a notice can end with, in the order --summary counts them.
FINAL_OUTCOMES = (*OUTCOMES, UNANSWERED, MISSED, ANSWERED, UNREPORTED)

# Playback delivery: Asterisk's Status is all there is to know.
_PLAYBACK = {"Completed": (UNKNOWN, ANSWERED), "Expired": (NOT_DELIVERED, UNANSWERED),
             "Failed": (NOT_DELIVERED, FAILED), MISSED_STATUS: (NOT_DELIVERED, MISSED)}
_NOT_YET = (UNKNOWN, None)  # the instant between Asterisk's move and its Status line


class Finished(namedtuple("Finished", (*SpooledNotice._fields, "result", "final"))):
    """A notice as notice history lists it: the fields of its latest attempt's call file (a
    SpooledNotice's; attempts counts the calls of all its attempts), its RESULT (one of
    RESULTS) and FINAL, its final outcome (one of FINAL_OUTCOMES; None while pending)."""

    __slots__ = ()


_finished = tuple.__new__  # a Python call less per notice of a listing (record.read_listed's note)


def with_outcomes(listed: Iterable[tuple], data_dir: str) -> list[tuple]:
    """(at, Finished) of each (at, notice) LISTED (inventory.finished), its final outcome read
    from its ledger in DATA_DIR in reported delivery, from Asterisk's Status in Playback's."""
    rows = []
    with collector_paused():  # a row a notice, as the scan (inventory.py): a third of the time here
        for at, notice in listed:
            if notice.attempt is None:
                verdict = _PLAYBACK.get(notice.status, _NOT_YET)
            else:
                verdict = reported_verdict(notice, reports_in(read_ledger(data_dir, notice.id)), archived=True)
            rows.append((at, _finished(Finished, notice + verdict)))
    return rows


def playback_verdict(status: str | None, pending: bool) -> tuple[str, str | None]:
    """(result, outcome) of a notice of Playback delivery whose call file says STATUS."""
    return (PENDING, None) if pending else _PLAYBACK.get(status, _NOT_YET)


def reported_verdict(latest: SpooledNotice, reports: list[Report], archived: bool) -> tuple[str, str | None]:
    """(result, outcome) of a notice of reported delivery whose latest attempt's call file is
    LATEST (ARCHIVED by Asterisk, or still to be called), from the REPORTS in its ledger."""
    if latest.status == MISSED_STATUS:
        return NOT_DELIVERED, MISSED
    last = last_report(reports)
    if last is None or last.attempt < latest.attempt:  # the latest attempt has not reported
        return (UNKNOWN, UNREPORTED) if archived else (PENDING, None)
    if last.then == RETRY:
        return PENDING, None
    return last.then, last.outcome


def last_report(reports: list[Report]) -> Report | None:
    """The report of the latest attempt (the first kept for it: notice report keeps no other)."""
    latest = None
    for report in reports:
        if latest is None or report.attempt > latest.attempt:
            latest = report
    return latest


# --- notice history --outcome -----------------------------------------------------------------

# --outcome's words: a result (a blank written '-': not-delivered), or a final outcome.
CHOICES = (*(result.replace(" ", "-") for result in RESULTS), *FINAL_OUTCOMES)


class Chosen(namedtuple("Chosen", "results finals")):
    """What notice history --outcome keeps: the notices whose result is one of RESULTS or whose
    final outcome is one of FINALS (both empty: every notice)."""

    __slots__ = ()

    @classmethod
    def given(cls, words: Iterable[str]) -> Chosen:
        """The choice of the words of --outcome; InvalidInput for one that is none of CHOICES."""
        results, finals = set(), set()
        for word in words:
            result = word.replace("-", " ")
            if result in RESULTS:
                results.add(result)
            elif word in FINAL_OUTCOMES:
                finals.add(word)
            else:
                raise InvalidInput(f"outcome {shown(word)} is not one of {', '.join(CHOICES)}")
        return cls(frozenset(results), frozenset(finals))

    def __bool__(self) -> bool:
        return bool(self.results or self.finals)

    def picked(self, rows: list[tuple]) -> list[tuple]:
        """The (at, Finished) ROWS chosen."""
        return [row for row in rows if row[1].result in self.results or row[1].final in self.finals]


# --- notice history --summary -----------------------------------------------------------------

class Summary(namedtuple("Summary", "since until results outcomes")):
    """notice history --summary: the range [SINCE, UNTIL) (Unix seconds, None: open), how many
    notices have each of RESULTS ({result: count}, every result), and OUTCOMES: ((result,
    outcome), count) of each pair found, results in RESULTS' order and outcomes in
    FINAL_OUTCOMES' (a heard notice is delivered, or not when retry_on names heard)."""

    __slots__ = ()

    @classmethod
    def of(cls, rows: Iterable[tuple], since: int | None, until: int | None) -> Summary:
        pairs = Counter((notice.result, notice.final) for _, notice in rows)
        results = {result: sum(count for (each, _), count in pairs.items() if each == result) for result in RESULTS}
        order = {final: at for at, final in enumerate((None, *FINAL_OUTCOMES))}
        outcomes = sorted(pairs.items(), key=lambda pair: (RESULTS.index(pair[0][0]), order[pair[0][1]]))
        return cls(since, until, results, tuple(outcomes))

    @property
    def notices(self) -> int:
        return sum(self.results.values())
