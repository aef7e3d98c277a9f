"""The notice dialplan (dialplan/*.conf) on a real Asterisk: the three ways an operator sends a
notice, driven key by key, then the notices firing and the client hearing them.

The operator and the client are Local channels. Each "handset" context below is a person: it
answers, presses keys (SendDTMF) and speaks (plays a generated tone) at the moments the notice
dialplan on the other end of its Local channel prompts for them. The waits come from the real
lengths of the prompts, read from the sandbox's sound files, with margin both ways: a key sent
during a prompt or within its timeout is taken either way.

The dialplan runs notice-spool inside the chroot (Debian's python3 with this project's source),
through the same System() calls a PBX makes; notice-spool's default channel,
Local/<number>@from-internal, rings the sipp phone "client".
"""

import time
import wave
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from harness import AsteriskSandbox, write_tone
from notice_dialplan import (FROM_INTERNAL, GLOBALS, IN_CALL_CODE, PROMPTS, SETTINGS, configure,
                             resolve_in, said_digits, sound_seconds)

AFTER_CALL = SETTINGS["NOTICE_CODE_AFTER_CALL"]
ANY_TIME = SETTINGS["NOTICE_CODE_ANY_TIME"]

# Operators, the clients they reach, and what each chooses.
WAY1_CLIENT = "79991234567"  # calls operator 101, who presses the in-call code and records a message
WAY2_CLIENT = "79990000002"  # called by operator 102, who then dials the after-call code and picks prepared 2
WAY3_CLIENT = "79990000003"  # keyed by operator 103 after the any-time code; prepared 1 after unknown 7
UNSAVED_CLIENT = "79990000004"  # keyed by operator 104 after the any-time code, whose spool write fails
ABANDONED_CLIENT = "79990000005"  # keyed by operator 105, who records a message, then hangs up
SPOKEN_SECONDS = 2.0  # what operator 101 says into the recording
PREPARED_SECONDS = {1: 1.0, 2: 3.0}

SHIPPED = GLOBALS + """\
; One more attempt than the default, so the refusal paths fit.
NOTICE_ATTEMPTS = 5

#include "extensions_notice.conf"
""" + FROM_INTERNAL

# A format string: {run}, {way1_client} and {handsets}.
TEST_CALLS = """
; --- the PBX side of the test calls -------------------------------------------------------

; Way 1: the client calls operator 101, whose answered calls get the operator's hook: the
; in-call code on their channel only, and way 2's memory.
[test-inbound]
exten => 101,1,Set(CALLERID(num)={way1_client})
 same => n,Dial(Local/way1@test-handset/n,30,U(notice-operator-answered^101))
 same => n,Hangup()

; Way 2, first: operator 102 calls a client, with the hook that remembers the number.
[test-outbound]
exten => _X.,1,Set(CALLERID(num)=102)
 same => n,Set(DIALLED=${{FILTER(0123456789+,${{EXTEN}})}})
 same => n,Gosub(notice-operator-dials,s,1(102,${{DIALLED}}))
 same => n,Dial(Local/talk@test-client-handset/n,20)
 same => n,Hangup()

; The operators' phones dial the codes: their caller ID tells who they are.
[test-operator-102]
exten => _*X.,1,Set(CALLERID(num)=102)
 same => n,Goto(notice-codes,${{EXTEN}},1)

[test-operator-103]
exten => _*X.,1,Set(CALLERID(num)=103)
 same => n,Goto(notice-codes,${{EXTEN}},1)

; Operator 104's notice-spool cannot write the spool (exit 4): a channel variable shadows the
; global with a command whose spool is missing; --dry-run (the check of the time) does not
; touch the spool, so only saving fails.
[test-operator-105]
exten => _*X.,1,Set(CALLERID(num)=105)
 same => n,Goto(notice-codes,${{EXTEN}},1)

[test-operator-104]
exten => _*X.,1,Set(CALLERID(num)=104)
 same => n,Set(NOTICE_SPOOL={run}/bin/notice-spool-nowhere)
 same => n,Goto(notice-codes,${{EXTEN}},1)

; --- the people ---------------------------------------------------------------------------

[test-client-handset]
exten => wait,1,Answer()
 same => n,Wait(180)
exten => talk,1,Answer()
 same => n,Wait(3)
 same => n,Hangup()

[test-handset]
{handsets}
"""


