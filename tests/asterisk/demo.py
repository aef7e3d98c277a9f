"""notice-cli demo: a voice notice scheduled with notice-spool and delivered by a real Asterisk.

    python tests/asterisk/demo.py [--suite sid|bullseye] [--in SECONDS] [--local]

It builds (or reuses) the Asterisk sandbox, starts Asterisk, makes a short message, schedules
it with the installed notice-spool a few seconds ahead, shows the call file, counts down while
it is due, then shows what the client's phone received and what Asterisk wrote back, and stops
Asterisk. Where no sandbox can run (not root, no network to Debian's mirror, or --local), it
spools into ./demo-spool instead and shows what Asterisk would do with the file.
"""

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (AsteriskSandbox, build_chroot, find_notice_spool, iso,  # noqa: E402
                     run_notice_spool, write_tone)

NUMBER = "79991234567"
MESSAGE = "demo-message"
MESSAGE_SECONDS = 2.0  # a beep stands in for the operator's recording: its length is known
CHANNEL = "PJSIP/{number}@client"  # the sandbox's SIP phone, a sipp on 127.0.0.1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("sid", "bullseye"), default="sid")
    parser.add_argument("--in", dest="lead", type=int, default=5, metavar="SECONDS",
                        help="how far ahead to schedule the notice (default 5)")
    parser.add_argument("--local", action="store_true",
                        help="skip the sandbox: spool into ./demo-spool")
    args = parser.parse_args()

    try:
        find_notice_spool()
    except FileNotFoundError as missing:
        print(f"demo: {missing}", file=sys.stderr)
        return 1

    chroot, why_not = (None, "--local was given") if args.local else sandbox(args.suite)
    if chroot is None:
        print(f"No Asterisk sandbox here: {why_not}.\n"
              "Spooling into a local folder instead; no call will be made.\n")
        return local_demo(Path("demo-spool").resolve(), args.lead)
    return asterisk_demo(chroot, args.lead)


def sandbox(suite: str):
    """The chroot, or None and the reason it cannot be had on this machine."""
    if os.geteuid() != 0:
        return None, "building and entering the chroot needs root"
    step(f"Asterisk sandbox ({suite}): building it or reusing the cached one")
    try:
        return build_chroot(suite), None
    except subprocess.CalledProcessError:
        return None, "tests/asterisk/sandbox.sh failed (is deb.debian.org reachable?)"


def asterisk_demo(chroot: Path, lead: int) -> int:
    with AsteriskSandbox.create(chroot) as asterisk:
        version = asterisk.rx("core show version").split(" built ")[0]
        step(f"{version} is running in {chroot}, booted in {asterisk.boot_seconds:.2f} s")
        say(f"private run folder: {asterisk.run.path}")

        write_tone(asterisk.recordings_dir / f"{MESSAGE}.wav", MESSAGE_SECONDS)
        step(f"The message: {MESSAGE}.wav, a {MESSAGE_SECONDS:.1f} s beep, "
             f"in {asterisk.recordings_dir}")

        phone = asterisk.phone("client").answer(calls=1)
        step(f"The client's phone (sipp) listens on 127.0.0.1:{phone.port}")

        notice = spool(asterisk.spool_dir, asterisk.recordings_dir, lead)
        countdown(notice.at, until=lambda: phone.invites())

        if phone.wait(30) != 0:
            print("demo: the phone did not get the call as expected; "
                  f"see {asterisk.messages_log}", file=sys.stderr)
            return 1
        invite = phone.invites()[0]
        step(f"The phone rang {invite.at - notice.at:+.2f} s after the due second and answered")
        for stream in phone.rtp.streams.values():
            say(f"it heard {stream.audio_seconds:.2f} s of audio "
                f"({stream.packets} RTP packets of 20 ms), the message is {MESSAGE_SECONDS:.2f} s")

        archived = asterisk.wait_archived(notice.call_file.name, timeout=10)
        step(f"Asterisk archived the call file in {asterisk.outgoing_done}:")
        show(archived)
        problems = asterisk.log_problems()
        say(f"Asterisk's log: {len(problems)} warnings or errors" + "".join(
            f"\n    {line}" for line in problems))
    step("Asterisk stopped.")
    return 0


def local_demo(spool_dir: Path, lead: int) -> int:
    recordings = spool_dir / "recordings"
    for folder in (spool_dir / "outgoing", spool_dir / "tmp", recordings):
        folder.mkdir(parents=True, exist_ok=True)
    write_tone(recordings / f"{MESSAGE}.wav", MESSAGE_SECONDS)
    step(f"The message: {recordings / MESSAGE}.wav, a {MESSAGE_SECONDS:.1f} s beep")
    notice = spool(spool_dir, recordings, lead)
    step(f"At {iso(notice.at)} an Asterisk reading {spool_dir}/outgoing would call "
         f"{NUMBER} on {CHANNEL.format(number=NUMBER)} and play the message.")
    return 0


def spool(spool_dir: Path, recordings_dir: Path, lead: int):
    options = ["--spool-dir", str(spool_dir), "--recordings-dir", str(recordings_dir),
               "--channel", CHANNEL]
    step("Scheduling it:")
    say("$ " + shlex.join(["notice-spool", *options, NUMBER, MESSAGE, f"+{lead}s"]))
    notice = run_notice_spool(*options, NUMBER, MESSAGE, f"+{lead}s")
    say(f"notice {notice.notice_id} scheduled for {iso(notice.at)}")
    mtime = notice.call_file.stat().st_mtime
    step(f"The call file {notice.call_file} (its mtime, {iso(mtime)}, is the due time):")
    show(notice.call_file.read_text())
    return notice


def countdown(due: float, until, give_up_after: float = 30) -> None:
    """Count down to the due second, then wait until the call arrives."""
    on_terminal = sys.stdout.isatty()
    shown = None
    while not until():
        left = due - time.time()
        if left < -give_up_after:
            break
        text = f"calling in {left:4.1f} s" if left > 0 else f"due {-left:4.1f} s ago, calling"
        if on_terminal:
            print(f"\r    {text} ", end="", flush=True)
        elif shown != round(left):  # a log gets one line a second, not a line per redraw
            shown = round(left)
            say(text)
        time.sleep(0.1)
    print("\r    the call is going out" + " " * 20 if on_terminal else "    the call is going out")


def step(text: str) -> None:
    print(f"\n* {text}")


def say(text: str) -> None:
    print(f"    {text}")


def show(text: str) -> None:
    for line in text.rstrip().splitlines():
        print(f"    | {line}")


if __name__ == "__main__":
    sys.exit(main())
