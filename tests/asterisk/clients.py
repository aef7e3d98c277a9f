"""Simulated clients for the delivery context [notice-deliver]: a dialplan context reached by
Local channels, Local/<number>@notice-clients/n, whose number picks how the client behaves.

Every client that answers records what it hears and says (MixMonitor, both directions, into
<run>/heard/<number>-<time>-<uniqueid>.wav), so a test measures how often the message was
heard: the message is a pure tone of its own pitch, and tone_stretches() finds each stretch
of it in a recording. The clients speak in tones of other pitches: a person's "hello", an
answering machine's greeting and beep.

The clients follow the audio rather than a clock: WaitForNoise() hears the message start,
then the client waits out the message and keys at the question. Standard library only.
"""

import math
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

RATE = 8000
FRAME = 160  # samples in 20 ms, Asterisk's frame
MESSAGE_HERTZ = 600
HELLO_HERTZ = 300
GREETING_HERTZ = 400
BEEP_HERTZ = 1000

MESSAGE_SECONDS = 1.5
HELLO_SECONDS = 0.5  # then silence: a person says "hello?" and listens
GREETING_SECONDS = 3.0  # longer than amd.conf's greeting (1.5 s): AMD says MACHINE
BEEP_SECONDS = 0.5
HANG_UP_AFTER = 1.0  # seconds into the message

# What each client does. A client that answers first says "hello?" and waits for the message
# to start ([notice-client-answers]), then does its steps; {at_question}: seconds from hearing
# the message start to a key at the question that follows it; {hang_up_at}: to a hangup a
# second into the message.
ANSWERING = {
    "confirms": ["Wait({at_question:.2f})", "SendDTMF(1)", "Wait(20)"],
    "replays then confirms": ["Wait({at_question:.2f})", "SendDTMF(2)", "Wait({at_question:.2f})",
                              "SendDTMF(1)", "Wait(20)"],
    "listens": ["Wait(60)"],
    "hangs up": ["Wait({hang_up_at:.2f})"],
}
NOT_ANSWERING = {
    "busy": ["Busy(10)"],
    "never answers": ["Ringing()", "Wait(120)"],  # until the call file's WaitTime runs out
    "congested": ["Congestion(10)"],
}
MACHINE = "answering machine"  # a long greeting, a beep, then silence
# WaitForNoise returns 0.2 s into the message: a key comes a second after the message's end,
# while the question plays; a hangup HANG_UP_AFTER into the message (and a frame or two).
AT_QUESTION = MESSAGE_SECONDS - 0.2 + 1.0
HANG_UP_AT = HANG_UP_AFTER - 0.2 + 0.1

# The clients' own routines. The recording of each call: <run>/heard/<number>-<time>-<uniqueid>.wav.
ROUTINES = """
; --- the simulated clients: Local/<number>@notice-clients/n ----------------------------------

; Answers, records the call, says "hello?", and returns once the message starts.
[notice-client-answers]
exten => s,1,Answer()
 same => n,MixMonitor({run}/heard/${{ARG1}}-${{EPOCH}}-${{UNIQUEID}}.wav)
 same => n,Playback({run}/sounds/hello)
 same => n,WaitForNoise(200,1,30)
 same => n,Return()

; An answering machine: answers, records the call, plays its greeting and beep, then listens.
[notice-client-machine]
exten => s,1,Answer()
 same => n,MixMonitor({run}/heard/${{ARG1}}-${{EPOCH}}-${{UNIQUEID}}.wav)
 same => n,Playback({run}/sounds/greeting)
 same => n,Wait(60)
 same => n,Return()
"""