def handset(name: str, steps) -> str:
    """A handset context's extension: answer, then each step (seconds to wait, then an action)."""
    lines = [f"exten => {name},1,Answer()"]
    for wait, action in steps:
        lines.append(f" same => n,Wait({wait:.2f})")
        if action:
            lines.append(f" same => n,{action}")
    lines.append(" same => n,Wait(5)")
    lines.append(" same => n,Hangup()")
    return "\n".join(lines)


def keys(digits: str) -> str:
    return f"SendDTMF({digits},120,120)"


def keypad(moment: datetime) -> str:
    return moment.strftime("%Y*%m*%d**%H***%M")


def prepare(sandbox: AsteriskSandbox, handsets: str) -> None:
    run = sandbox.run.path
    configure(sandbox, SHIPPED + TEST_CALLS.format(run=run, way1_client=WAY1_CLIENT, handsets=handsets),
              prepared=PREPARED_SECONDS)
    write_tone(run / "spoken.wav", SPOKEN_SECONDS, hertz=700)
    nowhere = run / "bin" / "notice-spool-nowhere"
    nowhere.write_text(f'#!/bin/sh\nexec {run}/bin/notice-spool --spool-dir /nonexistent "$@"\n')
    nowhere.chmod(0o755)


# --- the scripts of the three operators -------------------------------------------------------

def way1_operator(chroot, due: datetime, run: Path) -> str:
    """Operator 101, in a call with the client: the in-call code, records a message, keys the time, confirms."""
    when = keypad(due) + "#"
    return handset("way1", [
        (2.0, keys(IN_CALL_CODE)),
        # hears the client's number, then after the beep: 0 means "record one now"
        (sound_seconds(chroot, PROMPTS["NOTICE_PROMPT_TO_NUMBER"]) + said_digits(chroot, WAY1_CLIENT) + 1.5,
         keys("0#")),
        (sound_seconds(chroot, PROMPTS["NOTICE_PROMPT_RECORD"]) + 1.5, f"Playback({run}/spoken)"),
        (0.3, keys("#")),  # ends the recording
        (1.5, keys(when)),  # after the beep of the time prompt
        (15.0, keys("1")),  # after the read-back (SendDTMF returns once keyed): confirm
        (8.0, None),  # hears "saved", back in the call
    ])


def way2_operator(chroot, due: datetime) -> str:
    """Operator 102 after the call: the after-call code, hears the number, picks prepared 2, keys the time, confirms."""
    when = keypad(due) + "#"
    announce = sound_seconds(chroot, PROMPTS["NOTICE_PROMPT_TO_NUMBER"]) + said_digits(chroot, WAY2_CLIENT)
    return handset("way2", [
        (announce + 1.0, keys("2#")),  # within the 3 s after the beep
        (PREPARED_SECONDS[2] + 1.5, keys(when)),  # after hearing prepared 2, then the beep
        (15.0, keys("1")),
        (8.0, None),
    ])


def way3_operator(chroot, due: datetime, first_try: datetime) -> str:
    """Operator 103 at any time: the any-time code, keys the number, picks an unknown prepared recording (7)
    then 1, keys a past time, then Feb 30, then a good time that they re-enter (2), then the
    time they confirm."""
    number = WAY3_CLIENT + "#"
    refused = sound_seconds(chroot, PROMPTS["NOTICE_PROMPT_REFUSED"])
    past, impossible = "2020*01*01**10***00#", f"{due.year + 1}*02*30**10***00#"
    first, final = keypad(first_try) + "#", keypad(due) + "#"
    return handset("way3", [
        (sound_seconds(chroot, PROMPTS["NOTICE_PROMPT_NUMBER"]) + 1.0, keys(number)),
        (said_digits(chroot, WAY3_CLIENT) + 1.0, keys("7#")),
        (sound_seconds(chroot, PROMPTS["NOTICE_PROMPT_NO_SUCH_RECORDING"]) + said_digits(chroot, "7") + 1.0,
         keys("1#")),
        (PREPARED_SECONDS[1] + 1.5, keys(past)),
        (refused + 2.0, keys(impossible)),
        (refused + 2.0, keys(first)),
        (15.0, keys("2")),  # re-enter
        (1.5, keys(final)),
        (15.0, keys("1")),
        (8.0, None),
    ])


