"""Removing the dialplan's recordings in a fake file system (cleanup.py, dialplan_recordings.py):
the discard of an abandoned flow's recording, gc's sweep by retention and cancel's, each rule
alone, hostile names, the races of a notice spooled or a file written between the scan and
the removal, and what is said of each outcome."""

import os
import time

import pytest

from fakespool import ARCHIVE, OUTGOING, PREPARED_DIR, RECORDINGS, SPOOL, STAGING
from notice_cli import bulk, cleanup
from notice_cli.cleanup import (CALLING, CHANGED, FAILED, MISSING, NOT_DIALPLAN, OUTSIDE, PLAYED, PREPARED, REMOVED,
                                SAYINGS, UNSURE, Collected, Fate)
from notice_cli.callfile import render
from notice_cli.errors import InvalidInput, SpoolError
from notice_cli.notice import Notice, call_file_for
from notice_cli.settings import Settings

REC = "rec_1732790000.42-1732790012"
NOW = time.time()
DAY = 86400
SETTINGS = Settings(spool_dir=SPOOL, recordings_dir=RECORDINGS, prepared_dir=PREPARED_DIR, recording_retention=30)


def recording(name, age_days=0.0, extensions=("wav",), folder=RECORDINGS):
    os.makedirs(folder, exist_ok=True)
    for extension in extensions:
        path = f"{folder}/{name}.{extension}"
        with open(path, "wb") as stream:
            stream.write(b"RIFF")
        os.utime(path, (NOW - age_days * DAY, NOW - age_days * DAY))


def notice_file(notice_id, data, folder=OUTGOING, finished_days_ago=None):
    """Our call file playing DATA in FOLDER; in the archive, archived FINISHED_DAYS_AGO."""
    path = f"{folder}/notice-{notice_id}.call"
    os.makedirs(folder, exist_ok=True)
    with open(path, "w") as stream:
        stream.write(render(call_file_for(Notice(notice_id, "79991234567", data, 4071006240), Settings())))
    if finished_days_ago is not None:
        os.utime(path, (NOW - finished_days_ago * DAY, NOW - finished_days_ago * DAY))
    return path


def left():
    return sorted(os.listdir(RECORDINGS))


# --- notice discard-recording ------------------------------------------------------------------

def test_discard_removes_every_format_of_the_recording_and_nothing_else(spool_folders):
    recording(REC, extensions=("wav", "gsm", "WAV", "g726-16"))
    recording(REC + "9")  # a longer name, and one the name is the start of
    recording("rec_1732790000.4")
    recording("hello")
    recording("3", folder=PREPARED_DIR)
    spool_folders.create_file(f"{RECORDINGS}/{REC}.txt", contents="a note")
    spool_folders.create_file(f"{RECORDINGS}/{REC}", contents="no extension")
    spool_folders.create_file("/srv/elsewhere.wav", contents="keep me")
    spool_folders.create_symlink(f"{RECORDINGS}/{REC}.ulaw", "/srv/elsewhere.wav")
    assert cleanup.discard(SETTINGS, REC) == Fate(REMOVED, REC, None)
    assert left() == sorted([f"{REC}9.wav", "rec_1732790000.4.wav", "hello.wav", "prepared", f"{REC}.txt", REC,
                             f"{REC}.ulaw"])
    assert os.path.islink(f"{RECORDINGS}/{REC}.ulaw") and open("/srv/elsewhere.wav").read() == "keep me"
    assert os.listdir(PREPARED_DIR) == ["3.wav"]


def test_discard_of_the_name_rec_1732790000_4_leaves_rec_1732790000_42(spool_folders):
    recording("rec_1732790000.42")
    assert cleanup.discard(SETTINGS, "rec_1732790000.4") == Fate(MISSING, "rec_1732790000.4", None)
    assert left() == ["prepared", "rec_1732790000.42.wav"]


@pytest.mark.parametrize("where, who", [
    (OUTGOING, "notice 2026-a"),
    (STAGING, "notice 2026-a"),  # being written: not pending yet, but about to be
])
def test_discard_keeps_a_recording_a_notice_plays(spool_folders, where, who):
    recording(REC)
    notice_file("2026-a", f"{RECORDINGS}/{REC}", folder=where)
    assert cleanup.discard(SETTINGS, REC) == Fate(PLAYED, REC, who)
    assert left() == ["prepared", f"{REC}.wav"]


