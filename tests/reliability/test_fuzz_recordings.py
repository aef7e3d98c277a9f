"""Property-based test of `notice discard-recording NAME`, the command the dialplan runs from a
hangup handler, against hostile names: the classic attacks (strategies.py) alone and spliced
into the names of recordings that are there, globs, and names that are the start of another
recording's name.

Each case runs the click command in-process over a real recordings folder holding dialplan
recordings in several formats, one a pending notice plays, an admin's, a link to a file
outside, prepared recordings, and files beside and above the folder. It must end in exactly
one of:

* exit 0 and one line: NAME is a dialplan recording's name (rec_ then letters, digits, '_',
  '.', '-'; at most 200 characters), and exactly its files NAME.<audio format> that are
  regular files are gone, unless the pending notice plays it (then kept, and said so);
* exit 3, one line `notice discard-recording: error: ...`, and nothing changed;

and never a change to any other file, in the folder or outside it.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import event, given, strategies as st

from notice_cli import cli
from notice_cli.callfile import render
from notice_cli.notice import Notice, call_file_for
from notice_cli.recordings import AUDIO_EXTENSIONS
from notice_cli.settings import Settings
from strategies import FUZZ, attacked, fuzz_root

# The recordings folder of every case: name -> contents; a None is a link to ../outside.wav.
FILES = {
    "rec_1732790000.42-1732790012.wav": b"RIFF 1", "rec_1732790000.42-1732790012.gsm": b"gsm 1",
    "rec_1732790000.42-1732790012.txt": b"a note", "rec_1732790000.42.wav": b"RIFF 2",
    "rec_1732790000.4.wav": b"RIFF 3", "rec_played.wav": b"RIFF 4", "rec_x.wav.wav": b"RIFF 5",
    "rec_.wav": b"RIFF 6", "hello.wav": b"RIFF admin", "rec_link.wav": None, "rec_1732790000.42": b"no extension",
    "prepared/1.wav": b"RIFF prepared", "prepared/rec_p.wav": b"RIFF prepared 2",
}
AROUND = {"outside.wav": b"RIFF outside", "rec_up.wav": b"RIFF above"}
NAMES = ("rec_1732790000.42-1732790012", "rec_1732790000.42", "rec_1732790000.4", "rec_played", "rec_x.wav",
         "rec_", "rec_link", "hello", "1", "prepared", "rec_p", "rec_up", "rec_absent")
GLOBS = ("rec_*", "rec_1732790000.4?", "rec_1732790000.4*", "rec_[0-9]*", "*", "rec_{x,played}", "../rec_up",
         "prepared/rec_p", "./rec_played", "rec_played/", "rec_played\n", "rec_played rec_x.wav")
DIALPLAN_NAME = re.compile(r"rec_[A-Za-z0-9_.-]*")
PLAYED = "rec_played"


@pytest.fixture(scope="module")
def root():
    with fuzz_root() as path:
        yield path


def lay_out(root: Path) -> dict:
    """The folder of every case, laid out anew; {path: contents} of every file in ROOT."""
    folder = root / "recordings"
    shutil.rmtree(folder)
    (folder / "prepared").mkdir(parents=True)
    for name, data in {**FILES, **{f"../{name}": data for name, data in AROUND.items()}}.items():
        if data is None:
            (folder / name).symlink_to("../outside.wav")
        else:
            (folder / name).write_bytes(data)
    notice = Notice("20991128094512-9f3a1c2b", "79991234567", str(folder / PLAYED), 4071006240)
    (root / "spool" / "outgoing" / "notice-20991128094512-9f3a1c2b.call").write_text(
        render(call_file_for(notice, Settings())))
    return tree(root)


def tree(root: Path) -> dict:
    return {str(path.relative_to(root)): (os.readlink(path) if path.is_symlink() else path.read_bytes())
            for path in sorted(root.rglob("*")) if not path.is_dir() or path.is_symlink()}


def discard(root: Path, name: str):
    folder = root / "recordings"
    return CliRunner().invoke(cli.notice, [
        "discard-recording", "--spool-dir", str(root / "spool"), "--recordings-dir", str(folder),
        "--prepared-dir", str(folder / "prepared"), "--", name], env={"NOTICE_CONFIG": os.devnull})


# Most cases a name of the right form: a recording that is there, or one named like it, or any.
PRESENT = ("rec_1732790000.42-1732790012", "rec_1732790000.42", "rec_1732790000.4", "rec_played", "rec_x.wav", "rec_")
RECORDINGS = st.one_of(st.sampled_from(PRESENT), st.from_regex(r"rec_1732790000\.4[0-9.-]{0,4}", fullmatch=True),
                       st.from_regex(r"rec_[A-Za-z0-9_.-]{0,20}", fullmatch=True),
                       attacked(st.sampled_from(NAMES + GLOBS)))


@FUZZ
@given(recording=RECORDINGS)
def test_discard_removes_exactly_the_named_dialplan_recording(root, recording):
    name = recording  # not the parameter's name: conftest.py's case counter takes a keyword `name`
    before = lay_out(root)
    result = discard(root, name)
    after = tree(root)
    folder = root / "recordings"
    if len(name) > 200 or not DIALPLAN_NAME.fullmatch(name):
        assert (result.exit_code, result.stdout, after) == (3, "", before), result.output
        assert result.stderr.startswith("notice discard-recording: error: recording ") and \
            result.stderr.count("\n") == 1, result.stderr
        event("refused")
        return
    files = {f"recordings/{name}.{extension}" for extension in AUDIO_EXTENSIONS} & {
        path for path in before if not (root / path).is_symlink()}
    assert (result.exit_code, result.stderr) == (0, ""), result.output
    if name == PLAYED:
        assert result.stdout == f"kept recording {name}: notice 20991128094512-9f3a1c2b plays it\n"
        assert after == before
        event("kept: played")
    elif files:
        assert result.stdout == f"removed recording {name} from {folder}\n"
        assert after == {path: data for path, data in before.items() if path not in files}
        event("removed")
    else:
        assert result.stdout == f"no recording {name} in {folder}: nothing removed\n"
        assert after == before
        event("not there")
