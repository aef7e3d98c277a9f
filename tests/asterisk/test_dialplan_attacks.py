"""The notice dialplan attacked, on a real Asterisk (22, and 16 when its sandbox is there).

Issue 10: a caller ID of "1):System(touch /tmp/x" made the old [notice-during-call] run
System(), because Asterisk substitutes ${...} before ExecIf splits its branches. Here every
place a caller or the network puts a value into the dialplan gets a table of hostile values:

- way 1, the connected line: a client whose caller ID is the value calls an operator, who
  presses the in-call code in a real bridge;
- way 1, the bridge peer's caller ID: the same with the operator's connected line cleared, so
  the dialplan falls back to IMPORT(${BRIDGEPEER},CALLERID(num));
- way 2, AstDB notice/last/<operator> holding the value, then the after-call code;
- way 2, FreePBX's CALLTRACE/<extension> holding the value (the dialplan must not read it);
- way 3, keys the operator presses: at the number, the recording and the time prompts.

Each value is read from a file with FILE(), so it reaches the channel byte for byte, line
breaks included. Then: no marker file appears (each value tries to create one through
System(), SHELL(), an expression or the shell), nothing is spooled, every application Asterisk
ran in a notice context is the one the shipped file has at that priority, every System() is
a notice command with plain arguments, and each operator heard the refusal.
"""

import re
import time
from pathlib import Path

import pytest

from harness import AsteriskSandbox
from notice_dialplan import (DIALPLAN, FROM_INTERNAL, GLOBALS, IN_CALL_CODE, PROMPTS, SETTINGS,
                             configure, executed, said_digits, sound_seconds)

# {marker} is the file the value tries to create.
# {marker} is the file the value tries to create. Each is a working payload where the old
# dialplan put it: the dialplan's own ')' closes what the value leaves open.
HOSTILE = [
    "1):System(touch {marker}",  # ends ExecIf's true branch: issue 10's caller ID
    "1):System(touch {marker})",
    "1)?System(touch {marker}):NoOp(",
    "1,System(touch {marker}",
    '1" = "1" | "1',  # closes a string inside $[...]
    '"|System(touch {marker})|"',
    "$[1+1]",
    "${SHELL(touch {marker})}",
    "$[${SHELL(touch {marker})}]",
    "1^G(notice-compose^s^1)",  # Dial()'s option separator
    "1\nSystem(touch {marker}",  # a line break
    "1%29%3ASystem%28touch%20{marker}",  # escaped, as a SIP URI carries it
    "1'; touch {marker}; '",  # the shell System() runs
    "$(touch {marker})",
    "`touch {marker}`",
    "+7999123456&Local/1@x",
    "79991234567 ; touch {marker}",
    "79991234567):0:5",  # closes FILTER() early: would pass as 79991234567
    "\u0667\u0669\u0669\u0669",  # digits, but not ASCII ones
    "1+2",  # a '+' that is not in front
    "9" * 200,  # longer than any number
    "1)" * 100,
]

# Keys at way 3's prompts: (name, the number keyed, the recording keyed, the time keyed).
# Each ends at the first refusal; only DTMF can be keyed (0-9 * # A-D).
VALID_NUMBER = "79990000009"
KEYED = [
    ("number-letters", "1A2#", None, None),
    ("number-stars", "**1#", None, None),
    ("number-d", "D#", None, None),
    ("number-long", "9" * 40 + "#", None, None),
    ("choice-letter", VALID_NUMBER + "#", "A#", None),
    ("choice-star", VALID_NUMBER + "#", "1*#", None),
    ("time-letter", VALID_NUMBER + "#", "1#", "2030A12*01**10***30#"),
    ("time-star", VALID_NUMBER + "#", "1#", "*#"),
]

ENTRIES = ("connected-line", "bridge-peer", "astdb", "calltrace")
EXPECTED_PROMPT = {  # what the operator hears when the value is refused
    "connected-line": PROMPTS["NOTICE_PROMPT_REFUSED_NUMBER"],
    "bridge-peer": PROMPTS["NOTICE_PROMPT_REFUSED_NUMBER"],
    "astdb": PROMPTS["NOTICE_PROMPT_REFUSED_NUMBER"],
    "calltrace": PROMPTS["NOTICE_PROMPT_NO_NUMBER"],  # never read: there is no number
    "number": PROMPTS["NOTICE_PROMPT_REFUSED"],
    "choice": PROMPTS["NOTICE_PROMPT_NO_SUCH_RECORDING"],
    "time": PROMPTS["NOTICE_PROMPT_REFUSED"],
}

