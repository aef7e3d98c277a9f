"""A real Asterisk in a Debian chroot, and a SIP phone that answers it, for end-to-end tests.

The chroot comes from sandbox.sh. Each AsteriskSandbox has a private run folder inside
the chroot, /tmp/notice-run-XXXX as Asterisk sees it, holding its config, spool, logs and
recordings. The host gets a symlink at the same absolute path, so one path means the same
file to notice-spool (on the host) and to Asterisk (in the chroot): the call file's
``Data: /tmp/notice-run-XXXX/recordings/<name>`` is right on both sides.

Tests reach Asterisk only the way an admin does: the spool, ``asterisk -rx``, the log,
marks left by the dialplan's System(), and a SIP phone (phone.py).

Standard library only: the demo uses this module too.
"""

import math
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional

from phone import SipPhone

HERE = Path(__file__).resolve().parent
SANDBOX_SCRIPT = HERE / "sandbox.sh"
SUITES = ("sid", "bullseye")
RUN_PREFIX = "notice-run-"
BOOT_TIMEOUT = 30.0


def sandbox_cache() -> Path:
    return Path(os.environ.get("NOTICE_SANDBOX_CACHE") or Path.home() / ".cache" / "notice-cli")


def ready_chroot(suite: str) -> Optional[Path]:
    """The chroot of SUITE if sandbox.sh finished building it, else None."""
    chroot = sandbox_cache() / suite
    return chroot if (chroot / "etc" / "notice-sandbox").is_file() else None


def build_chroot(suite: str) -> Path:
    """Build (or reuse) the chroot of SUITE with sandbox.sh; its progress goes to stderr."""
    result = subprocess.run(["bash", str(SANDBOX_SCRIPT), suite], stdout=subprocess.PIPE,
                            text=True, check=True)
    return Path(result.stdout.strip().splitlines()[-1])


def find_notice_spool() -> str:
    """The installed notice-spool: $NOTICE_SPOOL, else as find_command finds it."""
    return os.environ.get("NOTICE_SPOOL") or find_command("notice-spool")


def find_command(name: str) -> str:
    """The installed console script NAME: beside this Python (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"{name} is not installed beside {sys.executable}; run make venv")


@dataclass(frozen=True)
class Spooled:
    """What notice-spool reported: the notice, its due time and its call file."""
    notice_id: str
    at: float
    call_file: Path


_REPORT = re.compile(r"notice (?P<id>\S+) scheduled for (?P<at>\S+): (?P<path>.+)")


def run_notice_spool(*args: str, env: Optional[dict] = None) -> Spooled:
    """Run the installed notice-spool with ARGS and NOTICE_* settings from ENV only."""
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("NOTICE_")}
    done = subprocess.run([find_notice_spool(), *args], capture_output=True, text=True,
                          env={**clean_env, **(env or {})}, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"notice-spool {' '.join(args)} exited with {done.returncode}: "
                           f"{done.stderr.strip()}")
    report = _REPORT.fullmatch(done.stdout.strip())
    if not report:
        raise RuntimeError(f"notice-spool printed {done.stdout!r}")
    at = datetime.fromisoformat(report["at"]).timestamp()
    return Spooled(report["id"], at, Path(report["path"]))


def whole_second_ahead(seconds: int) -> int:
    """The Unix time of the first whole second at least SECONDS from now."""
    return math.ceil(time.time() + seconds)


def iso(at: float, zone=timezone.utc) -> str:
    return datetime.fromtimestamp(at, zone).isoformat()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_tone(path: Path, seconds: float, hertz: float = 440.0) -> Path:
    """A WAV Asterisk plays as is (8 kHz, mono, 16-bit), of a known length."""
    rate = 8000
    frames = bytearray()
    for n in range(round(seconds * rate)):
        frames += struct.pack("<h", round(8000 * math.sin(2 * math.pi * hertz * n / rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


# --- Asterisk's configuration --------------------------------------------------------------

# Only what call files, the notice dialplan and a PJSIP phone need: with autoload the log
# fills with errors of modules that have no config, and boot takes twice as long.
MODULES = """\
[modules]
autoload = no

; the call-file spool and the dialplan
load = pbx_spool.so
load = pbx_config.so