def test_discard_keeps_a_recording_a_call_file_not_ours_plays(spool_folders):
    recording(REC)
    spool_folders.create_file(f"{OUTGOING}/article.call", contents=f"Channel: Local/1@x\nApplication: Playback\n"
                                                            f"Data: {RECORDINGS}/{REC}\n")
    assert cleanup.discard(SETTINGS, REC) == Fate(PLAYED, REC, f"call file {OUTGOING}/article.call")
    assert left() == ["prepared", f"{REC}.wav"]


def test_a_call_file_not_ours_in_tmp_is_no_notice_being_written(spool_folders):
    recording(REC)
    spool_folders.create_file(f"{STAGING}/voicemail.tmp", contents=f"Data: {RECORDINGS}/{REC}\n")
    assert cleanup.discard(SETTINGS, REC).outcome == REMOVED


def test_discard_takes_no_account_of_finished_notices(spool_folders):
    recording(REC)
    notice_file("2026-done", f"{RECORDINGS}/{REC}", folder=ARCHIVE, finished_days_ago=0)
    assert cleanup.discard(SETTINGS, REC).outcome == REMOVED


def test_discard_of_a_recording_that_is_not_there(spool_folders):
    spool_folders.create_file("/srv/elsewhere.wav", contents="keep me")
    spool_folders.create_symlink(f"{RECORDINGS}/{REC}.wav", "/srv/elsewhere.wav")  # a link is no recording
    assert cleanup.discard(SETTINGS, REC) == Fate(MISSING, REC, None)
    assert os.path.islink(f"{RECORDINGS}/{REC}.wav") and os.path.exists("/srv/elsewhere.wav")


@pytest.mark.parametrize("prepared_dir", [RECORDINGS, RECORDINGS + "/", "/srv/link-to-recordings"])
def test_discard_never_removes_from_the_prepared_folder(spool_folders, prepared_dir):
    spool_folders.create_symlink("/srv/link-to-recordings", RECORDINGS)
    recording(REC)
    assert cleanup.discard(SETTINGS._replace(prepared_dir=prepared_dir), REC) == Fate(PREPARED, REC, None)
    assert left() == ["prepared", f"{REC}.wav"]


@pytest.mark.parametrize("name", [
    "../x", "../../etc/passwd", "/etc/passwd", f"{RECORDINGS}/{REC}", f"../notice/{REC}", "rec_*", "rec_?",
    "rec_[0-9]*", "rec_1{a,b}", f"{REC}\n", f"{REC}\nrec_2", "rec_1 rec_2", " rec_1", "rec_1;rm", "$(reboot)",
    "", ".", "..", ".rec_1", "-rf", "rec_\udcff", "rec_\u0663", "hello", "3", "prepared", "Rec_1", "rec_" + "1" * 200,
])
def test_a_hostile_or_foreign_name_is_refused_and_nothing_is_removed(spool_folders, name):
    recording(REC)
    recording("rec_1")
    recording("rec_2")
    recording("hello")
    recording("3", folder=PREPARED_DIR)
    spool_folders.create_file("/etc/passwd", contents="root:x:0:0")
    with pytest.raises(InvalidInput) as refused:
        cleanup.discard(SETTINGS, name)
    assert "\n" not in str(refused.value)
    assert left() == sorted(["prepared", f"{REC}.wav", "rec_1.wav", "rec_2.wav", "hello.wav"])
    assert os.listdir(PREPARED_DIR) == ["3.wav"] and os.path.exists("/etc/passwd")


def test_discard_with_no_recordings_folder_is_invalid(fs, run_as):
    fs.create_dir(OUTGOING)
    with pytest.raises(InvalidInput, match=f"recordings folder {RECORDINGS} does not exist; .* set recordings_dir"):
        cleanup.discard(SETTINGS, REC)


def test_discard_that_may_not_remove_is_a_spool_error(spool_folders, run_as):
    recording(REC)
    os.chmod(RECORDINGS, 0o755)
    run_as(1000, 1000)
    with pytest.raises(SpoolError, match=f"permission denied on {RECORDINGS}/{REC}.wav"):
        cleanup.discard(SETTINGS, REC)
    assert left() == ["prepared", f"{REC}.wav"]


def test_discard_without_an_outgoing_folder_is_a_spool_error_and_removes_nothing(fs, run_as):
    fs.create_dir(RECORDINGS)
    recording(REC)
    with pytest.raises(SpoolError, match=f"spool folder {OUTGOING} does not exist"):
        cleanup.discard(SETTINGS, REC)
    assert left() == [f"{REC}.wav"]