ATTACK_DIALPLAN = GLOBALS + """
#include "extensions_notice.conf"
""" + FROM_INTERNAL + """
; --- the attacks: case N's value is the file {run}/hostile/N --------------------------------

; Way 1: a client whose caller ID is the value calls operator 7N, who answers (the operator's
; hook) and presses the in-call code (handset hN). For the bridge peer, the operator's
; connected line is cleared before the call, so the dialplan asks the bridged channel.
[attack-client]
exten => _cl.,1,Set(CALLERID(num)=${FILE({run}/hostile/${EXTEN:2})})
 same => n,Dial(Local/h${EXTEN:2}@attack-operator/n,30,U(notice-operator-answered^7${EXTEN:2}))
 same => n,Hangup()
exten => _bp.,1,Set(CALLERID(num)=${FILE({run}/hostile/${EXTEN:2})})
 same => n,Dial(Local/h${EXTEN:2}@attack-operator/n,30,b(attack-no-connected-line^s^1)U(notice-operator-answered^7${EXTEN:2}))
 same => n,Hangup()

[attack-no-connected-line]
exten => s,1,Set(CONNECTEDLINE(num,i)=)
 same => n,Return()

[attack-operator]
exten => _h.,1,Answer()
 same => n,Wait(2)
 same => n,SendDTMF({in_call_code},120,120)
 same => n,Wait(12)
 same => n,Hangup()

; Way 2: operator 8N dials the after-call code with the value remembered for them in AstDB,
; or left by FreePBX in CALLTRACE.
[attack-after-call]
exten => _db.,1,Set(DB(notice/last/8${EXTEN:2})=${FILE({run}/hostile/${EXTEN:2})})
 same => n,Set(CALLERID(num)=8${EXTEN:2})
 same => n,Goto(notice-codes,${NOTICE_CODE_AFTER_CALL},1)
exten => _ct.,1,Set(DB(CALLTRACE/8${EXTEN:2})=${FILE({run}/hostile/${EXTEN:2})})
 same => n,Set(CALLERID(num)=8${EXTEN:2})
 same => n,Goto(notice-codes,${NOTICE_CODE_AFTER_CALL},1)

; Way 3: operator 9N dials the any-time code and keys (handset hN in [attack-keys]).
[attack-any-time]
exten => _ky.,1,Set(CALLERID(num)=9${EXTEN:2})
 same => n,Goto(notice-codes,${NOTICE_CODE_ANY_TIME},1)

; Handsets that only listen: hN an operator, wN a client. (N, X and Z are pattern letters.)
[attack-listener]
exten => _h.,1,Answer()
 same => n,Wait(20)
 same => n,Hangup()
exten => _w.,1,Answer()
 same => n,Wait(20)
 same => n,Hangup()

[attack-keys]
{keyed_handsets}
"""


def keyed_handset(case: int, chroot, number, choice, when) -> str:
    """Handset hN at way 3's prompts: keys the number, then the recording, then the time."""
    steps = [(sound_seconds(chroot, PROMPTS["NOTICE_PROMPT_NUMBER"]) + 1.0, number)]
    if choice:
        steps.append((said_digits(chroot, VALID_NUMBER) + 1.0, choice))
    if when:
        steps.append((1.0 + 1.5, when))  # prepared 1 (1 s), then the beep
    lines = [f"exten => h{case},1,Answer()"]
    for wait, keys in steps:
        lines += [f" same => n,Wait({wait:.2f})", f" same => n,SendDTMF({keys},120,120)"]
    lines += [" same => n,Wait(8)", " same => n,Hangup()"]
    return "\n".join(lines)


class Case:
    def __init__(self, number: int, entry: str, value: str = None, keys=None):
        self.number, self.entry, self.value, self.keys = number, entry, value, keys

    @property
    def channel(self) -> str:
        """The start of the name of the channel the notice dialplan runs on for this case."""
        return f"Local/h{self.number}@"

    @property
    def prompt(self) -> str:
        return EXPECTED_PROMPT[self.keys[0].split("-")[0] if self.keys else self.entry]

    def __repr__(self):
        return f"{self.entry} #{self.number}: {self.keys[0] if self.keys else self.value!r}"


def all_cases(run: Path) -> list:
    cases = []
    for entry in ENTRIES:
        for value in HOSTILE:
            case = Case(len(cases) + 1, entry)
            case.value = value.replace("{marker}", f"{run}/pwned/{case.number}")
            cases.append(case)
    for keys in KEYED:
        cases.append(Case(len(cases) + 1, "keyed", keys=keys))
    return cases


def originate(case: Case) -> str:
    """The CLI command that starts CASE: a Local channel whose second half is the handset."""
    if case.entry in ("connected-line", "bridge-peer"):  # the client calls; hN is the operator
        prefix = "cl" if case.entry == "connected-line" else "bp"
        return f"channel originate Local/w{case.number}@attack-listener/n extension {prefix}{case.number}@attack-client"
    if case.entry == "keyed":
        return f"channel originate Local/h{case.number}@attack-keys/n extension ky{case.number}@attack-any-time"
    prefix = "db" if case.entry == "astdb" else "ct"
    return f"channel originate Local/h{case.number}@attack-listener/n extension {prefix}{case.number}@attack-after-call"


