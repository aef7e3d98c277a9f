"""A notice read back from its call file in the spool: what was scheduled, and what Asterisk
has done with it so far. No I/O: the file's name and text come from spool.py.

While pbx_spool works on a call file it appends lines to it and moves its mtime
(pbx/pbx_spool.c: safe_append() and remove_from_queue()):

    StartRetry: <pid> <attempt> (<time>)    an attempt begins; <time> is its start + RetryTime
    EndRetry: <pid> <attempt> (<time>)      it failed (busy, no answer, no such number) and
                                            another one follows; <time> is its end, and the
                                            new mtime, <time> + RetryTime, the next attempt's
    AbortRetry: <pid> <attempt> (<time>)    a restarted Asterisk found an attempt of its former
                                            run unfinished and gave it up
    DelayedRetry: <pid> <attempt> (<time>)  the file came due again while its call still ran
    Status: Completed|Expired|Failed        the last line, written once the file is in outgoing_done/

Each line but Status comes after an empty line. A call is running while the last StartRetry
has no EndRetry or AbortRetry after it -- in outgoing/; in outgoing_done/ the Status line
ended the last attempt. A line without its line feed is being appended right now: it is read
on the next look, not half now.
"""

from __future__ import annotations

import re
import sys
from collections import namedtuple

from .callfile import number_or, read_fields
from .notice import (DUE_VARIABLE, NOTICE_ID, NOTICE_ID_VARIABLE, NUMBER_PLACEHOLDER, NUMBER_VARIABLE, call_file_name,
                     notice_id_of)

START, END, ABORT, DELAYED = "StartRetry", "EndRetry", "AbortRetry", "DelayedRetry"
EVENTS = {name.lower(): name for name in (START, END, ABORT, DELAYED)}
RETRY_LINE = re.compile(r"([0-9]+)[\x00-\x20]+([0-9]+)[\x00-\x20]+\(([0-9]+)\)")
DEFAULT_RETRY_TIME = 300  # Asterisk's, for a file without a (valid) RetryTime


class SpooledNotice(namedtuple("SpooledNotice", "id number recording due retry_time max_retries "
                                                "attempts last_attempt calling status")):
    """A notice as its call file tells it. id, number: the notice's; recording: the Data line
    (the recording's path); due: the scheduled time (Unix seconds; None in a file written
    before notice-cli recorded it); retry_time, max_retries: the file's; attempts: how many
    calls Asterisk began; last_attempt: when the last one began; calling: whether it is still
    running (meaningful in outgoing/); status: Asterisk's Status line (outgoing_done/), or None."""

    __slots__ = ()

    @property
    def state(self) -> str:
        """Of a notice in outgoing/: pending (never tried), calling (now) or retrying (waiting)."""
        return STATES[bool(self.calling), bool(self.attempts)]

    @property
    def outcome(self) -> str:
        """Of a notice in outgoing_done/: Completed, Expired or Failed; unknown for the moment
        between Asterisk's move and its Status line."""
        return outcome_of(self.status)

    @property
    def needs_mtime(self) -> bool:
        """Whether next_call() needs the file's mtime: Asterisk moved it to the next attempt,
        or the file does not say when it was scheduled."""
        return self.due is None if not self.attempts else not self.calling

    def next_call(self, mtime: float | None) -> int | None:
        """When Asterisk calls next: the scheduled time until the first attempt, the next
        attempt's time (the mtime Asterisk set) while retrying, the running attempt's start
        while calling."""
        if self.calling:
            return self.last_attempt
        if self.attempts or self.due is None:
            return None if mtime is None else int(mtime)
        return self.due


# SpooledNotice.state by (calling, any attempt made), a table rather than ifs so that a listing
# can look a whole column of states up at once (output.py) by the same rule.
STATES = {(True, True): "calling", (True, False): "calling", (False, True): "retrying", (False, False): "pending"}


def outcome_of(status: str | None) -> str:
    """SpooledNotice.outcome of a notice whose Status line says STATUS (None: none yet)."""
    return status or "unknown"


