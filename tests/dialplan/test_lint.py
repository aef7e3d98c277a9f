"""The dialplan files checked without running Asterisk: asterisklint (unknown applications and
functions, missing contexts, bad priorities, unbalanced parentheses) on the files laid out as
the README tells a plain-Asterisk admin to, and the project's own rules for them."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import filtering

DIALPLAN = Path(__file__).resolve().parents[2] / "dialplan"
LAYOUT = '[general]\n\n[globals]\n#include "globals_notice.conf"\n\n#include "extensions_notice.conf"\n'
# FreePBX's extensions_custom.conf as the installer writes it, on 15/16 (Macro) and 17 (Gosub).
FREEPBX = '#include "freepbx_notice.conf"\n#include "freepbx_hooks_{hooks}.conf"\n'
# Asterisk's applications that asterisklint's list leaves out; the delivery context runs them
# on Asterisk 16 and 22 in tests/asterisk/test_asterisk_outcomes.py.
UNLISTED_APPS = ("AMD", "WaitForSilence")
# The outcomes `notice report` takes (the contract with notice-cli).
OUTCOMES = ("confirmed", "heard", "hung_up", "voicemail", "machine", "busy", "no_answer", "failed")
# asterisklint with those applications added to its list, the rest of its checks as they are.
LINT_PROGRAM = """
import os, sys
from asterisklint.app.base import AppBase
from asterisklint.application import AppLoader
from asterisklint.main import main
for name in sys.argv[1].split(","):
    AppLoader().register(type(name, (AppBase,), {"__module__": "app_" + name.lower()})())
sys.exit(main(sys.argv[2:], os.environ))
"""


def lint(folder: Path, extra: str = "") -> subprocess.CompletedProcess:
    (folder / "extensions.conf").write_text(LAYOUT + extra)
    return subprocess.run([sys.executable, "-c", LINT_PROGRAM, ",".join(UNLISTED_APPS), "dialplan-check",
                           "extensions.conf"], cwd=folder, capture_output=True, text=True, timeout=60)


@pytest.fixture
def layout(tmp_path):
    for conf in DIALPLAN.glob("*.conf"):
        shutil.copy(conf, tmp_path / conf.name)
    return tmp_path


def test_asterisklint_finds_nothing(layout):
    result = lint(layout)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("hooks", ["macro", "gosub"])
def test_asterisklint_finds_nothing_in_the_freepbx_files(layout, hooks):
    result = lint(layout, FREEPBX.format(hooks=hooks))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("app", ["SayUnixTime", "WaitForSilence"])
def test_asterisklint_would_catch_a_broken_application(layout, app):
    """The check above can fail: the same layout with one application misspelt does, one of
    those added to asterisklint's list too."""
    broken = layout / "extensions_notice.conf"
    broken.write_text(broken.read_text().replace(f"{app}(", f"{app[:-2]}{app[-1]}(", 1))
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


def admin_globals() -> set:
    return set(re.findall(r"^(NOTICE_[A-Z_]+)=", (DIALPLAN / "globals_notice.conf").read_text(), re.M))


