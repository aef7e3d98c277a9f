"""`notice dialplan install` and `uninstall` through CliRunner, on copies of FreePBX-shaped
/etc/asterisk folders (tests/fixtures/freepbx) and on a plain Asterisk folder, with the
dialplan files shipped in the package: the lines printed, the files written (and those left
byte for byte and mtime as they were), the dry run's diff, the exit codes and the failures
half-way. Real files in tmp_path: modes, owners and renames are what is tested."""

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from notice_cli import cli, dialplan_files
from notice_cli.dialplan_install import BEGIN, END, MANAGED

SHIPPED = Path(__file__).resolve().parents[2] / "dialplan"
FREEPBX_WRITES = ("extensions.conf", "extensions_additional.conf", "features.conf", "features_general_additional.conf",
                  "features_applicationmap_additional.conf", "features_featuremap_additional.conf")
FREEPBX_REPORT = ["extensions_custom.conf: notice block added", "globals_custom.conf: notice block added",
                  "features_applicationmap_custom.conf: notice block added", "apply it: fwconsole reload"]
POPULATED = sorted(path.parent.name for path in (Path(__file__).resolve().parents[1] / "fixtures" / "freepbx")
                   .glob("*/extensions_custom.populated.conf"))
HOOKS = {"15": ("macro", "MacroExit()"), "16": ("macro", "MacroExit()"), "17": ("gosub", "Return()")}
AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="giving files away needs root")


def run(*args):
    return CliRunner().invoke(cli.notice, ["dialplan", *args], prog_name="notice")


def snapshot(folder: Path) -> dict:
    """Every file's bytes and mtime (ns)."""
    return {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in sorted(folder.iterdir())}


def statuses(result) -> list:
    """The lines the command printed, but those on what it left to the admin."""
    return [line for line in result.stdout.splitlines() if " is yours, left as it is; " not in line]


def shipped(name: str) -> str:
    return (SHIPPED / name).read_text()


def age(folder: Path) -> None:
    """Move every mtime an hour back, so a rewrite would show even within the same tick."""
    for path in folder.iterdir():
        info = path.stat()
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns - 3600 * 10**9))


@pytest.fixture
def freepbx(freepbx_case, lay_out_freepbx, tmp_path) -> Path:
    """A copy of a FreePBX-shaped /etc/asterisk (tests/fixtures/freepbx, every folder: as
    installed, and with the admin's own extensions_custom.conf)."""
    name, variant = freepbx_case
    return lay_out_freepbx(name, tmp_path / "etc-asterisk", variant)


@pytest.fixture
def asterisk(tmp_path) -> Path:
    """A plain Asterisk /etc/asterisk: extensions.conf with [globals] and a context, features.conf."""
    folder = tmp_path / "asterisk"
    folder.mkdir()
    (folder / "extensions.conf").write_text(
        "[general]\nstatic = yes\n\n[globals]\nTRUNK = PJSIP/trunk\n\n[operators]\ninclude => notice-codes\n")
    (folder / "features.conf").write_text("[general]\n\n[featuremap]\n\n[applicationmap]\n")
    age(folder)
    return folder


# --- FreePBX -----------------------------------------------------------------------------------

def test_freepbx_install_appends_the_blocks_and_leaves_freepbxs_files_alone(freepbx, freepbx_case):
    flavour, _ = HOOKS[freepbx_case[0]]
    before = snapshot(freepbx)
    result = run("install", "--freepbx", "--etc", str(freepbx))
    assert (result.exit_code, result.stderr) == (0, "")
    assert statuses(result) == FREEPBX_REPORT
    after = snapshot(freepbx)
    assert {name: after[name] for name in FREEPBX_WRITES if name in after} == \
        {name: before[name] for name in FREEPBX_WRITES if name in before}
    custom = (freepbx / "extensions_custom.conf").read_text()
    original = before["extensions_custom.conf"][0].decode()
    assert custom.startswith(original + BEGIN + "\n" + shipped("extensions_notice.conf") + "\n"
                             + shipped("freepbx_notice.conf") + "\n")
    hooks = shipped(f"freepbx_hooks_{flavour}.conf")
    if "predial-hook]" not in original:
        assert custom == (original + BEGIN + "\n" + shipped("extensions_notice.conf") + "\n"
                          + shipped("freepbx_notice.conf") + "\n" + hooks + END + "\n")
    assert (freepbx / "globals_custom.conf").read_text().endswith(
        shipped("globals_notice.conf") + "\n" + shipped("freepbx_globals.conf") + END + "\n")
    assert (freepbx / "features_applicationmap_custom.conf").read_text().endswith(
        shipped("features_notice.conf") + END + "\n")
    assert sorted(after) == sorted(before)  # no staging file left behind, no file of ours


