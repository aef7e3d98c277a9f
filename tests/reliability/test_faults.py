"""Real faults under the installed notice-spool and notice import: a full disk (a 64 KiB tmpfs),
a read-only spool (a read-only bind mount), tmp/ on another file system (a tmpfs mounted on
it), missing folders, an owner user that does not exist, and permission denied (root with
every capability dropped, so that the folders' modes apply to it).

Each must end with exit 4, exactly one line `<command>: error: ...` saying what is wrong, and
nothing in outgoing/ or tmp/. An import on a disk that fills up half-way keeps the notices it
spooled (each whole), says how many, and the same import run again spools the rest.

Each case runs in a mount namespace of its own (`unshare --mount --propagation private`): its
mounts are gone when it ends, whatever happens, and the host never sees them. The spool is
copied out (`cp -a`, mtimes kept) before the namespace ends, for the checks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import namedtuple
from pathlib import Path

import pytest

from realspool import KEYPAD, NOTICE, NOTICE_SPOOL, RECORDING, Site, check_call_file

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"),
    reason="needs root and util-linux's unshare and setpriv: mounts tmpfs and read-only binds, drops capabilities")

# Root without any capability: permission checks apply to it as to any user (uid 0 owns the
# folders, so their owner bits decide), and it cannot chown.
NO_CAPABILITIES = "setpriv --inh-caps=-all --bounding-set=-all --"
# Run in the namespace: `step NAME COMMAND...` runs COMMAND and keeps its exit code, output
# and a copy of the spool in $RESULTS/NAME.*; the setup lines before it must all succeed.
PRELUDE = """
set -eu
step() {
    name=$1; shift
    set +e; "$@" > "$RESULTS/$name.out" 2> "$RESULTS/$name.err"; echo $? > "$RESULTS/$name.code"; set -e
    if [ -d spool ]; then cp -a spool "$RESULTS/$name.spool"; fi
}
"""
FULL = "mkdir spool; mount -t tmpfs -o size=64k tmpfs spool; mkdir spool/outgoing spool/tmp; cat /dev/zero > spool/filler 2>/dev/null || true"
RO = "mount --bind spool spool; mount -o remount,bind,ro spool"
MISSING = "spool folder {spool}/outgoing does not exist; is Asterisk installed, and is spool_dir right?"
DENIED = "permission denied on {spool}/{where}; run as root or as the user Asterisk runs as, or fix the folder's owner"
CALL_FILE = r"notice-[0-9]{14}-[0-9a-f]{8}\.call"  # {call}: the id is new on each run


class Case(namedtuple("Case", "setup env prefix message spooling")):
    """A fault: the shell lines that make it, the environment, what the command is run under,
    and the error line after "<command>: error: " ({spool}: the spool's path; {call}: a call file).
    SPOOLING: the fault strikes while the first file is written, so an import adds how many
    notices it spooled before it (none); otherwise it is found before any write."""


FAULTS = {
    "disk full": Case(FULL, {}, "", "no space left on the device of {spool}; free some space and schedule the "
                      "notice again", True),
    "read-only spool": Case(f"mkdir -p spool/outgoing spool/tmp; {RO}", {}, "",
                            "{spool}/tmp/{call} is on a read-only file system; the spool must be writable",
                            True),
    "read-only spool, no tmp/": Case(f"mkdir -p spool/outgoing; {RO}", {}, "",
                                     "{spool}/tmp is on a read-only file system; the spool must be writable", False),
    "tmp/ on another file system": Case(
        "mkdir -p spool/outgoing spool/tmp; mount -t tmpfs -o size=1m tmpfs spool/tmp", {}, "",
        "{spool}/tmp and {spool}/outgoing are on different file systems, so the call file cannot be moved in "
        "atomically; make tmp/ a folder on the same file system as outgoing/", True),
    "no outgoing/": Case("mkdir spool", {}, "", MISSING, False),
    "no spool folder": Case("", {}, "", MISSING, False),
    "owner user missing": Case("mkdir -p spool/outgoing", {"NOTICE_OWNER": "notice-no-such-user"}, "",
                               "owner user notice-no-such-user does not exist; create it or set owner to the user "
                               "Asterisk runs as", False),
    "outgoing/ not writable": Case("mkdir -p spool/outgoing spool/tmp; chmod 555 spool/outgoing",
                                   {"NOTICE_OWNER": "root"}, NO_CAPABILITIES,
                                   DENIED.replace("{where}", "outgoing/{call}"), True),
    "tmp/ not writable": Case("mkdir -p spool/outgoing spool/tmp; chmod 555 spool/tmp", {"NOTICE_OWNER": "root"},
                              NO_CAPABILITIES, DENIED.replace("{where}", "tmp/{call}"), True),
    "spool not writable, no tmp/": Case("mkdir -p spool/outgoing; chmod 555 spool", {"NOTICE_OWNER": "root"},
                                        NO_CAPABILITIES, DENIED.replace("{where}", "tmp"), False),
}
IMPORT_ROWS = 100


class Fault:
    """A fault's folder: the spool (not made: the setup makes what it needs), recordings, an
    import file, and the results of each step run in the namespace."""

    def __init__(self, base: Path):
        self.site = Site(base)
        shutil.rmtree(self.site.spool)
        self.results = base / "results"
        self.results.mkdir()
        self.rows = self.site.write_csv("rows.csv", [(f"7999{i:07d}", RECORDING, "2099-03-04 05:06")
                                                     for i in range(IMPORT_ROWS)])

    def run(self, script: str, env: dict[str, str] | None = None) -> None:
        finished = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", PRELUDE + script],
                                  cwd=self.site.base, env={**self.site.env, **(env or {}), "RESULTS": str(self.results)},
                                  capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0, f"the fault's setup failed: {finished.stderr}"

    def step(self, name: str) -> tuple[int, str, str, Path]:
        """(exit code, stdout, stderr, the copy of the spool) of step NAME."""
        read = lambda suffix: (self.results / f"{name}.{suffix}").read_text()  # noqa: E731
        return int(read("code")), read("out"), read("err"), self.results / f"{name}.spool"


def listing(folder: Path) -> list[str] | None:
    return sorted(os.listdir(folder)) if folder.is_dir() else None


@pytest.fixture
def fault(tmp_path_factory):
    # not tmp_path: a parametrized test's folder name has '[', which recordings_dir refuses
    return Fault(tmp_path_factory.mktemp("fault"))


@pytest.fixture(scope="module")
def tally(figures):
    cases = []
    yield cases
    if cases:
        figures(f"faults: {len(cases)} cases ({len(FAULTS)} faults x notice-spool and notice import), each "
                "exit 4, one line, nothing in outgoing/ or tmp/")


@pytest.mark.parametrize("command", ["notice-spool", "notice import"])
@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_exits_4_with_one_line_and_leaves_nothing(fault, tally, name, command):
    case = FAULTS[name]
    run = (f"{NOTICE_SPOOL} 79991234567 {RECORDING} '{KEYPAD}'" if command == "notice-spool"
           else f"{NOTICE} import {fault.rows}")
    fault.run(f"{case.setup}\nstep run {case.prefix} {run}\n", case.env)
    code, out, err, copy = fault.step("run")
    line = f"{command}: error: {case.message}"
    if command == "notice import" and case.spooling:
        line += "; no notice was spooled"
    pattern = re.escape(line + "\n").replace(re.escape("{spool}"), re.escape(str(fault.site.spool)))
    assert (code, out) == (4, "")
    assert re.fullmatch(pattern.replace(re.escape("{call}"), CALL_FILE), err), f"{err!r} is not {line!r}"
    assert listing(copy / "outgoing") in (None, [])
    assert listing(copy / "tmp") in (None, [])
    tally.append((name, command))


def test_capabilities_are_really_dropped(fault):
    """The permission cases prove something only if root really lost its capabilities."""
    fault.run(f"step caps {NO_CAPABILITIES} grep CapEff /proc/self/status\n")
    code, out, _, _ = fault.step("caps")
    assert (code, out.split()) == (0, ["CapEff:", "0000000000000000"])


def test_import_on_a_disk_that_fills_up_keeps_what_it_spooled_and_the_next_run_spools_the_rest(fault, figures):
    # Each call file takes a 4 KiB page of tmpfs: 64 KiB hold some of the rows, not all.
    fault.run(f"mkdir spool; mount -t tmpfs -o size=64k tmpfs spool; mkdir spool/outgoing spool/tmp\n"
              f"step full {NOTICE} import {fault.rows}\n"
              f"mount -o remount,size=1m spool\n"
              f"step again {NOTICE} import {fault.rows}\n")
    code, out, err, copy = fault.step("full")
    spooled = listing(copy / "outgoing")
    assert 0 < len(spooled) < IMPORT_ROWS
    assert (code, out) == (4, "")
    assert err == (f"notice import: error: no space left on the device of {fault.site.spool}; free some space "
                   f"and schedule the notice again; the {len(spooled)} notices spooled before the failure stay "
                   "scheduled\n")
    for name in spooled:
        check_call_file(copy / "outgoing" / name)
    assert listing(copy / "tmp") == []
    code, out, err, copy = fault.step("again")
    assert (code, err) == (0, "")
    assert out == (f"spooled {IMPORT_ROWS - len(spooled)} notices from {fault.rows}; "
                   f"{len(spooled)} already scheduled (skipped)\n")
    assert len(listing(copy / "outgoing")) == IMPORT_ROWS
    for name in listing(copy / "outgoing"):
        check_call_file(copy / "outgoing" / name)
    figures(f"faults: an import of {IMPORT_ROWS} rows on a disk that fills up: exit 4, {len(spooled)} whole notices "
            f"kept and counted in the message; run again with space, it spooled the other {IMPORT_ROWS - len(spooled)}")
