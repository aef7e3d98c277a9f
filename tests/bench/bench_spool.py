"""Benchmark: notice-spool against the seed's notice.php, wall time per call.

What is measured, and why
-------------------------
The dialplan starts one process per notice: the seed article ran ``php notice.php NUMBER
REC TIME`` (which writes a call file, then shells out to ``touch -d`` and ``mv``), and
this project replaces it with ``notice-spool NUMBER REC TIME``. A Python command pays
for its interpreter start-up and its imports on every call, so the question the issue
asks is: how much slower per call is notice-spool than the script it replaces? Target:
median(notice-spool) / median(PHP) <= 1.0 (it was 3.0 until issue 11).

* Both tools are started by this one run, on the same machine, alternating call by call
  (PHP, notice-spool, PHP, notice-spool, ...), so a change of machine load hits both
  alike. The first rounds are warm-up (page cache, .pyc files) and are discarded.
* Each call is timed from the parent's side (fork, exec, run, exit: what Asterisk's
  System() waits for), with stdout to /dev/null.
* notice.php runs verbatim from the seed (NOTICE_SEED_DIR, default <repo>/../shared/seed)
  with Debian's php-cli. It hard-codes /usr/src/record_notice and
  /var/spool/asterisk/outgoing, so as root the benchmark re-executes itself in a private
  mount namespace (``unshare --mount --propagation private``) and bind-mounts fresh
  temporary folders over /usr/src and /var/spool there: the host's real folders are never
  touched, and the mounts vanish with the namespace. Without root (or unshare), it runs a
  copy of the script with those two paths rewritten to a temporary root, and says so.
  (With the bind mounts, /usr/src and /var/spool are distinct mounts, so the script's
  ``mv`` copies rather than renames, as it does on a PBX where they are distinct file
  systems; the difference is a few system calls.)
* notice-spool is installed as an admin installs it, not editable: the benchmark builds a
  wheel of this checkout, installs it with pip into a virtual environment of Debian's
  python3 (~/.cache/notice-cli/bench-venv, made again when the wheel changes; pip compiles
  the .pyc files as it installs), and runs that environment's console script, called
  exactly as the dialplan calls it: keypad time, no options, which is the path that must
  not import click or python-dateutil. NOTICE_SPOOL_DIR and
  NOTICE_RECORDINGS_DIR point at a temporary spool (outgoing/ + tmp/) and recordings
  folder (with the rec_N.wav files notice-spool checks for), on the same file system as
  PHP's folders. Other settings keep their defaults, as on a PBX.
* For information only, the floor: the same Python doing only the system calls of a safe
  spool (FLOOR_SCRIPT), the same median with a config file (a one-setting notice.conf: the
  config file is read with configparser, which imports re), for the ISO form ('YYYY-MM-DD HH:MM', which
  imports python-dateutil) and for a call with an option (``--tz UTC``, which goes
  through click), interleaved in the same rounds.
* Every timed call must exit 0 and leave exactly one call file in its outgoing folder,
  with the expected mtime (the first one's text is checked too), so a failing call cannot
  pass for a fast one. The folders are emptied after each call, outside the timing.
* The import time of the keypad path, with ``python -X importtime`` on the console script
  (median of a few runs): Python's own start-up (everything up to ``site``) apart from
  the command's imports, the sum of top-level cumulative times, and the 5 modules with
  the largest self time; the keypad path fails the benchmark if it imports ``click`` or
  ``dateutil`` (the ISO and option paths are checked to import them, which shows the
  check can see them).

Exit status: 0 if the ratio is within the target and the keypad path is lean, 1 if not
(or if a call failed its check), 2 if the benchmark cannot run (no php, no seed).
Run it with ``make bench`` or ``.venv/bin/python tests/bench/bench_spool.py [--calls N]``.
"""

from __future__ import annotations

import argparse
import calendar
import datetime
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET_RATIO = 1.0
BENCH_VENV = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "notice-cli" / "bench-venv"
NUMBER = "79991234567"
PHP_RECORD_DIR = "/usr/src/record_notice"
PHP_OUTGOING = "/var/spool/asterisk/outgoing"
# Set in the environment of the re-executed benchmark: the mount namespace it came from.
NAMESPACE_MARK = "NOTICE_BENCH_PARENT_MNT_NS"
FORBIDDEN_ON_KEYPAD_PATH = ("click", "dateutil")
IMPORTTIME_RUNS = 5