; applications a call file or the notice dialplan runs
load = app_playback.so
load = app_system.so
load = app_dial.so
load = app_echo.so
load = app_verbose.so
load = app_read.so
load = app_record.so
load = app_mixmonitor.so
load = app_stack.so
load = func_strings.so
load = func_logic.so
load = func_callerid.so
load = func_channel.so
load = func_global.so
load = func_math.so
load = func_shell.so

; media; res_timing_timerfd is the timing source any PBX has (without one, `timing test`
; fails; Playback alone paces itself all the same)
load = res_timing_timerfd.so
load = codec_ulaw.so
load = format_wav.so
load = format_pcm.so
load = bridge_simple.so

; PJSIP; chan_pjsip needs res_pjsip_pubsub
load = res_sorcery_config.so
load = res_sorcery_memory.so
load = res_sorcery_astdb.so
load = res_pjproject.so
load = res_pjsip.so
load = res_pjsip_session.so
load = res_pjsip_pubsub.so
load = res_pjsip_sdp_rtp.so
load = res_pjsip_caller_id.so
load = res_pjsip_endpoint_identifier_ip.so
load = res_rtp_asterisk.so
load = chan_pjsip.so
"""

LOGGER = """\
[general]
dateformat = %F %T.%3q

[logfiles]
messages => notice,warning,error,verbose(3)
full => notice,warning,error,verbose,dtmf
"""

# Files whose absence or sample content adds error lines to the log at boot.
EMPTY_CONFIGS = ("cdr.conf", "cel.conf", "features.conf", "acl.conf", "udptl.conf",
                 "pjproject.conf", "ccss.conf", "musiconhold.conf", "extconfig.conf",
                 "sorcery.conf", "pjsip_notify.conf")

INDICATIONS = """\
[general]
country = us

[us]
description = United States
ringcadence = 2000,4000
dial = 350+440
busy = 480+620/500,0/500
ring = 440+480/2000,0/4000
congestion = 480+620/250,0/250
callwaiting = 440/300,0/10000
dialrecall = !350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,350+440
record = 1400/500,0/15000
info = !950/330,!1400/330,!1800/330,0
"""

# notice-spool's default channel, Local/<number>@from-internal (as on FreePBX), rings the
# phone behind the endpoint "client", after a mark with the time the dialplan ran.
DEFAULT_DIALPLAN = """\
[general]
static = yes
writeprotect = yes

[globals]
MARKS = {run}/marks

; A notice to Local/<number>@from-internal: the client's phone rings, then hears the message.
[from-internal]
exten => _[+0-9].,1,System(echo "$(date +%s.%N) ${{EXTEN}} ${{NOTICE_ID}}" >> ${{MARKS}})
 same => n,Dial(PJSIP/${{EXTEN}}@client,20)
 same => n,Hangup()
"""


def _phone_pjsip(name: str, port: int) -> str:
    return f"""
; {name}: a sipp phone at 127.0.0.1:{port}; no registration, no auth
[{name}]
type = aor
contact = sip:127.0.0.1:{port}

