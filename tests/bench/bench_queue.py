"""Benchmark: queue delivery at scale, each figure next to its reference in the same run.

What is measured, and why (issue 12, "Benchmarks")
--------------------------------------------------
* import: notices per second of ``notice import FILE`` in queue delivery (into a fresh queue
  in data_dir: one transaction, synchronous=FULL) next to the same command in direct
  delivery (into outgoing/) over the same CSV of 10,000 rows; the installed console script,
  timed from outside (start-up, checking every row, writing, the summary). Targets: at
  least direct delivery's rate, and at least 5,000 notices a second.
* queries: ``notice list --json --number N --since DAY --until DAY+1`` and ``notice history
  --json`` filtered the same way, over a queue of 1,000,000 queued notices (due next month)
  and 1,000,000 that are over (due two to three months ago: half missed, half finished;
  history lists the missed ones from the queue, the finished ones from Asterisk's archive,
  empty here), next to the same commands over a queue of 1,000 queued and 1,000 over. The time is the command's run in
  this process (click's main(), output to /dev/null: Python's start-up, the same at any
  size, is not the query's); target: at most 0.1 s. Memory: the peak resident size
  (ru_maxrss from wait4) of the installed command run alone; target: flat, at most 5 MB
  more for the large queue than for the small one. Each query's rows are counted: client N
  has 5 notices on DAY in each state and 5 on the next day, so a filter that lets through
  too much or too little fails the run.
* notice-spool from the dialplan: queue delivery (into data_dir/inbox/; it does not open
  the database) next to direct delivery, installed and called as bench_spool.py does it
  (a wheel of this checkout in its own virtual environment, keypad time, no options),
  alternating call by call; medians. Target: queue/direct <= 1.0 plus SPOOL_NOISE, the
  spread two identical tools show (direct twice, interleaved in the same rounds: printed).
  The queue path must not import sqlite3, click or dateutil (python -X importtime).
* engine: the CPU time (utime + stime, /proc/PID/stat) of ``notice run`` idle for 30 s over
  the large queue (nothing due within lead), next to an engine over the small one, both
  running in the same 30 s. Target: under 1 % of a core. A notice dropped into each inbox at
  the end must be taken into its queue within a few seconds: an engine that sleeps through
  the window cannot pass for a frugal one.

The queues are filled directly (sqlite3 executemany on a queue made by
notice_cli.queue.open_queue, one transaction, synchronous off while filling) with call
files as notice_cli renders them (a template per recording; every 9,973rd text is checked
against render()). They are kept between runs in <dir>/notice-bench-queue/ (default
/var/tmp), one folder per size, remade when the schema, the call file's form or the month
changes (the queued notices stay due next month); the benchmark only reads them, and the
engines' probe notices are taken out again.

Rounds alternate between each measurement and its reference, and each keeps its best round:
the machine is shared, and the best round is the one least disturbed.

Exit status: 0 if every target is met, 1 if one is missed or a check failed, 2 if the
benchmark cannot run. Run it with ``make bench`` or
``.venv/bin/python tests/bench/bench_queue.py [--queued 1000000] [--parts queries,engine]``;
``--queued 100000`` for a quicker run.
"""

from __future__ import annotations

import argparse
import calendar
import datetime
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_inventory as inventory  # noqa: E402  (it puts this checkout's src/ on sys.path)
import bench_spool as spooling  # noqa: E402
from notice_cli.callfile import render  # noqa: E402
from notice_cli.notice import Notice, call_file_for  # noqa: E402
from notice_cli.queue import FILE_NAME, SCHEMA, counts, open_queue  # noqa: E402
from notice_cli.settings import Settings  # noqa: E402

