"""The Asterisk call file: its fields, a model, its rendering and its reading (no I/O).

Asterisk's pbx_spool reads a call file line by line as ``Key: value``. Its lexer cuts a line
at ``;`` (unless escaped) and at ``#`` at the start or after a blank, strips blanks and control
characters at both ends, and skips a line of 1024 bytes or more. A value that carried any of
these, or a line break, would be read as something else than what we wrote, or would add a
line (a command) of its own. So every value is checked here, in one place, before rendering.

FIELDS is the one description of the file's layout: render() writes a CallFile by it, read()
reads any call file by it as pbx_spool does, and record.py builds from it the regular
expression a listing matches each file against. A field added there is written, read and
matched alike.
"""

from __future__ import annotations

from .errors import InvalidInput, shown
from .value import Value

# fgets() in pbx_spool reads into a 1024-byte buffer: a longer line is split or skipped.
MAX_LINE_BYTES = 1023
FORBIDDEN = {";": "a ';' (Asterisk reads the rest as a comment)", "#": "a '#' (Asterisk may read it as a comment)"}

# The lines pbx_spool appends while it works on a file (pbx/pbx_spool.c, safe_append): an
# empty line, then "<kind>: <pid> <attempt> (<time>)"; see record.py for what each one means.
RETRY_KINDS = START, END, ABORT, DELAYED = ("StartRetry", "EndRetry", "AbortRetry", "DelayedRetry")


def retry_value(number: str, gap: str, time: str) -> str:
    """The pattern of a retry line's value, "<pid> <attempt> (<time>)", as safe_append writes it
    (fprintf "%s: %ld %d (%ld)\\n"): NUMBER the pattern of each number, GAP of what separates
    them, TIME of the time (a group, when it is to be read)."""
    return rf"{number}{gap}{number}{gap}\({time}\)"


class Field:
    """A kind of line in a call file: KEY (and OTHER_KEYS, spellings pbx_spool takes as well, in
    any case), the ATTRIBUTE of CallFile it carries (or, for a line only pbx_spool APPENDS, the
    name read() gives it), and whether it is OPTIONAL (written only when set). PATTERN: the
    regular expression of its value as render() writes it; None for any value check_value()
    lets through. The kinds below say how a value is written and how pbx_spool reads it back."""

    __slots__ = ("key", "attribute", "optional", "appended", "keys")
    pattern = None

    def __init__(self, key: str, attribute: str, optional: bool = False, appended: bool = False,
                 other_keys: tuple[str, ...] = ()):
        self.key, self.attribute, self.optional, self.appended = key, attribute, optional, appended
        self.keys = (key, *other_keys)

    def texts(self, value) -> list[str]:
        """The value of each line that writes VALUE: one, or none for an optional one unset
        (None; an empty value is written, and so refused by check_value)."""
        return [] if self.optional and value is None else [value]

    def value(self, lines: list[tuple[str, str]]):
        """What pbx_spool takes from this field's LINES ((key, value) in the file's order): the
        last line's, as each one overwrites the one before."""
        return self.take(lines[-1][1] if lines else None)

    def take(self, text: str | None):
        """What pbx_spool takes from one line's value TEXT (None: no such line)."""
        return text


class Text(Field):
    """A text, taken as it stands."""

    __slots__ = ()


class Number(Field):
    """A whole number; pbx_spool takes its DEFAULT when the line is missing, is not a number
    or is below LEAST."""

    __slots__ = ("default", "least")
    pattern = "[0-9]{1,9}"

    def __init__(self, key: str, attribute: str, default: int, least: int | None = None):
        super().__init__(key, attribute)
        self.default, self.least = default, least

    def texts(self, value: int) -> list[str]:
        return [str(value)]

    def take(self, text: str | bytes | None) -> int:
        try:
            number = int(text)
        except (TypeError, ValueError):
            return self.default
        return self.default if self.least is not None and number < self.least else number


class Flag(Field):
    """Yes or no; pbx_spool takes yes for any of Asterisk's words for true (ast_true)."""

    __slots__ = ()
    WORDS = YES, NO = ("yes", "no")
    pattern = "(?:" + "|".join(WORDS) + ")"

    def texts(self, value: bool) -> list[str]:
        return [self.YES if value else self.NO]

    def take(self, text: str | None) -> bool:
        return text is not None and text.lower() in ("yes", "true", "y", "t", "1", "on")