class BenchError(Exception):
    """The benchmark cannot run here (exit 2)."""


class CheckFailed(Exception):
    """A call did not do its job: its time would mean nothing (exit 1)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=40, help="timed calls per tool (default 40)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up rounds discarded (default 3)")
    parser.add_argument("--target", type=float, default=TARGET_RATIO,
                        help=f"maximum ratio notice-spool/PHP of the medians (default {TARGET_RATIO})")
    parser.add_argument("--no-namespace", action="store_true",
                        help="do not use a mount namespace; run a path-rewritten copy of notice.php")
    args = parser.parse_args()
    if args.calls < 1 or args.warmup < 0:
        parser.error("--calls must be at least 1 and --warmup at least 0")

    try:
        if not args.no_namespace and NAMESPACE_MARK not in os.environ:
            reason = reexec_in_namespace()  # returns only if it could not
            print(f"note: no private mount namespace ({reason}); using a copy of notice.php "
                  "with its two folders rewritten to a temporary root")
        return run(args)
    except BenchError as problem:
        print(f"bench: cannot run: {problem}", file=sys.stderr)
        return 2
    except CheckFailed as problem:
        print(f"bench: FAIL: {problem}", file=sys.stderr)
        return 1


# --- where things are -----------------------------------------------------------------

def seed_script() -> Path:
    seed_dir = Path(os.environ.get("NOTICE_SEED_DIR") or REPO.parent / "shared" / "seed")
    script = seed_dir / "notice.php"
    if not script.is_file():
        raise BenchError(f"{script} not found; set NOTICE_SEED_DIR to the folder holding notice.php")
    return script


def php_binary() -> str:
    php = shutil.which("php")
    if php is None:
        raise BenchError("php not found; install Debian's php-cli (make bench does: apt-get install php-cli)")
    return php


def spool_command() -> Path:
    """The console script to time: $NOTICE_SPOOL_BIN, else this checkout installed from a wheel."""
    given = os.environ.get("NOTICE_SPOOL_BIN")
    if given:
        if not (Path(given).is_file() and os.access(given, os.X_OK)):
            raise BenchError(f"NOTICE_SPOOL_BIN={given} is not an executable file")
        return Path(given)
    return installed_from_wheel()


def installed_from_wheel() -> Path:
    """notice-spool as pip installs it from a wheel of this checkout, in BENCH_VENV: made anew
    when the wheel differs from the one installed there (its hash is kept beside it)."""
    with tempfile.TemporaryDirectory() as built:
        quiet_run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                   "-w", built, str(REPO)], "building the wheel")
        wheel = next(Path(built).glob("notice_cli-*.whl"))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        stamp = BENCH_VENV / "installed-wheel.sha256"
        script = BENCH_VENV / "bin" / "notice-spool"
        if script.is_file() and stamp.is_file() and stamp.read_text() == digest:
            return script
        shutil.rmtree(BENCH_VENV, ignore_errors=True)
        quiet_run(["python3", "-m", "venv", str(BENCH_VENV)], "making the benchmark's virtual environment")
        quiet_run([str(BENCH_VENV / "bin" / "pip"), "install", "-q", str(wheel)], "installing the wheel")
        stamp.write_text(digest)
    return script


def quiet_run(argv: list[str], doing: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"{doing} failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")


def script_python(script: Path) -> str:
    """The interpreter in the console script's #! line (the one a PBX runs)."""
    first = script.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    if not first.startswith("#!"):
        raise BenchError(f"{script} has no #! line")
    return first[2:].strip().split()[0]


# --- the mount namespace ---------------------------------------------------------------

def mount_namespace() -> str:
    return os.readlink("/proc/self/ns/mnt")


def init_mount_namespace() -> str | None:
    try:
        return os.readlink("/proc/1/ns/mnt")
    except OSError:
        return None


