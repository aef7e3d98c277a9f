"""The commands in queue delivery, as an admin uses them: notice-spool, notice spool and notice
import into the queue (faults of data_dir, hostile settings, a foreign queue file), and list,
show, history, cancel, move, status and gc over queued, handed, calling, finished and missed
notices. On real folders (SQLite cannot run on pyfakefs), through CliRunner, or as processes
where the installed script or a mount namespace matters. The engine's part is Engine.step()
at the real time (queuesite.py), Asterisk's only an archived file or a begun attempt."""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import time

import pytest
from click.testing import CliRunner

from queuesite import QueueSite
from realspool import KEYPAD, KEYPAD_DUE, NOTICE, NOTICE_SPOOL, RECORDING, check_call_file
from notice_cli import bulk, cli, queue
from notice_cli.engine import Engine
from notice_cli.notice import call_file_name

CLIENT = "79991234567"
CALL_FILE = re.compile(r"notice-(\d{14}-[0-9a-f]{8})\.call")
DIALPLAN_RECORDING = "rec_1732790000.42"
MAY_6 = 4081734480  # 2099-05-06 07:08 UTC


@pytest.fixture
def site(tmp_path_factory, monkeypatch):
    """A QueueSite whose environment CliRunner's commands see too."""
    site = QueueSite(tmp_path_factory.mktemp("queue"))
    site.seen_by_commands(monkeypatch)
    yield site
    site.close()


def run(*args, input=None):
    return CliRunner().invoke(cli.notice, list(args), input=input, prog_name="notice")


def iso(moment: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(moment))