# --- races: what happens between the scan and the removal ----------------------------------------

def look_then(action):
    """Playing.look that does ACTION first: something happens while the spool is read."""
    real_look = cleanup.Playing.look

    def look(self):
        action()
        return real_look(self)

    return look


def test_a_recording_written_again_during_the_discard_is_kept(spool_folders, monkeypatch):
    recording(REC, age_days=1)
    monkeypatch.setattr(cleanup.Playing, "look", look_then(lambda: recording(REC)))
    assert cleanup.discard(SETTINGS, REC) == Fate(CHANGED, REC, None)
    assert left() == ["prepared", f"{REC}.wav"]


def test_a_format_added_during_the_discard_keeps_the_recording(spool_folders, monkeypatch):
    recording(REC)
    monkeypatch.setattr(cleanup.Playing, "look", look_then(lambda: recording(REC, extensions=("gsm",))))
    assert cleanup.discard(SETTINGS, REC).outcome == CHANGED
    assert left() == ["prepared", f"{REC}.gsm", f"{REC}.wav"]


def test_a_staging_file_being_written_is_read_again_at_the_next_look(spool_folders):
    spool_folders.create_file(f"{STAGING}/notice-2026-a.call", contents="")  # created, not yet written
    playing = cleanup.Playing(SPOOL)
    assert playing.look() == {}
    with open(f"{STAGING}/notice-2026-a.call", "w") as stream:
        stream.write(f"Channel: Local/1@x\nApplication: Playback\nData: {RECORDINGS}/{REC}\n")
    assert playing.look() == {REC: "notice 2026-a"}


def test_while_a_staging_file_of_ours_has_no_data_line_yet_nothing_is_removed(spool_folders, locks):
    """Its writer holds its lock and has not written it yet: it may play any recording."""
    recording(REC)
    spool_folders.create_file(f"{STAGING}/notice-2026-a.call", contents="")
    locks.hold(f"{STAGING}/notice-2026-a.call")
    fate = cleanup.discard(SETTINGS, REC)
    assert fate == Fate(UNSURE, REC, f"{STAGING}/notice-2026-a.call") and left() == ["prepared", f"{REC}.wav"]
    assert "is being written or cannot be read, and may play it" in fate.line(RECORDINGS)


def test_a_killed_writers_leftover_without_data_keeps_nothing(spool_folders, locks):
    """No lock, and unchanged for longer than a writer takes between open() and flock()."""
    recording(REC)
    spool_folders.create_file(f"{STAGING}/notice-2026-a.call", contents="")
    assert cleanup.Playing(SPOOL, now=time.time() + 60).look() == {}
    assert cleanup.Playing(SPOOL, now=time.time() + 60).unsure is None
    assert cleanup.Playing(SPOOL).look() == {}  # just made: a writer may be about to lock it


def test_a_call_file_that_cannot_be_read_keeps_every_recording(spool_folders, run_as):
    """Root's staging file (0600) while the dialplan's discard runs as asterisk: not an error."""
    recording(REC)
    os.chown(f"{RECORDINGS}/{REC}.wav", 1000, 1000)
    os.chmod(RECORDINGS, 0o777)
    notice_file("2026-a", f"{RECORDINGS}/rec_other", folder=STAGING)
    os.chmod(f"{STAGING}/notice-2026-a.call", 0o600)
    run_as(1000, 1000)
    assert cleanup.discard(SETTINGS, REC).outcome == UNSURE
    assert left() == ["prepared", f"{REC}.wav"]


def test_a_linked_call_file_in_outgoing_is_read_as_asterisk_reads_it(spool_folders):
    """pbx_spool stat()s and opens the path, so a link in outgoing/ is called too."""
    recording(REC)
    notice_file("2026-a", f"{RECORDINGS}/{REC}", folder="/srv/calls")
    spool_folders.create_symlink(f"{OUTGOING}/linked.call", "/srv/calls/notice-2026-a.call")
    assert cleanup.discard(SETTINGS, REC) == Fate(PLAYED, REC, f"call file {OUTGOING}/linked.call")
    assert left() == ["prepared", f"{REC}.wav"]


def test_a_staging_file_renamed_into_outgoing_while_the_spool_is_read_is_found_there(spool_folders, monkeypatch):
    notice_file("2026-a", f"{RECORDINGS}/{REC}", folder=STAGING)
    real_texts = cleanup.call_file_texts

    def renamed_once_tmp_is_listed(folder, names):
        if folder == STAGING and os.path.exists(f"{STAGING}/notice-2026-a.call"):
            os.rename(f"{STAGING}/notice-2026-a.call", f"{OUTGOING}/notice-2026-a.call")
        return real_texts(folder, names)

    monkeypatch.setattr(cleanup, "call_file_texts", renamed_once_tmp_is_listed)
    assert cleanup.Playing(SPOOL).look() == {REC: "notice 2026-a"}


