"""Settings: each one is a command-line option, an environment variable and a key of the
``[notice]`` section of the config file, taken in that order of precedence, then its default.

Every value is checked here, whatever its source, and a refusal names the source, so the
admin knows whether to fix the dialplan, the environment or /etc/asterisk/notice.conf.
"""

from __future__ import annotations

import os

from .callfile import MAX_LINE_BYTES, check_value, fits_a_line
from .charset import DIGITS, NAME, WORD, is_name, made_of
from .errors import InvalidInput, shown
from .notice import MAX_NUMBER, NUMBER_PLACEHOLDER
from .value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:  # for annotations only: importing collections costs notice-spool 2 ms
    from collections.abc import Callable, Mapping

DEFAULT_CONFIG = "/etc/asterisk/notice.conf"
CONFIG_ENV = "NOTICE_CONFIG"
CONFIG_SECTION = "notice"
SYSLOG_FACILITIES = ("none", "user", "daemon") + tuple(f"local{n}" for n in range(8))


DEFAULTS = {
    "spool_dir": "/var/spool/asterisk",
    "recordings_dir": "/var/spool/asterisk/notice",
    "prepared_dir": "/var/spool/asterisk/notice/prepared",
    "recording_retention": 30,  # days
    "channel": "Local/{number}@from-internal",
    "caller_id": None,
    "max_retries": 2,
    "retry_time": 20,
    "wait_time": 20,
    "tz": None,  # the system's zone
    "owner": None,  # 'asterisk' when run as root and that user exists
    "file_mode": 0o644,
    "syslog_facility": "user",
    "syslog_tag": "notice-spool",
    # The operators' codes, for `notice dialplan install`; None: as the shipped files have them.
    "in_call_code": None,
    "after_call_code": None,
    "any_time_code": None,
    # The delivery engine (notice run): how notices reach Asterisk, and at what pace.
    "delivery": "direct",
    "data_dir": "/var/lib/notice-cli",
    "max_calls": 0,  # no limit
    "call_rate": 0,  # no limit
    "lead": 60,  # seconds
    "late_limit": 3600,  # seconds
    # Reported delivery (outcome.py): what the callee must do for a notice to count as
    # delivered, which outcomes are called again, and whom to tell when one is not delivered.
    "confirm": "none",
    "amd": "off",
    "amd_leave_message": "yes",
    "retry_on": ("busy", "no_answer", "failed"),
    "on_failure": None,
}


class Settings(Value):
    """The checked settings; Settings() is all defaults, Settings(max_retries=0) changes one."""

    __slots__ = tuple(DEFAULTS)
    DEFAULTS = DEFAULTS

    @property
    def zone(self):
        """The when.Zone of times given without an offset: tz, else the system's."""
        from .when import system_zone  # not for the commands that never read a time

        return system_zone() if self.tz is None else self.tz


def _whole(low: int, high: int) -> Callable[[str], int]:
    def convert(text: str) -> int:
        if not made_of(text.strip(), DIGITS, 1, 9) or not low <= int(text) <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return int(text)

    return convert


def _folder(text: str) -> str:
    # A recordings folder goes into Playback's argument, where ',' and '&' have a meaning of
    # their own. A spool folder with a blank, a ';' (an Asterisk-style comment left in
    # notice.conf) or a line break is a slip to name with its source, not a folder to look for.
    if not text.startswith("/") or not made_of(text, NAME + "/"):
        raise ValueError("must be an absolute path of letters, digits, '_', '.', '-' and '/'")
    return text.rstrip("/") or "/"


def _channel(text: str) -> str:
    if NUMBER_PLACEHOLDER not in text:
        raise ValueError("must contain {number}, e.g. Local/{number}@from-internal")
    tech, slash, resource = text.partition("/")
    if not made_of(tech, WORD) or not slash or resource[:1] in ("", "\n"):
        raise ValueError("must be Tech/resource, e.g. Local/{number}@from-internal or PJSIP/{number}@trunk")
    check_value("channel", text)
    _fits_a_line("Channel", text.replace(NUMBER_PLACEHOLDER, "9" * MAX_NUMBER), f"with a number of {MAX_NUMBER} digits, ")
    return text


def _fits_a_line(key: str, value: str, given: str = "") -> None:
    """Refuse a setting whose call-file line Asterisk would skip: better named with its source
    now than refused for each notice later."""
    if not fits_a_line(key, value):
        raise ValueError(f"is too long: {given}its {key} line would be over {MAX_LINE_BYTES} bytes, "
                         "which Asterisk skips")