def one_error(result, prog: str) -> str:
    """The one line a failed command printed, without its `PROG: error: `."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), result.stderr
    return lines[0][len(f"{prog}: error: "):]


# --- notice-spool and notice spool into the queue --------------------------------------------------

def spool_line(path) -> str:
    return rf"notice (\d{{14}}-[0-9a-f]{{8}}) scheduled for 2099-01-02T03:04:00\+00:00: {re.escape(str(path))}/(\S+)\n"


@pytest.mark.parametrize("how", ["notice-spool", "notice-spool through click", "notice spool"])
def test_a_notice_scheduled_in_queue_delivery_lands_in_the_inbox_with_direct_deliverys_line(site, how):
    if how == "notice spool":
        done = run("spool", CLIENT, RECORDING, KEYPAD)
        code, out, err = done.exit_code, done.stdout, done.stderr
    else:
        options = ["--tz", "UTC"] if how.endswith("click") else []
        done = site.run(NOTICE_SPOOL, *options, CLIENT, RECORDING, KEYPAD)
        code, out, err = done.returncode, done.stdout, done.stderr
    assert (code, err) == (0, "")
    match = re.fullmatch(spool_line(site.inbox), out)
    assert match, out
    assert site.in_inbox() == [match[2]] == [call_file_name(match[1])]
    check_call_file(site.inbox / match[2], CLIENT, KEYPAD_DUE)
    assert site.spooled() == [] and site.staged() == [] and site.queue_staged() == []
    direct = site.run(NOTICE_SPOOL, *([] if how == "notice-spool" else ["--tz", "UTC"]), CLIENT, RECORDING, KEYPAD,
                      NOTICE_DELIVERY="direct")
    assert direct.returncode == 0 and re.fullmatch(spool_line(site.outgoing), direct.stdout)  # the same line


def in_namespace(site, script: str, *commands: str, prefix: str = "") -> list[tuple[int, str, str]]:
    """SCRIPT (mounts, filling) then each of COMMANDS under PREFIX, in a mount namespace of
    their own (gone when it ends); (exit code, stdout, stderr) of each."""
    results = site.base / "results"
    results.mkdir(exist_ok=True)
    steps = "".join(f'{prefix} {command} > "$R/{n}.out" 2> "$R/{n}.err"; echo $? > "$R/{n}.code"\n'
                    for n, command in enumerate(commands))
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           f"set -e\n{script}\nset +e\n{steps}"], cwd=site.base, capture_output=True, text=True,
                          env={**site.env, "R": str(results)}, timeout=120)
    assert done.returncode == 0, done.stderr
    read = lambda n, suffix: (results / f"{n}.{suffix}").read_text()  # noqa: E731
    return [(int(read(n, "code")), read(n, "out"), read(n, "err")) for n in range(len(commands))]


needs_namespaces = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("setpriv"),
    reason="needs root and util-linux's unshare and setpriv: mounts tmpfs and read-only binds, drops capabilities")
NO_CAPABILITIES = "setpriv --inh-caps=-all --bounding-set=-all --"  # root to whom folders' modes apply
FILL = "cat /dev/zero > data/filler 2>/dev/null || true"
# What is left in data_dir after a fault: no call file in the inbox or tmp/, no notice queued.
LEFT = "find data -mindepth 1 ! -name filler -printf '%P\\n'"
SPOOL = f"{NOTICE_SPOOL} {CLIENT} {RECORDING} '{KEYPAD}'"
FAULTS = {
    # name: (setup, prefix, notice-spool's line, notice import's line); {data}: data_dir
    "full": (f"mount -t tmpfs -o size=64k tmpfs data; {FILL}", "",
             "no space left on the device of {data}; free some space and schedule the notice again",
             "no space left for {data}/queue.sqlite3; free some space and schedule the notice again"),
    "read-only": ("mount --bind data data; mount -o remount,bind,ro data", "",
                  "{data}/inbox is on a read-only file system",
                  "{data}/queue.sqlite3 cannot be opened (unable to open database file); check data_dir and its "
                  "permissions"),
    "unwritable": ("chmod 555 data", f"NOTICE_OWNER=root {NO_CAPABILITIES}",
                   "permission denied on {data}/inbox; run as root or as the user Asterisk runs as, or fix "
                   "data_dir's owner",
                   "{data}/queue.sqlite3 cannot be opened (unable to open database file); check data_dir and its "
                   "permissions"),
}


@needs_namespaces
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_data_dir_that_cannot_be_written_gives_exit_4_one_line_and_nothing_half_written(site, fault):
    setup, prefix, spool_error, import_error = FAULTS[fault]
    rows = site.write_csv("rows.csv", [(CLIENT, RECORDING, "2099-03-04 05:06")])
    spooled, imported, left = in_namespace(site, setup, SPOOL, f"{NOTICE} import {rows}", LEFT, prefix=prefix)
    data = str(site.data_dir)
    assert spooled == (4, "", f"notice-spool: error: {spool_error.format(data=data)}\n")
    assert imported[:2] == (4, "") and imported[2].startswith(f"notice import: error: {import_error.format(data=data)}")
    assert imported[2].count("\n") == 1
    assert left[0] == 0 and set(left[1].split()) <= {"inbox", "tmp", queue.FILE_NAME}, left  # no file in them
    assert site.spooled() == []


@needs_namespaces
def test_an_import_on_a_full_disk_leaves_the_queue_as_it_was(site):
    first = site.write_csv("first.csv", [(CLIENT, RECORDING, "2099-03-04 05:06")])
    many = site.write_csv("many.csv", [(f"7999{n:07d}", RECORDING, "2099-03-04 05:07") for n in range(2000)])
    imported, again, listed = in_namespace(
        site, "mount -t tmpfs -o size=1m tmpfs data", f"{NOTICE} import {first}",
        f"sh -c '{FILL}; {NOTICE} import {many}'",
        f"sh -c 'rm data/filler; {NOTICE} list --json'")
    assert imported == (0, f"spooled 1 notice from {first}\n", "")
    # SQLite says "disk is full", or "disk I/O error" when its shared memory file cannot grow
    assert again[:2] == (4, "") and again[2].count("\n") == 1
    assert again[2].startswith("notice import: error: ") and str(site.queue_file) in again[2]
    assert listed[0] == 0 and [notice["number"] for notice in json.loads(listed[1])] == [CLIENT]


@pytest.mark.parametrize("command", ["notice-spool", "notice import"])
@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_a_data_dir_that_is_missing_or_a_file_gives_exit_4_and_one_line(site, command, kind):
    site.data_dir.rmdir()
    if kind == "a file":
        site.data_dir.write_text("not a folder\n")
    rows = site.write_csv("rows.csv", [(CLIENT, RECORDING, "2099-03-04 05:06")])
    done = site.run(*([NOTICE_SPOOL, CLIENT, RECORDING, KEYPAD] if command == "notice-spool" else
                      [NOTICE, "import", str(rows)]))
    assert (done.returncode, done.stdout) == (4, "")
    why = ("is not a folder; move it away" if kind == "a file" else
           "does not exist; create it (owned by the user Asterisk runs as)")
    assert done.stderr == f"{command}: error: data_dir {site.data_dir} {why} or set data_dir\n"
    assert site.data_dir.is_dir() is False and site.spooled() == []
    if kind == "a file":
        assert site.data_dir.read_text() == "not a folder\n"


@needs_namespaces
def test_an_inbox_that_cannot_be_emptied_is_named_and_its_notices_stay_queued(site):
    run("spool", CLIENT, RECORDING, KEYPAD)
    site.enqueue()  # the queue file exists; the inbox's notice is not in it yet
    os.chmod(site.inbox, 0o555)
    cancelled, = in_namespace(site, "", f"{NOTICE} cancel --yes nothing-such", prefix=NO_CAPABILITIES)
    name = site.in_inbox()[0]
    assert cancelled[:2] == (4, "")
    assert cancelled[2] == (f"notice cancel: error: permission denied on {site.inbox}/{name}; run as root or as the "
                            "user notice run runs as, or fix data_dir's owner; the notices are queued and stay so\n")
    assert site.states() == {CALL_FILE.fullmatch(name)[1]: ("queued", None)}


# --- hostile settings ----------------------------------------------------------------------------

HOSTILE = [("max_calls", "-1"), ("max_calls", "abc"), ("max_calls", str(10**12)), ("call_rate", "1001"),
           ("lead", "0"), ("late_limit", "59"), ("delivery", "queued"), ("data_dir", "var/lib/notice-cli")]
HINTS = {"max_calls": "must be a whole number from 0 to 10000", "call_rate": "must be a whole number from 0 to 1000",
         "lead": "must be a whole number from 1 to 86400", "late_limit": "must be a whole number from 60 to 604800",
         "delivery": "must be one of direct, queue",
         "data_dir": "must be an absolute path of letters, digits, '_', '.', '-' and '/'"}


def engine_started(*_):
    raise AssertionError("notice run started its engine")


@pytest.mark.parametrize("source", ["environment", "option", "config file"])
@pytest.mark.parametrize("name, value", HOSTILE)
@pytest.mark.parametrize("command", [["spool", CLIENT, RECORDING, KEYPAD], ["run"], ["import", "-"]])
def test_a_hostile_engine_setting_is_refused_with_exit_3_naming_its_source(site, monkeypatch, command, name, value,
                                                                           source):
    option = "--" + name.replace("_", "-")
    args = list(command)
    if source == "environment":
        monkeypatch.setenv("NOTICE_" + name.upper(), value)
        named = f"environment variable NOTICE_{name.upper()}"
    elif source == "option":
        args[1:1] = [option, value]
        named = f"option {option}"
    else:
        monkeypatch.delenv("NOTICE_" + name.upper(), raising=False)  # the environment would come first
        config = site.base / "notice.conf"
        config.write_text(f"[notice]\n{name} = {value}\n")
        named = f"config file {config}"
    monkeypatch.setattr(Engine, "run", engine_started)  # a setting let through must not loop here for ever
    done = run(*args, input=f"number,recording,when\n{CLIENT},{RECORDING},2099-03-04 05:06\n")
    prog = "notice-spool" if command[0] == "spool" else f"notice {command[0]}"
    assert (done.exit_code, done.stdout) == (3, "")
    assert one_error(done, prog) == f"{name} {value!r} from {named} {HINTS[name]}"
    assert site.in_inbox() == [] and site.spooled() == [] and not site.queue_file.exists()


# --- notice import into the queue -----------------------------------------------------------------

def rows_file(site, count=40, name="rows.csv"):
    return site.write_csv(name, [(f"7999{n:07d}", RECORDING, f"2099-03-04 05:{n % 60:02d}") for n in range(count)])


def queued_count(site) -> int:
    return sum(state == "queued" for state, _ in site.states().values())


def test_an_import_queues_every_row_and_run_again_skips_them_all(site):
    rows = rows_file(site)
    first = run("import", str(rows))
    assert (first.exit_code, first.stdout, first.stderr) == (0, f"spooled 40 notices from {rows}\n", "")
    assert queued_count(site) == 40 and site.spooled() == [] and site.in_inbox() == []
    again = run("import", str(rows))
    assert (again.exit_code, again.stdout) == (0, f"spooled 0 notices from {rows}; 40 already scheduled (skipped)\n")
    assert queued_count(site) == 40
    listed = json.loads(run("list", "--json").stdout)
    assert [(notice["number"], notice["due"], notice["state"]) for notice in listed] == [
        (f"7999{n:07d}", f"2099-03-04T05:{n:02d}:00+00:00", "queued") for n in range(40)]


def test_an_import_run_again_after_its_times_skips_the_notices_still_queued(site):
    """The engine was down past the notices' times: an import run again finds them in the
    queue and skips them, rather than refusing their rows as in the past."""
    rows = rows_file(site, count=3)
    settings = site.settings()
    with open(rows) as lines:
        assert bulk.import_notices(lines, "rows.csv", settings, MAY_6 - 86400 * 90).spooled == 3
    after_their_times = MAY_6
    with open(rows) as lines:
        again = bulk.import_notices(lines, "rows.csv", settings, after_their_times)
    assert (again.spooled, again.skipped, again.invalid) == (0, 3, 0)
    assert queued_count(site) == 3


def failing_insert(site, nth: int) -> sqlite3.Connection:
    """The queue, with a trigger that fails its NTH insert as a full disk would (DROP TRIGGER fail
    on the connection returned ends it)."""
    site.enqueue()
    refuse = sqlite3.connect(site.queue_file)
    refuse.execute(f"CREATE TRIGGER fail BEFORE INSERT ON notice WHEN (SELECT count(*) FROM notice) >= {nth - 1} "
                   "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    refuse.commit()
    return refuse


def test_an_import_is_one_transaction_a_failure_at_its_30th_row_queues_none(site):
    refuse = failing_insert(site, 30)
    rows = rows_file(site)
    failed = run("import", str(rows))
    assert (failed.exit_code, failed.stdout) == (4, "")
    assert one_error(failed, "notice import") == (f"no space left for {site.queue_file}; free some space and schedule "
                                                  "the notice again; no notice was queued")
    assert queued_count(site) == 0
    refuse.execute("DROP TRIGGER fail")
    refuse.commit()
    refuse.close()
    assert run("import", str(rows)).stdout == f"spooled 40 notices from {rows}\n"


def test_a_long_import_commits_a_chunk_at_a_time_and_a_failure_keeps_the_chunks_before_it(site, monkeypatch):
    """A chunk a transaction, so that the engine never waits long for the queue's lock."""
    monkeypatch.setattr(bulk, "QUEUE_CHUNK", 10)
    refuse = failing_insert(site, 25)
    rows = rows_file(site)
    failed = run("import", str(rows))
    assert (failed.exit_code, failed.stdout) == (4, "")
    assert one_error(failed, "notice import") == (f"no space left for {site.queue_file}; free some space and schedule "
                                                  "the notice again; the 20 notices queued before the failure stay "
                                                  "queued")
    assert queued_count(site) == 20  # two whole chunks, nothing of the third
    refuse.execute("DROP TRIGGER fail")
    refuse.commit()
    refuse.close()
    assert run("import", str(rows)).stdout == f"spooled 20 notices from {rows}; 20 already scheduled (skipped)\n"


