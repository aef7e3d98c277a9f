"""How a command ends, shared by entry.py (the dialplan's notice-spool, without click) and
cli.py (every command line through click): guarded() runs the command's work and turns each
error into one line and its exit code; run_spool() is notice-spool's work.

Nothing here imports click, nor more than notice-spool needs: this module is on the
dialplan's path (hence annotations without collections.abc or typing).
"""

from __future__ import annotations

import os
import sys
import time

from .errors import EXIT_INTERNAL, EXIT_OK, InvalidRows, NoticeError

PROG = "notice-spool"


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
    """Run ACTION (no arguments) and return the exit code it returns; every error becomes one
    line on stderr and the exit code of its class (errors.py), never a traceback. The one place
    errors meet exit codes."""
    try:
        code = action()
        sys.stdout.flush()  # here, not at exit: a reader that has gone is seen below
        return code
    except InvalidRows as problem:
        for line in problem.problems:
            print(f"{prog}: {line}", file=sys.stderr)
        return _fail(str(problem), problem.exit_code, prog)
    except NoticeError as problem:
        return _fail(str(problem), problem.exit_code, prog)
    except BrokenPipeError:  # `notice list | head`: the reader has seen enough
        _silence_stdout()
        return EXIT_OK
    except Exception as problem:  # a bug: still one line for the dialplan's log, never a traceback
        return _fail(f"internal error ({type(problem).__name__}: {problem}); please report it", EXIT_INTERNAL, prog)


def _fail(message: str, code: int, prog: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null so Python's own flush at exit does not fail on the closed pipe."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