@pytest.mark.parametrize("version", POPULATED)
def test_the_admins_own_predial_hook_is_left_to_them_with_the_line_to_add(version, lay_out_freepbx, tmp_path):
    """The admin's extensions_custom.conf (the fixtures' *.populated.conf) has its own trunk hook."""
    _, exit_step = HOOKS[version]
    freepbx = lay_out_freepbx(version, tmp_path / "etc-asterisk", "populated")
    custom = freepbx / "extensions_custom.conf"
    original = custom.read_text()
    hook_line = original.splitlines().index(next(line for line in original.splitlines()
                                                 if line.startswith("exten => s,1,"))) + 1
    result = run("install", "--freepbx", "--etc", str(freepbx))
    assert result.stdout.splitlines()[:2] == [
        "extensions_custom.conf: notice block added",
        f"{custom} line {hook_line}: [macro-dialout-trunk-predial-hook] is yours, left as it is; add "
        f"'same => n,Gosub(notice-freepbx-dials,s,1)' before its {exit_step}"]
    installed = custom.read_text()
    assert installed.splitlines().count("[macro-dialout-trunk-predial-hook]") == 1
    assert "[macro-dialout-one-predial-hook]\nexten => s,1,Gosub(notice-freepbx-rings,s,1)" in installed[len(original):]
    assert run("install", "--freepbx", "--etc", str(freepbx)).stdout.splitlines()[:2] == [
        "extensions_custom.conf: unchanged", result.stdout.splitlines()[1]]


def test_a_freepbx_whose_hooks_cannot_be_told_is_refused(freepbx):
    extensions = freepbx / "extensions.conf"
    extensions.write_text(extensions.read_text().replace("[macro-dialout-trunk-predial-hook]", "[renamed]"))
    before = snapshot(freepbx)
    result = run("install", "--freepbx", "--etc", str(freepbx))
    assert (result.exit_code, result.stderr) == (3, (
        f"notice dialplan: error: {extensions}: no [macro-dialout-trunk-predial-hook] ending in MacroExit() (FreePBX "
        "15, 16) or Return() (17), so which predial hooks fit this FreePBX cannot be told; is it FreePBX's "
        "extensions.conf?\n"))
    assert snapshot(freepbx) == before
    assert run("uninstall", "--freepbx", "--etc", str(freepbx)).exit_code == 0


def test_freepbx_second_install_changes_no_byte_and_no_mtime(freepbx):
    assert run("install", "--freepbx", "--etc", str(freepbx)).exit_code == 0
    age(freepbx)
    installed = snapshot(freepbx)
    result = run("install", "--freepbx", "--etc", str(freepbx))
    assert statuses(result) == ["extensions_custom.conf: unchanged", "globals_custom.conf: unchanged",
                                "features_applicationmap_custom.conf: unchanged", "nothing changed"]
    assert snapshot(freepbx) == installed


