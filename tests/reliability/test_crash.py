"""Crash safety: the installed notice-spool and notice import, killed with SIGKILL at random
moments, leave nothing in outgoing/ but whole notices at their due time, and nothing in tmp/
but their own staging files, which the next import and `notice gc` clean up.

* notice-spool: each kill comes either after a delay drawn over its whole run time (start-up,
  checks, staging, exit), or a few milliseconds after its staging file appears in tmp/ (the
  write, fsync, chmod, utime and rename take ~2 ms of a ~70 ms run: a uniform delay alone
  would rarely land there). A run that printed its notice must have it in outgoing/.
* notice import: a CSV of IMPORT_ROWS rows is imported again and again, each run killed either
  after a delay over its start-up (reading and checking the rows) or a few milliseconds after
  a random number of the rows left have reached outgoing/, until a run ends on its own; then
  every row must be in outgoing/ exactly once, and tmp/ empty: each run takes back the
  leftovers of the notices it writes again.
* Then every file in outgoing/ must be whole (callfile.parse, every field, mtime ==
  NOTICE_DUE), tmp/ must hold only notice-*.call leftovers, and `notice gc` must remove exactly
  those, and not the staging file of a live writer (a process holding its lock since the start).

NOTICE_CRASH_RUNS sets how many processes are killed (CI: 1,000, see the Makefile), three
quarters notice-spool and a quarter import, several at a time; NOTICE_CRASH_SEED the delays.
"""

from __future__ import annotations

import calendar
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from pathlib import Path

import pytest

from notice_cli.notice import content_id
from notice_cli.spool_writer import STAGING_GRACE

from realspool import KEYPAD, KEYPAD_DUE, NOTICE, NOTICE_SPOOL, RECORDING, Site, check_call_file

RUNS = int(os.environ.get("NOTICE_CRASH_RUNS", "100"))
SEED = int(os.environ.get("NOTICE_CRASH_SEED", random.randrange(2**32)))
WORKERS = (os.cpu_count() or 1) + 1
IMPORT_ROWS = 100
IMPORT_WHEN = "2099-03-04 05:06"
IMPORT_DUE = calendar.timegm((2099, 3, 4, 5, 6, 0))
KILLED = -signal.SIGKILL
STAGING_WINDOW = 0.004  # seconds after the staging file appears: write, fsync, chmod, utime, rename
# A live writer: a process that has made its staging file as notice-spool makes it (created,
# locked), written part of it, and goes on (it waits on stdin until the end of the test).
LIVE_WRITER = """
import os, sys
from notice_cli.spool_writer import _create_staging
os.write(_create_staging(sys.argv[1]), b"Channel: Local/7")
print("writing", flush=True)
sys.stdin.read()
"""


class Tally:
    """What one worker's runs did."""

    def __init__(self):
        self.kills = 0
        self.finished = 0  # runs that ended on their own before the signal
        self.whole = 0  # killed runs whose notice was already whole in outgoing/
        self.leftovers = 0  # killed runs that left a staging file in tmp/
        self.nothing = 0  # killed runs that left no trace
        self.generations = 0  # import: CSV files imported to the end
        self.reported: list[str] = []  # paths the runs printed as scheduled

    def __add__(self, other: "Tally") -> "Tally":
        total = Tally()
        for name, value in vars(self).items():
            setattr(total, name, value + getattr(other, name))
        return total

    def count_kill(self, new_out: set[str], new_tmp: set[str]) -> None:
        self.kills += 1
        self.whole += len(new_out)
        self.leftovers += len(new_tmp)
        self.nothing += not (new_out or new_tmp)


def median_run_time(site: Site, command: list[str], runs: int) -> float:
    """How long COMMAND takes here, under the load of the other workers."""
    times = []
    for _ in range(runs):
        began = time.monotonic()
        finished = site.run(*command)
        times.append(time.monotonic() - began)
        assert finished.returncode == 0, finished.stderr
    return statistics.median(times)


def kill_after(process: subprocess.Popen, delay: float) -> tuple[int, str, str]:
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)  # a no-op on a process that has ended (a zombie until reaped)
    out, err = process.communicate()
    return process.returncode, out, err


