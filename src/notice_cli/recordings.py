"""The recordings notices play: the rules of a recording's name, where the one a notice plays
is (in the recordings folder, or a prepared recording picked by its number), and which
recordings a call file's Playback argument names. notice-spool looks a recording up here on
every call, so this module imports no more than os, charset.py and errors.py when it loads.
"""

from __future__ import annotations

import os

from .charset import is_name
from .errors import InvalidInput, shown

TYPE_CHECKING = False
if TYPE_CHECKING:  # for annotations only
    from .settings import Settings

# As the dialplan names recordings (rec_${UNIQUEID}): a dot is allowed, a leading one is not,
# and nothing that would leave the recordings folder or mean something to Playback (, &).
MAX_RECORDING = 200
# The dialplan records each message as rec_<uniqueid>-<epoch>: the only recordings notice-cli
# removes (discard-recording, gc, cancel); prepared ones and those an admin put there stay.
DIALPLAN_RECORDING_PREFIX = "rec_"
# Formats Asterisk's Playback finds by extension (format_* modules shipped with Asterisk).
AUDIO_EXTENSIONS = (
    "wav", "WAV", "wav16", "gsm", "ulaw", "ul", "mu", "alaw", "al", "pcm", "sln", "slin", "raw",
    "sln12", "sln16", "sln24", "sln32", "sln44", "sln48", "sln96", "sln192", "g722", "g719",
    "g723", "g723sf", "g726-16", "g726-24", "g726-32", "g726-40", "g729", "ilbc", "siren7",
    "siren14", "ogg", "opus", "vox", "mp3",
)
# A RECORDING of digits only is the ordinal of a prepared recording (N.wav in prepared_dir).
MAX_PREPARED = 999


def check_recording_name(text: str) -> str:
    if not is_name(text, MAX_RECORDING):
        raise InvalidInput(
            f"recording {shown(text)} is not a recording name: use letters, digits, '_', '-' and '.', "
            "not starting with '.' or '-', no '/' (a name in the recordings folder, e.g. rec_1732790000.42)"
        )
    return text


def check_dialplan_recording(text: str) -> str:
    """TEXT if it names a recording the dialplan made (rec_..., within the rules of a recording
    name): the only kind notice-cli ever removes."""
    check_recording_name(text)
    if not text.startswith(DIALPLAN_RECORDING_PREFIX):
        raise InvalidInput(f"recording {shown(text)} is not one the dialplan recorded "
                           f"({DIALPLAN_RECORDING_PREFIX}...); notice-cli removes only those, never a prepared "
                           "recording or one put there by hand")
    return text


def is_dialplan_recording(name: str) -> bool:
    try:
        check_dialplan_recording(name)
    except InvalidInput:
        return False
    return True


def dialplan_recording_of(file_name: str) -> str | None:
    """The dialplan recording whose file FILE_NAME is (rec_1732790000.42-1732790012 for
    rec_1732790000.42-1732790012.wav), or None: another name, or not an audio format Asterisk
    plays (rec_1732790000.42 is no file of rec_1732790000)."""
    name, dot, extension = file_name.rpartition(".")
    return name if dot and extension in AUDIO_EXTENSIONS and is_dialplan_recording(name) else None


def prepared_ordinal(name: str) -> int | None:
    """N if the recording NAME (already checked) picks prepared recording N, else None."""
    if not name.isdigit():
        return None
    if not 1 <= int(name) <= MAX_PREPARED:
        raise InvalidInput(f"prepared recording {shown(name)} does not exist: they are numbered 1 to {MAX_PREPARED}")
    return int(name)


def recording_path(name: str, settings: Settings) -> str:
    """Where the recording NAME is, as Playback takes it: a prepared one when NAME is its number."""
    ordinal = prepared_ordinal(name)
    if ordinal is None:
        return find_recording(settings.recordings_dir, name)
    return find_recording(settings.prepared_dir, str(ordinal), "prepared recording", "prepared_dir")


def find_recording(folder: str, name: str, kind: str = "recording", setting: str = "recordings_dir") -> str:
    """The recording's path without extension (as Playback wants it) if a file of a format
    Asterisk plays is in FOLDER; a name given with its extension is accepted too. KIND and
    SETTING name the recording and the folder's setting in a refusal."""
    base = os.path.join(folder, name)
    if any(os.path.isfile(f"{base}.{ext}") for ext in AUDIO_EXTENSIONS):
        return base
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ext in AUDIO_EXTENSIONS and os.path.isfile(base):
        return os.path.join(folder, stem)
    if not os.path.isdir(folder):
        raise InvalidInput(f"{kind}s folder {folder} does not exist; create it or set {setting}")
    raise InvalidInput(
        f"{kind} {shown(name)} is not in {folder}: no {name}.wav (or .gsm, .ulaw, .alaw, .sln, .g722, ...) there"
    )


def names_played(data: str) -> set[str]:
    """The names of the recordings a Playback argument DATA plays, whatever their folder: its
    files (file1&file2, before the options after ','), each without its folder, and without an
    audio extension if it has one too. A name counted too many keeps a file a while longer; one
    missed would have Asterisk call a client and play nothing."""
    names = set()
    for path in data.partition(",")[0].split("&"):
        name = path.rpartition("/")[2]
        stem, dot, extension = name.rpartition(".")
        names.update((name, stem) if dot and extension in AUDIO_EXTENSIONS else (name,))
    return names


def recording_namer(recordings_dir: str):
    """The recording as the operator named it: its path inside the recordings folder
    (rec_1732790000.42, prepared/3), else the whole path."""
    prefix = recordings_dir.rstrip("/") + "/"
    cut = len(prefix)

    def name(path: str | None) -> str | None:
        return path[cut:] if path and path.startswith(prefix) else path

    return name
