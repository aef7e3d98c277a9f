"""A notice: the client's number, the recording to play and when; the rules for each (those of
a recording's name in recordings.py), and the call file that carries it to Asterisk. No I/O here."""

from __future__ import annotations

import time

from .callfile import CallFile
from .charset import DIGITS, made_of
from .errors import InvalidInput, shown
from .value import Value

# A client's number: at most MAX_NUMBER characters, put in the channel setting at its
# NUMBER_PLACEHOLDER (Local/{number}@from-internal).
MAX_NUMBER = 32
NUMBER_PLACEHOLDER = "{number}"
# The call file carries the notice's id, the client's number and the scheduled time as channel
# variables: Asterisk moves the file's mtime while it retries, and the channel template may
# change, so these are the only lasting record of what was scheduled (notice list, history).
NOTICE_ID_VARIABLE = "NOTICE_ID"
NUMBER_VARIABLE = "NOTICE_NUMBER"
DUE_VARIABLE = "NOTICE_DUE"
FILE_PREFIX = "notice-"
FILE_SUFFIX = ".call"
PLAYBACK = "Playback"
# An id names a file in outgoing/: no '/', no leading '.' or '-'. notice-spool makes
# 20261128094512-9f3a1c2b; an import file may give its own in an `id` column.
# Patterns, not compiled here: notice-spool on the dialplan's path never needs them (re
# compiles them on first use and keeps them).
MAX_ID = 64
NOTICE_ID = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
# In reported delivery notice-cli makes each call again with a call file of its own, named
# for its attempt: notice-<id>.2.call, ... (Asterisk keeps the time of a name it has seen).
ATTEMPT_SEPARATOR = "."
CALL_FILE_NAME = (FILE_PREFIX + "(" + NOTICE_ID + ")" + r"(?:\.([2-9]|[1-9][0-9]{1,3}))?"
                  + FILE_SUFFIX.replace(".", r"\."))


class Notice(Value):
    """id: the notice's name; number: the client's; recording: its path without extension,
    as Playback takes it; due: Unix seconds, the call file's mtime."""

    __slots__ = ("id", "number", "recording", "due")

    @property
    def file_name(self) -> str:
        return call_file_name(self.id)


def check_number(text: str) -> str:
    if not made_of(text[1:] if text.startswith("+") else text, DIGITS, 1, MAX_NUMBER - text.startswith("+")):
        raise InvalidInput(
            f"number {shown(text)} is not a phone number: use digits only, optionally one leading '+', "
            f"at most {MAX_NUMBER} characters"
        )
    return text


def new_notice_id(now: float, entropy: bytes) -> str:
    """A name that is never reused: the creation second (UTC) plus random bits.
    Asterisk remembers the names of files it has seen, so a name must not come back."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(now)) + "-" + entropy.hex()


def content_id(number: str, recording: str, due: int) -> str:
    """The id an imported notice gets from what it is: the due second (UTC) and a hash of the
    number, the recording and the due time, so importing the same row again finds it."""
    import hashlib  # only here: its import (OpenSSL) would slow the dialplan's notice-spool

    digest = hashlib.sha256(f"{number}\0{recording}\0{due}".encode("utf-8", "surrogateescape")).hexdigest()
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(due)) + "-" + digest[:8]


def check_notice_id(text: str) -> str:
    if not is_notice_id(text):
        raise InvalidInput(
            f"notice id {shown(text)} is not a notice id: letters, digits, '_' and '-', not starting "
            f"with '-', at most {MAX_ID} characters (e.g. 20261128094512-9f3a1c2b)"
        )
    return text


def is_notice_id(text: str) -> bool:
    import re

    return isinstance(text, str) and re.fullmatch(NOTICE_ID, text) is not None


def call_file_name(notice_id: str, attempt: int = 1) -> str:
    """The name of the call file of NOTICE_ID's ATTEMPT (the first has the plain name)."""
    if attempt == 1:
        return FILE_PREFIX + notice_id + FILE_SUFFIX
    return FILE_PREFIX + notice_id + ATTEMPT_SEPARATOR + str(attempt) + FILE_SUFFIX


def notice_id_of(file_name: str) -> str | None:
    """The id in a call file's name if the name is one notice-cli gives, else None."""
    found = _call_file_name(file_name)
    return found.group(1) if found else None


def attempt_of(file_name: str) -> int:
    """The attempt a call file of notice-cli's name is for (1 without a number)."""
    found = _call_file_name(file_name)
    return int(found.group(2) or 1) if found else 1


def _call_file_name(file_name: str):
    import re

    return re.fullmatch(CALL_FILE_NAME, file_name)


