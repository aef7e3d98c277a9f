"""Settings: option > environment > config file > default, every value checked, the source
named in every refusal."""

import pytest

from notice_cli.errors import InvalidInput
from notice_cli.settings import DEFAULT_CONFIG, SETTINGS, Settings, config_path, load, parse_config, resolve

CONF = "/etc/asterisk/notice.conf"


def test_defaults_are_the_articles_values():
    settings = resolve({}, {}, {}, CONF)
    assert settings == Settings()
    assert (settings.spool_dir, settings.recordings_dir, settings.channel) == (
        "/var/spool/asterisk", "/var/spool/asterisk/notice", "Local/{number}@from-internal")
    assert (settings.max_retries, settings.retry_time, settings.wait_time) == (2, 20, 20)
    assert settings.caller_id is None and settings.owner is None and settings.file_mode == 0o644
    assert settings.recording_retention == 30
    # The operators' codes: as the shipped dialplan files have them, unless given.
    assert (settings.in_call_code, settings.after_call_code, settings.any_time_code) == (None, None, None)
    # The delivery engine: off (direct), and no limits until the admin sets them.
    assert (settings.delivery, settings.data_dir) == ("direct", "/var/lib/notice-cli")
    assert (settings.max_calls, settings.call_rate, settings.lead, settings.late_limit) == (0, 0, 60, 3600)
    # Reported delivery: off (Playback as ever) until one of these asks for it.
    assert (settings.confirm, settings.amd, settings.amd_leave_message, settings.on_failure) == (
        "none", "off", "yes", None)
    assert settings.retry_on == ("busy", "no_answer", "failed")


@pytest.mark.parametrize("given, taken", [
    ("busy,no_answer,failed", ("busy", "no_answer", "failed")),
    ("HEARD, busy,heard", ("busy", "heard")),
    ("hung_up", ("hung_up",)),
])
def test_retry_on_is_a_list_of_outcomes_in_one_order_each_once(given, taken):
    assert resolve({}, {"NOTICE_RETRY_ON": given}, {}, CONF).retry_on == taken


@pytest.mark.parametrize("name, bad, hint", [
    ("retry_on", "confirmed", "comma-separated list of busy, no_answer, failed, hung_up, heard, machine"),
    ("retry_on", "voicemail", "comma-separated list"),
    ("retry_on", "busy,,heard", "comma-separated list"),
    ("retry_on", " ", "comma-separated list"),
    ("confirm", "yes", "must be one of none, key"),
    ("amd", "1", "must be one of off, on"),
    ("amd_leave_message", "maybe", "must be one of yes, no"),
    ("on_failure", "tell-operator", "absolute path of a program"),
    ("on_failure", "/usr/bin/mail -s x", "absolute path of a program"),
    ("on_failure", "/bin/sh;reboot", "absolute path of a program"),
])
def test_reported_delivery_settings_are_checked(name, bad, hint):
    with pytest.raises(InvalidInput, match=f"{name} .* from environment variable NOTICE_{name.upper()} .*{hint}"):
        resolve({}, {f"NOTICE_{name.upper()}": bad}, {}, CONF)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_option_beats_environment_beats_file(setting):
    values = {"spool_dir": ("/a", "/b", "/c"), "recordings_dir": ("/a", "/b", "/c"),
              "prepared_dir": ("/a", "/b", "/c"), "recording_retention": ("1", "7", "36500"),
              "channel": ("A/{number}", "B/{number}", "C/{number}"), "caller_id": ("A", "B", "C"),
              "max_retries": ("1", "2", "3"), "retry_time": ("1", "2", "3"), "wait_time": ("1", "2", "3"),
              "tz": ("UTC", "Europe/Moscow", "Asia/Tokyo"), "owner": ("a", "b", "c"),
              "file_mode": ("0600", "0640", "0644"), "syslog_facility": ("local0", "local1", "daemon"),
              "syslog_tag": ("a", "b", "c"), "in_call_code": ("*7", "*9", "#5"),
              "after_call_code": ("*61", "*71", "9"), "any_time_code": ("*62", "*72", "#"),
              "delivery": ("queue", "direct", "QUEUE"), "data_dir": ("/a", "/b", "/c"),
              "max_calls": ("0", "10", "30"), "call_rate": ("0", "5", "1000"), "lead": ("1", "60", "86400"),
              "late_limit": ("60", "3600", "604800"), "confirm": ("key", "none", "KEY"),
              "amd": ("on", "off", "On"), "amd_leave_message": ("no", "yes", "NO"),
              "retry_on": ("heard,busy", "busy, hung_up", "machine"),
              "on_failure": ("/a", "/usr/local/bin/tell-operator", "/c")}[setting.name]
    option, env, file = values
    pick = lambda **kw: getattr(resolve(kw.get("options", {}), kw.get("env", {}), kw.get("file", {}), CONF),
                                setting.name)
    all_three = pick(options={setting.name: option}, env={setting.env: env}, file={setting.name: file})
    assert all_three == setting.convert(option)
    assert pick(env={setting.env: env}, file={setting.name: file}) == setting.convert(env)
    assert pick(file={setting.name: file}) == setting.convert(file)
    assert pick() == getattr(Settings(), setting.name)