[{name}]
type = endpoint
aors = {name}
context = from-internal
disallow = all
allow = ulaw
direct_media = no
; RTP on loopback: with no media address Asterisk looks up the host's name and a root
; server to find "its" address, logging errors on an offline machine.
media_address = 127.0.0.1
bind_rtp_to_media_address = yes
"""


class RunFolder:
    """The paths of a run folder: the same on the host (through the symlink) and in the chroot."""

    def __init__(self, path: Path):
        self.path = path
        self.etc = path / "etc"
        self.asterisk_conf = self.etc / "asterisk.conf"
        self.spool_dir = path / "spool"
        self.outgoing = self.spool_dir / "outgoing"
        self.outgoing_done = self.spool_dir / "outgoing_done"
        self.recordings_dir = path / "recordings"
        self.log_dir = path / "log"
        self.messages_log = self.log_dir / "messages"
        self.full_log = self.log_dir / "full"
        self.console_log = self.log_dir / "console.out"  # Asterisk's stdout and stderr
        self.marks = path / "marks"  # lines the dialplan's System() appends
        self.sipp_dir = path / "sipp"


class AsteriskSandbox:
    """One Asterisk in the chroot, with its private run folder.

    >>> with AsteriskSandbox.create(chroot) as asterisk:   # starts it, stops it at the end
    ...     asterisk.rx("core show uptime")
    """

    def __init__(self, chroot: Path, run: RunFolder, phones: Dict[str, int]):
        self.chroot = chroot
        self.run = run
        self.phone_ports = phones  # endpoint name -> the UDP port its sipp listens on
        self.process: Optional[subprocess.Popen] = None
        self.boot_seconds: Optional[float] = None
        self.keep_files = False  # keep the run folder at remove(), for a look after a failure
        self._phones: List[SipPhone] = []

    # Paths, named as notice-spool's options name them.
    spool_dir = property(lambda self: self.run.spool_dir)
    recordings_dir = property(lambda self: self.run.recordings_dir)
    outgoing = property(lambda self: self.run.outgoing)
    outgoing_done = property(lambda self: self.run.outgoing_done)
    messages_log = property(lambda self: self.run.messages_log)
    full_log = property(lambda self: self.run.full_log)

    @classmethod
    def create(cls, chroot: Path, dialplan: str = DEFAULT_DIALPLAN,
               phones=("client", "busy")) -> "AsteriskSandbox":
        """Lay out a new run folder in CHROOT (not started yet). DIALPLAN may use {run}."""
        chroot = Path(chroot).resolve()
        inside = Path(tempfile.mkdtemp(prefix=RUN_PREFIX, dir=chroot / "tmp"))
        run = RunFolder(Path("/tmp") / inside.name)
        try:
            os.symlink(inside, run.path)
        except FileExistsError:  # a host folder of that name: try another name
            shutil.rmtree(inside)
            return cls.create(chroot, dialplan, phones)
        sandbox = cls(chroot, run, {name: free_udp_port() for name in phones})
        try:
            sandbox._write_run_folder(dialplan)
        except BaseException:
            sandbox.remove()
            raise
        return sandbox

    def _modules_dir(self) -> str:
        # sid installs modules under the multiarch folder, bullseye directly in /usr/lib.
        for found in sorted(self.chroot.glob("usr/lib/*/asterisk/modules")) + \
                [self.chroot / "usr/lib/asterisk/modules"]:
            if (found / "pbx_spool.so").exists():
                return "/" + str(found.relative_to(self.chroot))
        raise FileNotFoundError(f"no Asterisk modules in {self.chroot}")

    def _write_run_folder(self, dialplan: str) -> None:
        run = self.run
        os.chmod(run.path, 0o755)  # mkdtemp's 0700 would hide it from the asterisk user
        for folder in (run.etc, run.outgoing, run.outgoing_done, run.spool_dir / "tmp",
                       run.log_dir, run.path / "run", run.path / "lib", run.recordings_dir,
                       run.sipp_dir):
            folder.mkdir(parents=True, exist_ok=True)
        sip_port = free_udp_port()
        files = {
            "asterisk.conf": f"""\
[directories]
astetcdir => {run.etc}
astmoddir => {self._modules_dir()}
astvarlibdir => {run.path}/lib
astdbdir => {run.path}/lib
astkeydir => {run.path}/lib
astdatadir => /usr/share/asterisk
astagidir => /usr/share/asterisk/agi-bin
astspooldir => {run.spool_dir}
astrundir => {run.path}/run
astlogdir => {run.log_dir}
astsbindir => /usr/sbin

[options]
verbose = 3
documentation_language = en_US
""",
            "modules.conf": MODULES,
            "logger.conf": LOGGER,
            "indications.conf": INDICATIONS,
            "rtp.conf": "[general]\nrtpstart = 20000\nrtpend = 29999\n",
            "extensions.conf": dialplan.format(run=run.path),
            "pjsip.conf": f"""\
