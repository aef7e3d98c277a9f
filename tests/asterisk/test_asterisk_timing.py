"""Issue 3, points 1 and 5: Asterisk calls at the second notice-spool scheduled, never before,
also when the notice was spooled while Asterisk was down."""

import os
import time

from harness import iso, whole_second_ahead

CLIENT = "PJSIP/{number}@client"
LEAD = 3  # seconds from spooling to the due time: room for notice-spool to start and write
LATE = 1.5  # Asterisk looks at whole seconds: a call comes up to about a second after its mtime


def test_notice_fires_at_its_second_never_before(asterisk, notice_spool, tone, record_delay):
    phone = asterisk.phone("client").answer(calls=2)
    due = whole_second_ahead(LEAD)
    at_time = notice_spool("--channel", CLIENT, "1001", tone, iso(due))
    in_seconds = notice_spool("--channel", CLIENT, "1002", tone, f"+{LEAD}s")

    assert at_time.at == due
    # The due second is the call file's mtime: that is all Asterisk reads of the time.
    assert os.stat(at_time.call_file).st_mtime == due
    assert os.stat(in_seconds.call_file).st_mtime == in_seconds.at

    assert phone.wait(LEAD + 15) == 0
    fired = {invite.number: invite.at for invite in phone.invites()}
    for number, notice in (("1001", at_time), ("1002", in_seconds)):
        delay = fired[number] - notice.at
        record_delay(f"{number} due {iso(notice.at)}", delay)
        assert 0 <= delay < LATE, f"{number} fired {delay:+.3f} s after its due second"


def test_notice_spooled_while_asterisk_is_down_fires_after_start(asterisk, notice_spool, tone,
                                                                 record_delay):
    phone = asterisk.phone("client").answer(calls=2)
    asterisk.stop()
    try:
        missed = notice_spool("--channel", CLIENT, "5001", tone, iso(whole_second_ahead(1)))
        later = notice_spool("--channel", CLIENT, "5002", tone, iso(whole_second_ahead(5)))
        time.sleep(max(0.0, missed.at + 0.5 - time.time()))  # its second passes while down
    finally:
        asterisk.start()
    booted = time.time()
    assert booted < later.at, "Asterisk took too long to start for this test to mean anything"

    assert phone.wait(20) == 0
    fired = {invite.number: invite.at for invite in phone.invites()}
    # The missed one is called as soon as Asterisk has read the spool, the other at its time.
    assert missed.at < fired["5001"] < booted + LATE
    delay = fired["5002"] - later.at
    record_delay("5002 spooled while down", delay)
    assert 0 <= delay < LATE, f"fired {delay:+.3f} s after its due second"
