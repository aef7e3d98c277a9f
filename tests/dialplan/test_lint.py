"""The dialplan files checked without running Asterisk: asterisklint (unknown applications and
functions, missing contexts, bad priorities, unbalanced parentheses) on the files laid out as
the README tells a plain-Asterisk admin to, and the project's own rules for them."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DIALPLAN = Path(__file__).resolve().parents[2] / "dialplan"
ASTERISKLINT = Path(sys.executable).parent / "asterisklint"
LAYOUT = '[general]\n\n[globals]\n#include "globals_notice.conf"\n\n#include "extensions_notice.conf"\n'


def lint(folder: Path) -> subprocess.CompletedProcess:
    (folder / "extensions.conf").write_text(LAYOUT)
    return subprocess.run([str(ASTERISKLINT), "dialplan-check", "extensions.conf"], cwd=folder,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def layout(tmp_path):
    for conf in DIALPLAN.glob("*.conf"):
        shutil.copy(conf, tmp_path / conf.name)
    return tmp_path


def test_asterisklint_finds_nothing(layout):
    result = lint(layout)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_asterisklint_would_catch_a_broken_application(layout):
    """The check above can fail: the same layout with one application misspelt does."""
    broken = layout / "extensions_notice.conf"
    broken.write_text(broken.read_text().replace("SayUnixTime(", "SayUnixTme(", 1))
    result = lint(layout)
    assert result.returncode == 1 and "E_APP_MISSING" in result.stdout + result.stderr


def dialplan_lines():
    for conf in DIALPLAN.glob("*.conf"):
        for number, line in enumerate(conf.read_text().splitlines(), 1):
            code = line.split(";")[0]
            if code.strip():
                yield f"{conf.name}:{number}", code


def test_no_macro_anywhere():
    """Asterisk 21 and later have no app_macro: Gosub only."""
    assert [where for where, code in dialplan_lines() if re.search(r"\bMacro\b", code)] == []


def test_system_gets_only_filtered_values():
    """Every value in a System() call is the configured command or a value FILTER()ed to what
    notice-spool accepts, and the time, whose '*' a shell would expand, is quoted."""
    calls = [(where, code) for where, code in dialplan_lines() if "System(" in code]
    assert len(calls) == 2
    for where, code in calls:
        arguments = re.search(r"System\((.*)\)\s*$", code).group(1).split()
        assert arguments[0] == "${NOTICE_SPOOL}", where
        assert arguments[-1] == "'${when}'", where
        assert set(arguments[1:-1]) <= {"--dry-run", "${number}", "${recording}", "${ARG1}", "${ARG2}"}, where


def test_prompts_and_settings_are_globals_at_the_top():
    names = set(re.findall(r"\$\{(NOTICE_[A-Z_]+)\}", (DIALPLAN / "extensions_notice.conf").read_text()))
    defined = set(re.findall(r"^(NOTICE_[A-Z_]+)=", (DIALPLAN / "globals_notice.conf").read_text(), re.M))
    # NOTICE_STATUS, NOTICE_RECORDING, NOTICE_WHEN are results the dialplan sets, not settings.
    assert names - defined <= {"NOTICE_STATUS", "NOTICE_RECORDING", "NOTICE_WHEN"}
    assert {name for name in defined if name.startswith("NOTICE_PROMPT_")} <= names