def shipped_applications() -> dict:
    """(context, extension, priority) -> application, as extensions_notice.conf has them."""
    codes = {"${NOTICE_CODE_AFTER_CALL}": SETTINGS["NOTICE_CODE_AFTER_CALL"],
             "${NOTICE_CODE_ANY_TIME}": SETTINGS["NOTICE_CODE_ANY_TIME"]}
    apps, context, exten, priority = {}, None, None, 0
    for line in (DIALPLAN / "extensions_notice.conf").read_text().splitlines():
        code = line.split(";")[0]
        header = re.match(r"^\[([^\]]+)\]", code)
        first = re.match(r"^exten => ([^,]+),1,(\w+)\(", code)
        more = re.match(r"^\s*same => n(?:\(\w+\))?,(\w+)\(", code)
        if header:
            context = header.group(1)
        elif first:
            exten, priority = codes.get(first.group(1), first.group(1)), 1
            apps[(context, exten, priority)] = first.group(2)
        elif more:
            priority += 1
            apps[(context, exten, priority)] = more.group(1)
    return apps


# A System() of the notice dialplan: a notice command and plain arguments, the time quoted.
SYSTEM = re.compile(r"^/\S+/bin/notice-spool (--dry-run )?\+?[0-9]+ [A-Za-z0-9_.-]+ '[0-9*]+'$"
                    r"|^/\S+/bin/notice discard-recording rec_[0-9.]+-[0-9]+$")


@pytest.fixture(scope="module")
def asterisk(chroot):
    """Asterisk with the notice dialplan and the attack contexts, for this module."""
    sandbox = AsteriskSandbox.create(chroot)
    run = sandbox.run.path
    cases = all_cases(run)
    keyed = "\n\n".join(keyed_handset(case.number, chroot, *case.keys[1:]) for case in cases if case.keys)
    try:
        dialplan = ATTACK_DIALPLAN.replace("{in_call_code}", IN_CALL_CODE).replace("{keyed_handsets}", keyed)
        configure(sandbox, dialplan, prepared={1: 1.0})
        (run / "hostile").mkdir()
        (run / "pwned").mkdir()
        for case in cases:
            if case.value is not None:
                (run / "hostile" / str(case.number)).write_bytes(case.value.encode())
        sandbox.start()
        sandbox.cases = cases
        yield sandbox
    finally:
        sandbox.remove()
        if sandbox.keep_files:
            print(f"\nAsterisk run folder kept: {chroot}{sandbox.run.path}")


def wait_until_quiet(sandbox: AsteriskSandbox, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    time.sleep(3)
    while time.monotonic() < deadline:
        if re.search(r"^0 active channels", sandbox.rx("core show channels count"), re.M):
            return
        time.sleep(1)
    raise TimeoutError(f"channels still up after {timeout} s: {sandbox.rx('core show channels concise')}")


def test_no_hostile_value_becomes_dialplan(asterisk):
    sandbox, run = asterisk, asterisk.run.path
    for case in sandbox.cases:
        sandbox.rx(originate(case))
    wait_until_quiet(sandbox, timeout=120)
    lines = executed(sandbox)

    # Nothing ran that the values asked for, and nothing was scheduled.
    assert sorted(p.name for p in (run / "pwned").iterdir()) == []
    assert sorted(p.name for p in sandbox.outgoing.iterdir()) == []
    assert sorted(p.name for p in (sandbox.spool_dir / "tmp").iterdir()) == []

    # Every application run in a notice context is the one the shipped file has there.
    shipped = shipped_applications()
    in_notice = [line for line in lines if line["context"].startswith("notice-")]
    assert in_notice
    unexpected = [line.group(0) for line in in_notice
                  if shipped.get((line["context"], line["exten"], int(line["priority"]))) != line["app"]]
    assert unexpected == []
    systems = [line["args"] for line in lines if line["app"] in ("System", "TrySystem")]
    assert [args for args in systems if not SYSTEM.match(args)] == []

    # Each operator heard the refusal, and each path was taken as meant.
    not_told = [case for case in sandbox.cases
                if not any(line["app"] == "Playback" and line["args"] == case.prompt
                           and line["channel"].startswith(case.channel) for line in lines)]
    assert not_told == []
    by_peer = {line["channel"].split("@")[0] for line in lines
               if line["context"] == "notice-during-call" and "LOCAL(peer)=" in line["args"]}
    assert by_peer == {case.channel.rstrip("@") for case in sandbox.cases if case.entry == "bridge-peer"}