def kill_once(process: subprocess.Popen, seen: Callable[[], bool], rng: random.Random):
    """SIGKILL within STAGING_WINDOW after SEEN() (or at once if PROCESS ends first)."""
    while process.poll() is None and not seen():
        time.sleep(0.0002)
    return kill_after(process, rng.uniform(0, STAGING_WINDOW))


def spool_worker(site: Site, worker: int, kills: int, seed: int) -> Tally:
    rng = random.Random(seed)
    span = 1.2 * median_run_time(site, [NOTICE_SPOOL, "79990000000", RECORDING, KEYPAD], 5)
    tally = Tally()
    tally.reported += [str(site.outgoing / name) for name in site.spooled()]  # the calibration's
    attempt = 0
    while tally.kills < kills:
        attempt += 1
        number = f"7{worker:02d}{attempt:07d}"
        before_out, before_tmp = set(site.spooled()), set(site.staged())
        process = site.start(NOTICE_SPOOL, number, RECORDING, KEYPAD)
        if attempt % 2:
            code, out, err = kill_after(process, rng.uniform(0, span))
        else:  # in the write: once its staging file is in tmp/
            code, out, err = kill_once(process, lambda: bool(set(site.staged()) - before_tmp), rng)
        if " scheduled for " in out:
            tally.reported.append(out.rsplit(": ", 1)[1].strip())
        new_out, new_tmp = set(site.spooled()) - before_out, set(site.staged()) - before_tmp
        assert len(new_out) + len(new_tmp) <= 1, (new_out, new_tmp)
        for name in new_out:
            check_call_file(site.outgoing / name, number, KEYPAD_DUE)
        if code == KILLED:
            tally.count_kill(new_out, new_tmp)
        else:
            assert (code, err, len(new_out)) == (0, "", 1), (code, out, err)
            tally.finished += 1
    return tally


def import_worker(base: Path, worker: int, kills: int, seed: int) -> tuple[Tally, list[Site]]:
    """Import files of IMPORT_ROWS rows, each into a spool of its own, killing the runs until
    KILLS are killed: a third after a delay over the start-up (reading, checking), the others
    once a random number of the rows left are in outgoing/, in the middle of the spooling."""
    rng = random.Random(seed)
    calibration = Site(base / "calibration")
    rows = calibration.write_csv("rows.csv", [(f"8{i:09d}", RECORDING, IMPORT_WHEN) for i in range(IMPORT_ROWS)])
    calibration.run(NOTICE, "import", str(rows))
    start_up = median_run_time(calibration, [NOTICE, "import", str(rows)], 3)  # every row there: nothing to spool
    tally, sites = Tally(), []
    while tally.kills < kills:
        tally.generations += 1
        site = Site(base / f"file-{tally.generations}")
        sites.append(site)
        numbers = [f"8{worker:02d}{tally.generations:03d}{i:04d}" for i in range(IMPORT_ROWS)]
        source = site.write_csv("rows.csv", [(n, RECORDING, IMPORT_WHEN) for n in numbers])
        expected = {f"notice-{content_id(n, RECORDING, IMPORT_DUE)}.call" for n in numbers}
        while True:
            before_out, before_tmp = set(site.spooled()), set(site.staged())
            process = site.start(NOTICE, "import", str(source))
            if tally.kills >= kills:  # the last file is imported to its end
                out, err = process.communicate()
                code = process.returncode
            elif rng.random() < 1 / 3 or not expected - before_out:
                code, out, err = kill_after(process, rng.uniform(0, 1.1 * start_up))
            else:
                more = rng.randrange(len(expected - before_out))
                code, out, err = kill_once(process, lambda: len(os.listdir(site.outgoing)) > len(before_out) + more,
                                           rng)
            new_out, new_tmp = set(site.spooled()) - before_out, set(site.staged()) - before_tmp
            assert len(new_tmp) <= 1, new_tmp
            if code != KILLED:
                assert code == 0, (code, out, err)
                tally.finished += 1
                break
            tally.count_kill(new_out, new_tmp)
        assert set(site.spooled()) == expected, f"lost: {sorted(expected - set(site.spooled()))[:3]}"
        assert site.staged() == [], "the import did not take back its own leftovers"
    return tally, sites


