"""notice-cli on the Pythons of the Asterisk sandboxes: Debian sid's (3.14) and bullseye's (3.9,
the oldest python_requires allows, as FreePBX 16 systems run it). Every module imports, and the
commands the dialplan runs work there with Debian's own click and dateutil: notice-spool, and
notice discard-recording (its listing of the spool reads call files with the patterns that
Python 3.11 writes possessively)."""

import shutil
import subprocess
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "src" / "notice_cli"
MODULES = sorted(path.stem for path in SOURCE.glob("*.py") if path.stem != "__main__")


@pytest.fixture
def inside(chroot, tmp_path_factory):
    """A folder inside CHROOT with this project's source, and run(code) of its python3 there."""
    folder = Path(chroot) / "tmp" / tmp_path_factory.mktemp("py", numbered=True).name
    shutil.copytree(SOURCE, folder / "notice_cli", ignore=shutil.ignore_patterns("__pycache__"))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["chroot", str(chroot), "env", f"PYTHONPATH=/tmp/{folder.name}", "python3", *args],
                              capture_output=True, text=True, timeout=60)

    yield folder, run
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.log_may_warn  # no Asterisk is involved
def test_every_module_imports_and_the_dialplans_commands_run(inside):
    folder, run = inside
    imported = run("-c", f"import {', '.join('notice_cli.' + name for name in MODULES)}; print('imported')")
    assert (imported.returncode, imported.stdout, imported.stderr) == (0, "imported\n", "")
    spool = folder / "spool"
    for sub in ("outgoing", "tmp", "outgoing_done"):
        (spool / sub).mkdir(parents=True)
    recordings = folder / "recordings"
    recordings.mkdir()
    (recordings / "rec_1.2-3.wav").write_bytes(b"RIFF")
    (recordings / "rec_4.5-6.wav").write_bytes(b"RIFF")
    where = f"/tmp/{folder.name}"
    options = ("--spool-dir", f"{where}/spool", "--recordings-dir", f"{where}/recordings", "--syslog-facility", "none")
    spooled = run("-m", "notice_cli", *options, "79991234567", "rec_4.5-6", "+1h")
    assert spooled.returncode == 0, spooled.stderr
    discard = ("-c", "import sys; from notice_cli.cli import notice; sys.argv[0] = 'notice'; notice()",
               "discard-recording", *options[:4])
    removed, kept = run(*discard, "rec_1.2-3"), run(*discard, "rec_4.5-6")
    assert (removed.returncode, removed.stdout) == (0, f"removed recording rec_1.2-3 from {where}/recordings\n")
    assert kept.returncode == 0 and kept.stdout.startswith("kept recording rec_4.5-6: notice ")
    assert sorted(path.name for path in recordings.iterdir()) == ["rec_4.5-6.wav"]
