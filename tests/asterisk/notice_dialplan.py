"""The shipped notice dialplan (dialplan/*.conf) in a sandbox Asterisk, as the end-to-end
dialplan tests load it: the files, notice-spool and notice inside the chroot (this project's
source run by Debian's python3), prompts' lengths, and what the full log says a channel did.
"""

import os
import re
import shutil
from pathlib import Path

from harness import MODULES, AsteriskSandbox, write_tone

REPO = Path(__file__).resolve().parents[2]
DIALPLAN = REPO / "dialplan"
SOURCE = REPO / "src" / "notice_cli"

EXTRA_MODULES = """
; the notice dialplan and the simulated handsets
load = app_senddtmf.so
load = app_sayunixtime.so
load = app_exec.so
load = func_db.so
load = func_cut.so
load = func_env.so
load = res_musiconhold.so
load = res_clioriginate.so
load = format_gsm.so
load = codec_gsm.so
"""

# The [globals] of a test dialplan: the shipped settings, then this sandbox's paths.
GLOBALS = """\
[general]
static = yes
writeprotect = yes

[globals]
#include "globals_notice.conf"
NOTICE_SPOOL = {run}/bin/notice-spool
NOTICE_CLI = {run}/bin/notice
NOTICE_RECORDINGS = {run}/recordings
NOTICE_PREPARED = {run}/recordings/prepared
NOTICE_SAY_ZONE = UTC
"""

# notice-spool's default channel: the notice rings the sipp phone "client".
FROM_INTERNAL = """
[from-internal]
exten => _[+0-9].,1,Dial(PJSIP/${EXTEN}@client,20)
 same => n,Hangup()
"""

# Commands inside the chroot, as System() finds them: the project's source run by python3.
COMMANDS = {
    "notice-spool": "-m notice_cli",
    "notice": "-c 'import sys; from notice_cli.cli import notice; sys.argv[0] = \"notice\"; notice()'",
}


def resolve_in(chroot: Path, path: str) -> Path:
    """PATH as the chroot sees it, following symlinks that are absolute inside the chroot."""
    current = chroot
    for part in Path(path).parts[1:]:
        current = current / part
        for _ in range(20):
            if not current.is_symlink():
                break
            target = os.readlink(current)
            current = (chroot / target.lstrip("/")) if target.startswith("/") else current.parent / target
    return current


def sound_seconds(chroot: Path, names: str) -> float:
    """Length of an '&' list of core sounds (GSM: 33 bytes per 20 ms frame)."""
    total = 0.0
    for name in names.split("&"):
        found = resolve_in(chroot, f"/usr/share/asterisk/sounds/en/{name}.gsm")
        total += found.stat().st_size / 33 * 0.020
    return total


def said_digits(chroot, number: str) -> float:
    """How long SayDigits takes to say NUMBER."""
    return sound_seconds(chroot, "&".join(f"digits/{digit}" for digit in number))


def globals_of(path: Path) -> dict:
    values = {}
    for line in path.read_text().splitlines():
        line = line.split(";")[0].strip()
        if "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


SETTINGS = globals_of(DIALPLAN / "globals_notice.conf")
PROMPTS = {k: v for k, v in SETTINGS.items() if k.startswith("NOTICE_PROMPT_")}
IN_CALL_CODE = re.search(r"^notice => ([^,]+),", (DIALPLAN / "features_notice.conf").read_text(), re.M).group(1)


def install_commands(sandbox: AsteriskSandbox, **extra_settings: str) -> None:
    """notice-spool and notice inside the chroot, with a config file for this sandbox."""
    run = sandbox.run.path
    shutil.copytree(SOURCE, run / "lib" / "python" / "notice_cli",
                    ignore=shutil.ignore_patterns("__pycache__"))
    settings = {"spool_dir": f"{run}/spool", "recordings_dir": f"{run}/recordings",
                "prepared_dir": f"{run}/recordings/prepared", "tz": "UTC",
                "syslog_facility": "none", **extra_settings}
    (run / "etc" / "notice.conf").write_text(
        "[notice]\n" + "".join(f"{key} = {value}\n" for key, value in settings.items()))
    (run / "bin").mkdir(exist_ok=True)
    for name, python_args in COMMANDS.items():
        wrapper = run / "bin" / name
        wrapper.write_text("#!/bin/sh\n"
                           f"NOTICE_CONFIG={run}/etc/notice.conf PYTHONPATH={run}/lib/python "
                           f'exec python3 {python_args} "$@"\n')
        wrapper.chmod(0o755)


def hold_music(sandbox: AsteriskSandbox) -> None:
    """A default music-on-hold class, for the client while the operator composes a notice."""
    run = sandbox.run.path
    (run / "moh").mkdir()
    write_tone(run / "moh" / "hold.wav", 5.0, hertz=300)
    (sandbox.run.etc / "musiconhold.conf").write_text(f"[default]\nmode = files\ndirectory = {run}/moh\n")


def configure(sandbox: AsteriskSandbox, dialplan: str, prepared=None) -> None:
    """The shipped files, DIALPLAN as extensions.conf (it may use {run}), the in-call feature,
    hold music, prepared recordings {number: seconds} and the commands."""
    run, etc = sandbox.run.path, sandbox.run.etc
    for conf in DIALPLAN.glob("*.conf"):
        shutil.copy(conf, etc / conf.name)
    (etc / "extensions.conf").write_text(dialplan.replace("{run}", str(run)))
    (etc / "features.conf").write_text('[applicationmap]\n#include "features_notice.conf"\n')
    (etc / "modules.conf").write_text(MODULES + EXTRA_MODULES)
    hold_music(sandbox)
    folder = sandbox.recordings_dir / "prepared"
    folder.mkdir()
    for number, seconds in (prepared or {}).items():
        write_tone(folder / f"{number}.wav", seconds, hertz=500 + 100 * number)
    install_commands(sandbox)


# --- what a channel did, from the full log ------------------------------------------------

EXECUTING = re.compile(r'Executing \[(?P<exten>[^@\]]*)@(?P<context>[^:\]]+):(?P<priority>\d+)\] '
                       r'(?P<app>\w+)\("(?P<channel>[^"]*)", "(?P<args>.*)"\) in new stack')


def executed(sandbox: AsteriskSandbox, since: int = 0):
    """Every 'Executing' line of the full log after offset SINCE, as match objects."""
    with open(sandbox.full_log, "rb") as log:
        log.seek(since)
        text = log.read().decode("utf-8", "replace")
    return [found for found in map(EXECUTING.search, text.splitlines()) if found]


def full_log_size(sandbox: AsteriskSandbox) -> int:
    try:
        return sandbox.full_log.stat().st_size
    except FileNotFoundError:
        return 0
