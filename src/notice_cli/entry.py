"""The notice-spool command's entry point and its one mapping of errors to exit codes.

The dialplan runs ``notice-spool NUMBER RECORDING WHEN`` through System() on every notice,
with no options. That exact form is served here without importing click, whose import alone
takes longer than the rest of the job on a small PBX (see ``make bench``); every other
command line (options, --help, --version, a wrong count) goes to the click command in cli.py,
which ends in the same run_spool().
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping

from .errors import EXIT_INTERNAL, EXIT_OK, NoticeError

PROG = "notice-spool"


def notice_spool() -> None:
    args = sys.argv[1:]
    if len(args) == 3 and not any(arg.startswith("-") for arg in args):
        sys.exit(run_spool(*args))
    from .cli import notice_spool_command

    notice_spool_command(prog_name=PROG)


def run_spool(number: str, recording: str, when: str, options: Mapping[str, str | None] | None = None,
              config: str | None = None, dry_run: bool = False) -> int:
    """Schedule one notice and print one line; return the exit code."""
    from .schedule import schedule
    from .settings import load

    try:
        settings = load(options or {}, config)
        scheduled = schedule(number, recording, when, settings, time.time(), dry_run)
    except NoticeError as problem:
        return fail(str(problem), problem.exit_code)
    except Exception as problem:  # a bug: still one line for the dialplan's log, never a traceback
        return fail(f"internal error ({type(problem).__name__}: {problem}); please report it", EXIT_INTERNAL)
    print(scheduled.report())
    return EXIT_OK


def fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code