def dialplan(run: Path, clients: Dict[str, str]) -> str:
    """The clients' contexts: [notice-clients] has an extension for each number of CLIENTS
    (number -> behaviour); the recordings go to RUN/heard."""
    lines = [ROUTINES.format(run=run), "[notice-clients]"]
    for number, behaviour in clients.items():
        if behaviour in ANSWERING:
            steps = ["Gosub(notice-client-answers,s,1(${EXTEN}))",
                     *(step.format(at_question=AT_QUESTION, hang_up_at=HANG_UP_AT) for step in ANSWERING[behaviour]),
                     "Hangup()"]
        elif behaviour == MACHINE:
            steps = ["Gosub(notice-client-machine,s,1(${EXTEN}))", "Hangup()"]
        else:
            steps = NOT_ANSWERING[behaviour]
        lines += [f"; {behaviour}", f"exten => {number},1,{steps[0]}", *(f" same => n,{step}" for step in steps[1:])]
    return "\n".join(lines) + "\n"


MODULES = """
; the delivery context and its clients
load = app_amd.so
load = app_waitforsilence.so
load = app_mixmonitor.so
"""

# amd.conf as Debian ships it (AMD() declines to load without one).
AMD_CONF = """\
[general]
initial_silence = 2500
greeting = 1500
after_greeting_silence = 800
total_analysis_time = 5000
min_word_length = 100
between_words_silence = 50
maximum_number_of_words = 2
silence_threshold = 256
maximum_word_length = 5000
"""


def tone(seconds: float, hertz: float, amplitude: int = 8000) -> List[int]:
    return [round(amplitude * math.sin(2 * math.pi * hertz * n / RATE)) for n in range(round(seconds * RATE))]


def silence(seconds: float) -> List[int]:
    return [0] * round(seconds * RATE)


def write_wav(path: Path, samples: List[int]) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return path


def write_sounds(folder: Path) -> None:
    """The clients' sounds: a person's hello (then a second and a half of silence, sent as
    audio: AMD counts silence only in frames it receives), and a machine's greeting and beep."""
    folder.mkdir(parents=True, exist_ok=True)
    write_wav(folder / "hello.wav", tone(HELLO_SECONDS, HELLO_HERTZ) + silence(1.5))
    write_wav(folder / "greeting.wav",
              tone(GREETING_SECONDS, GREETING_HERTZ) + silence(0.3) + tone(BEEP_SECONDS, BEEP_HERTZ) + silence(0.5))


# --- what a client heard --------------------------------------------------------------------

def read_samples(path: Path) -> List[int]:
    with wave.open(str(path)) as recording:
        assert (recording.getframerate(), recording.getsampwidth(), recording.getnchannels()) == (RATE, 2, 1)
        data = recording.readframes(recording.getnframes())
    return list(struct.unpack(f"<{len(data) // 2}h", data))


def tone_share(frame: List[int], hertz: float) -> float:
    """How much of FRAME's energy is at HERTZ (Goertzel), 0 for a silent frame."""
    coefficient = 2 * math.cos(2 * math.pi * hertz / RATE)
    previous = before = 0.0
    for sample in frame:
        previous, before = sample + coefficient * previous - before, previous
    power = previous * previous + before * before - coefficient * previous * before
    energy = sum(sample * sample for sample in frame)
    return power / (energy * len(frame) / 2) if energy > len(frame) * 100 else 0.0


@dataclass(frozen=True)
class Stretch:
    start: float  # seconds into the recording
    seconds: float


def tone_stretches(samples: List[int], hertz: float, least: float = 0.2) -> List[Stretch]:
    """Each stretch of at least LEAST seconds in which the tone HERTZ is most of the sound."""
    found, start = [], None
    frames = [samples[i:i + FRAME] for i in range(0, len(samples) - FRAME + 1, FRAME)]
    for index, frame in enumerate(frames + [[]]):
        inside = bool(frame) and tone_share(frame, hertz) > 0.8
        if inside and start is None:
            start = index
        elif not inside and start is not None:
            if (index - start) * FRAME / RATE >= least:
                found.append(Stretch(start * FRAME / RATE, (index - start) * FRAME / RATE))
            start = None
    return found


def recordings(folder: Path, number: str) -> List[Path]:
    """The recordings of the calls to NUMBER in FOLDER, in the order the calls came."""
    def came(path: Path):
        _, epoch, uniqueid = path.stem.split("-", 2)
        return int(epoch), tuple(int(part) for part in uniqueid.split("."))
    return sorted(folder.glob(f"{number}-*.wav"), key=came)
