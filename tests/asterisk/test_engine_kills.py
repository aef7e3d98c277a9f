"""Issue 12 on a real Asterisk: `notice run` killed with SIGKILL at any moment loses no notice and
hands none twice; two engines on one data_dir cannot run at once.

The campaign: notices to numbers of their own, put into the queue while the engines come and
go, by `notice import` (a file of IMPORT_ROWS rows every IMPORT_EVERY seconds, half of them due
in one second, a burst, the rest over the next SPREAD seconds) and by notice-spool (into
data_dir/inbox). Those runs are killed too, at a random moment, and run again until one ends
on its own (an import on the same file, as cron would; notice-spool for a new number). Each
notice's channel is Local/<number>@engine-kills, a context that answers at once, writes a mark
(the number and NOTICE_ID) and hangs up when the notice's 0.2 s Playback ends; the call file
allows no retry, so a second mark is a second hand-off.

The engine is started, killed with SIGKILL and started again at once, KILLS times
(NOTICE_ENGINE_KILLS, CI: 200); each life is paced (PACED: max_calls and call_rate, so
hand-offs come in many small batches) or not (every notice due within the lead in one batch).
A kill comes after a random delay of up to KILL_WITHIN, from the start or from the "started"
line, or, in most lives that have notices to hand, the moment a random number of that
hand-off's call files is in outgoing/ (engine_life: a file takes about a millisecond, so a
delay alone would rarely land inside a hand-off). After a share of the kills that leave call
files written of notices still `handing` (DOWN_SHARE), the next engine waits until Asterisk
has called one of them: it must see the archived file and not hand it again.
NOTICE_ENGINE_SEED replays the draws (the seed is in the figures). Then a last engine runs
until every notice is finished and is stopped with SIGTERM.

What each kill interrupted is read from what it left: no "started" line (start-up), notices
left `handing` with none, some or all of their call files written (inside a hand-off), inbox
files whose notices the queue holds (taking the inbox), or none of these (between steps:
noting outcomes, sleeping). The figures print how many landed where.

Then: every notice a command reported queued was called exactly once (one mark per number,
none twice, none missing), every notice in the queue is finished with Asterisk's Status
Completed and its archived call file says so, none is left queued, handing or handed, no
notice's file is left in the inbox, outgoing/ or the spool's tmp/, notice gc removes what
killed notice-spool runs left in data_dir/tmp, and the queue file passes PRAGMA
integrity_check.
"""

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest

from harness import AsteriskSandbox, find_command, find_notice_spool, write_tone
from notice_cli.engine import LOCK_FILE
from notice_cli.notice import call_file_name, content_id, notice_id_of
from notice_cli.queue import FINISHED, HANDED, HANDING, QUEUED, counts, in_state, open_queue
from notice_cli.spool import INBOX, STAGING
from notice_cli.spool_writer import STAGING_GRACE

