"""python3 -m notice_cli: the same as the notice-spool script."""

from .entry import notice_spool

notice_spool()
