"""entry.py: the installed notice-spool command, run as the dialplan runs it, against a real folder.

entry.py serves exactly three plain arguments without click (the dialplan's form) and hands
anything else to click; both must print the same line and end with the same exit code.
"""

import os
import re
import stat
import time
from pathlib import Path

import pytest

from realspool import KEYPAD, KEYPAD_DUE, NOTICE, NOTICE_SPOOL, RECORDING, Site

DUE_TEXT = "2099-01-02T03:04:00+00:00"
ERROR_PREFIX = "notice-spool: error: "
# The same command line through entry.py's fast path and through click.
PATHS = {"fast": [], "click": ["--tz", "UTC"]}


@pytest.fixture
def site(tmp_path_factory):
    # not tmp_path: a parametrized test's folder name has '[', which recordings_dir refuses
    return Site(tmp_path_factory.mktemp("notice"))


def test_the_notice_spool_script_is_installed():
    assert os.path.isfile(NOTICE_SPOOL) and os.access(NOTICE_SPOOL, os.X_OK), \
        f"{NOTICE_SPOOL} is not installed; pip install -e ."


def expected_owner():
    if os.geteuid() == 0:
        import pwd

        try:
            entry = pwd.getpwnam("asterisk")
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            pass
    return os.geteuid(), os.getegid()


def test_schedules_a_notice_as_the_dialplan_does(site):
    before = time.time()
    done = site.run(NOTICE_SPOOL, "79991234567", RECORDING, KEYPAD)
    after = time.time()
    assert (done.returncode, done.stderr) == (0, "")
    match = re.fullmatch(r"notice (\d{14}-[0-9a-f]{8}) scheduled for (\S+): (\S+)\n", done.stdout)
    assert match, done.stdout
    notice_id, due_text, path = match.groups()
    assert due_text == DUE_TEXT
    assert path == str(site.outgoing / f"notice-{notice_id}.call")
    created = notice_id.split("-")[0]
    assert time.strftime("%Y%m%d%H%M%S", time.gmtime(before)) <= created <= time.strftime(
        "%Y%m%d%H%M%S", time.gmtime(after))
    assert site.spooled() == [f"notice-{notice_id}.call"]
    assert site.staged() == []
    info = os.stat(path)
    assert info.st_mtime_ns == KEYPAD_DUE * 10**9
    assert stat.S_IMODE(info.st_mode) == 0o644
    assert (info.st_uid, info.st_gid) == expected_owner()
    assert Path(path).read_text() == (
        "Channel: Local/79991234567@from-internal\n"
        "MaxRetries: 2\n"
        "RetryTime: 20\n"
        "WaitTime: 20\n"
        "Application: Playback\n"
        f"Data: {site.recordings / RECORDING}\n"
        "Archive: yes\n"
        f"Setvar: NOTICE_ID={notice_id}\n"
        "Setvar: NOTICE_NUMBER=79991234567\n"
        f"Setvar: NOTICE_DUE={KEYPAD_DUE}\n"
    )
    # tmp/ was created like outgoing/
    assert stat.S_IMODE(site.staging.stat().st_mode) == stat.S_IMODE(site.outgoing.stat().st_mode)


def test_fast_path_and_click_print_the_same_line(site):
    lines = {}
    for name, options in PATHS.items():
        done = site.run(NOTICE_SPOOL, *options, "79991234567", RECORDING, KEYPAD)
        assert (done.returncode, done.stderr) == (0, ""), name
        lines[name] = re.sub(r"\d{14}-[0-9a-f]{8}", "<id>", done.stdout)
    expected = f"notice <id> scheduled for {DUE_TEXT}: {site.outgoing}/notice-<id>.call\n"
    assert lines == {"fast": expected, "click": expected}
    assert len(site.spooled()) == 2
    for name in site.spooled():
        assert os.stat(site.outgoing / name).st_mtime_ns == KEYPAD_DUE * 10**9


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("number, recording, when, message", [
    ("7999-1234", RECORDING, KEYPAD, "number '7999-1234' is not a phone number"),
    ("79991234567", "rec_missing", KEYPAD, "recording 'rec_missing' is not in "),
    ("79991234567", RECORDING, "2000*01*01**00***00", "time '2000*01*01**00***00' is in the past"),
    ("79991234567", RECORDING, "tomorrow", "time 'tomorrow' is not understood"),
])
def test_refused_input_exits_3_with_one_line_and_writes_nothing(site, path, number, recording, when, message):
    done = site.run(NOTICE_SPOOL, *PATHS[path], number, recording, when)
    assert done.returncode == 3
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and done.stderr.endswith("\n"), done.stderr
    assert lines[0].startswith(ERROR_PREFIX + message)
    assert site.spooled() == []
    assert site.staged() == []