def readme_dialplan() -> str:
    """The dialplan examples of the README: every fenced block with an `exten =>` line."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", (DIALPLAN.parent / "README.md").read_text(), re.S)
    return "\n".join(block for block in blocks if "exten =>" in block)


def test_every_shipped_file_filters_at_the_door():
    """No value a caller or the network controls reaches ExecIf, GotoIf, $[...], Gosub()
    arguments, Dial(), a hangup handler or System() unless FILTER()ed into a LOCAL() first."""
    shipped = [conf for conf in DIALPLAN.glob("*.conf") if "exten =>" in conf.read_text()]
    assert shipped
    found = [problem for conf in shipped
             for problem in filtering.problems(conf.read_text(), conf.name, admin_globals())]
    assert found == []


def test_the_readme_examples_filter_at_the_door():
    examples = readme_dialplan()
    assert "exten =>" in examples
    assert filtering.problems(examples, "README.md", admin_globals()) == []


@pytest.mark.parametrize("line, problem", [
    # The line of issue 10: a caller ID of "1):System(touch /tmp/x" ran System().
    (" same => n,ExecIf($[\"${number}\" = \"\"]?Set(LOCAL(number)=${IMPORT(${BRIDGEPEER},CALLERID(num))}))",
     "${IMPORT(${BRIDGEPEER},CALLERID(num))} is not a filtered local"),
    (" same => n,Set(LOCAL(number)=${CALLERID(num)})\n same => n,Gosub(notice-compose,s,1(${number}))",
     "${number} is not a filtered local"),
    (" same => n,Read(LOCAL(keyed),beep)\n same => n,GotoIf($[${keyed} = 1]?done)",
     "${keyed} is not a filtered local"),
    (" same => n,Set(LOCAL(n)=${FILTER(0-9,${CALLERID(num)})})\n same => n,Set(LOCAL(n)=${DB(x/y)})\n"
     " same => n,GotoIf($[${n} = 1]?done)", "${n} is not a filtered local"),
    (" same => n,Set(LOCAL(n)=${FILTER(0-9\",${CALLERID(num)})})\n same => n,GotoIf($[\"${n}\" = 1]?done)",
     "may hold"),
    (" same => n,Dial(PJSIP/101,30,U(notice-remember-received^101^${CALLERID(num)}))",
     "${CALLERID(num)} is not a filtered local"),
    (" same => n,Set(CHANNEL(hangup_handler_push)=notice-remember,s,1(${ARG1}))", "${ARG1} is not a filtered local"),
    (" same => n,GotoIf($[${LEN(${CONNECTEDLINE(num)})} > 0]?done)", "is not a filtered local"),
    (" same => n,System(${NOTICE_SPOOL} 1 2 3)", "FILTER() it to a path first"),
    (" same => n,Set(LOCAL(w)=${FILTER(0-9*,${ARG1})})\n same => n,System(/bin/x ${w})", "for the shell"),
    (" same => n,GotoIf($[\"${GOSUB_RETVAL}\" = 1]?done)", "${GOSUB_RETVAL} is not a filtered local"),
    # ')' then ':' in the value closes FILTER()'s call early: "1):x" would filter as "1"
    (" same => n,Set(LOCAL(n)=${FILTER(0-9,${CONNECTEDLINE(num)})})", "REPLACE(name,():,_) it first"),
    (" same => n,Set(LOCAL(raw)=${DB(a/b)})\n same => n,Set(LOCAL(g)=${LEN(${raw})})", "REPLACE(name,():,_) it first"),
    (" same => n,Read(LOCAL(keyed),beep)\n same => n,Set(LOCAL(n)=${FILTER(0-9,${keyed})})",
     "REPLACE(name,():,_) it first"),
    # The delivery's doors: a call file's value, AMD()'s verdict, the dial's REASON.
    (" same => n,Set(LOCAL(id)=${FILTER(-A-Za-z0-9_,${NOTICE_ID})})", "REPLACE(name,():,_) it first"),
    (" same => n,Set(LOCAL(r)=${FILTER(0-9,${REASON})})", "REPLACE(name,():,_) it first"),
    (" same => n,GotoIf($[\"${AMDSTATUS}\" = \"MACHINE\"]?machine)", "${AMDSTATUS} is not a filtered local"),
    (" same => n,System(${command} report ${NOTICE_ID} 1 heard 0)", "${NOTICE_ID} is not a filtered local"),
])
def test_the_rule_catches_an_unfiltered_value(line, problem):
    """The check above can fail: each of these breaks the rule, and is named."""
    text = "[ctx]\nexten => s,1,NoOp()\n" + line + "\n"
    found = filtering.problems(text, "bad.conf", admin_globals())
    assert any(problem in found_line for found_line in found), found


def test_system_runs_only_notice_commands():
    """System() runs the configured commands (filtered to a path), never anything else."""
    calls = [(where, code) for where, code in dialplan_lines() if "System(" in code]
    assert len(calls) == 4
    for where, code in calls:
        words = re.search(r"System\((.*)\)\s*$", code).group(1).split()
        assert words[0] in ("${spool}", "${command}"), where


def test_the_delivery_reports_as_notice_report_takes_it():
    """One System() reports every attempt, as the contract with notice-cli says:
    `notice report ID ATTEMPT OUTCOME PLAYED`, and every outcome the delivery contexts name is
    one notice-cli knows."""
    reports = [code.strip() for _, code in dialplan_lines() if "System(${command} report" in code]
    assert reports == ["same => n,System(${command} report ${id} ${attempt} ${outcome} ${played})"]
    text = (DIALPLAN / "extensions_notice.conf").read_text()
    named = set(re.findall(r"Gosub\(notice-report,s,1\((\w+)\)\)", text))
    named |= set(re.findall(r"LOCAL\(outcome\)=(\w+)\)", text))
    for context in ("notice-machine", "notice-ask-confirm"):
        body = text.split(f"[{context}]\n", 1)[1].split("\n\n", 1)[0]
        named |= set(re.findall(r"Return\((\w+)\)", body))
    assert named == set(OUTCOMES)


def test_prompts_and_settings_are_globals_at_the_top():
    names = set(re.findall(r"\$\{(NOTICE_[A-Z_]+)\}", (DIALPLAN / "extensions_notice.conf").read_text()))
    defined = set(re.findall(r"^(NOTICE_[A-Z_]+)=", (DIALPLAN / "globals_notice.conf").read_text(), re.M))
    # Results and marks the dialplan sets on the channel, and a delivery call file's values:
    # not settings.
    assert names - defined <= {"NOTICE_STATUS", "NOTICE_RECORDING", "NOTICE_WHEN", "NOTICE_OPERATOR",
                               "NOTICE_DISCARD", "NOTICE_DISCARD_ON_HANGUP", "NOTICE_REMEMBERING",
                               "NOTICE_RINGING", "NOTICE_REPORTED", "NOTICE_HEARD", "NOTICE_PLAYED_MS",
                               "NOTICE_PLAYING_SINCE", *filtering.CALL_FILE_VARIABLES}
    assert {name for name in defined if name.startswith("NOTICE_PROMPT_")} <= names
