"""A provider's trunk in the sandbox's dialplan, for the engine's tests: TRUNK_CHANNELS calls at
once, and one more gets Congestion, as a provider (or FreePBX's "Maximum Channels") gives it.
The notices' channel is Local/<number>@trunk; a call the trunk takes rings the sipp phone
"client". The trunk writes a mark for every call it takes, every call it refuses and the end
of every call it took; TrunkMarks reads them back.

Standard library only, like harness.py.
"""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List

TRUNK_CHANNELS = 10

# GROUP() and GROUP_COUNT() count the trunk's calls.
TRUNK_MODULES = """
; the trunk's channel count
load = func_groupcount.so
"""

# The group is set before it is counted, so the count includes the call itself and every call
# being set up at the same moment: it never counts fewer calls than there are.
TRUNK_DIALPLAN = """\
[general]
static = yes
writeprotect = yes

[globals]
MARKS = {run}/marks
TRUNK_CHANNELS = """ + str(TRUNK_CHANNELS) + """

; A call out through the trunk: taken while the trunk has a channel free, and then the client's
; phone rings; refused with Congestion when all its channels are in use.
[trunk]
exten => _[+0-9].,1,Set(GROUP()=trunk)
 same => n,Set(TRUNK_IN_USE=${{GROUP_COUNT(trunk)}})
 same => n,GotoIf($[${{TRUNK_IN_USE}} > ${{TRUNK_CHANNELS}}]?refused)
 same => n,Set(TRUNK_TAKEN=yes)
 same => n,System(echo "$(date +%s.%N) start ${{NOTICE_ID}} ${{TRUNK_IN_USE}}" >> ${{MARKS}})
 same => n,Dial(PJSIP/${{EXTEN}}@client,20)
 same => n,Hangup()
 same => n(refused),System(echo "$(date +%s.%N) refused ${{NOTICE_ID}} ${{TRUNK_IN_USE}}" >> ${{MARKS}})
 same => n,Congestion(2)

; The end of a call the trunk took: its channel is free again.
exten => h,1,GotoIf($["${{TRUNK_TAKEN}}" != "yes"]?done)
 same => n,System(echo "$(date +%s.%N) end ${{NOTICE_ID}} ${{TRUNK_IN_USE}}" >> ${{MARKS}})
 same => n(done),NoOp()
"""


@dataclass(frozen=True)
class Mark:
    """One line of the trunk: when, what (start, refused, end), the notice, the calls in use."""
    at: float
    kind: str
    notice_id: str
    in_use: int


@dataclass(frozen=True)
class TrunkMarks:
    marks: List[Mark]

    @classmethod
    def read(cls, path: Path) -> "TrunkMarks":
        try:
            lines = path.read_text().splitlines()
        except FileNotFoundError:
            lines = []
        marks = []
        for line in lines:
            at, kind, notice_id, in_use = line.split()
            marks.append(Mark(float(at), kind, notice_id, int(in_use)))
        return cls(sorted(marks, key=lambda mark: mark.at))

    def of(self, ids: Iterable[str]) -> "TrunkMarks":
        """The marks of the notices IDS alone."""
        ids = set(ids)
        return TrunkMarks([mark for mark in self.marks if mark.notice_id in ids])

    def _kind(self, kind: str) -> List[Mark]:
        return [mark for mark in self.marks if mark.kind == kind]

    started = property(lambda self: self._kind("start"))
    refused = property(lambda self: self._kind("refused"))
    ended = property(lambda self: self._kind("end"))

    def most_at_once(self) -> int:
        """The most calls the trunk carried at once: each from its start mark to its end mark
        (an end at the same instant as a start counted first)."""
        steps = sorted([(mark.at, 1) for mark in self.started] + [(mark.at, -1) for mark in self.ended])
        most = current = 0
        for _, step in steps:
            current += step
            most = max(most, current)
        return most

    def starts_per_second(self) -> List[int]:
        """How many calls the trunk took in each second from the first call to the last.
        Asterisk starts a second's call files together, at a moment of its own past the whole
        second (0.03-0.97 s; within a fraction of a second of it through a run): the seconds
        counted here begin half a second before the first call, so that no second's calls are
        split across two."""
        if not self.started:
            return []
        origin = self.started[0].at - 0.5
        seconds = Counter(int(mark.at - origin) for mark in self.started)
        return [seconds.get(second, 0) for second in range(max(seconds) + 1)]


def process_cpu_seconds(pid: int) -> float:
    """The CPU time (user + system, all threads) process PID has used, from /proc/PID/stat."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the name: state is field 3 of stat(5); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
