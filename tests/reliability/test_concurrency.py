"""Many operators at once: SPOOLERS notice-spool processes with the same number, recording and
time, a `notice import` of IMPORT_ROWS rows and a `notice cancel` of CANCELLED other pending
notices, all let go at the same instant on one spool.

Every notice-spool must print its own notice, and find it in outgoing/, whole and its own
(none lost, none overwritten by another); every imported row must be there; the cancelled
notices must be gone, and only those; tmp/ must be empty.

Then cron overlapping itself: OVERLAPPING imports of one file let go at the same instant.
Each must exit 0, every row must be spooled exactly once (whole and timed), and the runs'
summaries must add up: each row counted spooled by one run and already scheduled by the others.

So that they really meet in the spool, rather than one after another as they start (a
Python start takes longer than the spooling), each process is started first and waits,
imports done, on a shared lock that the test then releases: the installed console scripts
run from there (runpy), exactly as they run from a shell.
"""

from __future__ import annotations

import calendar
import fcntl
import re
import sys
import time

from notice_cli.notice import content_id

from realspool import KEYPAD, KEYPAD_DUE, NOTICE, NOTICE_SPOOL, RECORDING, Site, check_call_file

SPOOLERS = 200
IMPORT_ROWS = 300
PENDING = 100  # notices already there; half are cancelled
CANCELLED = PENDING // 2
NUMBER = "79991234567"
IMPORT_WHEN = "2099-05-06 07:08"
IMPORT_DUE = calendar.timegm((2099, 5, 6, 7, 8, 0))
OVERLAPPING = 8
# Imports the modules MODULES names (comma-separated) before the start, waits on the barrier's
# lock, then runs the console script SCRIPT with the arguments after it.
WAITING = """
import fcntl, importlib, runpy, sys
barrier, modules, script = open(sys.argv[1]), sys.argv[2], sys.argv[3]
for module in modules.split(","):
    importlib.import_module(module)
print("ready", flush=True)
fcntl.flock(barrier, fcntl.LOCK_SH)
sys.argv = [script] + sys.argv[4:]
runpy.run_path(script, run_name="__main__")
"""
SPOOL_MODULES = "notice_cli.entry,notice_cli.schedule,notice_cli.settings,notice_cli.spool_writer"
IMPORT_MODULES = SPOOL_MODULES + ",notice_cli.cli,notice_cli.bulk"
SUMMARY = re.compile(r"spooled (\d+) notices? from \S+(?:; (\d+) already scheduled \(skipped\))?\n")
SCHEDULED = re.compile(r"notice (\S+) scheduled for 2099-01-02T03:04:00\+00:00: (\S+)\n")


def all_at_once(site: Site, commands: list[list[str]], modules: str) -> tuple[list[tuple[str, str]], float]:
    """Start COMMANDS, each with MODULES imported, let them go at the same instant, and return
    their (stdout, stderr) and the seconds they took, once each has exited 0 and said nothing
    on stderr."""
    barrier = site.base / "barrier"
    barrier.touch()
    with open(barrier) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        processes = [site.start(sys.executable, "-c", WAITING, str(barrier), modules, *command)
                     for command in commands]
        for process in processes:
            assert process.stdout.readline() == "ready\n"
        began = time.monotonic()
    # closed: every process goes at once
    results = [process.communicate(timeout=300) for process in processes]
    took = time.monotonic() - began
    codes = [process.returncode for process in processes]
    assert codes == [0] * len(processes), [(code, err) for code, (_, err) in zip(codes, results) if code][:3]
    assert [err for _, err in results] == [""] * len(processes)
    return results, took


