"""What became of a notice in reported delivery: the outcome of each attempt, as the dialplan's
[notice-deliver] reports it, what follows from it (another call, or the notice's end), and
the notice's final outcome. No I/O here: outcomes.py keeps the reports, report.py acts on one.

Asterisk's Status (Completed, Expired, Failed) says only whether a call was answered. With
reported delivery (README, "Delivery outcomes") the dialplan says what the callee did:

    confirmed   pressed 1 after the message                       delivered
    heard       heard the message to its end, no key              delivered
    hung_up     hung up before its end (with the seconds played)  not delivered
    voicemail   an answering machine took the message after its beep
    machine     an answering machine, hung up on (amd_leave_message = no)
    busy, no_answer, failed    the call was not answered (Asterisk's REASON)
    missed      queue delivery could not start it within late_limit (kept by the engine)

retry_on names the outcomes that are called again, up to max_retries times; an outcome in it
is never delivered, even heard. A notice ends with its last attempt's outcome.
"""

from __future__ import annotations

from .errors import InvalidInput, shown
from .value import Value

CONFIRMED, HEARD, HUNG_UP, VOICEMAIL, MACHINE, BUSY, NO_ANSWER, FAILED = (
    "confirmed", "heard", "hung_up", "voicemail", "machine", "busy", "no_answer", "failed")
OUTCOMES = (CONFIRMED, HEARD, HUNG_UP, VOICEMAIL, MACHINE, BUSY, NO_ANSWER, FAILED)
# Kept by notice-cli itself, never reported by the dialplan: queue delivery's engine could not
# start the attempt within late_limit.
MISSED = "missed"
LEDGER_OUTCOMES = OUTCOMES + (MISSED,)
# What retry_on may name: a confirmed notice is delivered whatever the setting, and a message
# left on a machine is not left twice.
RETRYABLE = (BUSY, NO_ANSWER, FAILED, HUNG_UP, HEARD, MACHINE)
DEFAULT_RETRY_ON = (BUSY, NO_ANSWER, FAILED)
# Asterisk's Playback cannot tell these apart (all Completed): asking to retry one of them
# needs the delivery context.
ONLY_REPORTED = (HUNG_UP, HEARD, MACHINE)
DELIVERED = (CONFIRMED, HEARD)
MAX_PLAYED = 86400  # seconds: no message plays a day
MAX_ATTEMPT = 1001  # max_retries is at most 1000

# What follows an attempt: another call, or the notice's end.
RETRY, DELIVERED_END, NOT_DELIVERED_END = "retry", "delivered", "not delivered"
THEN = (RETRY, DELIVERED_END, NOT_DELIVERED_END)


def reported(settings) -> bool:
    """Whether notices by SETTINGS go through the delivery context (reported delivery) rather
    than Playback: asked for by confirm, amd, on_failure or a retry_on only the context serves."""
    return (settings.confirm != "none" or settings.amd != "off" or settings.on_failure is not None
            or any(outcome in ONLY_REPORTED for outcome in settings.retry_on))


class Report(Value):
    """One attempt's outcome: AT (Unix seconds, when it was reported), ATTEMPT (1, 2, ...),
    OUTCOME, PLAYED (seconds of the message played), THEN (what follows: RETRY with NEXT_AT,
    the time of the next call; or the end)."""

    __slots__ = ("at", "attempt", "outcome", "played", "then", "next_at")
    DEFAULTS = {"next_at": None}


class FailureRun(Value):
    """on_failure run for a notice: the PROGRAM, when it ended (AT), its EXIT code (None: it
    could not be started or did not end in time, see OUTPUT) and its OUTPUT, cut to MAX_OUTPUT."""

    __slots__ = ("at", "program", "exit", "output")


MAX_OUTPUT = 4000  # characters of on_failure's output kept


def check_report(attempt: str, outcome: str, played: str) -> tuple[int, str, int]:
    """(attempt, outcome, played) from the dialplan's words, or InvalidInput: a report is
    recorded exactly as given or refused, never taken in part."""
    if not _whole(attempt) or not 1 <= int(attempt) <= MAX_ATTEMPT:
        raise InvalidInput(f"attempt {shown(attempt)} is not an attempt number from 1 to {MAX_ATTEMPT}")
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome {shown(outcome)} is not one of {', '.join(OUTCOMES)}")
    if not _whole(played) or int(played) > MAX_PLAYED:
        raise InvalidInput(f"seconds played {shown(played)} is not a whole number from 0 to {MAX_PLAYED}")
    return int(attempt), outcome, int(played)


def _whole(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 6


def then(outcome: str, attempt: int, max_retries: int, retry_on: tuple[str, ...]) -> str:
    """What follows OUTCOME of ATTEMPT for a notice called at most MAX_RETRIES times again on
    the outcomes RETRY_ON."""
    if outcome in DELIVERED and outcome not in retry_on:
        return DELIVERED_END
    if outcome in retry_on and outcome in RETRYABLE and attempt <= max_retries:
        return RETRY
    return NOT_DELIVERED_END


def final(reports: list[Report]) -> Report | None:
    """The report that ended the notice, or None while it is not over (no report yet, or the
    last one asked for another call)."""
    last = reports[-1] if reports else None
    return None if last is None or last.then == RETRY else last


def verdict(reports: list[Report]) -> str | None:
    """The notice's final outcome in words: "delivered (confirmed)", "not delivered (busy)";
    None while it is not over."""
    ended = final(reports)
    if ended is None:
        return None
    return f"{ended.then} ({ended.outcome})"