class Variables(Field):
    """Channel variables, a line NAME=VALUE each; pbx_spool skips a line without '='."""

    __slots__ = ()

    def texts(self, value: tuple[tuple[str, str], ...]) -> list[str]:
        return [f"{name}={variable}" for name, variable in value]

    def value(self, lines: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        pairs = (text.partition("=") for _, text in lines)
        return tuple((name, variable) for name, equals, variable in pairs if equals)


class Retries(Field):
    """pbx_spool's retry lines, each of one of KINDS: (kind, value) pairs in the file's order."""

    __slots__ = ("kinds",)

    def __init__(self, kinds: tuple[str, ...], attribute: str):
        super().__init__(kinds[0], attribute, appended=True, other_keys=kinds[1:])
        self.kinds = {kind.lower(): kind for kind in kinds}

    def value(self, lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(self.kinds[key.lower()], text) for key, text in lines]


FIELDS = (
    Text("Channel", "channel"),
    Text("CallerID", "caller_id", optional=True),
    Number("MaxRetries", "max_retries", default=0),
    Number("RetryTime", "retry_time", default=300, least=1),
    Number("WaitTime", "wait_time", default=45, least=1),
    # What runs once the call is answered: an application (Playback of the message), or, in
    # reported delivery, the dialplan's delivery context; pbx_spool takes the application when
    # a file has both, so a file of ours has one or the other.
    Text("Application", "application", optional=True),
    Text("Data", "data", optional=True),
    Text("Context", "context", optional=True),
    Text("Extension", "extension", optional=True),
    Text("Priority", "priority", optional=True),
    Flag("Archive", "archive"),
    Variables("Setvar", "variables", other_keys=("Set",)),
    Retries(RETRY_KINDS, "retries"),
    Text("Status", "status", optional=True, appended=True),  # once the file is in outgoing_done/
)


def field(attribute: str, fields: tuple[Field, ...] = FIELDS) -> Field:
    """The field of FIELDS that carries ATTRIBUTE."""
    return next(each for each in fields if each.attribute == attribute)


def _by_key(fields: tuple[Field, ...]) -> dict[str, Field]:
    return {key.lower(): each for each in fields for key in each.keys}


_FIELDS_BY_KEY = _by_key(FIELDS)


class CallFile(Value):
    """One call: whom to call (channel), what to run when they answer (application + data, or
    the dialplan at context, extension, priority), how hard to try (retries), and what to
    remember about it (variables: (name, value) pairs)."""

    __slots__ = ("channel", "application", "data", "caller_id", "max_retries", "retry_time", "wait_time",
                 "archive", "variables", "context", "extension", "priority")
    DEFAULTS = {"application": None, "data": None, "caller_id": None, "max_retries": 2, "retry_time": 20,
                "wait_time": 20, "archive": True, "variables": (), "context": None, "extension": None,
                "priority": None}


def check_value(what: str, value: str) -> str:
    """VALUE unchanged if Asterisk will read it back exactly; else InvalidInput naming WHAT."""
    if value.isascii() and value.isprintable() and value and value == value.strip() and \
            FORBIDDEN.keys().isdisjoint(value):
        return value  # the common case at C speed (ASCII printable: no control character, no surrogate)
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


def render(call: CallFile, fields: tuple[Field, ...] = FIELDS) -> str:
    """The text of the call file. Raises InvalidInput if any value could be misread."""
    lines = []
    for key, value in lines_of(call, fields):
        check_value(key, value)
        if not fits_a_line(key, value):
            raise InvalidInput(f"{key} is {len(value)} characters long; Asterisk skips call-file lines of 1024 bytes or more")
        lines.append(f"{key}: {value}\n")
    return "".join(lines)


def lines_of(call: CallFile, fields: tuple[Field, ...] = FIELDS) -> list[tuple[str, str]]:
    """(key, value) of each line render() writes for CALL, in order."""
    return [(each.key, text) for each in fields if not each.appended
            for text in each.texts(getattr(call, each.attribute))]


def fits_a_line(key: str, value: str) -> bool:
    """Whether the line KEY: VALUE is short enough for pbx_spool, which reads a line into a
    1024-byte buffer and skips a longer one."""
    return len(f"{key}: {value}\n".encode("utf-8", "surrogateescape")) <= MAX_LINE_BYTES


def read_fields(text: str) -> list[tuple[str, str]]:
    """(key, value) pairs as pbx_spool's lexer sees them, keys as written in the file."""
    commented = "#" in text or ";" in text  # most files have no comment at all
    pairs = []
    for line in text.split("\n"):  # fgets() splits at LF only
        line = (_strip_comments(line) if commented else line).rstrip(_BLANKS)
        key, colon, value = line.partition(":")
        if line and colon:
            pairs.append((key, value.lstrip(_BLANKS)))
    return pairs


_BLANKS = "".join(chr(code) for code in range(33))


def _strip_comments(line: str) -> str:
    at = line.find("#")
    while at > 0 and line[at - 1] not in " \t":
        at = line.find("#", at + 1)
    if at >= 0:
        line = line[:at]
    at = line.find(";")
    while at > 0 and line[at - 1] == "\\":
        line = line[: at - 1] + line[at:]
        at = line.find(";", at)
    return line if at < 0 else line[:at]


def read(text: str, fields: tuple[Field, ...] = FIELDS) -> dict[str, object]:
    """What pbx_spool reads from the call file TEXT, ours or not: the value of each of FIELDS by
    its attribute (None, or pbx_spool's default, for a field without a line), through the
    lexer's view (read_fields), keys in any case; lines of other keys are left out."""
    by_key = _FIELDS_BY_KEY if fields is FIELDS else _by_key(fields)
    lines = {each.attribute: [] for each in fields}
    for key, value in read_fields(text):
        found = by_key.get(key.lower())
        if found is not None:
            lines[found.attribute].append((key, value))
    return {each.attribute: each.value(lines[each.attribute]) for each in fields}


def parse(text: str) -> CallFile:
    """The CallFile a text describes, as pbx_spool reads it (the inverse of render). Lines
    Asterisk appends (StartRetry, Status, ...) are left out."""
    values = read(text)
    return CallFile(**{each.attribute: values[each.attribute] for each in FIELDS if not each.appended})