def test_freepbx_upgrade_replaces_the_block_and_keeps_the_admins_override_after_it(freepbx):
    globals_custom = freepbx / "globals_custom.conf"
    globals_custom.write_text(f"{BEGIN}\nNOTICE_SPOOL=/old/notice-spool\n{END}\nNOTICE_ATTEMPTS=5\n")
    result = run("install", "--freepbx", "--etc", str(freepbx))
    assert "globals_custom.conf: notice block replaced" in result.stdout.splitlines()
    assert globals_custom.read_text() == (f"{BEGIN}\n{shipped('globals_notice.conf')}\n{shipped('freepbx_globals.conf')}"
                                          f"{END}\nNOTICE_ATTEMPTS=5\n")


def test_freepbx_uninstall_gives_every_file_back(freepbx):
    before = {name: content for name, (content, _) in snapshot(freepbx).items()}
    run("install", "--freepbx", "--etc", str(freepbx))
    result = run("uninstall", "--freepbx", "--etc", str(freepbx))
    assert result.stdout.splitlines() == [
        "features_applicationmap_custom.conf: notice block removed", "globals_custom.conf: notice block removed",
        "extensions_custom.conf: notice block removed", "apply it: fwconsole reload"]
    assert {name: content for name, (content, _) in snapshot(freepbx).items()} == before


def test_the_former_cat_install_is_refused_naming_the_copy(freepbx):
    custom = freepbx / "extensions_custom.conf"
    custom.write_text(shipped("extensions_notice.conf"))
    before = snapshot(freepbx)
    result = run("install", "--freepbx", "--etc", str(freepbx))
    number, line = next((number, text) for number, text in enumerate(shipped("extensions_notice.conf").splitlines(), 1)
                        if text.startswith("exten => "))
    assert result.exit_code == 3
    assert result.stderr.startswith(f"notice dialplan: error: {custom} line {number}: {line} is also in the "
                                    "notice-cli block, and Asterisk would keep only the first of the two; if it is a "
                                    "copy from an earlier install, delete it")
    assert result.stderr.count("\n") == 1 and snapshot(freepbx) == before


def test_a_folder_that_is_not_freepbxs_is_refused(asterisk, tmp_path):
    result = run("install", "--freepbx", "--etc", str(asterisk))
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == (f"notice dialplan: error: {asterisk} has no extensions_additional.conf: not FreePBX's "
                             "configuration folder (FreePBX writes extensions_additional.conf on every reload); give "
                             "--etc the folder FreePBX writes to, or use --asterisk DIR for plain Asterisk\n")
    assert run("install", "--freepbx", "--etc", str(tmp_path / "nowhere")).exit_code == 3


def test_freepbx_defaults_to_etc_asterisk(monkeypatch):
    asked = []
    monkeypatch.setattr(dialplan_files, "install_dialplan", lambda layout, folder, *args: asked.append(folder) or [])
    assert run("install", "--freepbx").exit_code == 0
    assert asked == ["/etc/asterisk"]


# --- plain Asterisk ----------------------------------------------------------------------------

def test_asterisk_install_writes_our_files_and_the_include_blocks(asterisk):
    result = run("install", "--asterisk", str(asterisk))
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "extensions_notice.conf: written", "globals_notice.conf: written", "features_notice.conf: written",
        "extensions.conf: notice blocks added", "features.conf: notice block added",
        "apply it: asterisk -rx 'dialplan reload' && asterisk -rx 'module reload features'"]
    for name in ("extensions_notice.conf", "globals_notice.conf", "features_notice.conf"):
        assert (asterisk / name).read_text() == MANAGED + "\n" + shipped(name)
    assert (asterisk / "extensions.conf").read_text() == (
        f'[general]\nstatic = yes\n\n[globals]\n{BEGIN}\n#include "globals_notice.conf"\n{END}\nTRUNK = PJSIP/trunk\n\n'
        f'[operators]\ninclude => notice-codes\n{BEGIN}\n#include "extensions_notice.conf"\n{END}\n')
    assert (asterisk / "features.conf").read_text() == (
        f'[general]\n\n[featuremap]\n\n[applicationmap]\n{BEGIN}\n#include "features_notice.conf"\n{END}\n')