def unsaved_operator(chroot, due: datetime) -> str:
    """Operator 104 at any time: the any-time code, the number, prepared 1, the time, confirms; the spool fails."""
    number = UNSAVED_CLIENT + "#"
    return handset("way4", [
        (sound_seconds(chroot, PROMPTS["NOTICE_PROMPT_NUMBER"]) + 1.0, keys(number)),
        (said_digits(chroot, UNSAVED_CLIENT) + 1.0, keys("1#")),
        (PREPARED_SECONDS[1] + 1.5, keys(keypad(due) + "#")),
        (15.0, keys("1")),
        (12.0, None),  # hears that nothing was saved
    ])


def abandoning_operator(chroot, run: Path) -> str:
    """Operator 105 at any time: the number, records a message, then hangs up at the time
    prompt: the recording belongs to no notice, and the hangup handler removes it."""
    number = ABANDONED_CLIENT + "#"
    return handset("way5", [
        (sound_seconds(chroot, PROMPTS["NOTICE_PROMPT_NUMBER"]) + 1.0, keys(number)),
        (said_digits(chroot, ABANDONED_CLIENT) + 1.0, keys("0#")),
        (sound_seconds(chroot, PROMPTS["NOTICE_PROMPT_RECORD"]) + 1.5, f"Playback({run}/spoken)"),
        (0.3, keys("#")),
        (1.0, "Hangup()"),
    ])


# --- the test ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def due() -> datetime:
    """When the three notices are due: the flows take up to two minutes, so the next whole
    minute after that."""
    now = datetime.now(timezone.utc)
    return (now + timedelta(seconds=150)).replace(second=0, microsecond=0) + timedelta(minutes=1)


@pytest.fixture(scope="module")
def asterisk(chroot, due):
    """Asterisk with the notice dialplan, for this module (the conftest's checks of its log and
    its run folder apply to it as to the shared one)."""
    sandbox = AsteriskSandbox.create(chroot)
    handsets = "\n\n".join([
        handset("op102", [(15.0, None)]),
        way1_operator(chroot, due, sandbox.run.path),
        way2_operator(chroot, due),
        way3_operator(chroot, due, due + timedelta(minutes=1)),
        unsaved_operator(chroot, due),
        abandoning_operator(chroot, sandbox.run.path),
    ])
    try:
        prepare(sandbox, handsets)
        sandbox.start()
        yield sandbox
    finally:
        sandbox.remove()
        if sandbox.keep_files:
            print(f"\nAsterisk run folder kept: {chroot}{sandbox.run.path}")


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as recording:
        return recording.getnframes() / recording.getframerate()


def spooled_notices(sandbox) -> dict:
    """number -> (Data path, mtime) of the call files in outgoing/."""
    found = {}
    for path in sandbox.outgoing.glob("notice-*.call"):
        fields = dict(line.split(": ", 1) for line in path.read_text().splitlines())
        number = fields["Channel"].split("/")[1].split("@")[0]
        found[number] = (fields["Data"], path.stat().st_mtime)
    return found


def abandoned_lines(sandbox) -> str:
    """What the full log says operator 105's channel did."""
    return "\n".join(line for line in sandbox.full_log.read_text(errors="replace").splitlines()
                     if "Local/way5" in line)


def not_saved_lines(sandbox) -> str:
    """What the full log says operator 104's channel did after its System() call to save."""
    lines = sandbox.full_log.read_text(errors="replace").splitlines()
    saving = [n for n, line in enumerate(lines) if "Local/way4" in line and "notice-compose:" in line
              and "System(" in line]
    return "\n".join(line for line in lines[saving[0]:] if "Local/way4" in line) if saving else ""


def test_dialplan_loads_without_warnings(asterisk):
    sandbox = asterisk
    assert "Dialplan reloaded" in sandbox.rx("dialplan reload")
    contexts = sandbox.rx("dialplan show notice-compose")
    assert "notice-compose" in contexts and "System(${spool}" in contexts
    assert IN_CALL_CODE in sandbox.rx("features show")