def reexec_in_namespace() -> str:
    """Re-execute this benchmark in a private mount namespace; return why not if impossible."""
    if os.geteuid() != 0:
        return "not root"
    unshare = shutil.which("unshare")
    if unshare is None:
        return "no unshare command"
    for folder in ("/usr/src", "/var/spool"):
        if not os.path.isdir(folder):
            return f"{folder} does not exist to mount over"
    command = [unshare, "--mount", "--propagation", "private"]
    probe = subprocess.run(command + ["true"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if probe.returncode != 0:
        return f"unshare failed: {probe.stderr.strip() or probe.returncode}"
    os.environ[NAMESPACE_MARK] = mount_namespace()
    sys.stdout.flush()
    os.execv(unshare, command + ["--", sys.executable, os.path.abspath(__file__), *sys.argv[1:]])
    raise AssertionError("unreachable")


def bind_mount(source: Path, target: str) -> None:
    subprocess.run(["mount", "--bind", str(source), target], check=True)


def unmount(target: str) -> None:
    subprocess.run(["umount", target], check=False)


# --- one tool's setup, call and check ------------------------------------------------

class Tool:
    """One way of scheduling a notice: its command line for call I, its outgoing folder,
    and what the call file must look like."""

    def __init__(self, label: str, command, outgoing: Path, expected_mtime: int, expected_lines,
                 env: dict, pattern: str):
        self.label = label
        self.command = command  # index -> argv
        self.outgoing = outgoing
        self.expected_mtime = expected_mtime
        self.expected_lines = expected_lines  # index -> lines the call file must contain
        self.env = env
        self.pattern = pattern
        self.times: list[float] = []
        self.checked_text = False

    def call(self, index: int, timed: bool) -> None:
        argv = self.command(index)
        start = time.perf_counter()
        try:
            result = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=self.env)
        except OSError as problem:
            raise BenchError(f"{self.label}: cannot start {argv[0]}: {problem}") from None
        elapsed = time.perf_counter() - start
        self.check(index, argv, result)
        if timed:
            self.times.append(elapsed)

    def check(self, index: int, argv, result) -> None:
        if result.returncode != 0:
            raise CheckFailed(f"{self.label}: {argv} exited {result.returncode}: "
                              f"{result.stderr.decode(errors='replace').strip()}")
        files = sorted(self.outgoing.glob(self.pattern))
        if len(files) != 1:
            raise CheckFailed(f"{self.label}: expected one call file {self.pattern} in {self.outgoing}, "
                              f"found {[f.name for f in files]}")
        mtime = int(files[0].stat().st_mtime)
        if mtime != self.expected_mtime:
            raise CheckFailed(f"{self.label}: {files[0]} has mtime {mtime}, expected {self.expected_mtime} "
                              f"({time.ctime(self.expected_mtime)})")
        if not self.checked_text:
            text = files[0].read_text(encoding="utf-8")
            for line in self.expected_lines(index):
                if line not in text.splitlines():
                    raise CheckFailed(f"{self.label}: {files[0]} lacks the line {line!r}:\n{text}")
            self.checked_text = True
        for leftover in self.outgoing.iterdir():
            leftover.unlink()


def clean_env() -> dict:
    """The caller's environment without NOTICE_* settings and PYTHON* switches."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("NOTICE_", "PYTHON"))}


def future_wall_time() -> tuple[datetime.date, int, int]:
    """A date about a year ahead, at 14:30: safely future, never in a DST gap."""
    day = datetime.date.today() + datetime.timedelta(days=365)
    return day, 14, 30


# --- measuring -------------------------------------------------------------------------

def run(args) -> int:
    script = seed_script()
    php = php_binary()
    spool = spool_command()
    in_namespace = NAMESPACE_MARK in os.environ
    if in_namespace and mount_namespace() in (os.environ[NAMESPACE_MARK], init_mount_namespace()):
        raise BenchError("not in a new mount namespace; refusing to mount over /usr/src and /var/spool")

    day, hour, minute = future_wall_time()
    keypad = f"{day.year:04d}*{day.month:02d}*{day.day:02d}**{hour:02d}***{minute:02d}"
    iso = f"{day.isoformat()} {hour:02d}:{minute:02d}"
    local_due = int(time.mktime((day.year, day.month, day.day, hour, minute, 0, 0, 0, -1)))
    utc_due = calendar.timegm((day.year, day.month, day.day, hour, minute, 0, 0, 0, 0))
    total = args.warmup + args.calls

    root = Path(tempfile.mkdtemp(prefix="notice-bench-"))
    mounted: list[str] = []
    try:
        usr_src, var_spool = root / "usr-src", root / "var-spool"
        (usr_src / "record_notice").mkdir(parents=True)
        (var_spool / "asterisk" / "outgoing").mkdir(parents=True)
        if in_namespace:
            for source, target in ((usr_src, "/usr/src"), (var_spool, "/var/spool")):
                bind_mount(source, target)
                mounted.append(target)
            php_script, record_dir, php_outgoing = script, Path(PHP_RECORD_DIR), Path(PHP_OUTGOING)
            php_where = f"{script} verbatim; /usr/src and /var/spool are temporary folders in a private mount namespace"
        else:
            record_dir, php_outgoing = usr_src / "record_notice", var_spool / "asterisk" / "outgoing"
            php_script = rewritten_copy(script, root / "notice.php", record_dir, php_outgoing)
            php_where = f"a copy of {script} with its folders rewritten to {root}"

        spool_dir, recordings = root / "notice" / "spool", root / "notice" / "recordings"
        for folder in (spool_dir / "outgoing", spool_dir / "tmp", recordings):
            folder.mkdir(parents=True)
        for index in range(total):
            (recordings / f"rec_{index}.wav").write_bytes(b"RIFF")
        spool_env = clean_env() | {"NOTICE_SPOOL_DIR": str(spool_dir), "NOTICE_RECORDINGS_DIR": str(recordings)}
        php_env = clean_env()

        def spool_lines(index):
            return [f"Channel: Local/{NUMBER}@from-internal", f"Data: {recordings}/rec_{index}"]

        php_tool = Tool("PHP notice.php (keypad)", lambda i: [php, str(php_script), NUMBER, f"rec_{i}", keypad],
                        php_outgoing, local_due,
                        lambda i: [f"Channel: Local/{NUMBER}@from-internal", f"Data: {record_dir}/rec_{i}"],
                        php_env, "rec_*.call")
        keypad_tool = Tool("notice-spool keypad", lambda i: [str(spool), NUMBER, f"rec_{i}", keypad],
                           spool_dir / "outgoing", local_due, spool_lines, spool_env, "notice-*.call")
        iso_tool = Tool("notice-spool ISO (info)", lambda i: [str(spool), NUMBER, f"rec_{i}", iso],
                        spool_dir / "outgoing", local_due, spool_lines, spool_env, "notice-*.call")
        option_tool = Tool("notice-spool --tz UTC (info)",
                           lambda i: [str(spool), "--tz", "UTC", NUMBER, f"rec_{i}", keypad],
                           spool_dir / "outgoing", utc_due, spool_lines, spool_env, "notice-*.call")
        config = root / "notice.conf"
        config.write_text("[notice]\nwait_time = 20\n")
        config_tool = Tool("notice-spool keypad, notice.conf (info)", lambda i: [str(spool), NUMBER, f"rec_{i}", keypad],
                           spool_dir / "outgoing", local_due, spool_lines, spool_env | {"NOTICE_CONFIG": str(config)},
                           "notice-*.call")
        floor_tool = Tool("Python floor (info)",
                          lambda i: [script_python(spool), "-c", FLOOR_SCRIPT, str(spool_dir), NUMBER,
                                     str(recordings / f"rec_{i}"), str(local_due)],
                          spool_dir / "outgoing", local_due, spool_lines, spool_env, "notice-*.call")
        tools = [php_tool, keypad_tool, floor_tool, config_tool, iso_tool, option_tool]

        print(f"bench: {args.calls} calls per tool after {args.warmup} warm-up rounds, alternating "
              f"{' / '.join(t.label.split(' (')[0] for t in tools)}")
        print(f"  PHP: {php} ({php_version(php)}) running {php_where}")
        print(f"  notice-spool: {spool}; notice for {NUMBER} at {keypad!r} / {iso!r}")
        started = time.perf_counter()
        for index in range(total):
            for tool in tools:
                tool.call(index, timed=index >= args.warmup)
        if any(record_dir.iterdir()) or any((spool_dir / "tmp").iterdir()):
            raise CheckFailed("a staging folder was left with files in it")
        print(f"  ({len(tools) * total} calls in {time.perf_counter() - started:.1f} s)\n")

        imports = import_profiles(spool, spool_env, spool_dir / "outgoing", keypad, iso)
    finally:
        for target in reversed(mounted):
            unmount(target)
        shutil.rmtree(root, ignore_errors=True)

    ratio_ok = report_times(tools, php_tool, keypad_tool, args.target)
    lean = report_imports(imports)
    ok = ratio_ok and lean
    print(f"\nbench: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


# The floor: the same environment's Python doing only the system calls of a safe spool (the
# recording looked up, the owner looked up, the call file staged, fsynced, timed, renamed in,
# the folder fsynced) with no module of its own. What notice-spool adds to it is its imports
# and its checks; what PHP takes less than it is Python's own start-up.
FLOOR_SCRIPT = r"""
import fcntl, os, pwd, sys
spool, number, recording, due = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
assert os.path.isfile(recording + ".wav")
try:
    ids = pwd.getpwnam("asterisk")[2:4] if os.geteuid() == 0 else None
except KeyError:
    ids = None
name = "notice-floor-" + os.urandom(4).hex() + ".call"
staged, target = os.path.join(spool, "tmp", name), os.path.join(spool, "outgoing", name)
fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"Channel: Local/{number}@from-internal\nApplication: Playback\nData: {recording}\n".encode())
os.fsync(fd)
os.chmod(staged, 0o644)
if ids:
    os.chown(staged, *ids)