FOREIGN = {
    "another program's database": None,
    "a damaged file": b"SQLite format 3\x00" + b"\xff" * 4000,
    "text": b"clients: 79991234567\n" * 100,
}


def foreign_queue(site, kind):
    if FOREIGN[kind] is None:
        other = sqlite3.connect(site.queue_file)
        other.execute("CREATE TABLE crm (client TEXT)")
        other.execute("INSERT INTO crm VALUES ('79991234567')")
        other.commit()
        other.close()
    else:
        site.queue_file.write_bytes(FOREIGN[kind])
    return site.queue_file.read_bytes()


@pytest.mark.parametrize("command", [["import", "rows.csv"], ["list"], ["history"], ["status"], ["show", "x1"],
                                     ["cancel", "--yes", "x1"], ["move", "x1", "+1h"], ["gc"], ["run"]])
@pytest.mark.parametrize("kind", list(FOREIGN))
def test_a_foreign_or_damaged_queue_file_is_refused_with_exit_4_and_never_written(site, monkeypatch, kind, command):
    before = foreign_queue(site, kind)
    rows_file(site, 3)
    monkeypatch.chdir(site.base)
    # notice run in a process of its own: here it would take over pytest's SIGTERM and SIGINT
    done = site.run(NOTICE, *command, timeout=60) if command == ["run"] else run(*command)
    assert (done.returncode if command == ["run"] else done.exit_code) == 4, done.stderr
    assert done.stdout == "" or command == ["gc"]  # gc has cleaned tmp/ first
    refusal = rf"{re.escape(str(site.queue_file))} is not a notice-cli queue .*(move it away|never overwritten).*"
    assert re.fullmatch(refusal, one_error(done, f"notice {command[0]}"))
    assert site.queue_file.read_bytes() == before
    left = sorted(set(os.listdir(site.data_dir)) - ({"engine.lock"} if command == ["run"] else set()))
    assert left == [queue.FILE_NAME]  # no journal, no WAL: nothing written


