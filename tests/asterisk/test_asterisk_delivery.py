"""Issue 3, points 2 and 3: the client answers and hears the whole recording; a busy client
is called MaxRetries more times, RetryTime apart, and then the notice expires."""

from phone import PCMU_PACKET_SECONDS

CLIENT = "PJSIP/{number}@client"
BUSY = "PJSIP/{number}@busy"
TONE_SECONDS = 1.5  # the length of the `tone` recording (conftest.py)


def test_client_answers_and_hears_the_whole_recording(asterisk, notice_spool, tone):
    phone = asterisk.phone("client").answer(calls=1)
    notice = notice_spool("--channel", CLIENT, "2001", tone, "+2s")
    assert phone.wait(20) == 0

    [stream] = phone.rtp.streams.values()
    assert abs(stream.packets - TONE_SECONDS / PCMU_PACKET_SECONDS) <= 1
    assert abs(stream.audio_seconds - TONE_SECONDS) < 2 * PCMU_PACKET_SECONDS
    # Played in real time, not in a burst.
    assert abs(stream.last - stream.first - TONE_SECONDS) < 0.25

    archived = asterisk.wait_archived(notice.call_file.name, timeout=5)
    assert archived.rstrip().endswith("Status: Completed")
    assert f"Setvar: NOTICE_ID={notice.notice_id}" in archived


def test_busy_client_is_retried_then_expires_while_answered_one_completes(asterisk, notice_spool,
                                                                          tone):
    retries, retry_time = 2, 2
    busy_phone = asterisk.phone("busy").busy(calls=retries + 1)
    client_phone = asterisk.phone("client").answer(calls=1)
    policy = ("--max-retries", str(retries), "--retry-time", str(retry_time))
    rejected = notice_spool("--channel", BUSY, *policy, "3001", tone, "+2s")
    answered = notice_spool("--channel", CLIENT, *policy, "3002", tone, "+2s")

    assert busy_phone.wait(30) == 0 and client_phone.wait(30) == 0
    attempts = [invite.at for invite in busy_phone.invites()]
    assert len(attempts) == retries + 1
    # The next attempt is due RetryTime after the failed one, counted in whole seconds.
    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:])]
    assert all(retry_time - 1 < gap < retry_time + 1.5 for gap in gaps), gaps

    expired = asterisk.wait_archived(rejected.call_file.name, timeout=10)
    assert expired.rstrip().endswith("Status: Expired")
    assert expired.count("StartRetry:") == retries + 1
    completed = asterisk.wait_archived(answered.call_file.name, timeout=10)
    assert completed.rstrip().endswith("Status: Completed")
    assert completed.count("StartRetry:") == 1