PARTS = ("import", "queries", "spool", "engine")
IMPORT_RATE = 5000  # notices a second that queue delivery's import reaches, at least
QUERY_SECONDS = 0.1  # a filtered list or history over the large queue, at most
NO_GROWTH_MB = 5.0  # peak memory the large queue may add to a filtered query's
SPOOL_NOISE = 0.03  # how far apart the medians of two identical tools land (see the A/A line)
ENGINE_CPU = 0.01  # share of a core an idle engine may take
SMALL = 1000
TARGET_NUMBER = "79980000001"  # no random notice is for this client (theirs are 7999...)
TARGET_PER_DAY = 5
FILL_VERSION = 1
FILL_CHUNK = 50_000
CHECK_EVERY = 9973
DAY = 86400
RECORDINGS = [f"/var/spool/asterisk/notice/{name}" for name in ("rec_1732790000.42", "hello", "prepared/1")]
# Sentinels for the call file templates: values no real notice of the fill has.
SAMPLE_ID, SAMPLE_NUMBER, SAMPLE_DUE = "19990101000000-0badcafe", "70123456789", 1111111111

FAILED = (inventory.CheckFailed, spooling.CheckFailed)
UNABLE = (inventory.BenchError, spooling.BenchError)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--queued", type=int, default=1_000_000,
                        help="queued notices (and as many over) in the large queue (default 1000000)")
    parser.add_argument("--import-rows", type=int, default=10000, help="rows of the import file (default 10000)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each measurement (default 3)")
    parser.add_argument("--calls", type=int, default=40, help="timed notice-spool calls per tool (default 40)")
    parser.add_argument("--idle", type=float, default=30, help="seconds the engines' CPU is measured (default 30)")
    parser.add_argument("--dir", default=os.environ.get("NOTICE_BENCH_DIR", "/var/tmp"),
                        help="where the temporary folders and the cached queues go (default /var/tmp)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"which measurements to run (default {','.join(PARTS)})")
    args = parser.parse_args()
    args.parts = set(args.parts.split(","))
    if not args.parts or args.parts - set(PARTS):
        parser.error(f"--parts takes some of {','.join(PARTS)} separated by commas")
    if min(args.rounds, args.import_rows, args.calls) < 1 or args.queued < SMALL or args.idle <= 0:
        parser.error(f"--rounds, --import-rows and --calls must be at least 1, --queued at least {SMALL}, "
                     "--idle more than 0")
    return inventory.in_bench_folder(args.dir, lambda base: run(args, base), UNABLE, FAILED)


def run(args, base: Path) -> int:
    command = inventory.notice_command()
    print(f"bench: queue delivery; folders in {base} ({inventory.file_system(base)}); "
          f"{args.rounds} alternating rounds, best of each")
    print(f"  command: {command}\n")
    recordings = inventory.make_recordings(base / "recordings")
    env = inventory.clean_env(recordings)
    started = time.perf_counter()
    results = []
    if "import" in args.parts:
        results.append(bench_import(command, env, base, args.import_rows, args.rounds))
    if args.parts & {"queries", "engine"}:
        queues = {size: cached_queue(Path(args.dir), size) for size in (SMALL, args.queued)}
    if "queries" in args.parts:
        results.append(bench_queries(command, env, base, queues, args.rounds))
    if "spool" in args.parts:
        results.append(bench_notice_spool(base, args.calls))
    if "engine" in args.parts:
        results.append(bench_engine(command, env, base, queues, args.idle))
    print(f"\n  ({time.perf_counter() - started:.0f} s in all)")
    ok = all(results)
    print(f"\nbench: {'PASS' if ok else 'FAIL'}"
          f"{'' if args.parts == set(PARTS) else ' (' + ','.join(sorted(args.parts)) + ' only)'}")
    return 0 if ok else 1


def empty_spool(folder: Path) -> Path:
    for part in ("outgoing", "outgoing_done", "tmp"):
        (folder / part).mkdir(parents=True)
    return folder


def queue_env(env: dict, data_dir: Path, spool: Path) -> dict:
    return {**env, "NOTICE_DELIVERY": "queue", "NOTICE_DATA_DIR": str(data_dir), "NOTICE_SPOOL_DIR": str(spool)}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# --- import --------------------------------------------------------------------------------------

def bench_import(command: str, env: dict, base: Path, rows: int, rounds: int) -> bool:
    spool = empty_spool(base / "import-spool")
    csv_file = base / "notices.csv"
    inventory.write_import_file(csv_file, rows)
    direct_times, queue_times = [], []
    for round_ in range(rounds):
        direct_times.append(inventory.timed_import(command, env, spool, csv_file, rows))
        inventory.empty(spool / "outgoing")
        queue_times.append(timed_queue_import(command, queue_env(env, base / f"import-data-{round_}", spool),
                                              csv_file, rows))
    direct_rate, queue_rate = rows / min(direct_times), rows / min(queue_times)
    ratio = queue_rate / direct_rate
    ok = ratio >= 1 and queue_rate >= IMPORT_RATE
    print(f"  notice import of {rows} rows (whole command, start-up included)")
    print(f"    direct delivery (call files into outgoing/): {direct_rate:8.0f} notices/s")
    print(f"    queue delivery (one transaction, the queue): {queue_rate:8.0f} notices/s  "
          f"(target >= {IMPORT_RATE}: {verdict(queue_rate >= IMPORT_RATE)})")
    print(f"    rate queue / direct: {ratio:.2f}  (target >= 1: {verdict(ratio >= 1)})\n")
    return ok


def timed_queue_import(command: str, env: dict, csv_file: Path, rows: int) -> float:
    """The time of notice import into a fresh queue in env's data_dir; checked: every row queued."""
    data_dir = Path(env["NOTICE_DATA_DIR"])
    data_dir.mkdir()
    started = time.perf_counter()
    done = subprocess.run([command, "import", str(csv_file)], env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or done.stdout != f"spooled {rows} notices from {csv_file}\n":
        raise inventory.CheckFailed(f"notice import (queue) exited {done.returncode}: "
                                    f"{done.stdout!r} {done.stderr.strip()!r}")
    if os.listdir(Path(env["NOTICE_SPOOL_DIR"]) / "outgoing"):
        raise inventory.CheckFailed("notice import in queue delivery wrote into outgoing/")
    in_queue = state_counts(data_dir)
    if in_queue.get("queued") != rows:
        raise inventory.CheckFailed(f"notice import queued {in_queue} for {rows} rows")
    return elapsed


def state_counts(data_dir: Path) -> dict[str, int]:
    connection = open_queue(str(data_dir))
    try:
        return {state: number for state, number in counts(connection).items() if number}
    finally:
        connection.close()


# --- the queues ----------------------------------------------------------------------------------

class Layout:
    """Where a queue of SIZE puts its notices: QUEUED ones due in the 30 days from the first of
    next month (UTC), those OVER in a 30-day span ending 60 days before that (in the past
    whatever today is); the filtered queries ask for one day of each."""

    def __init__(self, today: datetime.date):
        first = (today.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
        self.queued_from = calendar.timegm(first.timetuple())
        self.over_from = self.queued_from - 90 * DAY
        self.list_day = self.queued_from + 10 * DAY
        self.history_day = self.over_from + 10 * DAY

    @staticmethod
    def day_options(day: int) -> list[str]:
        return ["--since", time.strftime("%Y-%m-%d", time.gmtime(day)),
                "--until", time.strftime("%Y-%m-%d", time.gmtime(day + DAY))]


def templates() -> dict[str, str]:
    """Per recording, the call file notice_cli renders for it, as a str.format() template of
    the id, the number and the due second."""
    found = {}
    for recording in RECORDINGS:
        text = render(call_file_for(Notice(SAMPLE_ID, SAMPLE_NUMBER, recording, SAMPLE_DUE), Settings()))
        text = text.replace("{", "{{").replace("}", "}}")
        for sentinel, field in ((SAMPLE_ID, "{0}"), (SAMPLE_NUMBER, "{1}"), (str(SAMPLE_DUE), "{2}")):
            if sentinel not in text:
                raise inventory.BenchError(f"the call file does not show {sentinel}; the fill needs a new template")
            text = text.replace(sentinel, field)
        found[recording] = text
    return found


def fill_key(layout: Layout) -> str:
    text = json.dumps([FILL_VERSION, SCHEMA, templates(), layout.queued_from])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cached_queue(folder: Path, size: int) -> Path:
    """The data_dir of a queue of SIZE queued notices and SIZE over, from the cache if there."""
    layout = Layout(datetime.date.today())
    cache = folder / "notice-bench-queue"
    wanted = cache / f"{size}-{fill_key(layout)}"
    if (wanted / "filled.json").is_file():
        return wanted
    cache.mkdir(exist_ok=True)
    for stale in cache.glob(f"{size}-*"):
        shutil.rmtree(stale)
    building = cache / f"{size}-partial"
    building.mkdir()
    started = time.perf_counter()
    expected = fill(building, size, layout)
    (building / "filled.json").write_text(json.dumps(expected))
    building.rename(wanted)
    print(f"  (filled a queue of {size} queued and {size} over in {time.perf_counter() - started:.0f} s; "
          f"kept in {wanted} for the next runs)")
    return wanted


INSERT = ("INSERT INTO notice (id, number, recording, due, call_file, state, queued_at, changed_at, outcome) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def fill(data_dir: Path, size: int, layout: Layout) -> dict[str, int]:
    connection = open_queue(str(data_dir))
    try:
        connection.execute("PRAGMA synchronous = OFF")  # a lost fill is made again
        connection.execute("BEGIN")
        for start in range(0, 2 * size, FILL_CHUNK):
            connection.executemany(INSERT, fill_rows(size, layout, range(start, min(start + FILL_CHUNK, 2 * size))))
        connection.executemany(INSERT, target_rows(layout))
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return state_counts(data_dir)


def fill_rows(size: int, layout: Layout, indexes: range):
    """Notice I of the fill: the first SIZE queued, the next SIZE over (missed or finished)."""
    chosen = random.Random(indexes.start)
    formats = templates()
    for n in indexes:
        queued = n < size
        due = (layout.queued_from if queued else layout.over_from) + chosen.randrange(30 * DAY) // 60 * 60
        notice_id = time.strftime("%Y%m%d%H%M%S", time.gmtime(layout.over_from - 3 * DAY + n)) + \
            f"-{chosen.getrandbits(32):08x}"
        number = f"7999{chosen.randrange(10 ** 7):07d}"
        recording = RECORDINGS[n % len(RECORDINGS)]
        text = formats[recording].format(notice_id, number, due)
        if n % CHECK_EVERY == 0:
            check_template(text, notice_id, number, recording, due)
        state, outcome = ("queued", None) if queued else (("missed", "late") if n % 2 else ("finished", "Completed"))
        yield notice_id, number, recording, due, text, state, due - 7 * DAY, due, outcome


def target_rows(layout: Layout):
    """Client TARGET_NUMBER's notices: TARGET_PER_DAY in each state on the day the queries ask
    for and as many on the next day (which they must leave out)."""
    formats = templates()
    n = 0
    for day, states in ((layout.list_day, ("queued",)), (layout.history_day, ("missed", "finished"))):
        for state in states:
            for due in [day + 3600 * k for k in range(TARGET_PER_DAY)] + \
                       [day + DAY + 3600 * k for k in range(TARGET_PER_DAY)]:
                n += 1
                notice_id = f"{time.strftime('%Y%m%d%H%M%S', time.gmtime(layout.over_from))}-aa{n:06x}"
                text = formats[RECORDINGS[0]].format(notice_id, TARGET_NUMBER, due)
                yield (notice_id, TARGET_NUMBER, RECORDINGS[0], due, text, state, due - 7 * DAY, due,
                       None if state == "queued" else "late" if state == "missed" else "Completed")


def check_template(text: str, notice_id: str, number: str, recording: str, due: int) -> None:
    rendered = render(call_file_for(Notice(notice_id, number, recording, due), Settings()))
    if text != rendered:
        raise inventory.CheckFailed(f"the fill's call file differs from notice_cli's:\n{text}\n---\n{rendered}")


# --- list and history ----------------------------------------------------------------------------

def queries(layout: Layout) -> list[tuple[str, list[str]]]:
    picked = ["--json", "--number", TARGET_NUMBER]
    return [("list", ["list", *picked, *layout.day_options(layout.list_day)]),
            ("history", ["history", *picked, *layout.day_options(layout.history_day)])]


def bench_queries(command: str, env: dict, base: Path, queues: dict[int, Path], rounds: int) -> bool:
    spool = empty_spool(base / "query-spool")
    asked = queries(Layout(datetime.date.today()))
    best: dict = {}
    for round_ in range(rounds + 1):  # the first round warms up (imports, page cache) and is not kept
        for label, argv in asked:
            for size, data_dir in queues.items():
                elapsed = inventory.in_process(argv, queue_env(env, data_dir, spool))
                if round_:
                    best[label, size] = min(best.get((label, size), elapsed), elapsed)
    small, large = sorted(queues)
    ok = True
    print(f"  filtered queries: --number {TARGET_NUMBER} and one day; in this process (start-up not counted), "
          f"peak memory of the installed command alone")
    print(f"    {'query':<9}{'queued+over':>13}{'time s':>9}{'peak MB':>9}{'command s':>11}")
    for label, argv in asked:
        peaks = {}
        for size, data_dir in queues.items():
            started = time.perf_counter()
            peak, rows = inventory.peak_rss(command, argv, queue_env(env, data_dir, spool))
            whole = time.perf_counter() - started
            if rows != TARGET_PER_DAY:
                raise inventory.CheckFailed(f"notice {' '.join(argv)} printed {rows} rows over the queue of {size}, "
                                            f"not {TARGET_PER_DAY}")
            peaks[size] = peak
            print(f"    {label:<9}{2 * size:>13}{best[label, size]:>9.4f}{peak / 2 ** 20:>9.1f}{whole:>11.3f}")
        fast = best[label, large] <= QUERY_SECONDS
        grown = (peaks[large] - peaks[small]) / 2 ** 20
        flat = grown <= NO_GROWTH_MB
        ok &= fast and flat
        print(f"      {label}: {best[label, large]:.4f} s over {2 * large} (target <= {QUERY_SECONDS}: "
              f"{verdict(fast)}), {best[label, large] / best[label, small]:.1f} times the time over {2 * small}; "
              f"memory {grown:+.1f} MB (target <= {NO_GROWTH_MB}: {verdict(flat)})")
    print()
    return ok


# --- notice-spool --------------------------------------------------------------------------------

def installed_notice_spool() -> Path:
    """bench_spool's notice-spool, installed from a wheel of this checkout. Without PYTHONPATH:
    pip takes a notice_cli importable from it for the one to install and installs nothing."""
    saved = os.environ.pop("PYTHONPATH", None)
    try:
        return spooling.spool_command()
    finally:
        if saved is not None:
            os.environ["PYTHONPATH"] = saved


def bench_notice_spool(base: Path, calls: int) -> bool:
    script = installed_notice_spool()
    day, hour, minute = spooling.future_wall_time()
    keypad = f"{day.year:04d}*{day.month:02d}*{day.day:02d}**{hour:02d}***{minute:02d}"
    due = int(time.mktime((day.year, day.month, day.day, hour, minute, 0, 0, 0, -1)))
    warmup = 3
    spool, recordings, data_dir = empty_spool(base / "spool"), base / "spool-recordings", base / "spool-data"
    recordings.mkdir()
    data_dir.mkdir()
    for index in range(warmup + calls):
        (recordings / f"rec_{index}.wav").write_bytes(b"RIFF")
    direct_env = spooling.clean_env() | {"NOTICE_SPOOL_DIR": str(spool), "NOTICE_RECORDINGS_DIR": str(recordings)}
    queued_env = direct_env | {"NOTICE_DELIVERY": "queue", "NOTICE_DATA_DIR": str(data_dir)}

    reported_env = direct_env | {"NOTICE_CONFIRM": "key", "NOTICE_DATA_DIR": str(data_dir)}

    def tool(label: str, env: dict, folder: Path, message: str = "Data: ") -> spooling.Tool:
        return spooling.Tool(label, lambda i: [str(script), spooling.NUMBER, f"rec_{i}", keypad], folder, due,
                             lambda i: [f"Channel: Local/{spooling.NUMBER}@from-internal",
                                        f"{message}{recordings}/rec_{i}"], env, "notice-*.call")

    direct = tool("direct (outgoing/)", direct_env, spool / "outgoing")
    queued = tool("queue (data_dir/inbox/)", queued_env, data_dir / "inbox")
    reported = tool("direct, confirm = key", reported_env, spool / "outgoing", "Setvar: NOTICE_MESSAGE=")
    again = tool("direct again (A/A, info)", direct_env, spool / "outgoing")
    tools = [direct, queued, reported, again]
    for index in range(warmup + calls):
        for each in tools:
            each.call(index, timed=index >= warmup)
    if any((data_dir / "tmp").iterdir()) or any((spool / "tmp").iterdir()):
        raise inventory.CheckFailed("a staging folder was left with files in it")
    imports = spooling.importtime(script, queued_env, data_dir / "inbox", [spooling.NUMBER, "rec_0", keypad])

    print(f"  notice-spool from the dialplan ({script}, keypad time), {calls} calls each after {warmup} "
          "warm-up rounds, alternating")
    print(f"    {'wall time per call':<28}{'median ms':>10}{'p90 ms':>9}")
    for each in tools:
        print(f"    {each.label:<28}{spooling.ms(statistics.median(each.times)):>10}"
              f"{spooling.ms(spooling.p90(each.times)):>9}")
    ratio = statistics.median(queued.times) / statistics.median(direct.times)
    noise = statistics.median(again.times) / statistics.median(direct.times)
    reported_ratio = statistics.median(reported.times) / statistics.median(direct.times)
    fast = ratio <= 1 + SPOOL_NOISE and reported_ratio <= 1 + SPOOL_NOISE
    print(f"    ratio queue/direct (medians): {ratio:.3f}  (target <= 1 + {SPOOL_NOISE} of noise: "
          f"{verdict(ratio <= 1 + SPOOL_NOISE)}); direct again/direct: {noise:.3f}")
    print(f"    ratio confirm = key/direct (medians): {reported_ratio:.3f}  (reported delivery, issue 13; target "
          f"<= 1 + {SPOOL_NOISE}: {verdict(reported_ratio <= 1 + SPOOL_NOISE)})")
    lean = True
    for package in (*spooling.FORBIDDEN_ON_KEYPAD_PATH, "sqlite3"):
        found = spooling.imports_any(imports, package)
        lean &= not found
        print(f"    {package} imported on the queue's keypad path: {'YES (FAIL)' if found else 'no (OK)'}")
    print()
    return fast and lean


# --- the engine ----------------------------------------------------------------------------------

class RunningEngine:
    """notice run over one queue, its stderr in a file."""

    def __init__(self, command: str, env: dict, label: str, log: Path):
        self.label, self.env, self.log = label, env, log
        with open(log, "w") as out:
            self.process = subprocess.Popen([command, "run"], env=env, stdout=subprocess.DEVNULL, stderr=out)

    def said(self) -> str:
        return self.log.read_text()

    def wait_for(self, words: str, timeout: float) -> float:
        """Seconds until the engine's log shows WORDS; CheckFailed if it does not in TIMEOUT."""
        started = time.perf_counter()
        while words not in self.said():
            if self.process.poll() is not None or time.perf_counter() - started > timeout:
                raise inventory.CheckFailed(f"notice run ({self.label}) did not say {words!r} "
                                            f"(exit {self.process.poll()}): {self.said().strip()}")
            time.sleep(0.05)
        return time.perf_counter() - started

    def cpu(self) -> float:
        """Its CPU seconds so far (user + system)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise inventory.CheckFailed(f"notice run ({self.label}) did not stop on SIGTERM") from None
        if code != 0 or "stopped" not in self.said():
            raise inventory.CheckFailed(f"notice run ({self.label}) exited {code}: {self.said().strip()}")


def bench_engine(command: str, env: dict, base: Path, queues: dict[int, Path], idle: float) -> bool:
    engines = {}
    before = {size: state_counts(data_dir) for size, data_dir in queues.items()}
    try:
        for size, data_dir in queues.items():
            spool = empty_spool(base / f"engine-spool-{size}")
            engines[size] = RunningEngine(command, queue_env(env, data_dir, spool), f"{2 * size} in its queue",
                                          base / f"engine-{size}.log")
        for engine in engines.values():
            engine.wait_for("started on", 60)
        time.sleep(2)  # past the first step, which recovers and looks at everything once
        first = {size: (engine.cpu(), time.perf_counter()) for size, engine in engines.items()}
        time.sleep(idle)
        shares = {size: (engine.cpu() - first[size][0]) / (time.perf_counter() - first[size][1])
                  for size, engine in engines.items()}
        taken = {size: probe(command, engine, queues[size]) for size, engine in engines.items()}
    finally:
        for engine in engines.values():
            engine.stop()
    for size, data_dir in queues.items():
        remove_probes(data_dir)
        if state_counts(data_dir) != before[size]:
            raise inventory.CheckFailed(f"the engine changed the queue of {size}: {before[size]} became "
                                        f"{state_counts(data_dir)} (notices due within lead?)")
    small, large = sorted(queues)
    ok = shares[large] < ENGINE_CPU
    print(f"  notice run, idle (nothing due within lead), both engines in the same {idle:.0f} s")
    print(f"    {'queued+over':>13}{'start-up CPU s':>16}{'idle CPU % of a core':>22}{'probe taken in s':>18}")
    for size in sorted(queues):
        print(f"    {2 * size:>13}{first[size][0]:>16.2f}{100 * shares[size]:>22.2f}{taken[size]:>18.2f}")
    print(f"    engine over {2 * large}: {100 * shares[large]:.2f} % of a core (target < {100 * ENGINE_CPU:.0f} %: "
          f"{verdict(ok)}); over {2 * small}: {100 * shares[small]:.2f} %")
    return ok


PROBE_NUMBER = "79980000002"


def probe(command: str, engine: RunningEngine, data_dir: Path) -> float:
    """Seconds the engine takes to move a notice from its inbox into its queue."""
    done = subprocess.run([command, "spool", PROBE_NUMBER, "hello", "2099-01-01 12:00"], env=engine.env,
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise inventory.CheckFailed(f"notice spool (queue) exited {done.returncode}: {done.stderr.strip()}")
    started = time.perf_counter()
    notice_id = done.stdout.split()[1]
    while not probe_queued(data_dir, notice_id):
        if time.perf_counter() - started > 10:
            raise inventory.CheckFailed(f"notice run ({engine.label}) did not take {notice_id} from its inbox in 10 s")
        time.sleep(0.02)
    return time.perf_counter() - started


def probe_queued(data_dir: Path, notice_id: str) -> bool:
    connection = sqlite3.connect(data_dir / FILE_NAME)
    try:
        return connection.execute("SELECT 1 FROM notice WHERE id = ?", (notice_id,)).fetchone() is not None
    finally:
        connection.close()


def remove_probes(data_dir: Path) -> None:
    connection = sqlite3.connect(data_dir / FILE_NAME, isolation_level=None)
    try:
        connection.execute("DELETE FROM notice WHERE number = ?", (PROBE_NUMBER,))
    finally:
        connection.close()


if __name__ == "__main__":
    sys.exit(main())
