"""Property-based tests of the settings that reach a call file from the config file
(/etc/asterisk/notice.conf's format: an INI [notice] section), the environment and the options.

Each case writes a config file: comments in Asterisk's style (';' and '#', whole lines and
after a value), other sections, a [DEFAULT] section, every setting or some of them with valid
or attacked values (strategies.py), and now and then an unknown key, a key twice, [notice]
twice or missing or misspelt, a byte order mark, CRLF line ends, bytes that are not UTF-8.
Each setting may also be given as a NOTICE_* variable and as an option, with values of their
own. notice-spool then schedules one notice (command.run_spool, in-process) with NOTICE_CONFIG
or --config naming the file. The outcome must be exactly one of:

* exit 0: one call file in outgoing/ carrying exactly the values that win (option, else a
  non-empty environment variable, else the file, else the default): channel, caller ID,
  retries, retry and wait times, recording folder, the due time in the zone, file mode and
  owner, syslog facility and tag, and (in the settings it loads) the recording retention;
  and whenever every winning value is a valid one, exit 0 it must be (a bad value that loses
  to another source is never looked at);
* exit 3, one line `notice-spool: error: ...`: naming the config file when the file itself is
  refused (not UTF-8, not INI, an unknown key), or naming the setting, the value and the
  source it won from, or (for the recordings folders) the folder;
* exit 4, one line, for the two documented cases of a value that is well-formed but names
  what is not there: a spool folder, an owner user;

and nothing in outgoing/ or tmp/ but that one notice. What an INI file means is what Python's
configparser reads in it (with ';' and '#' comment lines and no interpolation), as notice-spool
documents; the test takes it from there, and checks what notice-spool does with each value.
"""

import configparser
import contextlib
import functools
import io
import os
import pwd
import re
import syslog
from datetime import datetime
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, strategies as st

from notice_cli import settings
from notice_cli.callfile import parse
from notice_cli.command import run_spool
from notice_cli.errors import shown
from strategies import CALLER_IDS, CHANNELS, FUZZ, ZONES, attacked, fuzz_root, spooled, staged

NUMBER = "79991234567"
KEYPAD = "2099*06*15**10***30"
DUE_WALL = datetime(2099, 6, 15, 10, 30)
ROOT = "{root}"  # the fuzzed spool's folder, put into values when the case runs


def _owners() -> tuple:
    if os.geteuid() == 0:
        return ("root", "nobody", "")
    return (pwd.getpwuid(os.geteuid()).pw_name, "")


