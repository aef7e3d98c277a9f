"""A notice: the client's number, the recording to play and when; the rules for each, and
the call file that carries it to Asterisk. No I/O here."""

from __future__ import annotations

import re
import time
from collections import namedtuple

from .callfile import CallFile
from .errors import InvalidInput, shown
from .settings import NUMBER_PLACEHOLDER, Settings

MAX_NUMBER = 32
NUMBER = re.compile(r"\+?[0-9]+")
# As the dialplan names recordings (rec_${UNIQUEID}): a dot is allowed, a leading one is not,
# and nothing that would leave the recordings folder or mean something to Playback (, &).
MAX_RECORDING = 200
RECORDING_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
# Formats Asterisk's Playback finds by extension (format_* modules shipped with Asterisk).
AUDIO_EXTENSIONS = (
    "wav", "WAV", "wav16", "gsm", "ulaw", "ul", "mu", "alaw", "al", "pcm", "sln", "slin", "raw",
    "sln12", "sln16", "sln24", "sln32", "sln44", "sln48", "sln96", "sln192", "g722", "g719",
    "g723", "g723sf", "g726-16", "g726-24", "g726-32", "g726-40", "g729", "ilbc", "siren7",
    "siren14", "ogg", "opus", "vox", "mp3",
)
# A RECORDING of digits only is the ordinal of a prepared recording (N.wav in prepared_dir).
MAX_PREPARED = 999
NOTICE_ID_VARIABLE = "NOTICE_ID"
FILE_PREFIX = "notice-"
FILE_SUFFIX = ".call"
PLAYBACK = "Playback"


class Notice(namedtuple("Notice", "id number recording due")):
    """id: the notice's name; number: the client's; recording: its path without extension,
    as Playback takes it; due: Unix seconds, the call file's mtime."""

    __slots__ = ()

    @property
    def file_name(self) -> str:
        return call_file_name(self.id)


def check_number(text: str) -> str:
    if len(text) > MAX_NUMBER or not NUMBER.fullmatch(text):
        raise InvalidInput(
            f"number {shown(text)} is not a phone number: use digits only, optionally one leading '+', "
            f"at most {MAX_NUMBER} characters"
        )
    return text


def check_recording_name(text: str) -> str:
    if len(text) > MAX_RECORDING or not RECORDING_NAME.fullmatch(text):
        raise InvalidInput(
            f"recording {shown(text)} is not a recording name: use letters, digits, '_', '-' and '.', "
            "not starting with '.' or '-', no '/' (a name in the recordings folder, e.g. rec_1732790000.42)"
        )
    return text


def prepared_ordinal(name: str) -> int | None:
    """N if the recording NAME (already checked) picks prepared recording N, else None."""
    if not name.isdigit():
        return None
    if not 1 <= int(name) <= MAX_PREPARED:
        raise InvalidInput(f"prepared recording {shown(name)} does not exist: they are numbered 1 to {MAX_PREPARED}")
    return int(name)


def new_notice_id(now: float, entropy: bytes) -> str:
    """A name that is never reused: the creation second (UTC) plus random bits.
    Asterisk remembers the names of files it has seen, so a name must not come back."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(now)) + "-" + entropy.hex()


def call_file_name(notice_id: str) -> str:
    return FILE_PREFIX + notice_id + FILE_SUFFIX


def call_file_for(notice: Notice, settings: Settings) -> CallFile:
    return CallFile(
        channel=settings.channel.replace(NUMBER_PLACEHOLDER, notice.number),
        caller_id=settings.caller_id,
        max_retries=settings.max_retries,
        retry_time=settings.retry_time,
        wait_time=settings.wait_time,
        application=PLAYBACK,
        data=notice.recording,
        archive=True,
        variables=((NOTICE_ID_VARIABLE, notice.id),),
    )