class Attempt(namedtuple("Attempt", "started ended end")):
    """One call Asterisk began: when (Unix seconds, None if its line is unreadable), and when
    and how it ended: END is EndRetry (failed, retried later) or AbortRetry (given up after a
    restart), or None with ended None for the last one (running, or ended by Status)."""

    __slots__ = ()


def read_notice(file_name: str, text: str, channel_template: str | None = None) -> SpooledNotice | None:
    """The notice in the call file FILE_NAME with TEXT, or None if it is not one of ours: its
    name and its NOTICE_ID must agree. CHANNEL_TEMPLATE finds the number in the Channel line
    of a file that does not carry NOTICE_NUMBER."""
    complete = _complete_lines(text)
    written = AS_WRITTEN.fullmatch(complete)
    if written:  # its id has the form of one: the name alone must agree
        notice = _from_written(written)
        return notice if file_name == call_file_name(notice.id) else None
    notice_id = notice_id_of(file_name)
    if notice_id is None:
        return None
    notice = _from_fields(read_fields(complete), channel_template)
    return notice if notice.id == notice_id else None


def recording_of(text: str) -> str | None:
    """What the call file TEXT, ours or not, has Asterisk play: its Data line (the last one, as
    Asterisk takes it), or None if it has none yet (a staging file being written)."""
    return _from_fields(read_fields(_complete_lines(text)), None).recording


def _complete_lines(text: str) -> str:
    """TEXT without a last line that has no line feed yet: Asterisk is appending it."""
    return text if text.endswith("\n") else text[: text.rfind("\n") + 1]


def read_listed(file_name: str, data: bytes, channel_template: str | None = None) -> SpooledNotice | None:
    """read_notice() of the call file FILE_NAME from its bytes DATA (as os.read gives them), the
    way a listing reads 100,000s of files: a file as written is matched as bytes by one regular
    expression and only the values a notice keeps are decoded; any other file is decoded whole
    (as spool.py decodes a file) and read by read_notice(). The notice is made by tuple.__new__,
    not by its constructor (a Python function taking keywords): half a microsecond less a file."""
    written = None if 35 in data or 59 in data else _AS_LISTED(data)  # b"#", b";": see _LISTED_VALUE
    if written is None:
        return read_notice(file_name, data.decode("utf-8", "surrogateescape"), channel_template)
    _, _, max_retries, retry_time, recording, notice_id, number, due, tail, started, ended, status = written.groups()
    notice_id = notice_id.decode("ascii")  # the pattern of NOTICE_ID is ASCII
    if file_name != call_file_name(notice_id):  # the rule of read_notice
        return None
    retry_time = _NUMBERS[retry_time] or DEFAULT_RETRY_TIME  # digits only here; 0 is below Asterisk's 1
    if started is None:  # no attempt (_LISTED_TAIL)
        attempts, last_attempt, calling = 0, None, False
    else:
        attempts, last_attempt, calling = tail.count(_START_BYTES), int(started) - retry_time, ended is None
    return _new_notice(SpooledNotice, (
        notice_id, number.decode("utf-8", "surrogateescape"), _TEXTS[recording], int(due), retry_time,
        _NUMBERS[max_retries], attempts, last_attempt, calling, None if status is None else _TEXTS[status]))


_new_notice = tuple.__new__


class _Converted(dict):
    """value -> CONVERT(value), for the few values that MaxRetries, RetryTime, Data and Status
    take in a whole spool: a lookup by C code instead of a conversion per file. It keeps the
    first LIMIT values only, so that a spool of all different values does not make it grow."""

    LIMIT = 256

    def __init__(self, convert):
        super().__init__()
        self.convert = convert

    def __missing__(self, value: bytes):
        converted = self.convert(value)
        if len(self) < self.LIMIT:
            self[value] = converted
        return converted


_NUMBERS = _Converted(int)
_TEXTS = _Converted(lambda value: value.decode("utf-8", "surrogateescape"))