# --- list, show, history and status over the queue --------------------------------------------------

@pytest.fixture
def lived(site):
    """At the real time NOW: q1 queued (in 2 hours), one notice still in the inbox (in 3
    hours), h1 handed (due in 30 s), m1 missed, f1 finished (Completed)."""
    now = int(time.time())
    site.enqueue(site.notice("q1", now + 7200), site.notice("h1", now + 30), site.notice("m1", now - 4000),
                 site.notice("f1", now + 20, number="79990000001"))
    engine = site.engine()
    engine.step(now)
    site.begin("f1", now + 20)
    site.finish("f1", "Completed")
    engine.step(now + 1)
    spooled = run("spool", "79990000002", RECORDING, "+3h")
    inbox_id = CALL_FILE.fullmatch(site.in_inbox()[0])[1]
    assert spooled.exit_code == 0 and inbox_id in spooled.stdout
    site.now, site.inbox_id = now, inbox_id
    assert site.states() == {"q1": ("queued", None), "h1": ("handed", None), "m1": ("missed", "late"),
                             "f1": ("finished", "Completed")}
    return site


def test_list_shows_the_queued_with_those_still_in_the_inbox_and_the_handed_as_handed(lived):
    listed = run("list")
    now, inbox_id = lived.now, lived.inbox_id
    due_inbox = json.loads(run("show", "--json", inbox_id).stdout)["due"]
    width = len(inbox_id)
    assert (listed.exit_code, listed.stderr) == (0, "")
    assert listed.stdout == (
        f"{'ID':<{width}}  DUE                        NUMBER       RECORDING  ATTEMPTS  STATE\n"
        f"{'h1':<{width}}  {iso(now + 30)}  {CLIENT}  hello      0         handed\n"
        f"{'q1':<{width}}  {iso(now + 7200)}  {CLIENT}  hello      0         queued\n"
        f"{inbox_id}  {due_inbox}  79990000002  hello      0         queued\n")
    assert [notice["id"] for notice in json.loads(run("list", "--json", "--number", CLIENT).stdout)] == ["h1", "q1"]
    assert run("list", "--since", "+1h", "--until", "+150m").stdout.splitlines()[1:] == [
        f"q1  {iso(now + 7200)}  {CLIENT}  hello      0         queued"]


