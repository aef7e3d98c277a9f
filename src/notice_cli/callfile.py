"""The Asterisk call file: a model, its rendering and its parsing (no I/O).

Asterisk's pbx_spool reads a call file line by line as ``Key: value``. Its lexer cuts a line
at ``;`` (unless escaped) and at ``#`` at the start or after a blank, strips blanks and control
characters at both ends, and skips a line of 1024 bytes or more. A value that carried any of
these, or a line break, would be read as something else than what we wrote, or would add a
line (a command) of its own. So every value is checked here, in one place, before rendering.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator

from .errors import InvalidInput, shown

# fgets() in pbx_spool reads into a 1024-byte buffer: a longer line is split or skipped.
MAX_LINE_BYTES = 1023
FORBIDDEN = {";": "a ';' (Asterisk reads the rest as a comment)", "#": "a '#' (Asterisk may read it as a comment)"}


# Value types are named tuples rather than dataclasses: the dialplan starts this command on
# every notice, and dataclasses (with the inspect module they import) double its import time.
class CallFile(namedtuple("CallFile", "channel application data caller_id max_retries retry_time wait_time archive variables",
                          defaults=(None, 2, 20, 20, True, ()))):
    """One call: whom to call (channel), what to run when they answer (application + data),
    how hard to try (retries), and what to remember about it (variables: (name, value) pairs)."""

    __slots__ = ()

    def fields(self) -> Iterator[tuple[str, str]]:
        yield "Channel", self.channel
        if self.caller_id:
            yield "CallerID", self.caller_id
        yield "MaxRetries", str(self.max_retries)
        yield "RetryTime", str(self.retry_time)
        yield "WaitTime", str(self.wait_time)
        yield "Application", self.application
        yield "Data", self.data
        yield "Archive", "yes" if self.archive else "no"
        for name, value in self.variables:
            yield "Setvar", f"{name}={value}"

    def variable(self, name: str) -> str | None:
        return dict(self.variables).get(name)


def check_value(what: str, value: str) -> str:
    """VALUE unchanged if Asterisk will read it back exactly; else InvalidInput naming WHAT."""
    for char in value:
        if char in FORBIDDEN:
            raise InvalidInput(f"{what} {shown(value)} contains {FORBIDDEN[char]}; remove it")
        if char < " " or "\x7f" <= char <= "\x9f" or char in "\u2028\u2029":
            raise InvalidInput(f"{what} {shown(value)} contains a control character (line break, NUL, ...); remove it")
        if "\ud800" <= char <= "\udfff":  # bytes that were not UTF-8, as Python passes them on
            raise InvalidInput(f"{what} {shown(value)} is not valid UTF-8 text; fix its encoding")
    if value != value.strip():
        raise InvalidInput(f"{what} {shown(value)} starts or ends with a blank, which Asterisk drops; remove it")
    if not value:
        raise InvalidInput(f"{what} is empty")
    return value


def render(call: CallFile) -> str:
    """The text of the call file. Raises InvalidInput if any value could be misread."""
    lines = []
    for key, value in call.fields():
        check_value(key, value)
        if not fits_a_line(key, value):
            raise InvalidInput(f"{key} is {len(value)} characters long; Asterisk skips call-file lines of 1024 bytes or more")
        lines.append(f"{key}: {value}\n")
    return "".join(lines)


def fits_a_line(key: str, value: str) -> bool:
    """Whether the line KEY: VALUE is short enough for pbx_spool, which reads a line into a
    1024-byte buffer and skips a longer one."""
    return len(f"{key}: {value}\n".encode("utf-8", "surrogateescape")) <= MAX_LINE_BYTES


def read_fields(text: str) -> Iterator[tuple[str, str]]:
    """(key, value) pairs as pbx_spool's lexer sees them, keys as written in the file."""
    for raw in text.split("\n"):  # fgets() splits at LF only
        line = _strip_comments(raw).rstrip(_BLANKS)
        key, colon, value = line.partition(":")
        if line and colon:
            yield key, value.lstrip(_BLANKS)


_BLANKS = "".join(chr(code) for code in range(33))


def _strip_comments(line: str) -> str:
    for at, char in enumerate(line):
        if char == "#" and (at == 0 or line[at - 1] in " \t"):
            line = line[:at]
            break
    at = line.find(";")
    while at > 0 and line[at - 1] == "\\":
        line = line[: at - 1] + line[at:]
        at = line.find(";", at)
    return line if at < 0 else line[:at]


def parse(text: str) -> CallFile:
    """The CallFile a text describes (the inverse of render for the keys we write).
    Lines Asterisk appends (StartRetry, Status, ...) are ignored here."""
    single = {}
    variables = []
    for key, value in read_fields(text):
        key = key.lower()
        if key in ("setvar", "set"):
            name, _, var_value = value.partition("=")
            variables.append((name, var_value))
        else:
            single[key] = value
    return CallFile(
        channel=single.get("channel", ""),
        application=single.get("application", ""),
        data=single.get("data", ""),
        caller_id=single.get("callerid"),
        max_retries=number_or(single.get("maxretries"), 0),
        retry_time=number_or(single.get("retrytime"), 300),
        wait_time=number_or(single.get("waittime"), 45),
        archive=single.get("archive", "no").lower() in ("yes", "true", "y", "t", "1", "on"),
        variables=tuple(variables),
    )


def number_or(value: str | None, default: int) -> int:
    """Asterisk's defaults when a number is missing or not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
