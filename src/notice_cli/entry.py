"""The notice-spool command's entry point and its one mapping of errors to exit codes.

The dialplan runs ``notice-spool NUMBER RECORDING WHEN`` through System() on every notice,
with no options. That exact form is served here without importing click, whose import alone
takes longer than the rest of the job on a small PBX (see ``make bench``); every other
command line (options, --help, --version, a wrong count) goes to the click command in cli.py,
which ends in the same run_spool().
"""

from __future__ import annotations

import os
import sys
import time

from .errors import EXIT_INTERNAL, EXIT_OK, InvalidRows, NoticeError

PROG = "notice-spool"


def notice_spool() -> None:
    args = sys.argv[1:]
    if len(args) == 3 and not any(arg.startswith("-") for arg in args):
        sys.exit(run_spool(*args))
    from .cli import notice_spool_command

    notice_spool_command(prog_name=PROG)


def run_spool(number: str, recording: str, when: str, options: dict[str, str | None] | None = None,
              config: str | None = None, dry_run: bool = False, prog: str = PROG) -> int:
    """Schedule one notice and print one line; return the exit code."""

    def spool() -> int:
        from .schedule import schedule
        from .settings import load

        settings = load(options or {}, config)
        print(schedule(number, recording, when, settings, time.time(), dry_run).report())
        return EXIT_OK

    return guarded(prog, spool)


def guarded(prog: str, action) -> int:
    """Run ACTION and return its exit code; every error becomes one line on stderr and the exit
    code of its class (errors.py), never a traceback. The one place errors meet exit codes."""
    try:
        code = action()
        sys.stdout.flush()  # here, not at exit: a reader that has gone is seen below
        return code
    except InvalidRows as problem:
        for line in problem.problems:
            print(f"{prog}: {line}", file=sys.stderr)
        return fail(str(problem), problem.exit_code, prog)
    except NoticeError as problem:
        return fail(str(problem), problem.exit_code, prog)
    except BrokenPipeError:  # `notice list | head`: the reader has seen enough
        _silence_stdout()
        return EXIT_OK
    except Exception as problem:  # a bug: still one line for the dialplan's log, never a traceback
        return fail(f"internal error ({type(problem).__name__}: {problem}); please report it", EXIT_INTERNAL, prog)


def fail(message: str, code: int, prog: str = PROG) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null so Python's own flush at exit does not fail on the closed pipe."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