# --- notice gc -----------------------------------------------------------------------------------

@pytest.fixture
def aged(spool_folders):
    """Recordings of every kind and age, and the notices that played them."""
    recording("rec_unused_old", 40, extensions=("wav", "gsm"))
    recording("rec_unused_young", 10)
    recording("rec_finished_long_ago", 400)
    notice_file("2026-f1", f"{RECORDINGS}/rec_finished_long_ago", ARCHIVE, finished_days_ago=31)
    notice_file("2026-f2", f"{RECORDINGS}/rec_finished_long_ago", ARCHIVE, finished_days_ago=200)
    recording("rec_finished_recently", 400)
    notice_file("2026-f3", f"{RECORDINGS}/rec_finished_recently", ARCHIVE, finished_days_ago=200)
    notice_file("2026-f4", f"{RECORDINGS}/rec_finished_recently", ARCHIVE, finished_days_ago=29)
    recording("rec_foreign_finished", 400)
    spool_folders.create_file(f"{ARCHIVE}/old-script.call", contents=f"Data: {RECORDINGS}/rec_foreign_finished\n")
    os.utime(f"{ARCHIVE}/old-script.call", (NOW - DAY, NOW - DAY))
    recording("rec_pending", 400)
    notice_file("2026-p", f"{RECORDINGS}/rec_pending")
    recording("rec_staged", 400)
    notice_file("2026-s", f"{RECORDINGS}/rec_staged", folder=STAGING)
    recording("hello", 400)  # an admin's, used from the shell
    recording("3", 400, folder=PREPARED_DIR)
    recording("rec_in_prepared", 400, folder=PREPARED_DIR)
    spool_folders.create_dir(f"{RECORDINGS}/rec_folder.wav")
    spool_folders.create_file(f"{RECORDINGS}/rec_note.txt", contents="a note")
    os.utime(f"{RECORDINGS}/rec_note.txt", (NOW - 400 * DAY, NOW - 400 * DAY))
    recording("target", 400, folder="/srv")
    spool_folders.create_symlink(f"{RECORDINGS}/rec_link.wav", "/srv/target.wav")
    return spool_folders


def test_gc_removes_exactly_the_unused_dialplan_recordings_past_the_retention(aged):
    collected = cleanup.collect(SETTINGS, NOW)
    assert collected == Collected(RECORDINGS, 30, ["rec_finished_long_ago", "rec_unused_old"],
                                  ["rec_pending", "rec_staged"], [], None, [])
    assert left() == ["hello.wav", "prepared", "rec_finished_recently.wav", "rec_folder.wav",
                      "rec_foreign_finished.wav", "rec_link.wav", "rec_note.txt", "rec_pending.wav",
                      "rec_staged.wav", "rec_unused_young.wav"]
    assert sorted(os.listdir(PREPARED_DIR)) == ["3.wav", "rec_in_prepared.wav"]
    assert os.path.exists("/srv/target.wav")


def test_gc_with_a_longer_retention_removes_less(aged):
    assert cleanup.collect(SETTINGS._replace(recording_retention=35), NOW).removed == ["rec_unused_old"]
    assert cleanup.collect(SETTINGS._replace(recording_retention=36500), NOW).removed == []


def test_gc_retention_boundary(spool_folders):
    recording("rec_exact", 30)
    recording("rec_over", 30 + 1 / DAY)
    assert cleanup.collect(SETTINGS, NOW).removed == ["rec_over"]
    assert left() == ["prepared", "rec_exact.wav"]


@pytest.mark.parametrize("prepared_dir", [RECORDINGS, RECORDINGS + "/", "/srv/link-to-recordings"])
def test_gc_never_removes_from_the_prepared_folder(aged, prepared_dir):
    aged.create_symlink("/srv/link-to-recordings", RECORDINGS)
    before = left()
    assert cleanup.collect(SETTINGS._replace(prepared_dir=prepared_dir), NOW).state == PREPARED
    assert left() == before


def test_gc_without_a_recordings_folder_says_so(fs, run_as):
    fs.create_dir(OUTGOING)
    assert cleanup.collect(SETTINGS, NOW) == Collected(RECORDINGS, 30, [], [], [], MISSING)