# Values each setting accepts, as a config file, a variable or an option gives them.
VALID = {
    "spool_dir": (f"{ROOT}/spool", f"{ROOT}/spool/", f"{ROOT}//spool"),
    "recordings_dir": (f"{ROOT}/recordings", f"{ROOT}/recordings/", f"{ROOT}/recordings/."),
    "prepared_dir": (f"{ROOT}/recordings/prepared", f"{ROOT}/recordings/prepared/"),
    "recording_retention": ("1", "30", "7", "36500", " 30"),
    "channel": CHANNELS + ("Local/{number}@notice-echo/n",),
    "caller_id": CALLER_IDS + ("", '"Dr. Smith (clinic)" <+74951234567>'),
    "max_retries": ("0", "2", "1000"),
    "retry_time": ("1", "20", "604800"),
    "wait_time": ("1", "45", "86400"),
    "tz": ZONES + ("",),
    "owner": _owners(),
    "file_mode": ("0644", "0600", "644", "0o640", "0660", "0664"),
    "syslog_facility": ("none", "user", "daemon", "local0", "local7", "USER", "None"),
    "syslog_tag": ("notice-spool", "notice.test", "a", "x" * 32),
    "in_call_code": ("*7", "#9", "A", "*" * 10),
    "after_call_code": ("*61", "1", "#" * 10),
    "any_time_code": ("*62", "99", "*#"),
}
NAMES = tuple(VALID)
# Their defaults (/var/spool/asterisk...) are not there on a test machine: mostly given.
FOLDERS = ("spool_dir", "recordings_dir", "prepared_dir")
ENV = {name: "NOTICE_" + name.upper() for name in NAMES}
OPTION = {name: "--" + name.replace("_", "-") for name in NAMES}
NOT_UTF8 = (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80")
COMMENTS = ("; a comment, as in Asterisk's own files", "# another", ";", "#", ";;; [notice] ;;;")


@functools.lru_cache(maxsize=None)  # a strategy made once is drawn from quickly
def value_of(name: str, clean: bool = False) -> st.SearchStrategy:
    """A value for the setting NAME: a valid one if CLEAN, else valid three times in four."""
    valid = st.sampled_from(VALID[name])
    return valid if clean else st.one_of(valid, valid, valid, attacked(valid))


@functools.lru_cache(maxsize=None)
def one_in(count: int) -> st.SearchStrategy:
    return st.sampled_from([False] * (count - 1) + [True])


@st.composite
def given_settings(draw, clean: bool):
    """{setting: {source: value}}: each setting from none, some or all of file, env, option."""
    chosen = {}
    for name in NAMES:
        sources = {}
        if draw(st.booleans()) or (name in FOLDERS and not draw(one_in(20))):
            sources["file"] = draw(value_of(name, clean))
        if draw(one_in(4)):
            sources["env"] = draw(value_of(name, clean).filter(lambda text: "\0" not in text))  # no NUL in environ
        if draw(one_in(4)):
            sources["option"] = draw(value_of(name, clean))
        chosen[name] = sources
    return chosen


@st.composite
def config_files(draw, in_file: dict, clean: bool):
    """The bytes of a config file with IN_FILE's values under [notice], in any of the ways an
    admin writes one, and (unless CLEAN) with what an admin should not write."""
    end = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [draw(st.sampled_from(COMMENTS)) for _ in range(draw(st.integers(0, 2)))]
    if draw(one_in(4)):
        lines += ["[general]", "context = from-internal", "anything = goes here"]
    if draw(one_in(10)):
        name = draw(st.sampled_from(NAMES))
        lines += ["[DEFAULT]", f"{name} = {draw(value_of(name))}"]
    section = "notice" if clean else draw(st.sampled_from(["notice"] * 36 + ["none", "Notice", " notice", "general"]))
    if section != "none":
        lines.append(f"[{section}]")
    for name, value in in_file.items():
        key = draw(st.sampled_from([name, name, name.upper()]))
        separator = draw(st.sampled_from([" = ", "=", ": ", " : "]))
        comment = "" if clean else draw(st.sampled_from([""] * 24 + [" ; the admin's note", " # note", "\t; note"]))
        lines.append(f"{key}{separator}{value}{comment}")
        if draw(one_in(4)):
            lines.append(draw(st.sampled_from(COMMENTS + ("",))))
    if not clean and draw(one_in(25)):
        lines.append(draw(st.sampled_from(["timeout = 30", "Channel_Name = x", "number = 1", "retries=2"])))
    if not clean and in_file and draw(one_in(25)):
        lines.append(draw(st.sampled_from(lines[-len(in_file):])))  # a line twice (a key, maybe)
    if not clean and draw(one_in(50)):
        lines.append("[notice]")
    text = end.join(lines) + (end if draw(st.booleans()) else "")
    data = ("\ufeff" if draw(one_in(10)) else "").encode() + text.encode("utf-8", "surrogateescape")
    if not clean and draw(one_in(25)):
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from(NOT_UTF8)) + data[at:]
    return data


# --- the model -------------------------------------------------------------------------------

def file_values(data: bytes):
    """The [notice] settings the config file DATA gives, or None if it must be refused whole.
    INI as configparser reads it; text as a file in text mode hands it over (a byte order
    mark is no part of the text)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=(";", "#"))
    try:
        parser.read_string(text.replace("\r\n", "\n").replace("\r", "\n"))
    except configparser.Error:
        return None
    values = dict(parser.items("notice")) if parser.has_section("notice") else {}
    return values if set(values) <= set(NAMES) else None


def winners(given: dict, in_file: dict) -> dict:
    """{setting: (value, source)} of the values that win: option, non-empty env, file."""
    won = {}
    for name in NAMES:
        sources = given[name]
        if "option" in sources:
            won[name] = (sources["option"], f"option {OPTION[name]}")
        elif sources.get("env"):
            won[name] = (sources["env"], f"environment variable {ENV[name]}")
        elif name in in_file:
            won[name] = (in_file[name], "config file")
    return won


# --- the harness -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spool_root():
    with fuzz_root() as root:
        yield root


class Syslog:
    """What notice-spool logs, and how: the syslog module's calls, caught."""

    def __init__(self):
        self.opened, self.messages = [], []

    def patched(self):
        return mock.patch.multiple(syslog, openlog=lambda *args: self.opened.append(args),
                                   syslog=lambda *args: self.messages.append(args), closelog=lambda: None)