def test_history_shows_the_missed_beside_asterisks_outcomes(lived):
    history = json.loads(run("history", "--json").stdout)
    assert [(notice["id"], notice["result"], notice["outcome"], notice["status"], notice["attempts"])
            for notice in history] == [("m1", "not delivered", "missed", "Missed", 0),
                                       ("f1", "unknown", "answered", "Completed", 1)]
    assert run("history", "--number", CLIENT, "--csv").stdout.splitlines()[1:] == [
        f"m1,{iso(lived.now - 4000)},{CLIENT},not delivered,missed,0,,Missed"]


def test_show_tells_a_queued_a_handed_and_a_missed_notice(lived):
    queued = json.loads(run("show", "--json", "q1").stdout)
    assert (queued["state"], queued["due"], queued["file"]) == ("queued", iso(lived.now + 7200), str(lived.queue_file))
    assert ["Setvar", f"NOTICE_DUE={lived.now + 7200}"] in queued["fields"]
    inbox = json.loads(run("show", "--json", lived.inbox_id).stdout)
    assert (inbox["state"], inbox["number"]) == ("queued", "79990000002")
    handed = json.loads(run("show", "--json", "h1").stdout)
    assert (handed["state"], handed["file"]) == ("handed", str(lived.call_file("h1")))
    missed = run("show", "m1")
    assert missed.exit_code == 0 and "state      finished: Missed\n" in missed.stdout
    assert run("show", "nobody").exit_code == 5


