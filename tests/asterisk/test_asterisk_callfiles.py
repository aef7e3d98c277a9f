"""Issue 3, point 4: every kind of call file notice-spool writes is accepted by Asterisk,
placed, and completed, with no warning in its log.

Each variant changes what the call file says (channel, caller ID, retry policy, owner and
mode, the source of the settings, the forms of number, recording and time). All are due at
the same second and called at once.
"""

from zoneinfo import ZoneInfo

import pytest

from harness import iso, run_notice_spool, whole_second_ahead, write_tone

CLIENT = "PJSIP/{number}@client"
CALLER_ID = '"Clinic" <74951234567>'
MOSCOW = ZoneInfo("Europe/Moscow")

# name: (number, options, extra settings in the environment)
VARIANTS = {
    "pjsip channel": ("4001", ["--channel", CLIENT], {}),
    "local channel, the default": ("4002", [], {}),
    "caller id": ("4003", ["--channel", CLIENT, "--caller-id", CALLER_ID], {}),
    "retry policy and ring time": ("4004", ["--channel", CLIENT, "--max-retries", "0",
                                            "--retry-time", "1", "--wait-time", "5"], {}),
    "owner and mode": ("4005", ["--channel", CLIENT, "--owner", "root", "--file-mode", "0600"], {}),
    "local time in a zone": ("4006", ["--channel", CLIENT, "--tz", "Europe/Moscow"], {}),
    "config file": ("4007", ["--config", "{config}"], {}),
    "no syslog": ("4008", ["--channel", CLIENT, "--syslog-facility", "none",
                           "--syslog-tag", "notice-test"], {}),
    "international number": ("+74950004009", ["--channel", CLIENT], {}),
    "recording named like MixMonitor's": ("4010", ["--channel", CLIENT], {}),
    "environment only, as the dialplan runs it": ("4011", None, {"NOTICE_CHANNEL": CLIENT}),
}


@pytest.fixture(scope="module")
def placed(asterisk, tone, tmp_path_factory):
    """Spool every variant for one due second, let the phone answer them all."""
    config = tmp_path_factory.mktemp("config") / "notice.conf"
    config.write_text(f"[notice]\nchannel = {CLIENT}\ncaller_id = {CALLER_ID}\nmax_retries = 1\n")
    # The name a recording gets from the dialplan: rec_${UNIQUEID}, with a dot inside.
    write_tone(asterisk.recordings_dir / "rec_1795827217.42.wav", 0.5)

    since = asterisk.log_size()
    phone = asterisk.phone("client").answer(calls=len(VARIANTS))
    due = whole_second_ahead(3)
    sandbox_dirs = {"NOTICE_SPOOL_DIR": str(asterisk.spool_dir),
                    "NOTICE_RECORDINGS_DIR": str(asterisk.recordings_dir)}
    spooled = {}
    for name, (number, options, env) in VARIANTS.items():
        recording = "rec_1795827217.42" if "MixMonitor" in name else tone
        when = iso(due)
        if "--tz" in (options or []):
            when = iso(due, MOSCOW)[:19].replace("T", " ")  # no offset: the zone's local time
        if options is None:  # NUMBER RECORDING WHEN alone, settings from the environment
            spooled[name] = run_notice_spool(number, recording, when, env={**sandbox_dirs, **env})
        else:
            options = [str(config) if o == "{config}" else o for o in options]
            spooled[name] = run_notice_spool(
                "--spool-dir", str(asterisk.spool_dir),
                "--recordings-dir", str(asterisk.recordings_dir), *options,
                number, recording, when, env=env)
    assert {notice.at for notice in spooled.values()} == {due}

    assert phone.wait(30) == 0
    invites = {invite.number: invite for invite in phone.invites()}
    archived = {name: asterisk.wait_archived(notice.call_file.name, timeout=10)
                for name, notice in spooled.items()}
    return {"spooled": spooled, "invites": invites, "archived": archived, "phone": phone,
            "problems": asterisk.log_problems(since)}


@pytest.mark.parametrize("variant", VARIANTS)
def test_call_file_is_placed_and_completed(placed, variant):
    number = VARIANTS[variant][0]
    notice = placed["spooled"][variant]
    assert number in placed["invites"], f"{variant}: {number} was never called"
    assert placed["archived"][variant].rstrip().endswith("Status: Completed")
    assert not [line for line in placed["problems"] if notice.call_file.name in line]


def test_caller_id_reaches_the_client(placed):
    for variant in ("caller id", "config file"):
        invite = placed["invites"][VARIANTS[variant][0]]
        assert '"Clinic" <sip:74951234567@' in invite.message, variant


def test_local_channel_runs_the_dialplan_with_the_notice_id(asterisk, placed):
    marks = {number: notice_id for _, number, notice_id in asterisk.marks()}
    for variant in ("local channel, the default",):
        assert marks[VARIANTS[variant][0]] == placed["spooled"][variant].notice_id


def test_every_client_heard_a_recording(placed):
    heard = sorted(round(stream.audio_seconds, 1) for stream in placed["phone"].rtp.streams.values())
    assert heard == sorted(0.5 if "MixMonitor" in name else 1.5 for name in VARIANTS)


def test_asterisk_logged_no_warning_for_any_of_them(placed):
    assert placed["problems"] == []


@pytest.mark.log_may_warn
def test_the_log_check_sees_a_key_asterisk_does_not_know(asterisk, tone):
    """The original script's call file, written by hand: its `Timeout:` line is no call-file
    key, and Asterisk says so in the log that the tests above find clean."""
    since = asterisk.log_size()
    phone = asterisk.phone("client").answer(calls=1)
    staged = asterisk.spool_dir / "tmp" / "article.call"
    staged.write_text("Channel: PJSIP/4999@client\nMaxRetries: 2\nRetryTime: 20\nWaitTime: 20\n"
                      f"Application: Playback\nData: {asterisk.recordings_dir}/{tone}\n"
                      "Timeout: 30000\n")
    staged.rename(asterisk.outgoing / staged.name)  # mtime now: due at once
    assert phone.wait(20) == 0
    assert [line for line in asterisk.log_problems(since)
            if "Unknown keyword 'Timeout'" in line and "article.call" in line]