def run(root: Path, data: bytes, given: dict, recording: str, config_as_option: bool):
    """run_spool in-process; (exit code, stdout, stderr, syslog, the settings it loaded)."""
    config = root / "notice.conf"
    config.write_bytes(data.replace(ROOT.encode(), str(root).encode()))
    options = {name: sources["option"].replace(ROOT, str(root)) for name, sources in given.items()
               if "option" in sources}
    environ = {"TZ": "UTC", "PATH": os.environ.get("PATH", "")}
    environ.update({ENV[name]: sources["env"].replace(ROOT, str(root)) for name, sources in given.items()
                    if "env" in sources})
    if not config_as_option:
        environ["NOTICE_CONFIG"] = str(config)
    caught = Syslog()
    out, err = io.StringIO(), io.StringIO()
    loaded = []  # settings no call file shows (retention, codes): checked as notice-spool loads them

    def load(*args, **kwargs):
        loaded.append(LOAD(*args, **kwargs))
        return loaded[-1]

    with mock.patch.dict(os.environ, environ, clear=True), caught.patched(), \
            mock.patch("notice_cli.log.SYSLOG_SOCKET", os.devnull), mock.patch.object(settings, "load", load), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_spool(NUMBER, recording, KEYPAD, options, str(config) if config_as_option else None)
    return code, out.getvalue(), err.getvalue(), caught, loaded


def expected_owner(owner: str) -> int:
    if owner:
        return pwd.getpwnam(owner).pw_uid
    try:
        return pwd.getpwnam("asterisk").pw_uid if os.geteuid() == 0 else os.geteuid()
    except KeyError:
        return os.geteuid()


def check_scheduled(root: Path, out: str, won: dict, recording: str, caught: Syslog, loaded: list) -> None:
    """The one call file carries exactly the winning values (or the defaults), and so do the
    settings that do not reach it."""
    value = {name: text for name, (text, _) in won.items()}
    assert [each.recording_retention for each in loaded] == [int(value.get("recording_retention", "30"))]
    assert [(each.in_call_code, each.after_call_code, each.any_time_code) for each in loaded] == \
        [(value.get("in_call_code"), value.get("after_call_code"), value.get("any_time_code"))]
    files = spooled(root)
    reported = REPORT.fullmatch(out)
    assert len(files) == 1 and reported and os.path.samefile(reported.group(1), files[0]), out
    call = parse(files[0].read_text())
    assert call.channel == value.get("channel", "Local/{number}@from-internal").replace("{number}", NUMBER)
    assert call.caller_id == (value.get("caller_id") or None)
    assert call.max_retries == int(value.get("max_retries", "2"))
    assert call.retry_time == int(value.get("retry_time", "20"))
    assert call.wait_time == int(value.get("wait_time", "20"))
    if recording == "hello":
        folder = value.get("recordings_dir", "/var/spool/asterisk/notice")
    else:
        folder = value.get("prepared_dir", "/var/spool/asterisk/notice/prepared")
    assert call.data == os.path.join(folder.rstrip("/") or "/", recording)
    zone = ZoneInfo(value.get("tz") or "UTC")
    due = int(DUE_WALL.replace(tzinfo=zone).timestamp())
    info = os.stat(files[0])
    assert dict(call.variables).get("NOTICE_DUE") == str(due) and info.st_mtime_ns == due * 10**9
    mode = value.get("file_mode", "0644")
    assert info.st_mode & 0o7777 == int(mode[2:] if mode.startswith("0o") else mode, 8)
    assert info.st_uid == expected_owner(value.get("owner", ""))
    facility = value.get("syslog_facility", "user").lower()
    if facility == "none":
        assert caught.opened == [] and caught.messages == []
    else:
        assert caught.opened == [(value.get("syslog_tag", "notice-spool"), syslog.LOG_PID,
                                  getattr(syslog, "LOG_" + facility.upper()))]
        assert len(caught.messages) == 1 and caught.messages[0][0] == syslog.LOG_INFO
        assert caught.messages[0][1].startswith(f"notice {dict(call.variables).get('NOTICE_ID')} to {NUMBER} at ")