def test_status_counts_the_queue_and_exits_8_once_a_notice_is_due_and_no_engine_runs(lived):
    status = run("status")
    assert (status.exit_code, status.stderr) == (0, "")
    assert status.stdout == ("engine:               not running\n"
                             "queued:               2\n"
                             "handed:               1\n"
                             "calling now:          0\n"
                             "due in the next hour: 0\n"
                             f"first queued:         q1 to {CLIENT} at {iso(lived.now + 7200)}\n"
                             "finished:             1\n"
                             "missed:               1\n")
    lived.begin("h1", lived.now + 30)
    lived.enqueue(lived.notice("soon", int(time.time()) + 30))  # within lead, and nothing to hand it
    status = run("status", "--json")
    assert status.exit_code == 8
    assert status.stderr == ("notice status: no engine runs and notices are due: start it (systemctl start "
                             "notice-run)\n")
    shown = json.loads(status.stdout)
    assert {key: shown[key] for key in ("engine", "queued", "handed", "calling", "due_next_hour", "finished",
                                        "missed")} == {
        "engine": "not running", "queued": 3, "handed": 1, "calling": 1, "due_next_hour": 1, "finished": 1,
        "missed": 1}
    assert shown["first_queued"]["id"] == "soon" and shown["problem"] == status.stderr[len("notice status: "):-1]


def test_status_exits_8_when_asterisk_has_not_begun_a_handed_notice_well_after_its_time(site):
    now = int(time.time())
    site.enqueue(site.notice("stuck", now - 30))
    site.engine().step(now - 30)  # handed 30 s ago, for the second after; Asterisk never began it
    status = run("status")
    assert status.exit_code == 8
    assert status.stderr == ("notice status: Asterisk has not begun notice stuck, due a while ago: is Asterisk "
                             "running?\n")
    site.begin("stuck", now)
    assert run("status").exit_code == 0


# --- cancel ----------------------------------------------------------------------------------------

def recorded(site, name=DIALPLAN_RECORDING, days_old=0):
    """A recording the dialplan made, NAME.wav, DAYS_OLD days old; its path as a Data line."""
    path = site.recordings / f"{name}.wav"
    path.write_bytes(b"RIFF")
    moment = time.time() - days_old * 86400
    os.utime(path, (moment, moment))
    return str(site.recordings / name)


def test_cancel_of_a_queued_notice_takes_it_from_the_queue_and_its_recording_if_nothing_else_plays_it(site):
    now = int(time.time())
    data = recorded(site)
    site.enqueue(site.notice("q1", now + 7200, recording=data), site.notice("q2", now + 9000, recording=data))
    done = run("cancel", "--yes", "q1")
    assert (done.exit_code, done.stderr) == (0, "")
    assert done.stdout == f"cancelled q1: {CLIENT} due {iso(now + 7200)} (queued); kept its recording " \
                          f"{DIALPLAN_RECORDING} (a notice in the queue plays it)\n"
    assert site.states()["q1"] == ("cancelled", "cancelled")
    assert [notice["id"] for notice in json.loads(run("list", "--json").stdout)] == ["q2"]
    done = run("cancel", "--yes", "q2")
    assert done.stdout == f"cancelled q2: {CLIENT} due {iso(now + 9000)} (queued); removed its recording " \
                          f"{DIALPLAN_RECORDING}\n"
    assert not (site.recordings / f"{DIALPLAN_RECORDING}.wav").exists()
    assert run("list").stdout.count("\n") == 1