# pbx_spool splits a call file's caller ID into a name and a number of 80-byte buffers
# (pbx/pbx_spool.c, ast_callerid_split): either is cut at 79 bytes, inside a character if need be.
MAX_CALLER_ID_PART = 79


def _caller_id(text: str) -> str | None:
    if not text:
        return None
    check_value("caller ID", text)
    _fits_a_line("CallerID", text)
    if any(len(part.encode("utf-8")) > MAX_CALLER_ID_PART for part in _caller_id_parts(text)):
        raise ValueError(f"has a name or a number of more than {MAX_CALLER_ID_PART} bytes; Asterisk cuts them there")
    return text


def _caller_id_parts(text: str) -> tuple[str, ...]:
    """The name and the number Asterisk finds in a caller ID (main/callerid.c, ast_callerid_parse:
    quotes around the whole, the number in the last <...>, quotes around the name), before it
    unescapes the name and drops the number's blanks, dashes and dots, which only shorten them."""
    inner = _unquoted(text)
    name, bracket, number = inner.rpartition("<")
    if not bracket:
        return (inner,)  # a name alone or a number alone
    return _unquoted(name.strip(" ")), number.rpartition(">")[0] if ">" in number else number


def _unquoted(text: str) -> str:
    return text[1:-1] if len(text) > 1 and text[0] == text[-1] == '"' else text


def _code(keys: str) -> Callable[[str], str]:
    """A code an operator keys: 1 to 10 of KEYS (the dialplan and features.conf take it as it is)."""
    def convert(text: str) -> str:
        if not made_of(text, keys, 1, 10):
            raise ValueError(f"must be 1 to 10 of the keys {keys}, e.g. *61")
        return text

    return convert


def _tz(text: str):
    from .when import zone_named

    return zone_named(text) if text else None


def _owner(text: str) -> str | None:
    if text and not is_name(text, 32):
        raise ValueError("must be a user name such as asterisk")
    return text or None


def _file_mode(text: str) -> int:
    digits = text[2:] if text.lower().startswith("0o") else text
    if not made_of(digits, "01234567", 3, 4) or int(digits, 8) > 0o777:
        raise ValueError("must be an octal mode such as 0644 or 0640")
    mode = int(digits, 8)
    if mode & 0o600 != 0o600:
        raise ValueError("must let the owner read and write (Asterisk appends to the file)")
    return mode


DIRECT, QUEUE = "direct", "queue"
DELIVERIES = (DIRECT, QUEUE)


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def convert(text: str) -> str:
        if text.lower() not in choices:
            raise ValueError("must be one of " + ", ".join(choices))
        return text.lower()

    return convert


def _tag(text: str) -> str:
    if not made_of(text, NAME, 1, 32):
        raise ValueError("must be 1-32 letters, digits, '_', '.' or '-'")
    return text


def _retry_on(text: str) -> tuple[str, ...]:
    from .outcome import RETRYABLE  # only for the commands that read it

    words = tuple(word.strip().lower() for word in text.split(","))
    unknown = [word for word in words if word not in RETRYABLE]
    if unknown or not text.strip():
        raise ValueError("must be a comma-separated list of " + ", ".join(RETRYABLE))
    return tuple(word for word in RETRYABLE if word in words)  # one order, each once


def _command(text: str) -> str | None:
    # Run without a shell, with the notice's values as its arguments: a path alone, so that
    # nothing in it is parsed (a wrapper script takes arguments of its own).
    if not text:
        return None
    if not text.startswith("/") or not made_of(text, NAME + "/"):
        raise ValueError("must be the absolute path of a program (letters, digits, '_', '.', '-' and '/'), "
                         "run with the notice's id, number and last outcome as its arguments")
    return text