LOAD = settings.load
REPORT = re.compile(r"notice \S+ scheduled for \S+: (.+)\n")
REFUSED_SETTING = re.compile(r"notice-spool: error: (\w+) (.+?) from (option --[\w-]+|environment variable "
                             r"NOTICE_\w+|config file \S+) .+\n")


def check_refused(root: Path, code: int, err: str, won: dict, config: Path, whole_file: bool) -> str:
    """One line that names what to fix; returns the kind of refusal."""
    assert err.count("\n") == 1 and err.startswith("notice-spool: error: "), err
    assert "Traceback" not in err
    value = {name: text.replace(ROOT, str(root)) for name, (text, _) in won.items()}
    if whole_file:
        assert code == 3 and f"config file {config}" in err, err
        return "file refused"
    found = REFUSED_SETTING.fullmatch(err)
    if found:
        name, shown_value, source = found.groups()
        assert code == 3, err
        assert name in won and shown_value == shown(value[name])
        assert source == (f"{won[name][1]} {config}" if won[name][1] == "config file" else won[name][1])
        assert won[name][0] not in VALID[name]
        return f"{name} refused"
    if code == 4:
        spool = value.get("spool_dir", "/var/spool/asterisk")
        owner = value.get("owner", "")
        assert err in (f"notice-spool: error: spool folder {os.path.join(spool, 'outgoing')} does not exist; "
                       "is Asterisk installed, and is spool_dir right?\n",
                       f"notice-spool: error: owner user {owner} does not exist; create it or set owner to "
                       "the user Asterisk runs as\n"), err
        assert any(won.get(name, ("", ""))[0] not in VALID[name] for name in ("spool_dir", "owner"))
        return "spool or owner missing"
    assert code == 3, err
    folders = [value.get(name, default).rstrip("/") or "/" for name, default in (
        ("recordings_dir", "/var/spool/asterisk/notice"), ("prepared_dir", "/var/spool/asterisk/notice/prepared"))]
    assert any(f" {folder}" in err for folder in folders), err
    assert any(won.get(name, ("", ""))[0] not in VALID[name] for name in ("recordings_dir", "prepared_dir"))
    return "recording folder refused"


# --- the tests -------------------------------------------------------------------------------

@st.composite
def cases(draw, alone: bool = False):
    """(settings by source, config file, recording, whether --config names the file). A third of
    the cases have only valid values in a well-formed file. ALONE: every value valid, but one
    setting's, attacked from one source, so that every attack gets past the other checks."""
    clean = alone or draw(one_in(3))
    given = draw(given_settings(clean))
    if alone:
        name = draw(st.sampled_from(NAMES))
        source = draw(st.sampled_from(["file", "env", "option"]))
        attack = attacked(st.sampled_from(VALID[name]))
        given[name][source] = draw(attack.filter(lambda text: "\0" not in text) if source == "env" else attack)
    in_file = {name: sources["file"] for name, sources in given.items() if "file" in sources}
    return given, draw(config_files(in_file, clean)), draw(st.sampled_from(["hello", "2"])), draw(st.booleans())


@FUZZ
@given(case=cases())
def test_config_file_environment_and_options(spool_root, case):
    check_case(spool_root, *case)


@FUZZ
@given(case=cases(alone=True))
def test_each_setting_attacked_alone(spool_root, case):
    check_case(spool_root, *case)


def check_case(spool_root: Path, given: dict, data: bytes, recording: str, config_as_option: bool) -> None:
    config = spool_root / "notice.conf"
    try:
        code, out, err, caught, loaded = run(spool_root, data, given, recording, config_as_option)
        assert staged(spool_root) == []
        in_file = file_values(data.replace(ROOT.encode(), str(spool_root).encode()))
        won = winners(given, in_file or {})
        needed = ("spool_dir", "recordings_dir" if recording == "hello" else "prepared_dir")
        all_valid = in_file is not None and all(text in VALID[name] for name, (text, _) in won.items()) and \
            all(name in won for name in needed)
        if code == 0:
            assert in_file is not None and err == ""
            check_scheduled(spool_root, out, {name: (text.replace(ROOT, str(spool_root)), source)
                                              for name, (text, source) in won.items()}, recording, caught, loaded)
            event("scheduled")
        else:
            assert not all_valid, err
            assert out == "" and spooled(spool_root) == []
            event(check_refused(spool_root, code, err, won, config, in_file is None))
    finally:
        for leftover in spooled(spool_root):
            leftover.unlink()
