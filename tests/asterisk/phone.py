"""The client's phone for the end-to-end tests: sipp answering (or rejecting) Asterisk's calls,
with the audio it is sent counted by a UDP socket of the test's own.

sipp runs inside the Asterisk sandbox's chroot (Debian's sip-tester package), on 127.0.0.1
at the port of one PJSIP endpoint's contact. Standard library only.
"""

import os
import re
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Dict, List, Optional

PCMU_PACKET_SECONDS = 0.020  # Asterisk sends ulaw in 20 ms frames


def _udp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


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
    """An INVITE the phone received: when, which number was dialled, the whole message."""
    at: float
    number: str
    message: str


def _trace_time(stamp: str) -> float:
    # sipp 3.8 writes 2026-11-28T00:53:40.241186Z, 3.6 "2026-11-28 00:53:40.241186" in its
    # local time, which the phone's TZ=UTC makes UTC too.
    date_time = " ".join(stamp.replace("T", " ").replace("Z", " ").split()[:2])
    return datetime.strptime(date_time, "%Y-%m-%d %H:%M:%S.%f").replace(
        tzinfo=timezone.utc).timestamp()


@dataclass
class SipPhone:
    """sipp, run in CHROOT, as a user agent server at the address of the PJSIP endpoint NAME;
    its scenario, trace and screen go to FOLDER (a path that is the same inside the chroot)."""
    chroot: Path
    folder: Path
    name: str
    port: int
    rtp: Optional[RtpReceiver] = None
    process: Optional[subprocess.Popen] = None
    trace: Optional[Path] = None  # sipp's log of the SIP messages, with their times
    _screen: Optional[IO[bytes]] = None

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
            raise RuntimeError(f"phone {self.name} was started already; take a new one")
        if not _udp_port_free(self.port):
            raise RuntimeError(f"phone {self.name}: port {self.port} is taken, by an earlier "
                               "phone still running?")
        base = self.folder / f"{self.name}-{kind}-{os.getpid()}-{int(time.time() * 1000)}"
        scenario_file = base.with_suffix(".xml")
        scenario_file.write_text(scenario)
        self.trace = base.with_suffix(".messages")
        self._screen = open(base.with_suffix(".out"), "wb")
        self.process = subprocess.Popen(
            ["chroot", str(self.chroot), "env", "TZ=UTC", "sipp", "-sf", str(scenario_file),
             "-i", "127.0.0.1", "-p", str(self.port), "-m", str(calls), "-nostdin",
             "-trace_msg", "-message_file", str(self.trace),
             "-trace_err", "-error_file", str(base.with_suffix(".errors")),
             "-timeout", f"{int(timeout)}s", "-timeout_error", *extra],
            stdin=subprocess.DEVNULL, stdout=self._screen, stderr=subprocess.STDOUT)
        self._wait_listening()
        return self

    def _wait_listening(self, timeout: float = 10.0) -> None:
        # A call that reaches the port before sipp has bound it is lost: wait until it has.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sipp exited with {self.process.returncode}; see {self.trace}")
            if not _udp_port_free(self.port):
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
        # sipp starts each message with a dashed line and the time.
        for block in re.split(r"^-{10,} ", self.trace.read_text(errors="replace"), flags=re.M):
            invite = re.match(r"(?P<stamp>.*)\n(?:UDP|TCP) message received.*\n\s*"
                              r"INVITE sip:(?P<number>[^@;> ]+)@", block)
            if not invite:
                continue
            key = tuple(re.findall(r"^(?:Call-ID|CSeq):\s*(.+?)\s*$", block, flags=re.M | re.I))
            if key not in seen:  # a retransmission repeats Call-ID and CSeq
                seen.add(key)
                invites.append(Invite(_trace_time(invite["stamp"]), invite["number"], block))
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
        if self._screen is not None:
            self._screen.close()