@pytest.fixture
def live_writer():
    """live_writer(path): a LIVE_WRITER process writing PATH until the test ends."""
    writers = []

    def start(path: Path) -> subprocess.Popen:
        writers.append(subprocess.Popen([sys.executable, "-c", LIVE_WRITER, str(path)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True))
        assert writers[-1].stdout.readline() == "writing\n"
        return writers[-1]

    yield start
    for writer in writers:
        writer.kill()
        writer.wait()


def share(total: int, parts: int) -> list[int]:
    return [total // parts + (part < total % parts) for part in range(parts)]


def test_killed_at_random_moments_only_whole_notices_and_gc_cleans_the_rest(tmp_path_factory, figures, live_writer):
    began = time.monotonic()
    spool_sites = [Site(tmp_path_factory.mktemp("crash-spool")) for _ in range(WORKERS)]
    spool_kills = RUNS * 3 // 4
    first = spool_sites[0]
    first.staging.mkdir()
    live = first.staging / "notice-20991128094512-11111111.call"
    writer = live_writer(live)
    with ThreadPoolExecutor(WORKERS) as pool:
        spooling = [pool.submit(spool_worker, site, worker, kills, SEED + worker)
                    for worker, (site, kills) in enumerate(zip(spool_sites, share(spool_kills, WORKERS)))]
        importing = [pool.submit(import_worker, tmp_path_factory.mktemp("crash-import"), worker, kills,
                                 SEED + 100 + worker)
                     for worker, kills in enumerate(share(RUNS - spool_kills, WORKERS))]
        spooled = sum((future.result() for future in spooling), Tally())
        imported = sum((future.result()[0] for future in importing), Tally())
        import_sites = [site for future in importing for site in future.result()[1]]

        complete = 0
        for site in spool_sites + import_sites:
            for name in site.spooled():
                check_call_file(site.outgoing / name)
                complete += 1
        missing = [path for path in spooled.reported if not os.path.exists(path)]
        assert missing == [], f"reported scheduled, not in outgoing/: {missing[:3]}"

        leftovers = {site: [name for name in site.staged() if name != live.name] for site in spool_sites}
        for names in leftovers.values():
            assert all(name.startswith("notice-") and name.endswith(".call") for name in names), names
        assert sum(map(len, leftovers.values())) == spooled.leftovers
        # gc leaves what changed within its grace: wait until every leftover (and the live file) is older
        newest = max(os.stat(site.staging / name).st_ctime for site in spool_sites for name in site.staged())
        time.sleep(max(0.0, newest + STAGING_GRACE + 1 - time.time()))
        removed = 0
        for site in spool_sites:
            spooled_before = site.spooled()
            cleaned = site.run(NOTICE, "gc")
            tail = "; 1 being written, left alone" if site is first else ""
            count = len(leftovers[site])
            assert (cleaned.returncode, cleaned.stderr, cleaned.stdout) == (
                0, "", f"removed {count} leftover staging file{'s' if count != 1 else ''} from {site.staging}{tail}\n"
                       f"removed 0 recordings unused for 30 days from {site.recordings}\n")
            removed += count
            assert site.staged() == ([live.name] if site is first else [])
            assert site.spooled() == spooled_before
        assert live.read_text() == "Channel: Local/7"  # the live writer's file, untouched
        assert writer.poll() is None

    kills = spooled.kills + imported.kills
    assert kills >= RUNS
    figures(f"crash: {kills:,} SIGKILLs in {time.monotonic() - began:.0f} s (seed {SEED}): "
            f"notice-spool {spooled.kills:,} ({spooled.whole} whole in outgoing/, {spooled.leftovers} staging "
            f"leftovers, {spooled.nothing} no trace; {spooled.finished} ended first), import {imported.kills:,} "
            f"in {imported.generations} files of {IMPORT_ROWS} rows ({imported.leftovers} leftovers, all taken back "
            f"by the next run, no row lost); {complete:,} files in outgoing/ whole with mtime = NOTICE_DUE; "
            f"notice gc removed {removed} of {spooled.leftovers} leftovers and left a live writer's file")
