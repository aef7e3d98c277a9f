"""Benchmark: notice import, list and history at scale, each next to a floor.

What is measured, and why
-------------------------
* import: notices per second of ``notice import FILE`` (the installed console script, a
  subprocess timed from outside: start-up, reading and checking every row, staging,
  spooling, the summary) for a CSV of 10,000 rows, next to a floor loop in this process that
  does only the system calls a safely spooled call file needs -- open(O_EXCL) in tmp/, write,
  fsync, close, utime, rename into outgoing/ -- for as many files of the same size, in the
  same folders. Target: at least half the floor's rate. The import also fsyncs outgoing/
  once per batch of files (the floor never does) and sets each file's mode.
* list and history: the time of ``notice list`` and ``notice history`` (table, --json,
  --csv) over 10,000 and 100,000 call files, next to a floor that only scans the folder
  and reads every file (os.scandir; os.open, os.read, os.close: the least a listing must
  do). Both run in this process, the command through click's main() with stdout to
  /dev/null, so Python's start-up is not counted against the scan. Target: at most 1.5
  times the floor. The files are what notice-spool writes, with what Asterisk appends: in
  outgoing/ 2 % retrying (StartRetry, EndRetry, mtime moved) and 1 % being called; in
  outgoing_done/ 1 to 3 attempts and a Status line each.
* memory: the peak resident size (ru_maxrss from wait4) of the installed command run as a
  subprocess, at 10,000 and at 100,000 files: a listing that picks no notice (--number of
  nobody) must not grow with the number of files (it streams: no file's text is kept),
  and a full listing may grow only by the listing itself (bytes per listed notice shown).

Runs alternate between the floor and the commands, round after round, and each keeps its
best round: the machine is shared, and the best round is the one least disturbed. Every
command's output is checked (exit code, count of rows or files), so a failing run cannot
pass for a fast one. The folders are real ones on disk (not tmpfs): a temporary folder in
--dir (default /var/tmp), removed at the end; its file system is printed.

Exit status: 0 if every target is met, 1 if one is missed or a check failed, 2 if the
benchmark cannot run. Run it with ``make bench`` or
``.venv/bin/python tests/bench/bench_inventory.py [--sizes 10000,100000] [--import-rows 10000]``;
``--parts scans`` runs only the list and history measurements (while working on them).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))

from notice_cli import cli  # noqa: E402
from notice_cli.callfile import render  # noqa: E402
from notice_cli.notice import Notice, call_file_for  # noqa: E402
from notice_cli.settings import Settings  # noqa: E402

PARTS = ("import", "scans", "memory")
IMPORT_TARGET = 0.5  # notice import's rate / the floor's, at least
SCAN_TARGET = 1.5  # list or history time / the floor's, at most
NO_GROWTH_MB = 5.0  # peak memory a listing that keeps nothing may gain from 10k to 100k files
LISTED_BYTES = 2048  # peak memory a full listing may gain per listed notice
NOBODY = "70000000000"
RECORDINGS = ("rec_1732790000.42", "rec_1732790100.7", "hello", "1", "2")
FIRST_DUE = 4102444800  # 2100-01-01T00:00:00Z: far enough ahead that nothing fires


class BenchError(Exception):
    """The benchmark cannot run here (exit 2)."""


class CheckFailed(Exception):
    """A command did not do its job: its time would mean nothing (exit 1)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,100000", help="files per listing (default 10000,100000)")
    parser.add_argument("--import-rows", type=int, default=10000, help="rows of the import file (default 10000)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of each measurement (default 2)")
    parser.add_argument("--dir", default=os.environ.get("NOTICE_BENCH_DIR", "/var/tmp"),
                        help="where to make the temporary folders (default /var/tmp)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"which measurements to run, e.g. scans while working on list and history "
                             f"(default {','.join(PARTS)})")
    args = parser.parse_args()
    args.parts = set(args.parts.split(","))
    if not args.parts or args.parts - set(PARTS):
        parser.error(f"--parts takes some of {','.join(PARTS)} separated by commas")
    try:
        sizes = [int(size) for size in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes takes numbers separated by commas")
    if args.rounds < 1 or args.import_rows < 1 or min(sizes) < 1:
        parser.error("--rounds, --import-rows and --sizes must be at least 1")
    return in_bench_folder(args.dir, lambda base: run(args, sizes, base), BenchError, CheckFailed)


def in_bench_folder(parent: str, work, unable, failed) -> int:
    """WORK(a temporary folder in PARENT, removed after): its exit code, or 2 when the bench
    cannot run (UNABLE: an exception class or a tuple of them) and 1 when a check FAILED."""
    try:
        base = Path(tempfile.mkdtemp(prefix="notice-bench-", dir=parent))
    except OSError as problem:
        print(f"bench: cannot run: no temporary folder in {parent}: {problem}", file=sys.stderr)
        return 2
    try:
        return work(base)
    except unable as problem:
        print(f"bench: cannot run: {problem}", file=sys.stderr)
        return 2
    except failed as problem:
        print(f"bench: FAIL: {problem}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run(args, sizes: list[int], base: Path) -> int:
    command = notice_command()
    print(f"bench: notice import, list and history; folders in {base} ({file_system(base)}); "
          f"{args.rounds} alternating rounds, best of each")
    print(f"  command: {command}\n")
    recordings = make_recordings(base / "recordings")
    env = clean_env(recordings)
    started = time.perf_counter()
    results = []
    if "import" in args.parts:
        results.append(bench_import(command, env, base, recordings, args.import_rows, args.rounds))
    if args.parts & {"scans", "memory"}:
        made = time.perf_counter()
        spools = make_spools(base, sizes)
        print(f"  (made {max(sizes) * 2} call files in {time.perf_counter() - made:.0f} s, and hard links to them "
              "for the smaller listings; not timed)\n")
    if "scans" in args.parts:
        results.append(bench_scans(spools, env, args.rounds))
    if "memory" in args.parts:
        results.append(bench_memory(command, env, spools))
    print(f"\n  ({time.perf_counter() - started:.0f} s in all)")
    ok = all(results)
    print(f"\nbench: {'PASS' if ok else 'FAIL'}{'' if args.parts == set(PARTS) else ' (' + ','.join(sorted(args.parts)) + ' only)'}")
    return 0 if ok else 1


# --- import --------------------------------------------------------------------------------------

def bench_import(command: str, env: dict, base: Path, recordings: Path, rows: int, rounds: int) -> bool:
    spool = base / "import-spool"
    outgoing, staging = spool / "outgoing", spool / "tmp"
    outgoing.mkdir(parents=True)
    staging.mkdir()
    csv_file = base / "notices.csv"
    write_import_file(csv_file, rows)
    sample = render(call_file_for(Notice("21000101000000-0a1b2c3d", "79991234567", f"{recordings}/hello",
                                         FIRST_DUE), Settings())).encode()
    floor_times, import_times = [], []
    for _ in range(rounds):
        floor_times.append(floor_spool(staging, outgoing, sample, rows))
        empty(outgoing)
        import_times.append(timed_import(command, env, spool, csv_file, rows))
        empty(outgoing)
    floor_rate, import_rate = rows / min(floor_times), rows / min(import_times)
    ratio = import_rate / floor_rate
    ok = ratio >= IMPORT_TARGET
    print(f"  import of {rows} rows")
    print(f"    floor (open O_EXCL, write, fsync, close, utime, rename): {floor_rate:8.0f} files/s")
    print(f"    notice import (whole command, start-up included):       {import_rate:8.0f} notices/s")
    print(f"    rate notice import / floor: {ratio:.2f}  (target >= {IMPORT_TARGET}: {'PASS' if ok else 'FAIL'})\n")
    return ok


def write_import_file(path: Path, rows: int) -> None:
    chosen = random.Random(5)
    with open(path, "w", encoding="utf-8") as out:
        out.write("number,recording,when\n")
        for n in range(rows):
            due = FIRST_DUE + chosen.randrange(30 * 86400) // 60 * 60
            when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(due))
            out.write(f"7999{n:07d},{chosen.choice(RECORDINGS)},{when}\n")


def floor_spool(staging: Path, outgoing: Path, data: bytes, count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        staged = f"{staging}/floor-{n}.call"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.utime(staged, (FIRST_DUE, FIRST_DUE))
        os.rename(staged, f"{outgoing}/floor-{n}.call")
    return time.perf_counter() - started


def timed_import(command: str, env: dict, spool: Path, csv_file: Path, rows: int) -> float:
    started = time.perf_counter()
    done = subprocess.run([command, "import", str(csv_file)], env={**env, "NOTICE_SPOOL_DIR": str(spool)},
                          capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    expected = f"spooled {rows} notices from {csv_file}\n"
    if done.returncode != 0 or done.stdout != expected:
        raise CheckFailed(f"notice import exited {done.returncode}: {done.stdout!r} {done.stderr.strip()!r}")
    names = os.listdir(spool / "outgoing")
    if len(names) != rows or os.listdir(spool / "tmp"):
        raise CheckFailed(f"notice import left {len(names)} files in outgoing/ for {rows} rows")
    if os.stat(spool / "outgoing" / names[0]).st_mtime < FIRST_DUE:
        raise CheckFailed("an imported call file does not have its due time as mtime")
    return elapsed


def empty(folder: Path) -> None:
    for name in os.listdir(folder):
        os.unlink(folder / name)


# --- list and history ----------------------------------------------------------------------------

def make_spools(base: Path, sizes: list[int]) -> dict[int, Path]:
    """A spool of each size: the largest one made, each smaller one of hard links to its first
    files (the same files, read the same way, made in a fraction of the time)."""
    largest = max(sizes)
    spools = {largest: make_spool(base / f"spool-{largest}", largest)}
    names = sorted(os.listdir(spools[largest] / "outgoing"))
    for size in sorted(set(sizes) - {largest}):
        spools[size] = base / f"spool-{size}"
        for folder in ("outgoing", "outgoing_done"):
            (spools[size] / folder).mkdir(parents=True)
            for name in names[:size]:
                os.link(spools[largest] / folder / name, spools[size] / folder / name)
    return dict(sorted(spools.items()))


def make_spool(spool: Path, count: int) -> Path:
    """COUNT pending call files and COUNT finished ones, as notice-spool and Asterisk leave them."""
    outgoing, archive = spool / "outgoing", spool / "outgoing_done"
    outgoing.mkdir(parents=True)
    archive.mkdir()
    chosen = random.Random(count)
    settings = Settings()
    for n in range(count):
        due = FIRST_DUE + chosen.randrange(30 * 86400) // 60 * 60
        notice_id = f"20261128{n:06d}-{chosen.getrandbits(32):08x}"
        recording = f"/var/spool/asterisk/notice/{chosen.choice(RECORDINGS)}"
        text = render(call_file_for(Notice(notice_id, f"7999{chosen.randrange(10 ** 7):07d}", recording, due),
                                    settings))
        name = f"notice-{notice_id}.call"
        mtime, tail = due, ""
        if n % 50 == 1:  # retrying: an attempt failed, Asterisk moved the mtime to the next
            tail, mtime = f"\nStartRetry: 4242 1 ({due + 20})\n\nEndRetry: 4242 1 ({due + 25})\n", due + 45
        elif n % 100 == 2:  # being called
            tail, mtime = f"\nStartRetry: 4242 1 ({due + 20})\n", due + 40
        write_file(outgoing / name, text + tail, mtime)
        attempts = chosen.randrange(3) + 1
        history = "".join(f"\nStartRetry: 4242 {a + 1} ({due + 20 + 40 * a})\n"
                          + (f"\nEndRetry: 4242 {a + 1} ({due + 40 * a + 25})\n" if a < attempts - 1 else "")
                          for a in range(attempts))
        status = "Completed" if attempts < 3 or n % 2 else "Expired"
        write_file(archive / name, text + history + f"Status: {status}\n", due + 40 * attempts)
    return spool


def write_file(path: Path, text: str, mtime: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, text.encode())
        os.utime(fd, (mtime, mtime))
    finally:
        os.close(fd)


SCANS = [
    ("list", "outgoing", ["list"]), ("list --json", "outgoing", ["list", "--json"]),
    ("list --csv", "outgoing", ["list", "--csv"]),
    ("history", "outgoing_done", ["history"]), ("history --json", "outgoing_done", ["history", "--json"]),
    ("history --csv", "outgoing_done", ["history", "--csv"]),
]


def bench_scans(spools: dict[int, Path], env: dict, rounds: int) -> bool:
    ok = True
    print(f"  list and history, in this process (floor: scandir + open/read/close of every file)")
    print(f"    {'files':>7}  {'command':<15}{'floor s':>9}{'command s':>11}{'ratio':>7}  target <= {SCAN_TARGET}")
    for size, spool in spools.items():
        best = {}
        for _ in range(rounds):
            for label, folder, argv in SCANS:
                if label in ("list", "history"):  # each folder's floor, next to its commands
                    floor = floor_scan(spool / folder)
                    best[("floor", folder)] = min(best.get(("floor", folder), floor), floor)
                elapsed = in_process(argv, {**env, "NOTICE_SPOOL_DIR": str(spool)})
                best[label] = min(best.get(label, elapsed), elapsed)
        for label, folder, _ in SCANS:
            ratio = best[label] / best[("floor", folder)]
            ok &= ratio <= SCAN_TARGET
            print(f"    {size:>7}  {label:<15}{best[('floor', folder)]:>9.3f}{best[label]:>11.3f}{ratio:>7.2f}  "
                  f"{'PASS' if ratio <= SCAN_TARGET else 'FAIL'}")
    return ok


def floor_scan(folder: Path) -> float:
    started = time.perf_counter()
    with os.scandir(folder) as entries:
        for entry in entries:
            fd = os.open(entry.path, os.O_RDONLY)
            try:
                os.read(fd, 65536)
            finally:
                os.close(fd)
    return time.perf_counter() - started


def in_process(argv: list[str], env: dict) -> float:
    """The notice command's time in this process, output to /dev/null; its exit code checked."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            started = time.perf_counter()
            try:
                cli.notice.main(argv, prog_name="notice", standalone_mode=False)
                code = 0
            except SystemExit as exit_:
                code = exit_.code
            elapsed = time.perf_counter() - started
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if code:
        raise CheckFailed(f"notice {' '.join(argv)} exited {code}")
    return elapsed


# --- memory --------------------------------------------------------------------------------------

def bench_memory(command: str, env: dict, spools: dict[int, Path]) -> bool:
    sizes = sorted(spools)
    runs = [("list --json", ["list", "--json"], "outgoing"), ("history --csv", ["history", "--csv"], "outgoing_done"),
            (f"list --number nobody", ["list", "--json", "--number", NOBODY], None)]
    print(f"\n  peak memory of the installed command (ru_maxrss), MB")
    print(f"    {'command':<22}" + "".join(f"{size:>10}" for size in sizes) + "   growth")
    ok = True
    for label, argv, folder in runs:
        peaks = []
        for size in sizes:
            peak, rows = peak_rss(command, argv, {**env, "NOTICE_SPOOL_DIR": str(spools[size])})
            expected = size + 1 if folder else 0  # csv: header + rows; json: rows (one per line) or []
            if label.startswith("list --json") and folder:
                expected = size
            if rows != expected:
                raise CheckFailed(f"notice {' '.join(argv)} printed {rows} rows for {size} files")
            peaks.append(peak)
        line = f"    {label:<22}" + "".join(f"{peak / 2 ** 20:>10.1f}" for peak in peaks)
        if len(sizes) > 1:
            grown = peaks[-1] - peaks[0]
            files = sizes[-1] - sizes[0]
            if folder:
                per_notice = grown / files
                fine = per_notice <= LISTED_BYTES
                line += f"   {per_notice:.0f} bytes per listed notice (<= {LISTED_BYTES}: {'PASS' if fine else 'FAIL'})"
            else:
                fine = grown <= NO_GROWTH_MB * 2 ** 20
                line += f"   {grown / 2 ** 20:+.1f} MB for {files} more files (<= {NO_GROWTH_MB}: {'PASS' if fine else 'FAIL'})"
            ok &= fine
        print(line)
    return ok


# A small launcher, so the measured process is forked from a small one: a child's ru_maxrss
# counts what it held before exec, and this benchmark itself holds tens of MB.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def peak_rss(command: str, argv: list[str], env: dict) -> tuple[int, int]:
    """(peak resident bytes, rows printed) of COMMAND ARGV run alone."""
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as report:
        done = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, report.name, command, *argv], env=env,
                              stdout=out, stderr=subprocess.PIPE, text=True, timeout=600)
        code, peak_kb = (int(field) for field in report.read().split())
        if done.returncode != 0 or code != 0:
            raise CheckFailed(f"notice {' '.join(argv)} exited {code}: {done.stderr.strip()}")
        out.seek(0)
        lines = sum(1 for line in out if line.strip() not in (b"", b"[]"))
    return peak_kb * 1024, lines


# --- where things are ----------------------------------------------------------------------------

def notice_command() -> str:
    """The installed console script: $NOTICE_BIN, else the one beside this Python (the venv's)."""
    found = os.environ.get("NOTICE_BIN") or shutil.which("notice", path=str(Path(sys.executable).parent))
    if not found:
        raise BenchError("the notice console script is not installed beside this Python; run make venv")
    return found


def make_recordings(folder: Path) -> Path:
    (folder / "prepared").mkdir(parents=True)
    for name in RECORDINGS:
        path = folder / "prepared" / f"{name}.wav" if name.isdigit() else folder / f"{name}.wav"
        with wave.open(str(path), "wb") as audio:
            audio.setnchannels(1)
            audio.setsampwidth(2)
            audio.setframerate(8000)
            audio.writeframes(b"\x00\x00" * 80)
    return folder


def clean_env(recordings: Path) -> dict:
    env = {name: value for name, value in os.environ.items() if not name.startswith("NOTICE_")}
    empty_config = recordings / "notice.conf"
    empty_config.write_text("")
    env.update(NOTICE_CONFIG=str(empty_config), NOTICE_RECORDINGS_DIR=str(recordings),
               NOTICE_PREPARED_DIR=str(recordings / "prepared"), NOTICE_SYSLOG_FACILITY="none", NOTICE_TZ="UTC")
    return env


def file_system(path: Path) -> str:
    """The type of the file system PATH is on, from /proc/self/mounts (the longest mount point)."""
    best, kind = "", "unknown"
    with contextlib.suppress(OSError), open("/proc/self/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) > 2 and str(path).startswith(fields[1].rstrip("/") + "/") and len(fields[1]) > len(best):
                best, kind = fields[1], fields[2]
    return f"{kind} at {best or '/'}"


if __name__ == "__main__":
    sys.exit(main())