KILLS = int(os.environ.get("NOTICE_ENGINE_KILLS", "200"))  # on the newest Asterisk (sid: 22)
# On an older one (bullseye: 16) a quarter as many: the engine is the same Python, only
# Asterisk's side differs, and make test keeps to its time (README, "Reliability").
OLDER_KILLS = max(KILLS // 4, 20)
SEED = int(os.environ.get("NOTICE_ENGINE_SEED") or random.SystemRandom().randrange(2**32))
KILL_WITHIN = 0.4  # seconds: an engine's life, drawn uniformly up to this (see engine_life)
IN_HAND_OFF = 0.8  # the shares of the lives killed in each way (engine_life)
FROM_START = 0.4
# A share of the kills that leave call files written of notices still handing: the next engine
# starts only once Asterisk has called one of them (or after DOWN_FOR seconds), and must not
# hand it again.
DOWN_SHARE = 0.15
DOWN_FOR = 3
SPOOL_KILL_WITHIN = 0.1  # notice-spool's whole run takes about this long
IMPORT_KILL_WITHIN = 0.6  # notice import's start-up, checks and one transaction
IMPORT_KILLS = 4  # at most, of the runs of one file
IMPORT_ROWS = 40
SPREAD = 3
IMPORT_EVERY = 2  # seconds between two import files
SPOOLS_PER_IMPORT = 2  # notice-spool runs between two import files
IMPORT_AHEAD = 8  # seconds from writing an import file to the first due second in it
SPOOL_AHEAD = "+3s"
DRAIN = 60  # seconds the last engine may take to finish every notice
LEAD = 2
PACED = {"NOTICE_MAX_CALLS": "5", "NOTICE_CALL_RATE": "5"}
UNLIMITED = {"NOTICE_MAX_CALLS": "0", "NOTICE_CALL_RATE": "0"}
KILLED = -signal.SIGKILL
RECORDING = "kill-tone"
CONTEXT = "engine-kills"

DIALPLAN = """\
[general]
static = yes
writeprotect = yes

[globals]
MARKS = {run}/marks

; A notice to Local/<number>@engine-kills: answered at once, a mark with the number and the
; notice's id, then the notice's short Playback runs on the other half and hangs up.
[engine-kills]
exten => _[+0-9]!,1,Answer()
 same => n,System(echo "${{EXTEN}} ${{NOTICE_ID}}" >> ${{MARKS}})
 same => n,Wait(2)
 same => n,Hangup()
"""


@pytest.fixture(scope="module")
def asterisk(chroot, sandbox_running):
    """Asterisk with the engine-kills context and a 0.2 s recording, for this module."""
    def lay_out(sandbox: AsteriskSandbox) -> None:
        write_tone(sandbox.recordings_dir / f"{RECORDING}.wav", 0.2)

    with sandbox_running(AsteriskSandbox.create(chroot, dialplan=DIALPLAN, phones=()), lay_out) as sandbox:
        yield sandbox


@pytest.fixture
def queue_env(asterisk, tmp_path) -> dict:
    """The environment of every notice command here: queue delivery into a data_dir of its own,
    handing to the sandbox's spool, each notice to Local/<number>@engine-kills, tried once."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    clean = {key: value for key, value in os.environ.items() if not key.startswith("NOTICE_")}
    return {**clean, "NOTICE_DELIVERY": "queue", "NOTICE_DATA_DIR": str(data_dir),
            "NOTICE_SPOOL_DIR": str(asterisk.spool_dir), "NOTICE_RECORDINGS_DIR": str(asterisk.recordings_dir),
            "NOTICE_CHANNEL": f"Local/{{number}}@{CONTEXT}", "NOTICE_MAX_RETRIES": "0",
            "NOTICE_LEAD": str(LEAD), "NOTICE_SYSLOG_FACILITY": "none", **UNLIMITED}


def start_engine(env: dict) -> subprocess.Popen:
    return subprocess.Popen([find_command("notice"), "run"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def engine_life(env: dict, rng: random.Random, spool_dir: Path) -> tuple[int, str]:
    """Start an engine and SIGKILL it; its exit code and stderr. A hand-off writes a call file
    in about a millisecond, so a delay drawn over a life rarely lands inside one: when notices
    are due to be handed, most lives (IN_HAND_OFF) are killed the moment a random number of
    them is in outgoing/ (none: at the first staging file in the spool's tmp/), or KILL_WITHIN
    after "started" if fewer come. The others after a delay of up to KILL_WITHIN, counted from
    the start (FROM_START of them: start-up, the lock, recovery) or from the "started" line
    (its steps and the pauses between them)."""
    due = to_hand(env)
    files = rng.randint(0, due) if due and rng.random() < IN_HAND_OFF else None
    from_start = files is None and rng.random() < FROM_START
    folder = spool_dir / (STAGING if files == 0 else "outgoing")
    before = set(notice_files(folder))
    engine = start_engine(env)
    started = "" if from_start else engine.stderr.readline()
    if files is None:
        code, _, err = kill_after(engine, rng.uniform(0, KILL_WITHIN))
    else:
        wait_for_files(engine, folder, before, max(1, files), KILL_WITHIN)
        code, _, err = kill_after(engine, 0)
    return code, started + err


def to_hand(env: dict) -> int:
    """About how many notices the next engine hands at its first step (more may come meanwhile):
    those a kill left handing and those due within the lead, no more than max_calls leaves room
    for beside the handed ones."""
    with queue_of(env) as connection:
        found = counts(connection)
        due = connection.execute("SELECT count(*) FROM notice WHERE state = ? AND due <= ?",
                                 (QUEUED, int(time.time()) + LEAD)).fetchone()[0]
    limit = int(env["NOTICE_MAX_CALLS"])
    room = max(0, limit - found[HANDED] - found[HANDING]) if limit else due
    return found[HANDING] + min(due, room)


def wait_for_files(process: subprocess.Popen, folder: Path, before: set[str], count: int, timeout: float) -> None:
    """Until COUNT notice files not in BEFORE are in FOLDER, PROCESS has ended or TIMEOUT has passed."""
    deadline = time.monotonic() + timeout
    while (len(set(notice_files(folder)) - before) < count and process.poll() is None
           and time.monotonic() < deadline):
        time.sleep(0.0005)


def kill_after(process: subprocess.Popen, delay: float | None) -> tuple[int, str, str]:
    """SIGKILL PROCESS DELAY seconds after it started (unless it ended first; None: let it end);
    its exit code and output."""
    if delay is not None:
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)  # nothing, if it has ended and been reaped
    out, err = process.communicate()
    return process.returncode, out or "", err or ""


def queue_of(env: dict):
    """The queue of ENV's data_dir, closed at the end of a with block."""
    return closing(open_queue(env["NOTICE_DATA_DIR"]))


def notice_files(folder: Path) -> list[str]:
    """The names of notices' call files in FOLDER."""
    return sorted(name for name in os.listdir(folder) if notice_id_of(name)) if folder.is_dir() else []


# --- what each kill interrupted --------------------------------------------------------------

STARTING = "start-up (no 'started' yet)"
CLAIMED = "a hand-off: claimed, no file written yet"
WRITING = "a hand-off: some of its files written"
MARKING = "a hand-off: its files written, not all marked handed"
TAKING = "taking the inbox: queued, files not yet removed"
BETWEEN = "between steps"


def interrupted(stderr: str, env: dict, outgoing: Path, archive: Path) -> tuple[str, list[str]]:
    """What the engine killed with STDERR was doing, from what it left; and the names of the
    call files it wrote of the notices it left handing."""
    if "notice run: started" not in stderr:
        return STARTING, []
    with queue_of(env) as connection:
        handing = in_state(connection, HANDING)
        inbox = notice_files(Path(env["NOTICE_DATA_DIR"]) / INBOX)
        taken = connection.execute(
            f"SELECT count(*) FROM notice WHERE id IN ({', '.join('?' * len(inbox))})",
            [notice_id_of(name) for name in inbox]).fetchone()[0] if inbox else 0
    names = [call_file_name(entry.id) for entry in handing]
    written = [name for name in names if (outgoing / name).exists() or (archive / name).exists()]
    if handing:
        return CLAIMED if not written else MARKING if len(written) == len(handing) else WRITING, written
    return TAKING if taken else BETWEEN, []


def wait_archived(archive: Path, names: list[str], timeout: float) -> bool:
    """Whether one of the call files NAMES is in ARCHIVE (Asterisk has called it) within TIMEOUT."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any((archive / name).exists() for name in names):
            return True
        time.sleep(0.05)
    return False


# --- the notices put into the queue meanwhile --------------------------------------------------

class Producer(threading.Thread):
    """Puts notices into the queue until told to stop: an import file every IMPORT_EVERY
    seconds and SPOOLS_PER_IMPORT notice-spool runs between two, each run killed at a random
    moment and run again until one ends on its own (import: the same file; notice-spool: a new
    number, since a killed one's notice may be queued or not)."""

    def __init__(self, env: dict, folder: Path, rng: random.Random):
        super().__init__(daemon=True)
        self.env, self.folder, self.rng = env, folder, rng
        self.stopping = threading.Event()
        self.reported: set[str] = set()  # numbers a run reported queued
        self.tried: set[str] = set()  # numbers any run was given
        self.kills = Counter()  # import before/after its commit, notice-spool
        self.problems: list[str] = []
        self.files = 0

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                began = time.monotonic()
                self.import_file()
                for _ in range(SPOOLS_PER_IMPORT):
                    self.spool_one()
                self.stopping.wait(max(0.0, IMPORT_EVERY - (time.monotonic() - began)))
        except Exception as problem:  # reported by the test, not lost in a thread
            self.problems.append(f"producer: {problem!r}")

    def import_file(self) -> None:
        self.files += 1
        first = int(time.time()) + IMPORT_AHEAD
        numbers = [f"7{self.files:04d}{row:03d}" for row in range(IMPORT_ROWS)]
        burst = IMPORT_ROWS // 2  # in one second: a big hand-off; the rest over the next SPREAD seconds
        dues = [first] * burst + [first + 1 + row % SPREAD for row in range(IMPORT_ROWS - burst)]
        source = self.folder / f"campaign-{self.files}.csv"
        source.write_text("number,recording,when\n" + "".join(
            f"{number},{RECORDING},{datetime.fromtimestamp(due, timezone.utc).isoformat()}\n"
            for number, due in zip(numbers, dues)))
        self.tried.update(numbers)
        if self.import_until_done(source, [content_id(number, RECORDING, due) for number, due in zip(numbers, dues)]):
            self.reported.update(numbers)

    def import_until_done(self, source: Path, ids: list[str]) -> bool:
        """Import SOURCE, killing up to IMPORT_KILLS runs (the due times stay ahead: IMPORT_AHEAD
        is longer than their delays), until one ends on its own; whether it ended well. A killed
        run leaves all of IDS queued or none: one transaction."""
        for attempt in range(IMPORT_KILLS + 1):
            process = subprocess.Popen([find_command("notice"), "import", str(source)], env=self.env,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
            code, _, err = kill_after(process, self.rng.uniform(0, IMPORT_KILL_WITHIN)
                                      if attempt < IMPORT_KILLS else None)
            if code != KILLED:
                if code != 0:
                    self.problems.append(f"notice import {source} exited with {code}: {err.strip()}")
                return code == 0
            with queue_of(self.env) as connection:
                committed = connection.execute(f"SELECT count(*) FROM notice WHERE id IN ({', '.join('?' * len(ids))})",
                                               ids).fetchone()[0]
            if committed not in (0, len(ids)):
                self.problems.append(f"a killed notice import left {committed} of {len(ids)} notices queued")
            self.kills["import, after its commit" if committed else "import, before its commit"] += 1
        return False

    def spool_one(self) -> None:
        number = f"8{len(self.tried):07d}"
        self.tried.add(number)
        process = subprocess.Popen([find_notice_spool(), number, RECORDING, SPOOL_AHEAD], env=self.env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        code, out, err = kill_after(process, self.rng.uniform(0, SPOOL_KILL_WITHIN))
        if code == 0 and " scheduled for " in out:
            self.reported.add(number)
        elif code == KILLED:
            self.kills["notice-spool"] += 1
        else:
            self.problems.append(f"notice-spool {number} exited with {code}: {err.strip()}")


# --- the tests --------------------------------------------------------------------------------

class Lives:
    """What the killed engines did: how many lives were PACED, where each kill LANDED, how many
    lives handed AGAIN what a kill cut short, and how many kills were followed by a pause until
    Asterisk had CALLED one of the notices left handing."""

    def __init__(self):
        self.landed = Counter()
        self.paced = self.again = self.called = 0

    def report(self, suite: str, notices: int, reported: int, files: int, calls: int, twice: int, lost: int,
               took: str) -> list[str]:
        return [f"engine kills, {suite}: notice run SIGKILLed {sum(self.landed.values())} times ({self.paced} lives paced), {took} "
                f"(seed {SEED}); {notices} notices queued ({reported} reported, {files} import files), {calls} "
                f"calls, {twice} twice, {lost} lost; {self.again} lives handed again what a kill cut short, "
                f"{self.called} of them after Asterisk had called some of it",
                "  kills landed in: " + ", ".join(f"{what}: {count}" for what, count in self.landed.most_common())]


def kill_engines(asterisk, env: dict, rng: random.Random) -> Lives:
    """KILLS engine lives (OLDER_KILLS on an older Asterisk), each paced or not, each started at
    once after the kill before it (but see DOWN_SHARE)."""
    lives = Lives()
    kills = KILLS if asterisk.chroot.name == "sid" else OLDER_KILLS
    while sum(lives.landed.values()) < kills:
        pace = rng.choice((PACED, UNLIMITED))
        lives.paced += pace is PACED
        code, err = engine_life({**env, **pace}, rng, asterisk.spool_dir)
        assert code == KILLED, f"notice run ended on its own with {code} (seed {SEED}): {err}"
        lives.again += "handing again" in err
        where, written = interrupted(err, env, asterisk.outgoing, asterisk.outgoing_done)
        lives.landed[where] += 1
        if written and rng.random() < DOWN_SHARE:
            lives.called += wait_archived(asterisk.outgoing_done, written, DOWN_FOR)
    return lives


def run_to_the_end(env: dict, outgoing: Path) -> None:
    """A last engine, until every notice is finished; then SIGTERM stops it cleanly."""
    last = start_engine(env)
    try:
        drained = wait_until_finished(env, outgoing, DRAIN)
    finally:
        last.send_signal(signal.SIGTERM)
        _, err = last.communicate(timeout=30)
    assert last.returncode == 0 and err.endswith("notice run: stopped\n"), err
    assert drained, f"not finished after {DRAIN} s: {states(env)} (seed {SEED})"


def test_engine_killed_at_random_moments_calls_every_notice_exactly_once(asterisk, queue_env, tmp_path,
                                                                          asterisk_figures):
    rng = random.Random(SEED)
    began = time.monotonic()
    earlier = len(asterisk.marks())  # other tests' calls
    producer = Producer(queue_env, tmp_path, random.Random(rng.random()))
    producer.start()
    try:
        lives = kill_engines(asterisk, queue_env, rng)
    finally:
        producer.stopping.set()
        producer.join()
    assert producer.problems == [], f"seed {SEED}"
    killed_at = time.monotonic()
    run_to_the_end(queue_env, asterisk.outgoing)

    called = Counter(number for number, _ in asterisk.marks()[earlier:])
    with queue_of(queue_env) as connection:
        entries = list(connection.execute("SELECT id, number, state, outcome FROM notice"))
        integrity = connection.execute("PRAGMA integrity_check").fetchall()
    queued = {number for _, number, _, _ in entries}
    twice = sorted(number for number, times in called.items() if times > 1)
    lost = sorted(producer.reported - set(called))
    took = f"{killed_at - began:.0f} s, then ran to the end in {time.monotonic() - killed_at:.0f} s"
    for line in lives.report(asterisk.chroot.name, len(entries), len(producer.reported), producer.files,
                             sum(called.values()), len(twice), len(lost), took):
        asterisk_figures(line)
    asterisk_figures("  commands killed too: " + ", ".join(f"{what}: {count}"
                                                          for what, count in sorted(producer.kills.items())))

    assert twice == [], f"called twice (seed {SEED}): {twice[:5]}"
    assert lost == [], f"reported queued, never called (seed {SEED}): {lost[:5]}"
    assert set(called) == queued, f"called but not queued: {sorted(set(called) - queued)[:5]}"
    assert len(queued) == len(entries), "a number queued twice"
    assert queued <= producer.tried
    assert [entry for entry in entries if entry[2:] != (FINISHED, "Completed")] == []
    assert all("Status: Completed" in (asterisk.outgoing_done / call_file_name(notice_id)).read_text()
               for notice_id, *_ in entries)
    assert integrity == [("ok",)]
    assert_nothing_left(asterisk, queue_env, killed_at)


def assert_nothing_left(asterisk, env: dict, killed_at: float) -> None:
    """No notice's file in outgoing/, the spool's tmp/ or the inbox; those killed notice-spool
    runs left in data_dir/tmp are removed by notice gc (once STAGING_GRACE has passed)."""
    data_dir = Path(env["NOTICE_DATA_DIR"])
    assert notice_files(asterisk.outgoing) == []
    assert notice_files(asterisk.spool_dir / STAGING) == [], "the engine left staging files in the spool"
    assert notice_files(data_dir / INBOX) == []
    left = len(notice_files(data_dir / STAGING))
    time.sleep(max(0.0, STAGING_GRACE - (time.monotonic() - killed_at)))
    gc = subprocess.run([find_command("notice"), "gc"], env=env, capture_output=True, text=True, timeout=60)
    assert gc.returncode == 0, gc.stderr
    assert f"removed {left} leftover staging file{'s' if left != 1 else ''} from {data_dir / STAGING}\n" in gc.stdout
    assert notice_files(data_dir / STAGING) == [], "notice gc left staging files of killed notice-spool runs"


def states(env: dict) -> dict:
    with queue_of(env) as connection:
        return {state: count for state, count in counts(connection).items() if count}


def wait_until_finished(env: dict, outgoing: Path, timeout: float) -> bool:
    """Whether every notice in the queue is finished, the inbox empty and outgoing/ too, within
    TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    inbox = Path(env["NOTICE_DATA_DIR"]) / INBOX
    while time.monotonic() < deadline:
        if set(states(env)) <= {FINISHED} and not notice_files(inbox) and not notice_files(outgoing):
            return True
        time.sleep(0.5)
    return False


def test_a_second_engine_on_the_same_data_dir_exits_7_in_one_line_and_leaves_the_first(asterisk, queue_env):
    first = start_engine(queue_env)
    try:
        assert first.stderr.readline().startswith("notice run: started on ")
        second = subprocess.run([find_command("notice"), "run"], env=queue_env, capture_output=True, text=True,
                                timeout=30)
        assert (second.returncode, second.stdout) == (7, "")
        assert second.stderr == (f"notice run: error: another notice run (pid {first.pid}) is running on "
                                 f"{queue_env['NOTICE_DATA_DIR']}; one engine per data_dir\n")
        assert (Path(queue_env["NOTICE_DATA_DIR"]) / LOCK_FILE).read_text().split()[0] == str(first.pid)
        # the first goes on: it takes a notice from the inbox and hands it, and Asterisk calls it
        subprocess.run([find_notice_spool(), "9000001", RECORDING, "+2s"], env=queue_env, check=True,
                       capture_output=True, timeout=30)
        deadline = time.monotonic() + 15
        while "9000001" not in {number for number, _ in asterisk.marks()} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "9000001" in {number for number, _ in asterisk.marks()}
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=30)
    assert first.returncode == 0 and err.endswith("notice run: stopped\n"), err
