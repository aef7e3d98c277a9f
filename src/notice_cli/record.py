"""A notice read back from its call file in the spool: what was scheduled, and what Asterisk
has done with it so far. No I/O: the file's name and text come from spool_reader.py.

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

from .callfile import ABORT, DELAYED, END, FIELDS, START, Field, Retries, Variables, field, read, retry_value
from .notice import (ATTEMPT_VARIABLE, DELIVERY_CONTEXT, DUE, MESSAGE_VARIABLE, NOTICE_VARIABLES, NUMBER_PLACEHOLDER,
                     attempt_of, call_file_name, notice_id_of)
from .outcome import MAX_ATTEMPT


class SpooledNotice(namedtuple("SpooledNotice", "id number recording due retry_time max_retries "
                                                "attempts last_attempt calling status attempt")):
    """A notice as its call file tells it. id, number: the notice's; recording: the Data line
    (the recording's path); due: the scheduled time (Unix seconds; None in a file written
    before notice-cli recorded it); retry_time, max_retries: the file's; attempts: how many
    calls Asterisk began; last_attempt: when the last one began; calling: whether it is still
    running (meaningful in outgoing/); status: Asterisk's Status line (outgoing_done/), or None;
    attempt: in reported delivery, which call of the notice this file makes (NOTICE_ATTEMPT:
    1, 2, ...; each has a file of its own), None for a file of Playback delivery."""

    __slots__ = ()

    @property
    def state(self) -> str:
        """Of a notice in outgoing/: pending (never tried), calling (now) or retrying (waiting,
        or in reported delivery the file of a later attempt); of one still in queue delivery's
        queue, queued (its calling is QUEUED)."""
        return state_of((self.calling, self.attempts, self.attempt))

    @property
    def calls(self) -> int:
        """The calls made for the notice so far: this file's attempts, and in reported delivery
        one for each earlier attempt's file."""
        return calls_of((self.attempts, self.attempt))

    @property
    def outcome(self) -> str:
        """Of a notice in outgoing_done/: Completed, Expired or Failed; unknown for the moment
        between Asterisk's move and its Status line."""
        return outcome_of(self.status)

    @property
    def needs_mtime(self) -> bool:
        """Whether next_call() needs the file's mtime: Asterisk moved it to the next attempt,
        notice report spooled a later attempt's file for its time (NOTICE_DUE stays the
        scheduled one), or the file does not say when it was scheduled."""
        if self.attempts:
            return not self.calling
        return self.due is None or (self.attempt or 1) > 1

    def next_call(self, mtime: float | None) -> int | None:
        """When Asterisk calls next: the scheduled time until the first attempt, the next
        attempt's time (the mtime Asterisk or notice report set) while retrying, the running
        attempt's start while calling. A queued later attempt's MTIME is the queue's time."""
        if self.calling and self.calling != QUEUED:
            return self.last_attempt
        if self.needs_mtime:
            return None if mtime is None else int(mtime)
        return self.due


# SpooledNotice.state by (calling, any attempt made), a table rather than ifs so that a listing
# can look a whole column of states up at once (output.py) by the same rule.
STATES = {(True, True): "calling", (True, False): "calling", (False, True): "retrying", (False, False): "pending"}
# A notice still in queue delivery's queue (queue_inventory.py) is listed with this as its
# `calling`: it is in no call file Asterisk has yet.
QUEUED = "queued"
PENDING = STATES[False, False]
HANDED = "handed"  # queue delivery's word for a pending call file: the engine handed it
# A notice the engine missed (too late to call) is listed with this as its status, beside
# Asterisk's Statuses.
MISSED_STATUS = "Missed"


def state_of(calling_attempts: tuple) -> str:
    """SpooledNotice.state of a notice (calling, attempts, attempt)."""
    calling, attempts, attempt = calling_attempts
    if calling == QUEUED:
        return QUEUED
    return STATES[bool(calling), bool(attempts) or attempt not in (None, 1)]


