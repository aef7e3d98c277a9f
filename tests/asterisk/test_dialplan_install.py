"""`notice dialplan install --asterisk` on a real Asterisk (22, and 16 when its sandbox is
there): the installed `notice` writes the dialplan into the sandbox's configuration folder, a
typical plain-Asterisk one, and Asterisk loads it with `dialplan reload` and `module reload
features` (and again from boot) with no warning; a second install changes no byte and no mtime,
and after a reload each extension is there once; an uninstall gives every file back byte for
byte and Asterisk drops the notice contexts and feature, again with no warning. The conftest
checks the log of every test."""

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from harness import AsteriskSandbox, find_command

# The admin's own files: a [globals] section with a setting of theirs (one of ours among them,
# which must win over the default) and a context; features.conf as Asterisk's sample lays it out.
EXTENSIONS = """\
[general]
static = yes
writeprotect = yes

[globals]
TRUNK = PJSIP/client
NOTICE_ATTEMPTS = 5

; the operators' phones
[operators]
exten => _X.,1,Dial(${TRUNK}/${EXTEN},20)
 same => n,Hangup()
"""
FEATURES = """\
[general]
transferdigittimeout => 3

[featuremap]
blindxfer => #1

[applicationmap]
"""
OURS = ("extensions_notice.conf", "globals_notice.conf", "features_notice.conf")
SHIPPED = Path(__file__).resolve().parents[2] / "dialplan"
# The codes as shipped: ways 2 and 3 (globals), the in-call code (the feature's line).
CODES = [re.search(rf"^{name}=(\S+)", (SHIPPED / "globals_notice.conf").read_text(), re.M).group(1)
         for name in ("NOTICE_CODE_AFTER_CALL", "NOTICE_CODE_ANY_TIME")]
IN_CALL = re.search(r"^notice\s*=>\s*([^,]+),", (SHIPPED / "features_notice.conf").read_text(), re.M).group(1)


@pytest.fixture(scope="module")
def asterisk(chroot, sandbox_running):
    """Asterisk with the admin's files above, for this module (the conftest checks its log)."""
    def prepare(sandbox):
        (sandbox.run.etc / "extensions.conf").write_text(EXTENSIONS)
        (sandbox.run.etc / "features.conf").write_text(FEATURES)

    with sandbox_running(AsteriskSandbox.create(chroot), prepare) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def originals(asterisk) -> dict:
    """The admin's files as they were before any install."""
    return {name: (asterisk.run.etc / name).read_bytes() for name in ("extensions.conf", "features.conf")}