def test_cancel_finds_a_notice_still_in_the_inbox_and_by_number(site):
    spooled = run("spool", CLIENT, RECORDING, "+2h")
    notice_id = CALL_FILE.fullmatch(site.in_inbox()[0])[1]
    done = run("cancel", "--yes", "--number", CLIENT)
    assert (done.exit_code, done.stderr) == (0, "")
    due = re.fullmatch(r"notice \S+ scheduled for (\S+): \S+\n", spooled.stdout)[1]
    assert done.stdout == (f"cancelled {notice_id}: {CLIENT} due {due} (queued); its recording {RECORDING} is kept "
                           "(not recorded by the dialplan)\n")
    assert site.in_inbox() == [] and site.states() == {notice_id: ("cancelled", "cancelled")}


def handed(site, notice_id, due, **changes):
    site.enqueue(site.notice(notice_id, due, **changes))
    site.engine(lead=max(60, due - int(time.time()) + 1)).step(time.time())
    assert site.states()[notice_id] == ("handed", None)


def test_cancel_of_a_handed_notice_removes_its_call_file_and_the_queue_says_cancelled(site):
    due = int(time.time()) + 300
    handed(site, "h1", due)
    done = run("cancel", "--yes", "h1")
    assert (done.exit_code, done.stderr) == (0, "")
    assert done.stdout == (f"cancelled h1: {CLIENT} due {iso(due)}; its recording hello is kept (not recorded by "
                           "the dialplan)\n")
    assert site.handed() == [] and site.states()["h1"] == ("cancelled", "cancelled")


def test_cancel_of_a_notice_being_called_is_refused_and_it_stays_handed(site):
    due = int(time.time()) + 300
    handed(site, "h1", due)
    site.begin("h1", int(time.time()))
    done = run("cancel", "--yes", "h1")
    assert (done.exit_code, done.stdout) == (6, "")
    assert done.stderr == (f"notice cancel: h1 not cancelled: Asterisk is calling {CLIENT} now (attempt 1)\n"
                           "notice cancel: error: 1 of 1 notices left in the spool; cancel them once their call is "
                           "over (or --force if Asterisk is not running)\n")
    assert site.handed() == [call_file_name("h1")] and site.states()["h1"][0] == "handed"


# --- move ------------------------------------------------------------------------------------------

def queue_text(site, notice_id) -> str:
    return site.entry(notice_id).call_file


def test_move_of_a_queued_notice_keeps_its_id_and_its_call_file_carries_the_new_time(site):
    now = int(time.time())
    site.enqueue(site.notice("q1", now + 7200))
    done = run("move", "q1", "+3h")
    new_due = site.entry("q1").due
    assert abs(new_due - (now + 3 * 3600)) <= 2
    assert (done.exit_code, done.stdout, done.stderr) == (0, f"moved notice q1 to {CLIENT} to {iso(new_due)}\n", "")
    assert f"Setvar: NOTICE_DUE={new_due}\n" in queue_text(site, "q1") and "NOTICE_ID=q1\n" in queue_text(site, "q1")
    assert [(notice["id"], notice["due"]) for notice in json.loads(run("list", "--json").stdout)] == [
        ("q1", iso(new_due))]
    site.engine(lead=4 * 3600).step(now)
    check_call_file(site.call_file("q1"), CLIENT, new_due)


def test_move_of_a_notice_still_in_the_inbox_keeps_its_id(site):
    run("spool", CLIENT, RECORDING, "+2h")
    notice_id = CALL_FILE.fullmatch(site.in_inbox()[0])[1]
    done = run("move", notice_id, "2099-05-06 07:08")
    assert done.stdout == f"moved notice {notice_id} to {CLIENT} to 2099-05-06T07:08:00+00:00\n"
    assert site.in_inbox() == [] and site.entry(notice_id).due == MAY_6


def moved_to(stdout: str, old: str) -> str:
    match = re.fullmatch(rf"moved notice {old} to {CLIENT} to \S+ as notice (\S+) \(the old one is cancelled\)\n",
                         stdout)
    assert match, stdout
    return match[1]