os.utime(staged, (due, due))
os.rename(staged, target)
folder = os.open(os.path.dirname(target), os.O_RDONLY | os.O_DIRECTORY)
os.fsync(folder)
os.close(folder)
os.close(fd)
print("scheduled", target)
"""


def report_times(tools: list[Tool], php_tool: Tool, keypad_tool: Tool, target: float) -> bool:
    """Print the table of wall times and the ratio; return whether the ratio meets TARGET."""
    print(f"  {'wall time per call':<32}{'median ms':>10}{'p90 ms':>9}")
    for tool in tools:
        print(f"  {tool.label:<32}{ms(statistics.median(tool.times)):>10}{ms(p90(tool.times)):>9}")
    ratio = statistics.median(keypad_tool.times) / statistics.median(php_tool.times)
    ratio_ok = ratio <= target
    print(f"\n  ratio notice-spool/PHP (medians, keypad): {ratio:.2f}  "
          f"target <= {target:.1f}: {'PASS' if ratio_ok else 'FAIL'}")
    for tool in tools:
        if tool not in (php_tool, keypad_tool):
            print(f"  (info) ratio {tool.label.replace(' (info)', '')}/PHP: "
                  f"{statistics.median(tool.times) / statistics.median(php_tool.times):.2f}")
    return ratio_ok


def rewritten_copy(script: Path, copy: Path, record_dir: Path, outgoing: Path) -> Path:
    text = script.read_text(encoding="utf-8")
    for old, new in ((PHP_RECORD_DIR, str(record_dir)), (PHP_OUTGOING, str(outgoing))):
        if old not in text:
            raise BenchError(f"{script} does not contain {old}; cannot rewrite it")
        text = text.replace(old, new)
    copy.write_text(text, encoding="utf-8")
    return copy


def php_version(php: str) -> str:
    out = subprocess.run([php, "-r", "echo PHP_VERSION;"], capture_output=True, text=True)
    return f"PHP {out.stdout.strip()}" if out.returncode == 0 else "version unknown"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def p90(values: list[float]) -> float:
    """The 90th percentile, nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * 9 // 10) - 1)]