def test_many_at_once_lose_nothing_and_overwrite_nothing(tmp_path_factory, figures):
    site = Site(tmp_path_factory.mktemp("concurrency"))
    ids = [f"pending-{i:03d}" for i in range(PENDING)]
    pending = site.write_csv("pending.csv", [(i, "7999000" + i[-3:], RECORDING, "2099-04-05 06:07") for i in ids],
                             header=("id", "number", "recording", "when"))
    assert site.run(NOTICE, "import", str(pending)).returncode == 0
    numbers = [f"7888{i:07d}" for i in range(IMPORT_ROWS)]
    rows = site.write_csv("rows.csv", [(number, RECORDING, IMPORT_WHEN) for number in numbers])
    commands = [[NOTICE_SPOOL, NUMBER, RECORDING, KEYPAD]] * SPOOLERS + [
        [NOTICE, "import", str(rows)], [NOTICE, "cancel", "--yes", *ids[:CANCELLED]]]
    results, took = all_at_once(site, commands, SPOOL_MODULES)

    spooled = [SCHEDULED.fullmatch(out).groups() for out, _ in results[:SPOOLERS]]
    assert len({notice_id for notice_id, _ in spooled}) == len({path for _, path in spooled}) == SPOOLERS
    for notice_id, path in spooled:
        assert path == str(site.outgoing / f"notice-{notice_id}.call")
        check_call_file(site.outgoing / f"notice-{notice_id}.call", NUMBER, KEYPAD_DUE)  # its own id inside
    imported, cancelled = results[SPOOLERS][0], results[SPOOLERS + 1][0]
    assert imported == f"spooled {IMPORT_ROWS} notices from {rows}\n"
    assert [line.split(":")[0] for line in cancelled.splitlines()] == [f"cancelled {i}" for i in ids[:CANCELLED]]

    expected = ({f"notice-{notice_id}.call" for notice_id, _ in spooled}
                | {f"notice-{content_id(number, RECORDING, IMPORT_DUE)}.call" for number in numbers}
                | {f"notice-{i}.call" for i in ids[CANCELLED:]})
    assert set(site.spooled()) == expected
    for name in site.spooled():
        check_call_file(site.outgoing / name)
    assert site.staged() == []
    figures(f"concurrency: {SPOOLERS} notice-spool at once (same number, recording and time): {SPOOLERS} distinct "
            f"notices, whole, none lost or overwritten; beside them an import of {IMPORT_ROWS} rows (all there) and "
            f"a cancel of {CANCELLED} of {PENDING} pending notices (those gone, the others there); {took:.1f} s")


def test_overlapping_imports_of_one_file_spool_each_row_once_and_all_exit_0(tmp_path_factory, figures):
    site = Site(tmp_path_factory.mktemp("overlapping"))
    numbers = [f"7777{i:07d}" for i in range(IMPORT_ROWS)]
    rows = site.write_csv("rows.csv", [(number, RECORDING, IMPORT_WHEN) for number in numbers])
    results, took = all_at_once(site, [[NOTICE, "import", str(rows)]] * OVERLAPPING, IMPORT_MODULES)

    summaries = [SUMMARY.fullmatch(out) for out, _ in results]
    assert all(summaries), [out for out, _ in results]
    spooled = [int(summary.group(1)) for summary in summaries]
    skipped = [int(summary.group(2) or 0) for summary in summaries]
    assert sum(spooled) == IMPORT_ROWS, spooled  # more would be a row spooled twice, one over another
    assert [done + passed for done, passed in zip(spooled, skipped)] == [IMPORT_ROWS] * OVERLAPPING
    assert site.spooled() == sorted(f"notice-{content_id(number, RECORDING, IMPORT_DUE)}.call" for number in numbers)
    for name in site.spooled():
        check_call_file(site.outgoing / name, due=IMPORT_DUE)
    assert site.staged() == []
    figures(f"concurrency: {OVERLAPPING} imports of one file of {IMPORT_ROWS} rows at once: all exit 0, each row "
            f"spooled once, whole and timed; spooled per run {sorted(spooled, reverse=True)}, the rest already "
            f"scheduled; {took:.1f} s")
