"""The process `notice report` (or notice gc, for a run whose runner was stopped) starts to
run on_failure for a notice not delivered, apart from the call (report.start_runner):
python -m notice_cli.failure_runner DATA_DIR ID FACILITY TAG. It runs what the notice's due
file asks for and keeps the exit code and output (report.run_due_once)."""

import sys

from .report import run_due_once


def main(arguments: list[str]) -> int:
    data_dir, notice_id, facility, tag = arguments
    run_due_once(data_dir, notice_id, facility, tag)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