def test_asterisk_second_install_changes_nothing_and_uninstall_gives_the_folder_back(asterisk):
    before = snapshot(asterisk)
    run("install", "--asterisk", str(asterisk))
    age(asterisk)
    installed = snapshot(asterisk)
    assert run("install", "--asterisk", str(asterisk)).stdout.splitlines()[-1] == "nothing changed"
    assert snapshot(asterisk) == installed
    result = run("uninstall", "--asterisk", str(asterisk))
    assert result.stdout.splitlines()[:5] == [
        "features.conf: notice block removed", "extensions.conf: notice blocks removed",
        "features_notice.conf: removed", "globals_notice.conf: removed", "extensions_notice.conf: removed"]
    assert {name: content for name, (content, _) in snapshot(asterisk).items()} == \
        {name: content for name, (content, _) in before.items()}


def test_a_folder_without_extensions_conf_or_with_freepbxs_files_is_refused(asterisk, freepbx, tmp_path):
    result = run("install", "--asterisk", str(tmp_path))
    assert (result.exit_code, result.stderr) == (3, (
        f"notice dialplan: error: {tmp_path} has no extensions.conf: not an Asterisk configuration folder; give "
        "--asterisk the folder with extensions.conf (/etc/asterisk)\n"))
    before = snapshot(freepbx)
    result = run("install", "--asterisk", str(freepbx))
    assert (result.exit_code, result.stderr) == (3, (
        f"notice dialplan: error: {freepbx} has extensions_additional.conf: this is FreePBX's configuration folder "
        "(FreePBX writes that file); use --freepbx, which leaves the files FreePBX writes alone\n"))
    assert snapshot(freepbx) == before


def test_broken_markers_are_refused_and_nothing_is_written(asterisk):
    features = asterisk / "features.conf"
    features.write_text(f"[applicationmap]\n{BEGIN}\n#include \"features_notice.conf\"\n")
    before = snapshot(asterisk)
    for command in ("install", "uninstall"):
        result = run(command, "--asterisk", str(asterisk))
        assert (result.exit_code, result.stdout) == (3, "")
        assert result.stderr == (f"notice dialplan: error: {features} line 2: '; BEGIN notice-cli' with no "
                                 "'; END notice-cli' line after it; mend the markers (or delete the whole block) and "
                                 "run again: nothing was changed\n")
        assert snapshot(asterisk) == before


# --- the dry run -------------------------------------------------------------------------------

def test_dry_run_prints_the_diff_and_writes_nothing(asterisk):
    before = snapshot(asterisk)
    result = run("install", "--asterisk", str(asterisk), "--dry-run")
    assert result.exit_code == 0 and snapshot(asterisk) == before
    out = result.stdout
    assert out.startswith(f"--- /dev/null\n+++ {asterisk}/extensions_notice.conf\n@@ -0,0 +1,")
    assert f"--- {asterisk}/features.conf\n+++ {asterisk}/features.conf\n@@ -3,3 +3,6 @@\n" \
           f" [featuremap]\n \n [applicationmap]\n+{BEGIN}\n+#include \"features_notice.conf\"\n+{END}\n" in out
    assert out.endswith("dry run: nothing written\n")
    run("install", "--asterisk", str(asterisk))
    assert run("install", "--asterisk", str(asterisk), "--dry-run").stdout == "dry run: nothing written\n"
    removal = run("uninstall", "--asterisk", str(asterisk), "--dry-run").stdout
    assert f"--- {asterisk}/globals_notice.conf\n+++ /dev/null\n" in removal


# --- the files as written ----------------------------------------------------------------------

@AS_ROOT
def test_a_changed_file_keeps_its_mode_owner_and_group_and_a_new_one_takes_the_landmarks(asterisk):
    extensions = asterisk / "extensions.conf"
    os.chown(extensions, 1234, 2345)
    os.chmod(extensions, 0o640)
    os.chown(asterisk / "features.conf", 3456, 4567)
    run("install", "--asterisk", str(asterisk))
    for name, ids, mode in [("extensions.conf", (1234, 2345), 0o640), ("features.conf", (3456, 4567), 0o644),
                            ("globals_notice.conf", (1234, 2345), 0o640)]:
        info = (asterisk / name).stat()
        assert ((info.st_uid, info.st_gid), info.st_mode & 0o7777) == (ids, mode), name