def notice_dialplan(asterisk, command: str, freepbx: bool = False) -> list:
    """Run the installed `notice dialplan COMMAND` on the sandbox's folder; its lines (exit code 0)."""
    etc = str(asterisk.run.etc)
    where = ["--freepbx", "--etc", etc] if freepbx else ["--asterisk", etc]
    done = subprocess.run([find_command("notice"), "dialplan", command, *where],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    return done.stdout.splitlines()


def reload(asterisk) -> None:
    assert "Dialplan reloaded" in asterisk.rx("dialplan reload")
    asterisk.rx("module reload features")
    time.sleep(0.5)  # for the logger thread to write what the reload logged


def snapshot(asterisk) -> dict:
    """Every file of the configuration folder: its bytes and mtime (ns)."""
    return {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in sorted(asterisk.run.etc.iterdir())}


def assert_loaded(asterisk, override: bool = True) -> None:
    """The notice contexts, each extension once, our globals (with the admin's OVERRIDE of
    NOTICE_ATTEMPTS, set after the END line), and the feature."""
    codes = asterisk.rx("dialplan show notice-codes")
    assert [codes.count(f"'{code}' =>") for code in CODES] == [1, 1], codes
    assert "System(${spool} ${number}" in asterisk.rx("dialplan show notice-compose")
    shown = asterisk.rx("dialplan show globals")
    assert "NOTICE_SPOOL=/usr/local/bin/notice-spool" in shown
    assert f"NOTICE_ATTEMPTS={5 if override else 3}" in shown and f"NOTICE_ATTEMPTS={3 if override else 5}" not in shown
    features = asterisk.rx("features show")
    assert features.count("notice") == 1 and IN_CALL in features, features


def test_install_and_asterisk_loads_it_without_a_warning(asterisk, originals):
    assert notice_dialplan(asterisk, "install") == [
        "extensions_notice.conf: written", "globals_notice.conf: written", "features_notice.conf: written",
        "extensions.conf: notice blocks added", "features.conf: notice block added",
        "apply it: asterisk -rx 'dialplan reload' && asterisk -rx 'module reload features'"]
    reload(asterisk)
    assert_loaded(asterisk)
    assert "[extensions_notice.conf:" in asterisk.rx("dialplan show notice-codes")
    assert "TRUNK=PJSIP/client" in asterisk.rx("dialplan show globals")
    asterisk.restart()
    assert_loaded(asterisk)


def test_a_second_install_changes_nothing_and_nothing_is_twice(asterisk, originals):
    notice_dialplan(asterisk, "install")
    before = snapshot(asterisk)
    assert notice_dialplan(asterisk, "install") == [f"{name}: unchanged" for name in OURS] + [
        "extensions.conf: unchanged", "features.conf: unchanged", "nothing changed"]
    assert snapshot(asterisk) == before
    reload(asterisk)
    assert_loaded(asterisk)


def test_uninstall_gives_the_files_back_and_asterisk_drops_the_dialplan(asterisk, originals):
    notice_dialplan(asterisk, "install")
    reload(asterisk)
    assert notice_dialplan(asterisk, "uninstall")[-1].startswith("apply it: ")
    assert {name: (asterisk.run.etc / name).read_bytes() for name in originals} == originals
    assert not any((asterisk.run.etc / name).exists() for name in OURS)
    reload(asterisk)
    assert "There is no existence of 'notice-compose' context" in asterisk.rx("dialplan show notice-compose",
                                                                               check=False)
    assert "notice" not in asterisk.rx("features show")
    # A reload keeps the globals it no longer finds (extensions.conf's clearglobalvars = no, the
    # default); they are unused, and gone once Asterisk restarts.
    asterisk.restart()
    assert "NOTICE_SPOOL" not in asterisk.rx("dialplan show globals")
    assert "There is no existence" in asterisk.rx("dialplan show notice-codes", check=False)


class TestOnFreePBX:
    """The same on FreePBX-shaped folders (every one of tests/fixtures/freepbx, as installed and
    with the admin's own extensions_custom.conf): blocks in the *_custom.conf files, the
    after-call code reached from from-internal through [from-internal-noxfer-custom], which
    FreePBX's dialplan includes, and our predial hooks in place of FreePBX's stubs (or the
    admin's hook left as it is). These folders alone make Asterisk warn (excerpts name contexts
    they leave out, an admin's hook meets FreePBX's stub): after each reload the log may say
    again what it said at boot, and, once our hooks are in, what FreePBX's stubs of them make
    it say, and which include of a context the excerpts leave out it names now that the first
    missing one (Asterisk names one a context) is ours; nothing else."""

    @pytest.fixture(scope="class")
    @classmethod
    def asterisk(cls, chroot, sandbox_running, freepbx_case, lay_out_freepbx, tmp_path_factory):
        def prepare(sandbox):
            folder = lay_out_freepbx(freepbx_case[0], tmp_path_factory.mktemp("freepbx") / "etc", freepbx_case[1])
            for path in folder.iterdir():
                shutil.copy2(path, sandbox.run.etc / path.name)

        with sandbox_running(AsteriskSandbox.create(chroot), prepare) as sandbox:
            sandbox.boot_problems = set(without_time(sandbox.log_problems()))
            yield sandbox

    @pytest.mark.log_may_warn
    def test_install_twice_then_uninstall(self, asterisk):
        def nothing_new(since, hooked):
            problems = set(without_time(asterisk.log_problems(since))) - asterisk.boot_problems
            assert {problem for problem in problems if not (hooked and stub_of_a_hook(asterisk, problem))
                    and not left_out(problem)} == set()

        after_call = f"{CODES[0]}@from-internal"
        original = {name: content for name, (content, _) in snapshot(asterisk).items()}
        since = asterisk.log_size()
        assert notice_dialplan(asterisk, "install", freepbx=True)[-1] == "apply it: fwconsole reload"
        reload(asterisk)
        reached = asterisk.rx(f"dialplan show {after_call}")
        assert "Included context 'notice-codes'" in reached and "Gosub(notice-after-call,s,1)" in reached
        hooks = asterisk.rx("dialplan show macro-dialout-one-predial-hook")
        assert "Gosub(notice-freepbx-rings,s,1)" in hooks and "[extensions_custom.conf:" in hooks
        assert_loaded(asterisk, override=False)
        nothing_new(since, hooked=True)

        installed = snapshot(asterisk)
        since = asterisk.log_size()
        assert notice_dialplan(asterisk, "install", freepbx=True)[-1] == "nothing changed"
        assert snapshot(asterisk) == installed
        reload(asterisk)
        assert_loaded(asterisk, override=False)
        nothing_new(since, hooked=True)

        notice_dialplan(asterisk, "uninstall", freepbx=True)
        assert {name: content for name, (content, _) in snapshot(asterisk).items()} == original
        since = asterisk.log_size()
        reload(asterisk)
        assert "notice-codes" not in asterisk.rx(f"dialplan show {after_call}", check=False)
        assert "notice" not in asterisk.rx("dialplan show macro-dialout-one-predial-hook", check=False)
        assert "notice" not in asterisk.rx("features show")
        nothing_new(since, hooked=False)


def without_time(lines: list) -> list:
    """Log lines without their time and thread: '[...] WARNING[123] pbx.c: ...' -> 'WARNING pbx.c: ...'."""
    return [re.sub(r"^\[[^]]*\] (WARNING|ERROR)\[\d+\]", r"\1", line) for line in lines]


def left_out(problem: str) -> bool:
    """Whether PROBLEM is an include of a context the fixture's excerpts leave out (not ours)."""
    found = re.fullmatch(r"WARNING pbx\.c: Context '[^']+' tries to include nonexistent context '([^']+)'", problem)
    return bool(found) and not found.group(1).startswith("notice")


def stub_of_a_hook(asterisk, problem: str) -> bool:
    """Whether PROBLEM is what Asterisk says of FreePBX's stub of a predial hook (s,1 in its
    extensions.conf, loaded after extensions_custom.conf) once a hook is in extensions_custom.conf."""
    if re.fullmatch(r"WARNING pbx\.c: Unable to register extension 's' priority 1 in "
                    r"'macro-dialout-[a-z-]+-predial-hook', already in use", problem):
        return True
    at = re.fullmatch(r"WARNING pbx_config\.c: Unable to register extension at line (\d+) of extensions\.conf", problem)
    lines = (asterisk.run.etc / "extensions.conf").read_text().splitlines()
    return bool(at) and re.match(r"exten\s*=>\s*s\s*,\s*1\s*,", lines[int(at.group(1)) - 1]) is not None and any(
        re.match(r"\[macro-dialout-[a-z-]+-predial-hook\]", line) for line in lines[:int(at.group(1)) - 1][-3:])
