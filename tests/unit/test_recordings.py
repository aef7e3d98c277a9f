"""recordings.py: which dialplan recording a file holds, what a Playback argument plays, how
the operator names a recording, and where the one a notice plays is found (a fake file system)."""

import pytest

from fakespool import RECORDINGS
from notice_cli.errors import EXIT_INVALID, InvalidInput
from notice_cli.recordings import AUDIO_EXTENSIONS, dialplan_recording_of, find_recording, names_played, recording_namer

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


def test_recording_namer_names_inside_the_folder():
    name = recording_namer("/var/spool/asterisk/notice/")
    assert name("/var/spool/asterisk/notice/rec_1") == "rec_1"
    assert name("/var/spool/asterisk/notice/prepared/3") == "prepared/3"
    assert name("/srv/other/rec_1") == "/srv/other/rec_1"
    assert name(None) is None


# --- the recording -----------------------------------------------------------------------

@pytest.fixture
def recordings(fs):
    """The recordings folder, empty."""
    fs.create_dir(RECORDINGS)
    return fs


@pytest.mark.parametrize("extension", AUDIO_EXTENSIONS)
def test_recording_found_by_each_audio_extension(recordings, extension):
    recordings.create_file(f"{RECORDINGS}/rec_1764322200.42.{extension}")
    assert find_recording(RECORDINGS, "rec_1764322200.42") == f"{RECORDINGS}/rec_1764322200.42"


@pytest.mark.parametrize("file_name", ["greeting.wav", "greeting.WAV", "greeting.gsm", "greeting.sln16",
                                       "greeting.g726-32"])
def test_recording_named_with_its_extension_is_given_without_it(recordings, file_name):
    recordings.create_file(f"{RECORDINGS}/{file_name}")
    assert find_recording(RECORDINGS, file_name) == f"{RECORDINGS}/greeting"


def test_missing_recording_is_invalid_input(recordings):
    recordings.create_file(f"{RECORDINGS}/other.wav")
    with pytest.raises(InvalidInput) as caught:
        find_recording(RECORDINGS, "rec_1")
    assert caught.value.exit_code == EXIT_INVALID == 3
    assert str(caught.value) == (f"recording 'rec_1' is not in {RECORDINGS}: no rec_1.wav "
                                 "(or .gsm, .ulaw, .alaw, .sln, .g722, ...) there")


@pytest.mark.parametrize("present", ["greeting", "greeting.txt", "greeting.wav.bak"])
def test_file_without_an_audio_extension_is_not_a_recording(recordings, present):
    recordings.create_file(f"{RECORDINGS}/{present}")
    with pytest.raises(InvalidInput, match="is not in"):
        find_recording(RECORDINGS, "greeting")
    with pytest.raises(InvalidInput, match="is not in"):
        find_recording(RECORDINGS, present)


def test_folder_with_an_audio_name_is_not_a_recording(recordings):
    recordings.create_dir(f"{RECORDINGS}/greeting.wav")
    with pytest.raises(InvalidInput, match="is not in"):
        find_recording(RECORDINGS, "greeting")
    with pytest.raises(InvalidInput, match="is not in"):
        find_recording(RECORDINGS, "greeting.wav")


def test_missing_recordings_folder_is_named(fs):
    with pytest.raises(InvalidInput) as caught:
        find_recording(RECORDINGS, "rec_1")
    assert caught.value.exit_code == 3
    assert str(caught.value) == f"recordings folder {RECORDINGS} does not exist; create it or set recordings_dir"