def calls_of(attempts_attempt: tuple) -> int:
    """SpooledNotice.calls of a notice (attempts, attempt)."""
    attempts, attempt = attempts_attempt
    return attempts if attempt is None else attempts + attempt - 1


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
    of a file that does not carry NOTICE_NUMBER. Read the fast way of read_listed() when the
    text is ASCII (its bytes are then exactly its characters), else read_plainly()."""
    if text.isascii():
        return read_listed(file_name, text.encode("ascii"), channel_template)
    return read_plainly(file_name, text, channel_template)


def read_plainly(file_name: str, text: str, channel_template: str | None = None) -> SpooledNotice | None:
    """read_notice(), the plain way: the file read as pbx_spool reads it (callfile.read). The
    specification that read_listed() follows the fast way."""
    notice_id = notice_id_of(file_name)
    if notice_id is None:
        return None
    notice = _notice_in(read(_complete_lines(text)), channel_template)
    if notice.id != notice_id:
        return None
    if notice.attempt is None and attempt_of(file_name) > 1:  # named for a later attempt: one, whatever its lines
        return notice._replace(attempt=attempt_of(file_name))
    return notice


def recording_of(text: str) -> str | None:
    """What the call file TEXT, ours or not, has Asterisk play: its Data line (the last one, as
    Asterisk takes it), or in reported delivery its NOTICE_MESSAGE; None if it has neither yet
    (a staging file being written)."""
    return _recording(read(_complete_lines(text)))


def _recording(values: dict) -> str | None:
    """The recording a call file's VALUES (callfile.read) play: Playback's Data, or the message
    the delivery context plays (reported delivery)."""
    if values["data"] is not None or values["context"] is None:
        return values["data"]
    return dict(values["variables"]).get(MESSAGE_VARIABLE)


def _complete_lines(text: str) -> str:
    """TEXT without a last line that has no line feed yet: Asterisk is appending it."""
    return text if text.endswith("\n") else text[: text.rfind("\n") + 1]


def _notice_in(values: dict, channel_template: str | None) -> SpooledNotice:
    """The notice in a call file's VALUES (callfile.read), whether ours or not."""
    variables = dict(values["variables"])
    kept = {attribute: variables.get(name) for name, attribute, _ in NOTICE_VARIABLES}
    retry_time = values["retry_time"]
    attempts, last_attempt, calling = _summary(values["retries"], retry_time)
    return SpooledNotice(
        id=kept["id"],
        number=kept["number"] or number_in_channel(values["channel"] or "", channel_template),
        recording=_recording(values),
        due=_due(kept["due"] or ""),
        retry_time=retry_time,
        max_retries=values["max_retries"],
        attempts=attempts, last_attempt=last_attempt, calling=calling,
        status=values["status"],
        attempt=_attempt(variables, values["context"]),
    )


def _attempt(variables: dict, context: str | None) -> int | None:
    """SpooledNotice.attempt of a call file with VARIABLES and CONTEXT: its NOTICE_ATTEMPT in
    reported delivery (1 if that is not a number notice-cli writes), None in Playback's."""
    if context != DELIVERY_CONTEXT and ATTEMPT_VARIABLE not in variables:
        return None
    written = variables.get(ATTEMPT_VARIABLE, "")
    if written.isascii() and written.isdigit() and len(written) <= 4 and 1 <= int(written) <= MAX_ATTEMPT:
        return int(written)
    return 1


def _due(value: str) -> int | None:
    return int(value) if _DUE(value) else None


def _event_time(value: str) -> int | None:
    """The time in a retry line's VALUE, read leniently (any blanks between its numbers)."""
    found = _RETRY_TIME(value)
    return int(found.group(1)) if found else None


_DUE = re.compile(DUE).fullmatch
_RETRY_TIME = re.compile(retry_value("[0-9]+", r"[\x00-\x20]+", "([0-9]+)")).match