def test_every_default_prompt_is_a_core_sound(chroot):
    for name, sounds in PROMPTS.items():
        for sound in sounds.split("&"):
            assert resolve_in(chroot, f"/usr/share/asterisk/sounds/en/{sound}.gsm").is_file(), (name, sound)


def test_three_ways_schedule_the_notices_and_the_clients_hear_them(asterisk, due):
    sandbox = asterisk
    client = sandbox.phone("client").answer(calls=3, timeout=400)
    # Way 2 needs a finished call of operator 102 first.
    sandbox.rx(f"channel originate Local/op102@test-handset/n extension {WAY2_CLIENT}@test-outbound")
    time.sleep(6)
    assert "notice/last/102" in sandbox.rx("database show notice")
    sandbox.rx("channel originate Local/wait@test-client-handset/n extension 101@test-inbound")
    sandbox.rx(f"channel originate Local/way2@test-handset/n extension {AFTER_CALL}@test-operator-102")
    sandbox.rx(f"channel originate Local/way3@test-handset/n extension {ANY_TIME}@test-operator-103")
    sandbox.rx(f"channel originate Local/way4@test-handset/n extension {ANY_TIME}@test-operator-104")
    sandbox.rx(f"channel originate Local/way5@test-handset/n extension {ANY_TIME}@test-operator-105")

    # All three operators are done well before the notices are due.
    deadline = due.timestamp() - 5
    while time.time() < deadline and len(spooled_notices(sandbox)) < 3:
        time.sleep(0.5)
    spooled = spooled_notices(sandbox)
    assert sorted(spooled) == sorted([WAY1_CLIENT, WAY2_CLIENT, WAY3_CLIENT])
    assert {number: mtime for number, (_, mtime) in spooled.items()} == dict.fromkeys(spooled, due.timestamp())
    recording, _ = spooled[WAY1_CLIENT]
    assert recording.startswith(f"{sandbox.recordings_dir}/rec_")
    assert spooled[WAY2_CLIENT][0] == f"{sandbox.recordings_dir}/prepared/2"
    assert spooled[WAY3_CLIENT][0] == f"{sandbox.recordings_dir}/prepared/1"
    recorded = wav_seconds(Path(recording + ".wav"))
    assert SPOKEN_SECONDS - 0.3 <= recorded <= SPOKEN_SECONDS + 2.5
    assert time.time() < due.timestamp(), "the notices were spooled too late to check their firing"
    # Operator 104 confirmed, notice-spool could not write the spool: told, and nothing spooled.
    while time.time() < deadline and PROMPTS["NOTICE_PROMPT_NOT_SAVED"] not in not_saved_lines(sandbox):
        time.sleep(0.5)
    told = not_saved_lines(sandbox)
    assert "notice-spool-nowhere 79990000004 1 '" in told
    assert PROMPTS["NOTICE_PROMPT_NOT_SAVED"] in told and "NOTICE_STATUS=SAVED" not in told
    assert UNSAVED_CLIENT not in spooled_notices(sandbox)
    # Operator 105 recorded, then hung up: that recording is gone, way 1's saved one stays.
    assert ABANDONED_CLIENT not in spooled_notices(sandbox)
    assert "discard-recording rec_" in abandoned_lines(sandbox)
    assert sorted(sandbox.recordings_dir.glob("rec_*")) == [Path(recording + ".wav")]

    # Then they fire, and each client hears its message, whole.
    assert client.wait(timeout=due.timestamp() - time.time() + 90) == 0
    invites = client.invites()
    assert sorted(invite.number for invite in invites) == sorted([WAY1_CLIENT, WAY2_CLIENT, WAY3_CLIENT])
    assert all(due.timestamp() <= invite.at < due.timestamp() + 2.5 for invite in invites)
    heard = sorted(stream.audio_seconds for stream in client.rtp.streams.values())
    expected = sorted([recorded, PREPARED_SECONDS[1], PREPARED_SECONDS[2]])
    assert heard == pytest.approx(expected, abs=0.1)
