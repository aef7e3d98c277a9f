"""The process `notice report` starts to run on_failure for a notice not delivered, apart from
the call (report.start_on_failure): python -m notice_cli.failure_runner PROGRAM DATA_DIR ID
NUMBER OUTCOME FACILITY TAG. It keeps the exit code and output (report.run_on_failure)."""

import sys

from .report import run_on_failure


def main(arguments: list[str]) -> int:
    program, data_dir, notice_id, number, outcome, facility, tag = arguments
    run_on_failure(program, data_dir, notice_id, number, outcome, facility, tag)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
