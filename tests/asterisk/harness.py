"""A real Asterisk in a Debian chroot, and a SIP phone that answers it, for end-to-end tests.

The chroot comes from sandbox.sh. Each AsteriskSandbox has a private run folder inside
the chroot, /tmp/notice-run-XXXX as Asterisk sees it, holding its config, spool, logs and
recordings. The host gets a symlink at the same absolute path, so one path means the same
file to notice-spool (on the host) and to Asterisk (in the chroot): the call file's
``Data: /tmp/notice-run-XXXX/recordings/<name>`` is right on both sides.

Tests reach Asterisk only the way an admin does: the spool, ``asterisk -rx``, the log,
marks left by the dialplan's System(), and a SIP phone (sipp) with an RTP socket.

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
import threading
import time
import wave
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
SANDBOX_SCRIPT = HERE / "sandbox.sh"
SUITES = ("sid", "bullseye")
RUN_PREFIX = "notice-run-"
PCMU_PACKET_SECONDS = 0.020  # Asterisk sends ulaw in 20 ms frames
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
    """The installed notice-spool: $NOTICE_SPOOL, else beside this Python (the venv's bin)."""
    named = os.environ.get("NOTICE_SPOOL")
    if named:
        return named
    beside = Path(sys.executable).parent / "notice-spool"
    if beside.exists():
        return str(beside)
    found = shutil.which("notice-spool")
    if found:
        return found
    raise FileNotFoundError(f"notice-spool is not installed beside {sys.executable}; run make venv")


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

; media: Playback is paced by a timer, since the phone sends no audio to pace it by
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

# Local/<number>@notice-test rings the same phones as PJSIP/<number>@client, after leaving a
# mark with the time Asterisk started the call, for tests of channels that go through dialplan.
DEFAULT_DIALPLAN = """\
[general]
static = yes
writeprotect = yes

[globals]
MARKS = {run}/marks

; A notice to Local/<number>@notice-test: the client hears the ringing phone, then the message.
[notice-test]
exten => _X.,1,System(echo "$(date +%s.%N) ${{EXTEN}} ${{NOTICE_ID}}" >> ${{MARKS}})
 same => n,Dial(PJSIP/${{EXTEN}}@client,20)
 same => n,Hangup()

; A busy client, the same way.
[notice-busy]
exten => _X.,1,System(echo "$(date +%s.%N) ${{EXTEN}} ${{NOTICE_ID}}" >> ${{MARKS}})
 same => n,Dial(PJSIP/${{EXTEN}}@busy,20)
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
context = notice-test
disallow = all
allow = ulaw
direct_media = no
; RTP on loopback: with no media address Asterisk looks up the host's name and a root
; server to find "its" address, logging errors on an offline machine.
media_address = 127.0.0.1
bind_rtp_to_media_address = yes
"""


@dataclass(frozen=True)
class RunFolder:
    """The paths of a run folder, the same on the host (via the symlink) and in the chroot."""
    path: Path

    @property
    def etc(self) -> Path:
        return self.path / "etc"

    @property
    def asterisk_conf(self) -> Path:
        return self.etc / "asterisk.conf"

    @property
    def spool_dir(self) -> Path:
        return self.path / "spool"

    @property
    def outgoing(self) -> Path:
        return self.spool_dir / "outgoing"

    @property
    def outgoing_done(self) -> Path:
        return self.spool_dir / "outgoing_done"

    @property
    def recordings_dir(self) -> Path:
        return self.path / "recordings"

    @property
    def log_dir(self) -> Path:
        return self.path / "log"

    @property
    def messages_log(self) -> Path:
        return self.log_dir / "messages"

    @property
    def full_log(self) -> Path:
        return self.log_dir / "full"

    @property
    def console_log(self) -> Path:
        return self.log_dir / "console.out"

    @property
    def marks(self) -> Path:
        return self.path / "marks"

    @property
    def sipp_dir(self) -> Path:
        return self.path / "sipp"


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
        self._phones: List["SipPhone"] = []

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
                raise RuntimeError(f"Asterisk exited with {self.process.returncode} while booting; "
                                   f"see {self.run.console_log} and {self.run.messages_log}")
            booted = subprocess.run(self._asterisk("-rx", "core waitfullybooted"),
                                    capture_output=True, timeout=timeout)
            if booted.returncode == 0:
                break
            if time.monotonic() - started > timeout:
                self.stop()
                raise TimeoutError(f"Asterisk not fully booted after {timeout} s")
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

    def remove(self, keep_files: bool = False) -> None:
        """Stop Asterisk and its phones, drop the host symlink and (unless kept) the run folder."""
        try:
            for phone in self._phones:
                phone.stop()
            self.stop()
        finally:
            inside = Path(os.readlink(self.run.path)) if self.run.path.is_symlink() else None
            if inside is not None:
                self.run.path.unlink()
                if not keep_files:
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

    def phone(self, name: str = "client") -> "SipPhone":
        """The SIP phone behind the PJSIP endpoint NAME (not listening until answer() or busy())."""
        phone = SipPhone(self, name, self.phone_ports[name])
        self._phones.append(phone)
        return phone


# --- a phone that answers -------------------------------------------------------------------

_RESPONSE_HEADERS = """\
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>"""

# The client answers and hears the message: its SDP points Asterisk's RTP at the test's socket.
ANSWER_SCENARIO = f"""\
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="notice client answers">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[
SIP/2.0 180 Ringing
{_RESPONSE_HEADERS}
Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
{_RESPONSE_HEADERS}
Content-Type: application/sdp
Content-Length: [len]

v=0
o=client 1 1 IN IP4 127.0.0.1
s=notice client
c=IN IP4 127.0.0.1
t=0 0
m=audio [rtp_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=recvonly

  ]]></send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
{_RESPONSE_HEADERS}
Content-Length: 0

  ]]></send>
</scenario>
"""

# The client is on another call: every attempt gets 486 Busy Here.
BUSY_SCENARIO = f"""\
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="notice client busy">
  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 486 Busy Here
{_RESPONSE_HEADERS}
Content-Length: 0

  ]]></send>
  <recv request="ACK"/>
</scenario>
"""


@dataclass
class RtpStream:
    """What arrived from one RTP source (one call), by SSRC."""
    ssrc: int
    packets: int = 0
    payload_bytes: int = 0
    first: float = 0.0  # time.time() of the first and last packet
    last: float = 0.0

    @property
    def audio_seconds(self) -> float:
        """Length of the audio received: PCMU is 8000 one-byte samples a second."""
        return self.payload_bytes / 8000


class RtpReceiver:
    """A UDP socket on 127.0.0.1 that counts the RTP packets Asterisk sends to it."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.streams: Dict[int, RtpStream] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._receive, name=f"rtp-{self.port}", daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stopping.is_set():
            try:
                packet = self.socket.recv(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            arrived = time.time()
            if len(packet) < 12 or packet[0] >> 6 != 2:  # RTP version 2 header
                continue
            ssrc = struct.unpack("!I", packet[8:12])[0]
            header = 12 + 4 * (packet[0] & 0x0F)
            stream = self.streams.setdefault(ssrc, RtpStream(ssrc, first=arrived))
            stream.packets += 1
            stream.payload_bytes += len(packet) - header
            stream.last = arrived

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        self.socket.close()


@dataclass
class Invite:
    """An INVITE the phone received: when, and which number was dialled."""
    at: float
    number: str


def _trace_time(stamp: str) -> float:
    fields = stamp.split()
    if len(fields) >= 3:  # 2026-11-28  00:53:40.241186  1795827220.241186
        return float(fields[2])
    return datetime.strptime(fields[0], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


@dataclass
class SipPhone:
    """sipp as a user agent server at the address of the PJSIP endpoint NAME."""
    sandbox: AsteriskSandbox
    name: str
    port: int
    rtp: Optional[RtpReceiver] = None
    process: Optional[subprocess.Popen] = None
    trace: Optional[Path] = None
    _output: list = field(default_factory=list)

    def answer(self, calls: int = 1, timeout: float = 120) -> "SipPhone":
        """Answer CALLS calls, each with audio sent to our RTP socket, then exit."""
        self.rtp = RtpReceiver()
        return self._start("answer", ANSWER_SCENARIO, calls, timeout, "-key", "rtp_port",
                           str(self.rtp.port))

    def busy(self, calls: int = 1, timeout: float = 120) -> "SipPhone":
        """Reject CALLS calls with 486 Busy Here, then exit."""
        return self._start("busy", BUSY_SCENARIO, calls, timeout)

    def _start(self, kind: str, scenario: str, calls: int, timeout: float, *extra: str):
        if self.process is not None:
            raise RuntimeError(f"phone {self.name} is already listening")
        base = self.sandbox.run.sipp_dir / f"{self.name}-{kind}-{os.getpid()}-{int(time.time() * 1000)}"
        scenario_file = base.with_suffix(".xml")
        scenario_file.write_text(scenario)
        self.trace = base.with_suffix(".messages")
        screen = open(base.with_suffix(".out"), "wb")
        self._output.append(screen)
        self.process = subprocess.Popen(
            ["chroot", str(self.sandbox.chroot), "sipp", "-sf", str(scenario_file),
             "-i", "127.0.0.1", "-p", str(self.port), "-m", str(calls), "-nostdin",
             "-trace_msg", "-message_file", str(self.trace),
             "-trace_err", "-error_file", str(base.with_suffix(".errors")),
             "-timeout", f"{int(timeout)}s", "-timeout_error", *extra],
            stdin=subprocess.DEVNULL, stdout=screen, stderr=subprocess.STDOUT)
        self._wait_listening()
        return self

    def _wait_listening(self, timeout: float = 10.0) -> None:
        # A call that reaches the port before sipp binds it fails: wait until the port is taken.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sipp exited with {self.process.returncode}")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(("127.0.0.1", self.port))
                except OSError:
                    return
            time.sleep(0.02)
        raise TimeoutError(f"sipp is not listening on {self.port}")

    def wait(self, timeout: float) -> int:
        """Wait until sipp has handled all its calls; its exit status (0: all went as scripted)."""
        returncode = self.process.wait(timeout)
        time.sleep(0.1)  # the last RTP packets are in flight when the BYE is answered
        return returncode

    def invites(self) -> List[Invite]:
        """Every INVITE received (retransmissions excluded), in order of arrival."""
        if self.trace is None or not self.trace.exists():
            return []
        invites, seen = [], set()
        # sipp starts each message with a dashed line and the time: 3.8 writes ISO 8601 in UTC,
        # 3.6 the local date and time, then the Unix time.
        for block in re.split(r"^-{10,} ", self.trace.read_text(errors="replace"), flags=re.M):
            invite = re.match(r"(?P<stamp>.*)\n(?:UDP|TCP) message received.*\n\s*"
                              r"INVITE sip:(?P<number>[^@;> ]+)@", block)
            if not invite:
                continue
            key = tuple(re.findall(r"^(?:Call-ID|CSeq):\s*(.+?)\s*$", block, flags=re.M | re.I))
            if key not in seen:  # a retransmission repeats Call-ID and CSeq
                seen.add(key)
                invites.append(Invite(_trace_time(invite["stamp"]), invite["number"]))
        return invites

    def stop(self) -> None:
        """Stop sipp (its own pid, if still running) and the RTP socket."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.rtp is not None:
            self.rtp.stop()
        for screen in self._output:
            screen.close()
        self._output.clear()