def _from_written(found: re.Match) -> SpooledNotice:
    """The file exactly as notice-cli and Asterisk write it: the lexer would see each line as
    it stands, so the regular expression's groups are what it reads (no loop over lines)."""
    (_, _, max_retries, retry_time, data, notice_id, number, due, tail, status) = found.groups()
    retry_time = int(retry_time) or DEFAULT_RETRY_TIME  # digits only here; 0 is below Asterisk's 1
    if not tail:  # never tried: the common case of a pending notice
        return SpooledNotice(notice_id, number, data, int(due), retry_time, int(max_retries), 0, None, False, status)
    attempts, last_attempt, calling = _summary([(kind, int(at)) for kind, at in _TAIL_EVENT.findall(tail)], retry_time)
    return SpooledNotice(notice_id, number, data, int(due), retry_time, int(max_retries),
                         attempts, last_attempt, calling, status)


def _from_fields(pairs, channel_template: str | None) -> SpooledNotice:
    """Any other file, through the lexer's view of it (callfile.read_fields)."""
    variables, single, events = {}, {}, []
    for key, value in pairs:
        key = key.lower()
        if key in ("setvar", "set"):
            name, equals, variable = value.partition("=")
            if equals:  # Asterisk skips a Setvar without '='
                variables[name] = variable
        elif key in EVENTS:
            events.append((EVENTS[key], _event_time(value)))
        else:
            single[key] = value
    retry_time = _retry_time(single.get("retrytime"))
    attempts, last_attempt, calling = _summary(events, retry_time)
    return SpooledNotice(
        id=variables.get(NOTICE_ID_VARIABLE),
        number=variables.get(NUMBER_VARIABLE) or number_in_channel(single.get("channel", ""), channel_template),
        recording=single.get("data"),
        due=_due(variables.get(DUE_VARIABLE, "")),
        retry_time=retry_time,
        max_retries=number_or(single.get("maxretries"), 0),
        attempts=attempts, last_attempt=last_attempt, calling=calling,
        status=single.get("status"),
    )


def _retry_time(value: str | None) -> int:
    """RetryTime as Asterisk takes it: its default when missing, not a number or below 1."""
    seconds = number_or(value, DEFAULT_RETRY_TIME)
    return seconds if seconds >= 1 else DEFAULT_RETRY_TIME


def _due(value: str) -> int | None:
    return int(value) if _DUE.fullmatch(value) else None


def _event_time(value: str) -> int | None:
    found = RETRY_LINE.match(value)
    return int(found.group(3)) if found else None


def _summary(events, retry_time: int) -> tuple[int, int | None, bool]:
    """(attempts, start of the last one, whether it still runs) from (kind, time) events."""
    attempts, last_attempt, calling = 0, None, False
    for kind, at in events:
        if kind == START:
            attempts += 1
            last_attempt = None if at is None else at - retry_time
            calling = True
        elif kind in (END, ABORT):
            calling = False
    return attempts, last_attempt, calling


def attempt_log(text: str, retry_time: int) -> list[Attempt]:
    """Every attempt in the call file TEXT, in order, for `notice show`."""
    attempts = []
    for key, value in read_fields(_complete_lines(text)):
        kind = EVENTS.get(key.lower())
        at = _event_time(value)
        if kind == START:
            attempts.append(Attempt(None if at is None else at - retry_time, None, None))
        elif kind in (END, ABORT) and attempts and attempts[-1].end is None:
            attempts[-1] = attempts[-1]._replace(ended=at, end=kind)
    return attempts


def number_in_channel(channel: str, template: str | None) -> str | None:
    """The number in CHANNEL if it has the shape of TEMPLATE (e.g. Local/{number}@from-internal)."""
    if not template or NUMBER_PLACEHOLDER not in template:
        return None
    before, _, after = template.partition(NUMBER_PLACEHOLDER)
    if len(channel) > len(before) + len(after) and channel.startswith(before) and channel.endswith(after):
        return channel[len(before): len(channel) - len(after)]
    return None