class Setting(Value):
    """One setting: its name (the config key), environment variable, converter (text to
    value, ValueError with a hint when refused), and its --help."""

    __slots__ = ("name", "env", "convert", "metavar", "help")

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS = (
    Setting("spool_dir", "NOTICE_SPOOL_DIR", _folder, "DIR",
            "Asterisk's spool folder: notices go to DIR/outgoing, staged in DIR/tmp. [/var/spool/asterisk]"),
    Setting("recordings_dir", "NOTICE_RECORDINGS_DIR", _folder, "DIR",
            "Folder of the recordings, as Asterisk sees it. [/var/spool/asterisk/notice]"),
    Setting("prepared_dir", "NOTICE_PREPARED_DIR", _folder, "DIR",
            "Folder of the prepared recordings 1.wav, 2.wav, ... picked by number. "
            "[/var/spool/asterisk/notice/prepared]"),
    Setting("recording_retention", "NOTICE_RECORDING_RETENTION", _whole(1, 36500), "DAYS",
            "Days notice gc keeps a dialplan recording after the last notice that played it "
            "finished (or, if none did, after it was recorded). [30]"),
    Setting("channel", "NOTICE_CHANNEL", _channel, "TEMPLATE",
            "Channel to call, {number} is the client's number. [Local/{number}@from-internal]"),
    Setting("caller_id", "NOTICE_CALLER_ID", _caller_id, "CID",
            "Caller ID the client sees, e.g. '\"Clinic\" <74951234567>'. [none]"),
    Setting("max_retries", "NOTICE_MAX_RETRIES", _whole(0, 1000), "N",
            "Calls after the first when the client does not answer. [2]"),
    Setting("retry_time", "NOTICE_RETRY_TIME", _whole(1, 604800), "SECONDS",
            "Seconds between attempts. [20]"),
    Setting("wait_time", "NOTICE_WAIT_TIME", _whole(1, 86400), "SECONDS",
            "Seconds to let the phone ring. [20]"),
    Setting("tz", "NOTICE_TZ", _tz, "ZONE",
            "Time zone of times given without an offset, e.g. Europe/Moscow. [the system's]"),
    Setting("owner", "NOTICE_OWNER", _owner, "USER",
            "User the call file is given to when run as root. [asterisk, if that user exists]"),
    Setting("file_mode", "NOTICE_FILE_MODE", _file_mode, "MODE",
            "Permissions of the call file. [0644]"),
    Setting("syslog_facility", "NOTICE_SYSLOG_FACILITY", _one_of(SYSLOG_FACILITIES), "FACILITY",
            "Syslog facility for the log of scheduled notices, or 'none'. [user]"),
    Setting("syslog_tag", "NOTICE_SYSLOG_TAG", _tag, "TAG",
            "Syslog tag. [notice-spool]"),
    Setting("in_call_code", "NOTICE_IN_CALL_CODE", _code("0123456789*#ABCD"), "CODE",
            "What the operator presses in a call to send a notice (way 1). [*7]"),
    Setting("after_call_code", "NOTICE_AFTER_CALL_CODE", _code("0123456789*#"), "CODE",
            "What the operator dials to send a notice to their last client (way 2). [*61]"),
    Setting("any_time_code", "NOTICE_ANY_TIME_CODE", _code("0123456789*#"), "CODE",
            "What the operator dials to send a notice to a number they key (way 3). [*62]"),
    Setting("delivery", "NOTICE_DELIVERY", _one_of(DELIVERIES), "MODE",
            "direct: each notice goes straight to Asterisk's spool; queue: into the queue in data_dir, "
            "which notice run hands to Asterisk paced by max_calls and call_rate. [direct]"),
    Setting("data_dir", "NOTICE_DATA_DIR", _folder, "DIR",
            "Folder of the queue (queue delivery) and of the notices' outcomes (reported delivery). "
            "[/var/lib/notice-cli]"),
    Setting("max_calls", "NOTICE_MAX_CALLS", _whole(0, 10000), "N",
            "The most notice calls in progress at once: the trunk's channels set aside for notices; "
            "0 for no limit. [0]"),
    Setting("call_rate", "NOTICE_CALL_RATE", _whole(0, 1000), "N",
            "The most notice calls started a second (providers limit calls per second); 0 for no limit. [0]"),
    Setting("lead", "NOTICE_LEAD", _whole(1, 86400), "SECONDS",
            "How long before its due second notice run hands a notice to Asterisk; it still rings on "
            "its second. [60]"),
    Setting("late_limit", "NOTICE_LATE_LIMIT", _whole(60, 604800), "SECONDS",
            "A notice not started within this long after its due time is not called but recorded as "
            "missed. [3600]"),
    Setting("confirm", "NOTICE_CONFIRM", _one_of(("none", "key")), "HOW",
            "key: after the message the client presses 1 to confirm it (2 hears it again), and only "
            "then is it confirmed; none: heard to the end is delivered. [none]"),
    Setting("amd", "NOTICE_AMD", _one_of(("off", "on")), "ON_OFF",
            "on: tell answering machines from people (Asterisk's AMD()). [off]"),
    Setting("amd_leave_message", "NOTICE_AMD_LEAVE_MESSAGE", _one_of(("yes", "no")), "YES_NO",
            "With amd on: yes leaves the message on a machine after its beep (outcome voicemail), "
            "no hangs up (outcome machine). [yes]"),
    Setting("retry_on", "NOTICE_RETRY_ON", _retry_on, "OUTCOMES",
            "Outcomes that count as not delivered and are called again after retry_time, up to "
            "max_retries times: busy, no_answer, failed, hung_up, heard, machine. "
            "[busy,no_answer,failed]"),
    Setting("on_failure", "NOTICE_ON_FAILURE", _command, "PROGRAM",
            "Program run (no shell) with the notice's id, number and last outcome when a notice ends "
            "not delivered; its exit code and output are logged. [none]"),
)