def _summary(retries, retry_time: int) -> tuple[int, int | None, bool]:
    """(attempts, start of the last one, whether it still runs) from the (kind, value) RETRIES."""
    attempts, last_attempt, calling = 0, None, False
    for kind, value in retries:
        if kind == START:
            at = _event_time(value)
            attempts += 1
            last_attempt = None if at is None else at - retry_time
            calling = True
        elif kind in (END, ABORT):
            calling = False
    return attempts, last_attempt, calling


def attempt_log(text: str, retry_time: int) -> list[Attempt]:
    """Every attempt in the call file TEXT, in order, for `notice show`."""
    attempts = []
    for kind, value in read(_complete_lines(text))["retries"]:
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


# --- the fast way of a listing ----------------------------------------------------------------

def read_listed(file_name: str, data: bytes, channel_template: str | None = None) -> SpooledNotice | None:
    """read_notice() of the call file FILE_NAME from its bytes DATA (as os.read gives them), the
    way a listing reads 100,000s of files: a file as written is matched as bytes by one regular
    expression (_AS_LISTED) and only the values a notice keeps are decoded; any other file is
    decoded whole (as spool_reader.py decodes a file) and read by read_plainly(). The notice is made
    by tuple.__new__, not by its constructor (a Python function taking keywords): half a
    microsecond less a file."""
    written = None if 35 in data or 59 in data else _AS_LISTED(data)  # b"#", b";": see _VALUE
    if written is None:
        return read_plainly(file_name, data.decode("utf-8", "surrogateescape"), channel_template)
    max_retries, retry_time, recording, notice_id, number, due, tail, started, ended, status = written.groups()
    notice_id = notice_id.decode("ascii")  # the pattern of NOTICE_ID is ASCII
    if file_name != call_file_name(notice_id):  # another id (read_plainly's rule), or a later attempt's name
        return read_plainly(file_name, data.decode("utf-8", "surrogateescape"), channel_template)
    retry_time = _RETRY_TIMES[retry_time]
    if started is None:  # no attempt (_tail)
        attempts, last_attempt, calling = 0, None, False
    else:
        attempts, last_attempt, calling = tail.count(_START_BYTES), int(started) - retry_time, ended is None
    return _new_notice(SpooledNotice, (
        notice_id, number.decode("utf-8", "surrogateescape"), _TEXTS[recording], int(due), retry_time,
        _MAX_RETRIES[max_retries], attempts, last_attempt, calling, None if status is None else _TEXTS[status],
        None))  # a Playback file: the fast way takes no other


_new_notice = tuple.__new__
_START_BYTES = f"{START}: ".encode()


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


# Numbers as pbx_spool takes them (callfile.Number.take: digits only here, but RetryTime 0 is
# below its least), texts as spool_reader.py decodes a file.
_MAX_RETRIES = _Converted(field("max_retries").take)
_RETRY_TIMES = _Converted(field("retry_time").take)
_TEXTS = _Converted(lambda value: value.decode("utf-8", "surrogateescape"))