def test_environment_names_are_the_documented_interface():
    names = {s.env for s in SETTINGS}
    assert names >= {
        "NOTICE_SPOOL_DIR", "NOTICE_RECORDINGS_DIR", "NOTICE_CHANNEL", "NOTICE_CALLER_ID",
        "NOTICE_MAX_RETRIES", "NOTICE_RETRY_TIME", "NOTICE_WAIT_TIME", "NOTICE_TZ", "NOTICE_OWNER"}
    assert all(s.env == "NOTICE_" + s.name.upper() for s in SETTINGS)


def test_empty_environment_variable_counts_as_unset():
    assert resolve({}, {"NOTICE_MAX_RETRIES": ""}, {"max_retries": "5"}, CONF).max_retries == 5


def test_empty_caller_id_option_clears_the_configured_one():
    assert resolve({"caller_id": ""}, {}, {"caller_id": "Desk"}, CONF).caller_id is None


@pytest.mark.parametrize("name, raw, source_kind, message", [
    ("max_retries", "two", "env", "max_retries 'two' from environment variable NOTICE_MAX_RETRIES must be a whole number from 0 to 1000"),
    ("max_retries", "-1", "option", "from option --max-retries must be a whole number"),
    ("retry_time", "0", "file", f"retry_time '0' from config file {CONF} must be a whole number from 1 to 604800"),
    ("wait_time", "٣", "env", "must be a whole number"),  # an Arabic-Indic digit
    ("recording_retention", "36501", "file", f"recording_retention '36501' from config file {CONF} must be a whole "
                                              "number from 1 to 36500"),
    ("recording_retention", "0", "env", "from environment variable NOTICE_RECORDING_RETENTION must be a whole number "
                                        "from 1 to 36500"),
    ("recording_retention", "30d", "env", "from environment variable NOTICE_RECORDING_RETENTION must be a whole"),
    ("recording_retention", "-1", "option", "from option --recording-retention must be a whole number"),
    ("after_call_code", "_*6X", "file", "after_call_code '_*6X' from config file"),  # a pattern, not a code
    ("any_time_code", "*6,1", "env", "from environment variable NOTICE_ANY_TIME_CODE must be 1 to 10 of the keys"),
    ("in_call_code", "*7)", "option", "from option --in-call-code must be 1 to 10 of the keys 0123456789*#ABCD"),
    ("in_call_code", "*" * 11, "option", "must be 1 to 10 of the keys"),
    ("channel", "Local/123@from-internal", "file", "must contain {number}"),
    ("channel", "{number}", "option", "must be Tech/resource"),
    ("channel", "Local/{number}@x;y", "env", "contains a ';'"),
    ("channel", "Local/{number}@x\nApplication: System", "option", "control character"),
    ("channel", "Local/{number}@" + "x" * 975, "env", "with a number of 32 digits, its Channel line would be over 1023"),
    ("caller_id", '"Desk"' + " " * 1010 + "<100>", "option", "its CallerID line would be over 1023 bytes"),
    ("caller_id", "Desk #1", "file", "contains a '#'"),
    ("caller_id", "Desk\r\nChannel: x", "env", "control character"),
    ("caller_id", '"' + "N" * 80 + '" <1>', "file", "more than 79 bytes"),
    ("caller_id", '"Clinic" <' + "7" * 80 + ">", "option", "more than 79 bytes"),
    ("caller_id", "\u0416" * 40, "env", "more than 79 bytes"),  # 80 bytes of UTF-8
    ("caller_id", '"' + "N" * 80 + ' <1>"', "option", "more than 79 bytes"),  # quotes around the whole
    ("recordings_dir", "notice", "option", "must be an absolute path"),
    ("recordings_dir", "/var/rec,x", "option", "must be an absolute path of letters"),
    ("recordings_dir", "/var/rec&/etc/x", "env", "must be an absolute path of letters"),
    ("spool_dir", "/var/spool/asterisk ; Asterisk's spool", "file", "must be an absolute path of letters"),
    ("spool_dir", "/var/spool/asterisk\n", "env", "must be an absolute path of letters"),
    ("spool_dir", "spool", "option", "must be an absolute path"),
    ("tz", "Mars/Olympus", "env", "is unknown"),
    ("owner", "bad user", "file", "must be a user name"),
    ("file_mode", "0400", "option", "must let the owner read and write"),
    ("file_mode", "999", "option", "octal mode"),
    ("file_mode", "01644", "option", "octal mode"),
    ("syslog_facility", "kern", "file", "must be one of"),
    ("syslog_tag", "a b", "env", "1-32 letters"),
    ("delivery", "later", "option", "must be one of direct, queue"),
    ("data_dir", "var/lib/notice-cli", "env", "must be an absolute path"),
    ("max_calls", "-1", "option", "whole number from 0 to 10000"),
    ("max_calls", "abc", "env", "whole number from 0 to 10000"),
    ("max_calls", "1000000000000", "file", "whole number from 0 to 10000"),
    ("call_rate", "2.5", "option", "whole number from 0 to 1000"),
    ("lead", "0", "env", "whole number from 1 to 86400"),
    ("late_limit", "59", "file", "whole number from 60 to 604800"),
])
def test_refusals_name_the_setting_and_its_source(name, raw, source_kind, message):
    setting = next(s for s in SETTINGS if s.name == name)
    sources = {"option": ({name: raw}, {}, {}), "env": ({}, {setting.env: raw}, {}), "file": ({}, {}, {name: raw})}
    with pytest.raises(InvalidInput) as refusal:
        resolve(*sources[source_kind], CONF)
    assert message in str(refusal.value)
    assert str(refusal.value).startswith(name)
    assert "\n" not in str(refusal.value)