def resolve(options: Mapping[str, str | None], environ: Mapping[str, str],
            config: Mapping[str, str], config_path: str) -> Settings:
    """Settings from the given OPTIONS (None: not given), ENVIRON and CONFIG file values."""
    chosen: dict = {}
    for setting in SETTINGS:
        raw, source = _pick(setting, options, environ, config, config_path)
        if raw is None:
            continue
        try:
            chosen[setting.name] = setting.convert(raw)
        except (ValueError, InvalidInput) as problem:
            raise InvalidInput(f"{setting.name} {shown(raw)} from {source} {_reason(problem)}") from None
    return Settings(**chosen)


def _pick(setting: Setting, options, environ, config, config_path) -> tuple[str | None, str]:
    if options.get(setting.name) is not None:
        return options[setting.name], f"option {setting.option}"
    if environ.get(setting.env):
        return environ[setting.env], f"environment variable {setting.env}"
    if setting.name in config:
        return config[setting.name], f"config file {config_path}"
    return None, "default"


def _reason(problem: Exception) -> str:
    text = str(problem)
    return text if isinstance(problem, ValueError) else "is refused: " + text


def config_path(option: str | None, environ: Mapping[str, str]) -> tuple[str, bool]:
    """The config file to read and whether it was named explicitly (then it must exist)."""
    if option:
        return option, True
    if environ.get(CONFIG_ENV):
        return environ[CONFIG_ENV], True
    return DEFAULT_CONFIG, False


def read_config(path: str, explicit: bool) -> dict[str, str]:
    """The [notice] section of the INI file at PATH; {} when the default file is absent."""
    try:
        with open(path, encoding="utf-8-sig") as stream:  # a byte order mark is no part of the text
            text = stream.read()
    except FileNotFoundError:
        if explicit:
            raise InvalidInput(f"config file {path} does not exist; create it or point --config/{CONFIG_ENV} elsewhere") from None
        return {}
    except (OSError, UnicodeDecodeError) as problem:
        raise InvalidInput(f"config file {path} cannot be read: {getattr(problem, 'strerror', None) or problem}") from None
    return parse_config(text, path)


def parse_config(text: str, path: str) -> dict[str, str]:
    import configparser  # only when there is a file: it costs start-up time

    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=(";", "#"))
    try:
        parser.read_string(text, source=path)
    except configparser.Error as problem:
        first = str(problem).splitlines()[0]
        raise InvalidInput(f"config file {path} is not valid INI ({first}); put the settings under [{CONFIG_SECTION}]") from None
    if not parser.has_section(CONFIG_SECTION):
        return {}
    values = dict(parser.items(CONFIG_SECTION))
    known = {setting.name for setting in SETTINGS}
    for key in values:
        if key not in known:
            raise InvalidInput(f"config file {path} has unknown setting {shown(key)} in [{CONFIG_SECTION}]; "
                               f"known settings: {', '.join(sorted(known))}")
    return values


def load(options: Mapping[str, str | None], config_option: str | None = None,
         environ: Mapping[str, str] | None = None) -> Settings:
    """Settings as a command sees them: options, then the environment, then the config file."""
    environ = os.environ if environ is None else environ
    path, explicit = config_path(config_option, environ)
    return resolve(options, environ, read_config(path, explicit), path)
