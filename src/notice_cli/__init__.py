"""notice-cli: schedule voice notification calls through Asterisk's call-file spool."""

__version__ = "0.1.0"
