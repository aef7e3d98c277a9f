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
CALL_FILE_NAME = FILE_PREFIX + "(" + NOTICE_ID + ")" + FILE_SUFFIX.replace(".", r"\.")


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


def call_file_name(notice_id: str) -> str:
    return FILE_PREFIX + notice_id + FILE_SUFFIX


def notice_id_of(file_name: str) -> str | None:
    """The id in a call file's name if the name is one notice-cli gives, else None."""
    import re

    found = re.fullmatch(CALL_FILE_NAME, file_name)
    return found.group(1) if found else None


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


def call_file_for(notice: Notice, settings) -> CallFile:
    """The call file that carries NOTICE to Asterisk, by SETTINGS (a settings.Settings, or
    anything with its channel, caller_id, max_retries, retry_time and wait_time)."""
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
