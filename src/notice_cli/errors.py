"""The few ways a command can fail, each with its exit code (the dialplan branches on those of
notice-spool; scripts on those of notice list, cancel, import...).

The messages are written for the telephony admin reading them in a shell or in the
Asterisk log: they say what is wrong and what to change.
"""

EXIT_OK = 0
EXIT_USAGE = 2  # click's own code for a malformed command line
EXIT_INVALID = 3  # the number, recording, time or a setting is not acceptable
EXIT_SPOOL = 4  # the notice could not be written to the spool (or the dialplan to Asterisk's folder)
EXIT_NOT_FOUND = 5  # notice show/cancel: a notice named is not in the spool
EXIT_CALLING = 6  # notice cancel: a notice is being called (or is due this moment) and was left
EXIT_ENGINE_RUNNING = 7  # notice run: another engine runs on the data_dir
EXIT_UNHEALTHY = 8  # notice status: notices are due and no engine runs (or Asterisk takes no call files)
EXIT_INTERNAL = 1  # a bug: reported in one line all the same


class NoticeError(Exception):
    """Base class: str(error) is the one line shown to the user."""

    exit_code = EXIT_INTERNAL


class InvalidInput(NoticeError):
    """Refused input: the caller (operator, admin) can correct it and try again."""

    exit_code = EXIT_INVALID


class SpoolError(NoticeError):
    """The spool could not take the notice; nothing was left in outgoing/."""

    exit_code = EXIT_SPOOL


class ConfigFolderError(NoticeError):
    """Asterisk's configuration folder could not be read or written; the message says which
    files were written before the failure, if any."""

    exit_code = EXIT_SPOOL


class InvalidRows(InvalidInput):
    """An import file with bad rows: PROBLEMS has one line per row ("line 7: ..."), and the
    message says that nothing was imported."""

    def __init__(self, message: str, problems: list[str]):
        super().__init__(message)
        self.problems = problems


class NotFound(NoticeError):
    """A notice named by its id is not in the spool (not pending, or not ours)."""

    exit_code = EXIT_NOT_FOUND


class NotCancelled(NoticeError):
    """A notice was left in the spool because Asterisk is calling it, or may be starting to."""

    exit_code = EXIT_CALLING


def shown(value: str, limit: int = 60) -> str:
    """Quote a value for an error line: control characters and undecodable bytes
    are escaped (so the message stays one line) and long values are cut."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"