[transport-udp]
type = transport
protocol = udp
bind = 127.0.0.1:{sip_port}
""" + "".join(_phone_pjsip(name, port) for name, port in self.phone_ports.items()),
        }
        files.update({name: "" for name in EMPTY_CONFIGS})
        for name, text in files.items():
            (run.etc / name).write_text(text)

    # --- running ---------------------------------------------------------------------------

    def _asterisk(self, *args: str) -> List[str]:
        return ["chroot", str(self.chroot), "/usr/sbin/asterisk", "-C", str(self.run.asterisk_conf),
                *args]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = BOOT_TIMEOUT) -> "AsteriskSandbox":
        """Start Asterisk in the foreground under our own handle; return once fully booted."""
        if self.running:
            return self
        started = time.monotonic()
        with open(self.run.console_log, "ab") as console:
            # chroot(8) execs Asterisk, so this handle's pid is Asterisk's own.
            self.process = subprocess.Popen(self._asterisk("-f"), stdin=subprocess.DEVNULL,
                                            stdout=console, stderr=subprocess.STDOUT)
        while True:
            if self.process.poll() is not None:
                self.keep_files = True  # its logs say why
                raise RuntimeError(f"Asterisk exited with {self.process.returncode} while booting; "
                                   f"see {self.chroot}{self.run.console_log} and its messages log")
            booted = subprocess.run(self._asterisk("-rx", "core waitfullybooted"),
                                    capture_output=True, timeout=timeout)
            if booted.returncode == 0:
                break
            if time.monotonic() - started > timeout:
                self.stop()
                self.keep_files = True
                raise TimeoutError(f"Asterisk not fully booted after {timeout} s; "
                                   f"see {self.chroot}{self.run.messages_log}")
            time.sleep(0.05)
        self.boot_seconds = time.monotonic() - started
        return self

    def rx(self, command: str, check: bool = True) -> str:
        """Run an Asterisk CLI command, as `asterisk -rx` does, and return its output."""
        done = subprocess.run(self._asterisk("-rx", command), capture_output=True, text=True,
                              timeout=30)
        if check and done.returncode != 0:
            raise RuntimeError(f"asterisk -rx {command!r} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def stop(self, timeout: float = 15.0) -> Optional[int]:
        """core stop now, then wait on our handle; kill that pid only if it does not exit."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.rx("core stop now", check=False)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.process.returncode

    def restart(self) -> "AsteriskSandbox":
        self.stop()
        return self.start()

    def hang_up_phones(self) -> None:
        """Stop every phone started so far (what they received stays readable)."""
        for phone in self._phones:
            phone.stop()

    def remove(self, keep_files: Optional[bool] = None) -> None:
        """Stop Asterisk and its phones, drop the host symlink and (unless kept) the run folder."""
        try:
            self.hang_up_phones()
            self.stop()
        finally:
            inside = Path(os.readlink(self.run.path)) if self.run.path.is_symlink() else None
            if inside is not None:
                self.run.path.unlink()
                if not (self.keep_files if keep_files is None else keep_files):
                    shutil.rmtree(inside, ignore_errors=True)

    def __enter__(self) -> "AsteriskSandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.remove()

    # --- what an admin looks at ------------------------------------------------------------

    def log_size(self) -> int:
        """A mark in the messages log; pass it to log_problems to see only what came after."""
        try:
            return self.run.messages_log.stat().st_size
        except FileNotFoundError:
            return 0

    def log_problems(self, since: int = 0) -> List[str]:
        """WARNING and ERROR lines of the messages log written after offset SINCE."""
        try:
            with open(self.run.messages_log, "rb") as log:
                log.seek(since)
                text = log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        return [line for line in text.splitlines() if re.search(r"\] (WARNING|ERROR)\[", line)]

    def marks(self) -> List[List[str]]:
        """Lines left by the dialplan's System(): [time, number, notice id]."""
        try:
            return [line.split() for line in self.run.marks.read_text().splitlines()]
        except FileNotFoundError:
            return []

    def archived(self, call_file_name: str) -> Optional[str]:
        """The text of a call file Asterisk moved to outgoing_done, or None."""
        path = self.run.outgoing_done / call_file_name
        return path.read_text() if path.exists() else None

    def wait_archived(self, call_file_name: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.archived(call_file_name)
            if text is not None and "Status:" in text:
                return text
            time.sleep(0.1)
        raise TimeoutError(f"{call_file_name} not in outgoing_done after {timeout} s")

    def phone(self, name: str = "client") -> SipPhone:
        """The SIP phone behind the PJSIP endpoint NAME (not listening until answer() or busy())."""
        phone = SipPhone(self.chroot, self.run.sipp_dir, name, self.phone_ports[name])
        self._phones.append(phone)
        return phone
