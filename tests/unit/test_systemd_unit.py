"""The engine's systemd unit (systemd/notice-run.service), as the README's install step uses it."""

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "notice-run.service"


def service() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string(UNIT.read_text())
    return parser["Service"]


def test_the_unit_runs_the_engine_as_asterisk_and_brings_it_back():
    section = service()
    assert section["ExecStart"].split()[1:] == ["run"] and section["ExecStart"].split()[0].endswith("/notice")
    assert section["Restart"] == "always"
    assert section["User"] == "asterisk" and section["StateDirectory"] == "notice-cli"  # the default data_dir


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_takes_the_unit(tmp_path):
    notice = shutil.which("notice", path=str(Path(sys.executable).parent))
    assert notice, "the notice command is installed beside the tests' Python"
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/notice", notice))
    checked = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
