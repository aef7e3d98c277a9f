"""The rules of recordings.py, no file system: which file belongs to which dialplan recording,
and what a Playback argument plays."""

import pytest

from notice_cli.recordings import (CHANGED, MISSING, PLAYED, PREPARED, REMOVED, SAYINGS, Fate, dialplan_recording_of,
                                   names_played)

REC = "rec_1732790000.42-1732790012"


@pytest.mark.parametrize("file_name, name", [
    (f"{REC}.wav", REC),
    (f"{REC}.gsm", REC),
    (f"{REC}.g726-16", REC),
    ("rec_1732790000.42.wav", "rec_1732790000.42"),
    ("rec_1732790000.42", None),  # no audio extension: not a file of rec_1732790000
    (f"{REC}.txt", None),
    (f"{REC}.wav.tmp", None),
    (f"{REC}.Wav", None),
    ("hello.wav", None),  # an admin's: never the dialplan's
    ("3.wav", None),
    ("Rec_1.wav", None),
    ("rec_ 1.wav", None),
    ("rec_*.wav", None),
    (".rec_1.wav", None),
    ("rec_1&rec_2.wav", None),
    ("rec_" + "1" * 197 + ".wav", None),  # over 200 characters
    (".wav", None),
    ("rec_.wav", "rec_"),
])
def test_the_dialplan_recording_a_file_holds(file_name, name):
    assert dialplan_recording_of(file_name) == name


@pytest.mark.parametrize("data, names", [
    (f"/var/spool/asterisk/notice/{REC}", {REC}),
    ("/var/spool/asterisk/notice/rec_1732790000.42", {"rec_1732790000.42"}),  # .42 is no extension
    ("/var/spool/asterisk/notice/rec_1.wav", {"rec_1.wav", "rec_1"}),
    ("/var/spool/asterisk/notice/prepared/3", {"3"}),
    ("rec_1", {"rec_1"}),
    ("/a/rec_1&/b/rec_2,skip", {"rec_1", "rec_2"}),
    ("/elsewhere/rec_1", {"rec_1"}),  # whatever the folder: a name counted too many keeps a file longer
    ("", {""}),
])
def test_names_a_playback_argument_plays(data, names):
    assert names_played(data) == names


# --- what is said --------------------------------------------------------------------------------

def test_every_outcome_has_its_line():
    assert set(SAYINGS) == {REMOVED, PLAYED, MISSING, CHANGED, PREPARED}
    folder = "/var/spool/asterisk/notice"
    assert [Fate(outcome, "rec_1", "notice 2026-a").line(folder) for outcome in (
        REMOVED, PLAYED, MISSING, CHANGED, PREPARED)] == [
        f"removed recording rec_1 from {folder}",
        "kept recording rec_1: notice 2026-a plays it",
        f"no recording rec_1 in {folder}: nothing removed",
        "kept recording rec_1: it changed while being removed",
        f"kept recording rec_1: {folder} is the prepared recordings' folder (prepared_dir)",
    ]