def test_a_file_linked_within_the_folder_is_changed_through_the_link(asterisk):
    shutil.move(asterisk / "features.conf", asterisk / "features.conf.real")
    (asterisk / "features.conf").symlink_to("features.conf.real")
    assert run("install", "--asterisk", str(asterisk)).exit_code == 0
    assert (asterisk / "features.conf").is_symlink()
    assert (asterisk / "features.conf.real").read_text().endswith(f'#include "features_notice.conf"\n{END}\n')


@pytest.mark.parametrize("target", ["elsewhere/secret", "elsewhere/new-file"])
def test_a_link_out_of_the_folder_is_refused_and_nothing_is_written(freepbx, tmp_path, target):
    """Whoever may write /etc/asterisk (the asterisk user on FreePBX) must not make root, who
    runs the install, write or create a file elsewhere through a link."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret").write_text("root's own line\n")
    link = freepbx / "globals_custom.conf"
    link.unlink()
    before = snapshot(freepbx)
    link.symlink_to(tmp_path / target)
    result = run("install", "--freepbx", "--etc", str(freepbx))
    assert result.exit_code == 3
    assert result.stderr == (f"notice dialplan: error: {link} is a link to {tmp_path / target}; notice-cli writes only "
                             f"files of {freepbx} itself: put the file there in place of the link, and run again\n")
    assert os.readlink(link) == str(tmp_path / target)
    link.unlink()
    assert snapshot(freepbx) == before and sorted(os.listdir(elsewhere)) == ["secret"]
    assert (elsewhere / "secret").read_text() == "root's own line\n"


def test_the_dry_run_diff_of_a_file_that_is_not_utf8_shows_its_bytes(asterisk, capfdbinary):
    (asterisk / "extensions.conf").write_bytes(b"; r\xe9glages\n[globals]\n")
    code = subprocess.run([sys.executable, "-c", "from notice_cli.cli import notice; notice()", "dialplan", "install",
                           "--asterisk", str(asterisk), "--dry-run"], capture_output=True,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"})
    assert (code.returncode, code.stderr) == (0, b"")
    assert b" ; r\xe9glages\n" in code.stdout and code.stdout.endswith(b"dry run: nothing written\n")


def test_a_file_that_is_not_utf8_keeps_its_bytes(asterisk):
    extensions = asterisk / "extensions.conf"
    latin1 = b"; r\xe9glages\n[globals]\n"
    extensions.write_bytes(latin1)
    run("install", "--asterisk", str(asterisk))
    assert extensions.read_bytes().startswith(b"; r\xe9glages\n[globals]\n" + BEGIN.encode())
    run("uninstall", "--asterisk", str(asterisk))
    assert extensions.read_bytes() == latin1


def test_a_failure_while_staging_changes_nothing(asterisk, monkeypatch):
    before = snapshot(asterisk)
    real_mkstemp, made = tempfile.mkstemp, []

    def full_after_two(*args, **kwargs):
        if len(made) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        made.append(real_mkstemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkstemp", full_after_two)
    result = run("install", "--asterisk", str(asterisk))
    assert (result.exit_code, result.stdout) == (4, "")
    assert result.stderr == (f"notice dialplan: error: no space left on the device of {asterisk}/features_notice.conf; "
                             "free some space; nothing was changed\n")
    assert snapshot(asterisk) == before


def test_a_failure_half_way_says_which_files_were_changed(asterisk, monkeypatch):
    real_rename, renamed = os.rename, []

    def refused_third(source, target):
        if len(renamed) == 2:
            raise PermissionError(errno.EACCES, "Permission denied", source, None, target)
        renamed.append(target)
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", refused_third)
    result = run("install", "--asterisk", str(asterisk))
    assert result.exit_code == 4
    assert result.stderr == (
        f"notice dialplan: error: permission denied on {asterisk}/features_notice.conf; run as root or as the owner "
        "of Asterisk's configuration files (asterisk); changed before the failure: extensions_notice.conf, "
        "globals_notice.conf; run the command again once that is fixed\n")
    assert sorted(os.listdir(asterisk)) == ["extensions.conf", "extensions_notice.conf", "features.conf",
                                            "globals_notice.conf"]
    monkeypatch.undo()
    assert run("install", "--asterisk", str(asterisk)).stdout.splitlines()[:3] == [
        "extensions_notice.conf: unchanged", "globals_notice.conf: unchanged", "features_notice.conf: written"]


def test_an_unreadable_file_exits_4(asterisk):
    (asterisk / "features.conf").unlink()
    (asterisk / "features.conf").mkdir()
    result = run("install", "--asterisk", str(asterisk))
    assert result.exit_code == 4
    assert result.stderr.startswith(f"notice dialplan: error: cannot read {asterisk}/features.conf: ")


# --- the command line --------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    ([], "give either --freepbx or --asterisk DIR"),
    (["--freepbx", "--asterisk", "/etc/asterisk"], "give either --freepbx or --asterisk DIR"),
    (["--asterisk", "/etc/asterisk", "--etc", "/srv"], "--etc goes with --freepbx"),
])
@pytest.mark.parametrize("command", ["install", "uninstall"])
def test_usage_errors_exit_2(command, args, message):
    result = run(command, *args)
    assert result.exit_code == 2 and message in result.stderr


@pytest.mark.parametrize("command, example", [("install", "notice dialplan install --freepbx"),
                                              ("uninstall", "notice dialplan uninstall --asterisk /etc/asterisk")])
def test_each_command_has_help_with_an_example(command, example):
    result = run(command, "--help")
    assert result.exit_code == 0
    assert f"Usage: notice dialplan {command} [OPTIONS]" in result.stdout and f"  {example}" in result.stdout
    assert "--dry-run" in result.stdout and "--etc DIR" in result.stdout
    assert "dialplan" in CliRunner().invoke(cli.notice, ["--help"]).stdout


def test_the_operators_codes_are_set_in_one_place(freepbx, tmp_path):
    """The three codes, from the options or notice.conf, go where the files say them; the two
    dialled codes must differ; install again without them and the shipped ones come back."""
    config = tmp_path / "notice.conf"
    config.write_text("[notice]\nafter_call_code = *71\n")
    result = run("install", "--freepbx", "--etc", str(freepbx), "--config", str(config),
                 "--any-time-code", "*72", "--in-call-code", "*9")
    assert result.exit_code == 0, result.stderr
    globals_custom = (freepbx / "globals_custom.conf").read_text()
    assert "\nNOTICE_CODE_AFTER_CALL=*71\n" in globals_custom and "\nNOTICE_CODE_ANY_TIME=*72\n" in globals_custom
    assert "\nnotice => *9,self," in (freepbx / "features_applicationmap_custom.conf").read_text()
    same = run("install", "--freepbx", "--etc", str(freepbx), "--after-call-code", "*72")  # any time's, installed
    assert (same.exit_code, same.stderr) == (3, "notice dialplan: error: after_call_code and any_time_code are both "
                                                "*72: the two ways need codes of their own\n")
    # An upgrade that names no code keeps those installed; naming one changes that one.
    again = run("install", "--freepbx", "--etc", str(freepbx))
    assert again.exit_code == 0 and "nothing changed" in again.stdout
    run("install", "--freepbx", "--etc", str(freepbx), "--after-call-code", "*61")
    globals_custom = (freepbx / "globals_custom.conf").read_text()
    assert "\nNOTICE_CODE_AFTER_CALL=*61\n" in globals_custom and "\nNOTICE_CODE_ANY_TIME=*72\n" in globals_custom
    assert "\nnotice => *9,self," in (freepbx / "features_applicationmap_custom.conf").read_text()