def test_both_paths_refuse_with_the_same_message(site):
    fast, click = (site.run(NOTICE_SPOOL, *options, "7999-1234", RECORDING, KEYPAD) for options in PATHS.values())
    assert fast.returncode == click.returncode == 3
    assert fast.stderr == click.stderr != ""


def test_the_two_paths_are_really_two(site):
    """The comparisons above mean something only if the fast path does not import click."""
    def imports_click(*args):
        done = site.run(NOTICE_SPOOL, *args, "79991234567", RECORDING, KEYPAD, PYTHONPROFILEIMPORTTIME="1")
        assert done.returncode == 0, done.stderr
        return any(re.search(r"\|\s+click$", line) for line in done.stderr.splitlines())

    assert not imports_click()
    assert imports_click(*PATHS["click"])


@pytest.mark.parametrize("path", PATHS)
def test_missing_spool_exits_4(site, path):
    missing = site.base / "nowhere"
    done = site.run(NOTICE_SPOOL, *PATHS[path], "79991234567", RECORDING, KEYPAD, NOTICE_SPOOL_DIR=str(missing))
    assert (done.returncode, done.stdout) == (4, "")
    assert done.stderr == (f"{ERROR_PREFIX}spool folder {missing}/outgoing does not exist; "
                           "is Asterisk installed, and is spool_dir right?\n")
    assert not missing.exists()
    assert site.spooled() == []


@pytest.mark.parametrize("option", ["--help", "-h"])
def test_help_exits_0(site, option):
    done = site.run(NOTICE_SPOOL, option)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("Usage: notice-spool [OPTIONS] NUMBER RECORDING WHEN\n")
    assert "Exit codes: 0 scheduled, 2 bad command line, 3 invalid number" in done.stdout


def test_version_exits_0(site):
    from notice_cli import __version__

    done = site.run(NOTICE_SPOOL, "--version")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"notice-spool, version {__version__}\n", "")


@pytest.mark.parametrize("args", [[], ["79991234567"], ["79991234567", RECORDING],
                                  ["79991234567", RECORDING, KEYPAD, "extra"]])
def test_wrong_argument_count_exits_2(site, args):
    done = site.run(NOTICE_SPOOL, *args)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("Usage: notice-spool [OPTIONS] NUMBER RECORDING WHEN\n")
    assert "Error: " in done.stderr
    assert site.spooled() == [] and site.staged() == []


def test_dry_run_prints_the_call_file_and_writes_nothing(site):
    done = site.run(NOTICE_SPOOL, "--dry-run", "79991234567", RECORDING, KEYPAD)
    assert (done.returncode, done.stderr) == (0, "")
    header, *body = done.stdout.splitlines()
    assert re.fullmatch(rf"# notice \d{{14}}-[0-9a-f]{{8}} due {re.escape(DUE_TEXT)} \(dry run: not spooled\)", header)
    assert body[0] == "Channel: Local/79991234567@from-internal"
    assert site.spooled() == [] and site.staged() == []


# --- bytes that are not UTF-8, in argv and in the environment ---------------------------------
# Python hands them over as lone surrogates (surrogateescape); each must be refused in one line
# that shows them escaped, whichever path serves the command line, and nothing written.

@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("args", [
    [b"7999\xff1234", RECORDING, KEYPAD],
    [b"\xd9", RECORDING, KEYPAD],  # an Arabic-Indic digit (d9 a3) cut after its first byte
    ["79991234567", b"rec_\xff", KEYPAD],
    ["79991234567", RECORDING.encode() + b"\x80", KEYPAD],
    ["79991234567", RECORDING, b"2099*01*02**03***0\xff"],
    ["79991234567", RECORDING, b"\xff"],
    ["79991234567", RECORDING, b"2099-01-02 03:04\xc3"],
], ids=["number", "number, a cut digit", "recording", "recording, a stray byte", "keypad time",
        "time, one byte", "time, a cut character"])
