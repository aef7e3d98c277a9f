"""notice-spool, the script the dialplan runs (src/notice-spool calls it).

The dialplan runs ``notice-spool NUMBER RECORDING WHEN`` through System() on every notice,
with no options. That exact form is served here without importing click, whose import alone
takes longer than the rest of the job on a small PBX (see ``make bench``); every other
command line (options, --help, --version, a wrong count) goes to the click command in cli.py,
which ends in the same run_spool() (command.py).
"""

import sys

from .command import PROG, run_spool


def notice_spool() -> None:
    args = sys.argv[1:]
    if len(args) == 3 and not any(arg.startswith("-") for arg in args):
        sys.exit(run_spool(*args))
    from .cli import notice_spool_command

    notice_spool_command(prog_name=PROG)