def test_move_of_a_handed_notice_queues_it_anew_under_a_new_id_and_takes_its_file_back(site):
    handed(site, "h1", int(time.time()) + 300)
    done = run("move", "h1", "2099-05-06 07:08")
    assert (done.exit_code, done.stderr) == (0, "")
    new = moved_to(done.stdout, "h1")
    assert site.handed() == []
    assert site.states() == {"h1": ("cancelled", f"moved to {new}"), new: ("queued", None)}
    text = queue_text(site, new)
    assert f"Setvar: NOTICE_ID={new}\n" in text and f"Setvar: NOTICE_DUE={MAY_6}\n" in text
    assert [notice["id"] for notice in json.loads(run("list", "--json").stdout)] == [new]


def test_move_of_a_notice_being_called_is_refused_and_changes_nothing(site):
    handed(site, "h1", int(time.time()) + 300)
    site.begin("h1", int(time.time()))
    text = site.call_file("h1").read_text()
    done = run("move", "h1", "+2h")
    assert (done.exit_code, done.stdout) == (6, "")
    assert one_error(done, "notice move") == f"notice h1 not moved: Asterisk is calling {CLIENT} now (attempt 1)"
    assert site.states() == {"h1": ("handed", None)} and site.call_file("h1").read_text() == text


def test_move_in_direct_delivery_spools_it_anew_under_a_new_id_and_removes_the_old_file(site, monkeypatch):
    monkeypatch.setenv("NOTICE_DELIVERY", "direct")
    scheduled = run("spool", CLIENT, RECORDING, "+2h")
    old = CALL_FILE.fullmatch(site.spooled()[0])[1]
    done = run("move", old, "2099-05-06 07:08")
    assert (done.exit_code, done.stderr, scheduled.exit_code) == (0, "", 0)
    new = moved_to(done.stdout, old)
    assert site.spooled() == [call_file_name(new)]
    check_call_file(site.call_file(new), CLIENT, MAY_6)
    assert not site.queue_file.exists()


@pytest.mark.parametrize("when, message", [
    ("2020-01-01 10:00", "time '2020-01-01 10:00' is in the past (2020-01-01T10:00:00+00:00); give a future time"),
    ("tomorrow", None),
])
def test_move_to_a_past_or_unreadable_time_is_refused_with_exit_3(site, when, message):
    now = int(time.time())
    site.enqueue(site.notice("q1", now + 7200))
    done = run("move", "q1", when)
    assert (done.exit_code, done.stdout) == (3, "")
    line = one_error(done, "notice move")
    assert line == message if message else line.startswith("time 'tomorrow' ")
    assert site.entry("q1").due == now + 7200


def test_move_of_a_notice_missed_or_unknown_is_refused_with_exit_5(lived):
    missed = run("move", "m1", "+1h")
    assert (missed.exit_code, one_error(missed, "notice move")) == (
        5, "notice m1 is missed; only a notice not yet called can be moved")
    unknown = run("move", "nobody", "+1h")
    assert unknown.exit_code == 5 and "notice nobody is not pending in" in one_error(unknown, "notice move")


# --- gc --------------------------------------------------------------------------------------------

def test_gc_keeps_an_old_dialplan_recording_that_only_a_queued_notice_plays(site):
    played = recorded(site, "rec_1.1", days_old=40)
    recorded(site, "rec_2.2", days_old=40)  # unplayed: gc removes it
    in_inbox = recorded(site, "rec_3.3", days_old=40)
    site.enqueue(site.notice("q1", int(time.time()) + 7200, recording=played))
    assert run("spool", CLIENT, "rec_3.3", "+2h").exit_code == 0
    os.utime(in_inbox + ".wav", (time.time() - 40 * 86400,) * 2)
    done = run("gc")
    assert (done.exit_code, done.stderr) == (0, "")
    assert done.stdout.splitlines()[-1] == (f"removed 1 recording unused for 30 days from {site.recordings} "
                                           "(kept: 2 played by pending notices)")
    assert sorted(os.listdir(site.recordings)) == ["hello.wav", "rec_1.1.wav", "rec_3.3.wav"]