DUE = r"[0-9]{1,12}"  # a due time as written: Unix seconds
# The Setvar lines of a notice's call file, in the order written: the variable, the attribute
# of Notice it carries, and the pattern of its value as written (None: any value
# callfile.check_value lets through). call_file_for writes them by this table; record.py
# matches and reads them by it.
NOTICE_VARIABLES = (
    (NOTICE_ID_VARIABLE, "id", NOTICE_ID),
    (NUMBER_VARIABLE, "number", None),
    (DUE_VARIABLE, "due", DUE),
)


# Reported delivery (outcome.py): the call file enters the dialplan's delivery context, which
# plays the message, reports the outcome and asks for the confirmation these variables say.
DELIVERY_CONTEXT = "notice-deliver"
ATTEMPT_VARIABLE = "NOTICE_ATTEMPT"
MESSAGE_VARIABLE = "NOTICE_MESSAGE"
MAX_RETRIES_VARIABLE = "NOTICE_MAX_RETRIES"
RETRY_ON_VARIABLE = "NOTICE_RETRY_ON"


def call_file_for(notice: Notice, settings, attempt: int = 1) -> CallFile:
    """The call file that carries NOTICE to Asterisk, by SETTINGS (a settings.Settings, or
    anything with its channel, caller_id, max_retries, retry_time and wait_time; and, for
    reported delivery, confirm, amd, amd_leave_message, retry_on and on_failure); ATTEMPT:
    which call of it this is (reported delivery makes each one with a file of its own)."""
    from .outcome import reported  # the dialplan's notice-spool pays for it only here

    if reported(settings):
        return _reported_call_file(notice, settings, attempt)
    return CallFile(
        channel=settings.channel.replace(NUMBER_PLACEHOLDER, notice.number),
        caller_id=settings.caller_id,
        max_retries=settings.max_retries,
        retry_time=settings.retry_time,
        wait_time=settings.wait_time,
        application=PLAYBACK,
        data=notice.recording,
        archive=True,
        variables=tuple((name, str(getattr(notice, attribute))) for name, attribute, _ in NOTICE_VARIABLES),
    )


def attempt_in(call_file: str) -> int:
    """The attempt the call file text CALL_FILE of a notice makes (1 for a file without
    NOTICE_ATTEMPT: Playback delivery, one file for all its attempts)."""
    marker = f"\nSetvar: {ATTEMPT_VARIABLE}="
    at = call_file.find(marker)
    if at < 0:
        return 1
    digits = call_file[at + len(marker): call_file.find("\n", at + 1)]
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 4 else 1


def with_variables(call: CallFile, changed: dict[str, str]) -> CallFile:
    """CALL with the variables CHANGED names set to its values, in their places (a variable it
    does not have is not added: a Playback call file has no NOTICE_ATTEMPT)."""
    return call._replace(variables=tuple((name, changed.get(name, value)) for name, value in call.variables))


def is_reported(call_file: str) -> bool:
    """Whether the call file text CALL_FILE is one of reported delivery (the delivery context)."""
    return f"\nContext: {DELIVERY_CONTEXT}\n" in call_file


def file_name_in_spool(notice_id: str, call_file: str) -> str:
    """The name the call file text CALL_FILE of NOTICE_ID has in Asterisk's spool: that of its attempt."""
    return call_file_name(notice_id, attempt_in(call_file))


def _reported_call_file(notice: Notice, settings, attempt: int) -> CallFile:
    """The call file of reported delivery: one attempt (MaxRetries 0: notice report makes the
    next one, by the outcome), the delivery context, and what it needs to know."""
    variables = tuple((name, str(getattr(notice, attribute))) for name, attribute, _ in NOTICE_VARIABLES) + (
        (ATTEMPT_VARIABLE, str(attempt)),
        (MESSAGE_VARIABLE, notice.recording),
        ("NOTICE_CONFIRM", settings.confirm),
        ("NOTICE_AMD", settings.amd),
        ("NOTICE_AMD_LEAVE_MESSAGE", settings.amd_leave_message),
        (MAX_RETRIES_VARIABLE, str(settings.max_retries)),
        (RETRY_ON_VARIABLE, ",".join(settings.retry_on)),
    )
    return CallFile(
        channel=settings.channel.replace(NUMBER_PLACEHOLDER, notice.number),
        caller_id=settings.caller_id,
        max_retries=0,
        retry_time=settings.retry_time,
        wait_time=settings.wait_time,
        context=DELIVERY_CONTEXT,
        extension="s",
        priority="1",
        archive=True,
        variables=variables,
    )