def test_gc_of_a_spool_without_archive_or_tmp(fs, run_as):
    fs.create_dir(OUTGOING)
    fs.create_dir(RECORDINGS)
    recording("rec_1", 31)
    assert cleanup.collect(SETTINGS, NOW).removed == ["rec_1"]


def test_gc_that_cannot_read_the_archive_is_a_spool_error_and_removes_nothing(aged, run_as):
    os.chmod(ARCHIVE, 0o700)
    run_as(1000, 1000)
    with pytest.raises(SpoolError, match=f"permission denied on {ARCHIVE}"):
        cleanup.collect(SETTINGS, NOW)
    assert "rec_unused_old.wav" in left()


def meanwhile(monkeypatch, action):
    """ACTION happens while gc reads the archive: after it listed the recordings and read what
    the pending notices play, before it removes any."""
    real_finished_uses = cleanup.finished_uses

    def finished_uses(spool_dir):
        action()
        return real_finished_uses(spool_dir)

    monkeypatch.setattr(cleanup, "finished_uses", finished_uses)


@pytest.mark.parametrize("meantime, kept_as", [
    (lambda: notice_file("2026-late", f"{RECORDINGS}/rec_1"), "played"),  # a notice spooled
    (lambda: notice_file("2026-late", f"{RECORDINGS}/rec_1", folder=STAGING), "played"),  # one being written
    (lambda: recording("rec_1", 0), "changed"),  # the recording written again
    (lambda: recording("rec_1", 40, extensions=("gsm",)), "changed"),  # another format added
])
def test_what_happens_between_the_scan_and_the_removal_keeps_the_recording(spool_folders, monkeypatch, meantime,
                                                                           kept_as):
    recording("rec_1", 40)
    recording("rec_2", 40)
    meanwhile(monkeypatch, meantime)
    collected = cleanup.collect(SETTINGS, NOW)
    assert (collected.removed, getattr(collected, kept_as)) == (["rec_2"], ["rec_1"])
    assert "rec_1.wav" in left() and "rec_2.wav" not in left()


# --- notice cancel -------------------------------------------------------------------------------

def test_what_becomes_of_the_recordings_of_cancelled_notices(spool_folders, monkeypatch):
    recording("rec_alone")
    recording("rec_shared")
    notice_file("2026-other", f"{RECORDINGS}/rec_shared")
    recording("hello")
    recording("3", folder=PREPARED_DIR)
    recording("rec_elsewhere", folder="/srv")
    fates = cleanup.discard_played(SETTINGS, [
        f"{RECORDINGS}/rec_alone", f"{RECORDINGS}/rec_shared", f"{PREPARED_DIR}/3", f"{RECORDINGS}/hello",
        "/srv/rec_elsewhere", f"{RECORDINGS}/rec_gone", f"{RECORDINGS}/rec_alone", None])
    assert fates == {
        f"{RECORDINGS}/rec_alone": Fate(REMOVED, "rec_alone", None),
        f"{RECORDINGS}/rec_shared": Fate(PLAYED, "rec_shared", "notice 2026-other"),
        f"{PREPARED_DIR}/3": Fate(PREPARED, "prepared/3", None),
        f"{RECORDINGS}/hello": Fate(NOT_DIALPLAN, "hello", None),
        "/srv/rec_elsewhere": Fate(OUTSIDE, "/srv/rec_elsewhere", None),
        f"{RECORDINGS}/rec_gone": Fate(MISSING, "rec_gone", None),
    }
    assert left() == ["hello.wav", "prepared", "rec_shared.wav"]
    assert os.path.exists("/srv/rec_elsewhere.wav") and os.listdir(PREPARED_DIR) == ["3.wav"]


def test_a_recording_cancel_may_not_remove_is_said_and_does_not_fail(spool_folders, run_as):
    recording("rec_1")
    os.chmod(RECORDINGS, 0o755)
    run_as(1000, 1000)
    fates = cleanup.discard_played(SETTINGS, [f"{RECORDINGS}/rec_1"])
    assert fates[f"{RECORDINGS}/rec_1"].outcome == FAILED
    assert fates[f"{RECORDINGS}/rec_1"].who.startswith(f"permission denied on {RECORDINGS}/rec_1.wav")
    assert left() == ["prepared", "rec_1.wav"]