# The call file exactly as call_file_for() and render() write it, by callfile.FIELDS and the
# notice's NOTICE_VARIABLES, then what Asterisk appends. A value there has no blank at either
# end and no '#' or ';', so the lexer reads every line exactly as it stands, and the groups
# are what callfile.read() would find; a file of any other shape (edited, older) goes through
# read_plainly() instead. The values read_listed() keeps are the named groups of _KEPT, in
# that order (the fields' order), which it unpacks.
#
# It is matched as bytes straight from os.read (only the values kept are decoded), with
# little more than half the work for re's engine, which a listing runs 100,000s of times: a
# value is [^\n]*+ (the engine's fastest loop, a scan for one byte) with its first and last
# byte checked apart (the lookbehind), rather than a class tested byte by byte; read_listed
# rules out '#' and ';' for the whole file first with two memchr()s, so together they accept
# exactly a value without blanks at its ends, '#', ';' or a line break. Possessive and atomic
# parts give the engine nothing to backtrack into (no line could match another way). A last
# line without its line feed, being appended now, is matched and not read, as read_plainly
# cuts it off.
# Python 3.9 and 3.10 (Debian 11's, FreePBX 16's) have neither: there the same pattern takes
# plain parts, which match the same lines, only with more work for the engine.
_EAGER, _ATOM = ("+", "(?>") if sys.version_info >= (3, 11) else ("", "(?:")
_VALUE = rf"[^\x00-\x20][^\n]*{_EAGER}(?<![\x00-\x20])"
_NUMBER = rf"[0-9]+{_EAGER}"
_KEPT = ("max_retries", "retry_time", "data", "id", "number", "due", "tail", "started", "ended", "status")


def listed_pattern(fields=FIELDS, variables=NOTICE_VARIABLES) -> bytes:
    """The regular expression of a notice's call file as written by FIELDS, its Setvar lines
    the notice's VARIABLES, then Asterisk's lines, then a line being appended."""
    return ("".join(_lines(each, variables) for each in fields) + rf"[^\n]*{_EAGER}").encode()


# The fast way takes the Playback call file, the one written by the thousand: Application and
# Data there, no Context; a file of reported delivery goes the plain way.
_ALWAYS, _NEVER = ("application", "data"), ("context", "extension", "priority")


def _lines(line: Field, variables) -> str:
    if line.attribute in _NEVER:
        return ""
    if isinstance(line, Variables):
        return "".join(rf"{re.escape(line.key)}: {re.escape(name)}={_kept(attribute, pattern or _VALUE)}\n"
                       for name, attribute, pattern in variables)
    if isinstance(line, Retries):
        return _tail(line.keys)
    written = rf"{re.escape(line.key)}: {_kept(line.attribute, line.pattern or _VALUE)}\n"
    return rf"(?:{written})?" if line.optional and line.attribute not in _ALWAYS else written


def _kept(name: str, pattern: str) -> str:
    return rf"(?P<{name}>{pattern})" if name in _KEPT else pattern


def _tail(kinds: tuple[str, ...]) -> str:
    """Asterisk's lines of KINDS, in two groups more that say what _summary() finds by a loop:
    the tail is any lines, the last StartRetry (its time captured: the greedy repetition
    before it gives lines back until one is found), then lines that are not StartRetry, any
    EndRetry or AbortRetry among them captured (then the call is over); or it has no
    StartRetry at all."""
    return (rf"(?P<tail>(?:{_retry_line(kinds)})*"
            rf"{_retry_line((START,), rf'(?P<started>{_NUMBER})')}"
            rf"(?:{_retry_line((DELAYED,))}|(?P<ended>{_retry_line((END, ABORT))}))*"
            rf"|(?:{_retry_line((END, ABORT, DELAYED))})*)")


def _retry_line(kinds: tuple[str, ...], time: str = _NUMBER) -> str:
    """A retry line of one of KINDS after its optional empty line (safe_append writes one)."""
    return rf"\n?{_ATOM}{'|'.join(kinds)}): {retry_value(_NUMBER, ' ', time)}\n"


def listed_match(fields=FIELDS, variables=NOTICE_VARIABLES):
    """The fullmatch of listed_pattern(FIELDS, VARIABLES), whose groups must be _KEPT in the
    order read_listed() unpacks them: a table that moves them fails here, at import."""
    compiled = re.compile(listed_pattern(fields, variables))
    groups = tuple(sorted(compiled.groupindex, key=compiled.groupindex.get))
    if groups != _KEPT or compiled.groups != len(_KEPT):
        raise RuntimeError(f"the call file's fields give the groups {groups}; read_listed() unpacks {_KEPT}")
    return compiled.fullmatch


_AS_LISTED = listed_match()