def test_arguments_that_are_not_utf8_exit_3_in_one_line(site, path, args):
    done = site.run(NOTICE_SPOOL, *PATHS[path], *args)
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr.startswith(ERROR_PREFIX) and done.stderr.count("\n") == 1, done.stderr
    assert "\\udc" in done.stderr  # the byte, shown escaped
    assert site.spooled() == [] and site.staged() == []


@pytest.mark.parametrize("option, value, source", [
    ("--channel", b"Local/{number}@\xff", "option --channel"),
    ("--caller-id", b"Desk \xff", "option --caller-id"),
    ("--tz", b"Europe/\xff", "option --tz"),
    ("--spool-dir", b"/var/spool/\xff", "option --spool-dir"),
    ("--recordings-dir", b"/var/\xffrecordings", "option --recordings-dir"),
    ("--config", b"/nowhere/\xff.conf", "config file /nowhere/"),
])
def test_options_that_are_not_utf8_exit_3_naming_the_option(site, option, value, source):
    done = site.run(NOTICE_SPOOL, option, value, "79991234567", RECORDING, KEYPAD)
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr.startswith(ERROR_PREFIX) and done.stderr.count("\n") == 1, done.stderr
    assert source in done.stderr
    assert site.spooled() == [] and site.staged() == []


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("variable, value", [
    ("NOTICE_CHANNEL", b"Local/{number}@\xff"), ("NOTICE_CALLER_ID", b"\xffDesk"), ("NOTICE_TZ", b"\xff"),
    ("NOTICE_SPOOL_DIR", b"/var/spool/\xff"), ("NOTICE_RECORDINGS_DIR", b"/\xff"), ("NOTICE_OWNER", b"aster\xffisk"),
    ("NOTICE_CONFIG", b"/nowhere/\xff.conf"),
])
def test_environment_values_that_are_not_utf8_exit_3_naming_the_variable(site, path, variable, value):
    done = site.run(NOTICE_SPOOL, *PATHS[path], "79991234567", RECORDING, KEYPAD, **{variable: value})
    if "--tz" in PATHS[path] and variable == "NOTICE_TZ":  # the option wins: the variable is not read
        assert done.returncode == 0 and len(site.spooled()) == 1
        return
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr.startswith(ERROR_PREFIX) and done.stderr.count("\n") == 1, done.stderr
    assert (variable in done.stderr) if variable != "NOTICE_CONFIG" else ("config file /nowhere/" in done.stderr)
    assert site.spooled() == [] and site.staged() == []


def test_import_of_a_file_whose_name_is_not_utf8_reports_it_on_a_strict_terminal(site):
    """A file name from an old file system, on a server whose locale makes stdout strict (as
    en_US.UTF-8 does): the notices are spooled and the report says so, in a name it can show."""
    name = os.fsencode(site.base) + b"/r\xe9servations.csv"  # Latin-1, not UTF-8
    with open(name, "w") as stream:
        stream.write(f"number,recording,when\n79991234567,{RECORDING},{KEYPAD}\n")
    done = site.run(NOTICE, "import", name, PYTHONIOENCODING="utf-8:strict")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"spooled 1 notice from {site.base}/r\ufffdservations.csv\n"
    assert len(site.spooled()) == 1


def test_the_dialplan_discards_a_recording_loading_only_what_it_needs(site):
    """notice discard-recording, as the dialplan's hangup handler runs it: through click, but
    without the modules of list, history, import and spool (nor the json, csv and dateutil
    they load)."""
    name = "rec_1764322200.43-1764322212"
    (site.recordings / f"{name}.wav").write_bytes(b"RIFF")
    done = site.run(NOTICE, "discard-recording", name, PYTHONPROFILEIMPORTTIME="1")
    assert (done.returncode, done.stdout) == (0, f"removed recording {name} from {site.recordings}\n")
    assert sorted(os.listdir(site.recordings)) == [f"{RECORDING}.wav"]
    imported = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "notice_cli.cleanup" in imported
    assert imported.isdisjoint({"notice_cli.inventory", "notice_cli.output", "notice_cli.bulk", "notice_cli.schedule",
                                "notice_cli.when", "json", "csv", "dateutil", "hashlib"}), imported