def test_cancel_with_the_prepared_folder_as_recordings_folder_keeps_them(spool_folders):
    recording("rec_1")
    fates = cleanup.discard_played(SETTINGS._replace(prepared_dir=RECORDINGS), [f"{RECORDINGS}/rec_1"])
    assert fates[f"{RECORDINGS}/rec_1"] == Fate(PREPARED, "rec_1", None)
    assert left() == ["prepared", "rec_1.wav"]


def test_a_gc_while_an_import_spools_an_old_recording_keeps_it(spool_folders):
    """An import of a dialplan recording unused for longer than the retention (a broadcast of
    an old message): a gc that runs between the import's check and its spooling keeps it."""
    recording(REC, age_days=40)
    rows = ["number,recording,when", f"79991234567,{REC},2099-12-01 10:30", f"79990000001,{REC},2099-12-01 11:30"]
    gc_meanwhile = []
    imported = bulk.import_notices(rows, "broadcast.csv", SETTINGS._replace(owner=None, syslog_facility="none"), NOW,
                              planned=lambda plan: gc_meanwhile.append(cleanup.collect(SETTINGS, time.time())))
    assert imported.spooled == 2 and gc_meanwhile[0].removed == []
    assert left() == ["prepared", f"{REC}.wav"]
    assert os.stat(f"{RECORDINGS}/{REC}.wav").st_mtime > NOW - 60  # used now: its retention starts again


def test_an_import_whose_old_recording_a_gc_removed_first_spools_nothing(spool_folders, monkeypatch):
    recording(REC, age_days=40)
    real_plan = bulk.plan

    def gc_right_after_the_check(*args, **kwargs):
        checked = real_plan(*args, **kwargs)
        assert cleanup.collect(SETTINGS, time.time()).removed == [REC]
        return checked

    monkeypatch.setattr(bulk, "plan", gc_right_after_the_check)
    with pytest.raises(InvalidInput, match=f"recording {REC} was removed from {RECORDINGS} while the import"):
        bulk.import_notices(["number,recording,when", f"79991234567,{REC},2099-12-01 10:30"], "old.csv",
                            SETTINGS._replace(owner=None, syslog_facility="none"), NOW)
    assert os.listdir(OUTGOING) == []


# --- what is said --------------------------------------------------------------------------------

def test_every_outcome_has_its_clause_and_those_of_discard_a_line():
    assert set(SAYINGS) == {REMOVED, PLAYED, MISSING, CHANGED, PREPARED, NOT_DIALPLAN, OUTSIDE, FAILED, UNSURE,
                            CALLING}
    folder = "/var/spool/asterisk/notice"
    assert [Fate(outcome, "rec_1", "notice 2026-a").line(folder) for outcome in (
        REMOVED, PLAYED, MISSING, CHANGED, PREPARED)] == [
        f"removed recording rec_1 from {folder}",
        "kept recording rec_1: notice 2026-a plays it",
        f"no recording rec_1 in {folder}: nothing removed",
        "kept recording rec_1: it changed while being removed",
        f"kept recording rec_1: {folder} is the prepared recordings' folder (prepared_dir)",
    ]
    assert Fate(PLAYED, "rec_1", "notice 2026-a").clause() == "kept its recording rec_1 (notice 2026-a plays it)"
    assert Fate(PREPARED, "prepared/3", None).clause() == "its recording prepared/3 is kept (prepared)"
    assert Fate(FAILED, "rec_1", "permission denied on /x").clause() == (
        "its recording rec_1 could not be removed: permission denied on /x")


@pytest.mark.parametrize("collected, line", [
    (Collected("/r", 30, ["rec_1", "rec_2"], [], [], None), "removed 2 recordings unused for 30 days from /r"),
    (Collected("/r", 1, ["rec_1"], ["rec_2"], [], None),
     "removed 1 recording unused for 1 day from /r (kept: 1 played by pending notices)"),
    (Collected("/r", 7, [], ["rec_2", "rec_3"], ["rec_4"], None),
     "removed 0 recordings unused for 7 days from /r (kept: 2 played by pending notices, 1 changed meanwhile)"),
    (Collected("/r", 30, [], [], [], None, ["rec_5"]),
     "removed 0 recordings unused for 30 days from /r (kept: 1 maybe played by a call file being written or not readable)"),
    (Collected("/r", 30, [], [], [], MISSING), "no recordings folder /r (recordings_dir): no recording removed"),
    (Collected("/r", 30, [], [], [], PREPARED),
     "left the recordings in /r alone: it is the prepared recordings' folder (prepared_dir) too"),
])
def test_what_gc_says(collected, line):
    assert collected.report() == line