@pytest.mark.parametrize("raw, mode", [("0644", 0o644), ("644", 0o644), ("0o640", 0o640), ("0600", 0o600)])
def test_file_mode_forms(raw, mode):
    assert resolve({"file_mode": raw}, {}, {}, CONF).file_mode == mode


def test_config_file_section_and_comments():
    text = "; Asterisk-style comment\n[notice]\nmax_retries = 4\n# another\ncaller_id = \"Clinic\" <100>\n[other]\nx=1\n"
    assert parse_config(text, CONF) == {"max_retries": "4", "caller_id": '"Clinic" <100>'}


def test_config_value_with_inline_semicolon_is_refused_not_truncated():
    values = parse_config("[notice]\ncaller_id = Desk ; the front desk\n", CONF)
    with pytest.raises(InvalidInput, match="contains a ';'"):
        resolve({}, {}, values, CONF)


def test_config_file_errors_are_one_line():
    with pytest.raises(InvalidInput, match="unknown setting 'max_retry'"):
        parse_config("[notice]\nmax_retry = 3\n", CONF)
    with pytest.raises(InvalidInput, match="is not valid INI"):
        parse_config("max_retries = 3\n", CONF)
    with pytest.raises(InvalidInput, match="is not valid INI"):
        parse_config("[notice]\nmax_retries = 3\nmax_retries = 4\n", CONF)
    assert parse_config("[asterisk]\nx = 1\n", CONF) == {}


def test_config_path_from_option_env_or_default():
    assert config_path("/x.conf", {"NOTICE_CONFIG": "/y.conf"}) == ("/x.conf", True)
    assert config_path(None, {"NOTICE_CONFIG": "/y.conf"}) == ("/y.conf", True)
    assert config_path(None, {}) == (DEFAULT_CONFIG, False)


def test_load_reads_the_file_missing_default_is_fine_missing_named_is_not(fs):
    assert load({}, environ={}) == Settings()
    with pytest.raises(InvalidInput, match="config file /nowhere.conf does not exist"):
        load({}, "/nowhere.conf", environ={})
    fs.create_file(DEFAULT_CONFIG, contents="[notice]\nwait_time = 45\nretry_time = 60\n")
    settings = load({"retry_time": "30"}, environ={"NOTICE_WAIT_TIME": "50"})
    assert (settings.wait_time, settings.retry_time) == (50, 30)
    fs.create_file("/etc/other.conf", contents="[notice]\nwait_time = 7\n")
    assert load({}, environ={"NOTICE_CONFIG": "/etc/other.conf"}).wait_time == 7


def test_unreadable_config_file_is_refused(fs):
    fs.create_file(DEFAULT_CONFIG, contents=b"[notice]\ncaller_id = \xff\xfe\n")
    with pytest.raises(InvalidInput, match="cannot be read"):
        load({}, environ={})


def test_a_byte_order_mark_is_no_part_of_the_config_file(fs):
    fs.create_file(DEFAULT_CONFIG, contents="\ufeff[notice]\nwait_time = 45\n".encode())
    assert load({}, environ={}).wait_time == 45


@pytest.mark.parametrize("caller_id", [
    '"' + "N" * 79 + '" <' + "7" * 79 + ">",  # 79 bytes of name inside its quotes, 79 of number
    '"' + "N" * 79 + ' <' + "7" * 79 + '>"',  # quotes around the whole
    "\u0416" * 39 + "N",  # a name alone, 79 bytes of UTF-8
    "9" * 79,
])
def test_a_caller_id_asterisk_keeps_whole_is_taken(caller_id):
    assert resolve({"caller_id": caller_id}, {}, {}, CONF).caller_id == caller_id


def test_the_longest_channel_that_fits_a_line_with_any_number_is_taken():
    longest = "Local/{number}@" + "x" * (1023 - len("Channel: Local/@\n") - 32)
    assert resolve({"channel": longest}, {}, {}, CONF).channel == longest