# --- import time ------------------------------------------------------------------------

def importtime(spool: Path, env: dict, outgoing: Path, argv: list[str]) -> list[tuple[int, int, int, str]]:
    """One run of the console script under python -X importtime: (depth, self us, cumulative us,
    module) in the order Python reports them (a module after the ones it imported)."""
    command = [script_python(spool), "-X", "importtime", str(spool), *argv]
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    if result.returncode != 0:
        raise CheckFailed(f"{command} exited {result.returncode}: {result.stderr[-500:]}")
    for leftover in outgoing.iterdir():
        leftover.unlink()
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|", 2)
        indent = len(name) - len(name.lstrip(" ")) - 1  # one blank after '|', then 2 per level
        rows.append((indent // 2, int(self_us), int(cumulative_us), name.strip()))
    return rows


def import_profiles(spool: Path, env: dict, outgoing: Path, keypad: str, iso: str) -> dict:
    keypad_argv = [NUMBER, "rec_0", keypad]
    return {
        "keypad": [importtime(spool, env, outgoing, keypad_argv) for _ in range(IMPORTTIME_RUNS)],
        "iso": importtime(spool, env, outgoing, [NUMBER, "rec_0", iso]),
        "option": importtime(spool, env, outgoing, ["--tz", "UTC", *keypad_argv]),
    }


def split_at_site(rows):
    """Python's own start-up (top-level imports up to and including site) and the rest."""
    for at, (depth, _, _, name) in enumerate(rows):
        if depth == 0 and name == "site":
            return rows[: at + 1], rows[at + 1:]
    return [], rows


def imports_any(rows, package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for _, _, _, name in rows)


def report_imports(profiles: dict) -> bool:
    """Print the import-time figures; return whether the keypad path is lean (no click, no dateutil)."""
    runs = profiles["keypad"]
    startup = [sum(c for d, _, c, _ in split_at_site(rows)[0] if d == 0) for rows in runs]
    command = [sum(c for d, _, c, _ in split_at_site(rows)[1] if d == 0) for rows in runs]
    print(f"\n  import time, keypad path (python -X importtime, median of {len(runs)} runs):")
    print(f"    Python start-up (top-level imports up to site): {statistics.median(startup) / 1000:6.1f} ms")
    print(f"    the command (top-level imports after site):     {statistics.median(command) / 1000:6.1f} ms")
    print(f"    sum of top-level cumulative times:              "
          f"{statistics.median(s + c for s, c in zip(startup, command)) / 1000:6.1f} ms")
    top_level: dict[str, list[int]] = {}
    for rows in runs:
        for depth, _, cumulative_us, name in split_at_site(rows)[1]:
            if depth == 0:
                top_level.setdefault(name, []).append(cumulative_us)
    print("    top-level imports of the command (median cumulative ms): "
          + ", ".join(f"{name} {statistics.median(times) / 1000:.1f}" for name, times in top_level.items()))
    self_times: dict[str, list[int]] = {}
    cumulative: dict[str, list[int]] = {}
    for rows in runs:
        for _, self_us, cumulative_us, name in split_at_site(rows)[1]:
            self_times.setdefault(name, []).append(self_us)
            cumulative.setdefault(name, []).append(cumulative_us)
    top = sorted(self_times, key=lambda name: statistics.median(self_times[name]), reverse=True)[:5]
    print("    most expensive modules of the command (median self / cumulative ms):")
    for name in top:
        print(f"      {name:<40}{statistics.median(self_times[name]) / 1000:6.2f} "
              f"{statistics.median(cumulative[name]) / 1000:6.2f}")

    lean = True
    for package in FORBIDDEN_ON_KEYPAD_PATH:
        found = any(imports_any(rows, package) for rows in runs)
        lean = lean and not found
        print(f"    {package} imported on the keypad path: {'YES (FAIL)' if found else 'no (OK)'}")
    for label, package in (("ISO", "dateutil"), ("--tz UTC", "click")):
        seen = imports_any(profiles["iso" if label == "ISO" else "option"], package)
        print(f"    (check of the check) {label} path imports {package}: {'yes, as expected' if seen else 'NO?'}")
    return lean


if __name__ == "__main__":
    sys.exit(main())