# The call file as call_file_for() and render() write it, then what Asterisk appends. A value
# here has no blank at either end and no '#' or ';', so the lexer reads every line exactly as
# it stands; a file of any other shape (edited, older) goes through read_fields instead.
_VALUE = r"[^\x00-\x20#;](?:[^\n#;]*[^\x00-\x20#;])?"
_TAIL_LINE = rf"\n?(?:{START}|{END}|{ABORT}|{DELAYED}): [0-9]+ [0-9]+ \([0-9]+\)\n"
_DUE = re.compile(r"[0-9]{1,12}")
_TAIL_EVENT = re.compile(rf"({START}|{END}|{ABORT}|{DELAYED}): [0-9]+ [0-9]+ \(([0-9]+)\)")


def _written_shape(value: str, tail: str) -> str:
    """The lines of a file as written, each VALUE its pattern, then TAIL (Asterisk's lines);
    groups: channel, caller id, MaxRetries, RetryTime, Data, NOTICE_ID, NOTICE_NUMBER,
    NOTICE_DUE, TAIL's, Status."""
    return (
        rf"Channel: ({value})\n"
        rf"(?:CallerID: ({value})\n)?"
        r"MaxRetries: ([0-9]{1,9})\n"
        r"RetryTime: ([0-9]{1,9})\n"
        r"WaitTime: [0-9]{1,9}\n"
        rf"Application: {value}\n"
        rf"Data: ({value})\n"
        r"Archive: (?:yes|no)\n"
        rf"Setvar: {NOTICE_ID_VARIABLE}=({NOTICE_ID})\n"
        rf"Setvar: {NUMBER_VARIABLE}=({value})\n"
        rf"Setvar: {DUE_VARIABLE}=({_DUE.pattern})\n"
        rf"{tail}"
        rf"(?:Status: ({value})\n)?"
    )


AS_WRITTEN = re.compile(_written_shape(_VALUE, rf"((?:{_TAIL_LINE})*)"))

# The same shape for read_listed(), as bytes straight from os.read (only the values kept are
# decoded), and little more than half the work for re's engine, which a listing runs
# 100,000s of times: a value is [^\n]*+ (the engine's fastest loop, a scan for one byte)
# with its first and last byte checked apart (the lookbehind), rather than a class tested
# byte by byte; read_listed rules out '#' and ';' for the whole file first with two
# memchr()s, so together they accept exactly what _VALUE does. Possessive and atomic parts
# give the engine nothing to backtrack into (no line could match another way). A last line
# without its line feed, being appended now, is matched and not read, as read_notice cuts
# it off.
# Python 3.9 and 3.10 (Debian 11's, FreePBX 16's) have neither: there the same pattern takes
# plain parts, which match the same lines, only with more work for the engine.
_EAGER, _ATOM = ("+", "(?>") if sys.version_info >= (3, 11) else ("", "(?:")
_LISTED_VALUE = rf"[^\x00-\x20][^\n]*{_EAGER}(?<![\x00-\x20])"


def _listed_event(kinds: str, time: str = rf"[0-9]+{_EAGER}") -> str:
    return rf"\n?{_ATOM}{kinds}): [0-9]+{_EAGER} [0-9]+{_EAGER} \({time}\)\n"


# Asterisk's lines, in two groups more that say what _summary() finds by a loop: the tail is
# any lines, the last StartRetry (its time captured: the greedy repetition before it gives
# lines back until one is found), then lines that are not StartRetry, any EndRetry or
# AbortRetry among them captured (then the call is over); or it has no StartRetry at all.
_LISTED_TAIL = (rf"((?:{_listed_event(f'{START}|{END}|{ABORT}|{DELAYED}')})*"
                rf"{_listed_event(START, rf'([0-9]+{_EAGER})')}"
                rf"(?:{_listed_event(DELAYED)}|({_listed_event(f'{END}|{ABORT}')}))*"
                rf"|(?:{_listed_event(f'{END}|{ABORT}|{DELAYED}')})*)")
_AS_LISTED = re.compile((_written_shape(_LISTED_VALUE, _LISTED_TAIL) + rf"[^\n]*{_EAGER}").encode()).fullmatch
_START_BYTES = f"{START}: ".encode()
