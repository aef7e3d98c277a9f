"""The command line (the only module that knows click): notice-spool, and the `notice` group
whose subcommands see, cancel and bulk-schedule notices.

Each command builds its settings, makes one call to the module that does the work, and
prints: @notice_command runs it guarded (command.py: every error one line and its exit
code) and exits with its code; @with_settings gives it the Settings of its options. The
modules behind list, show, cancel, history and import are imported in the command that uses
them, so notice-spool with options (which comes through here) does not load them.
"""

import functools
import sys
import time

import click

from . import __version__
from .command import PROG, guarded, run_spool
from .errors import EXIT_OK
from .settings import CONFIG_ENV, DEFAULT_CONFIG, QUEUE, SETTINGS, load

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
# The settings of the commands that read the spool: where it is, where recordings are (shown
# relative to it), the channel template (the number of a file that does not carry it), the zone.
READING = ("spool_dir", "recordings_dir", "channel", "tz", "delivery", "data_dir")
# Where recordings are, for the commands that remove the dialplan's: the spool (what pending
# notices play), the recordings folder and the prepared one (never touched).
RECORDING_FOLDERS = ("spool_dir", "recordings_dir", "prepared_dir", "delivery", "data_dir")


def setting_options(*names):
    """One option per setting (each of NAMES, or all); the environment and the config file
    are read by settings.py, which names the source of a refused value."""
    chosen = [setting for setting in SETTINGS if not names or setting.name in names]

    def decorate(command):
        for setting in reversed(chosen):
            command = click.option(setting.option, setting.name, metavar=setting.metavar, default=None,
                                   help=f"{setting.help} Env: {setting.env}.")(command)
        return command

    return decorate


config_option = click.option(
    "--config", metavar="FILE",
    help=f"INI file with a [notice] section of the settings above. Env: {CONFIG_ENV}. [{DEFAULT_CONFIG}]")


def with_settings(*names):
    """The options of the settings NAMES (or all) and --config; the command's function gets
    the Settings they give as its first argument, loaded when it runs (under its guard: a
    refused value is one line and exit 3)."""
    chosen = names or tuple(setting.name for setting in SETTINGS)

    def decorate(function):
        @functools.wraps(function)
        def loaded(config, **params):
            options = {name: params.pop(name) for name in chosen}
            return function(load(options, config), **params)

        return setting_options(*names)(config_option(loaded))

    return decorate


def notice_command(name: str, group=None, prog: str = "", check=None):
    """The command NAME of the notice group (or of GROUP). CHECK, if any, is given the
    command's parameters first and raises click's usage errors; then the function runs
    guarded, its errors shown as `PROG: error: ...` (PROG: notice NAME), and the command
    exits with the code it returns (None: 0)."""
    def decorate(function):
        @functools.wraps(function)
        def command(**params):
            if check:
                check(**params)
            code = guarded(prog or f"notice {name}", lambda: function(**params) or EXIT_OK)
            click.get_current_context().exit(code)

        return (group or notice).command(name)(command)

    return decorate


def filter_options(command):
    """The filters of list and history: clients' numbers and a time range."""
    command = click.option("--until", metavar="WHEN",
                           help="Only notices due before WHEN (keypad, ISO 8601, a date alone, +1d or -1d).")(command)
    command = click.option("--since", metavar="WHEN",
                           help="Only notices due at or after WHEN (same forms as --until).")(command)
    return click.option("--number", "numbers", metavar="NUMBER", multiple=True,
                        help="Only the notices to this client's number (repeat for several).")(command)


def form_options(*forms):
    """--json and --csv (those of FORMS) for scripts; a table otherwise."""
    def decorate(command):
        for form in reversed(forms):
            command = click.option(f"--{form}", "form", flag_value=form,
                                   help=f"Print {form.upper()} for scripts instead of a table.")(command)
        return click.option("--table", "form", flag_value="table", default=True, hidden=True)(command)

    return decorate


def on_terminal(stream) -> bool:
    """Whether a person is at STREAM: then cancel asks first and import shows its progress."""
    return stream.isatty()


def confirmed(question: str, assume_yes: bool) -> bool:
    """Ask QUESTION on a terminal unless ASSUME_YES; a script (no terminal) is not asked."""
    if assume_yes or not on_terminal(sys.stdin):
        return True
    return click.confirm(question, default=False, err=True)


# --- notice-spool --------------------------------------------------------------------------

@click.command(context_settings=CONTEXT)
@click.argument("number")
@click.argument("recording")
@click.argument("when")
@setting_options()
@config_option
@click.option("--dry-run", is_flag=True, help="Print the call file instead of spooling it.")
@click.version_option(__version__, prog_name=PROG)
@click.pass_context
def notice_spool_command(ctx, number, recording, when, config, dry_run, **options):
    """Schedule a voice notice: at WHEN, Asterisk calls NUMBER and plays RECORDING.

    \b
    NUMBER     the client's number: digits, optionally one leading +
    RECORDING  a recording's name in the recordings folder, e.g. rec_1732790000.42,
               or the number N of prepared recording N in the prepared folder
    WHEN       keypad 2026*12*01**10***30, ISO '2026-12-01 10:30' or
               '2026-12-01T10:30:00+03:00', or relative +15m, +2h, +1d

    Example, as the dialplan runs it:

    \b
      notice-spool 79991234567 rec_1732790000.42 '2026*12*01**10***30'

    Exit codes: 0 scheduled, 2 bad command line, 3 invalid number, recording,
    time or setting, 4 the spool could not be written (nothing was scheduled).
    """
    ctx.exit(run_spool(number, recording, when, options, config, dry_run))


# --- the notice group ----------------------------------------------------------------------

@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="notice")
def notice():
    """Voice notices through Asterisk's call-file spool: schedule them, one or many at once,
    see what is pending and what happened to the ones that fired, cancel them.

    \b
      notice spool 79991234567 rec_1732790000.42 '2026*12*01**10***30'
      notice list --number 79991234567
      notice cancel 20261128094512-9f3a1c2b
      notice history --since -7d --csv
      notice import notices.csv
      notice move 20261128094512-9f3a1c2b '2026-12-02 10:30'
      notice gc
      notice discard-recording rec_1732790000.42-1732790012
      notice dialplan install --freepbx
      notice run          (queue delivery: the engine, as a service)
      notice status

    The commands on notices take the settings of notice-spool (options, NOTICE_*
    environment variables, /etc/asterisk/notice.conf). Exit codes: 0 done, 2 bad command
    line, 3 invalid input, 4 the spool, the queue (or Asterisk's configuration) could not
    be read or written, 5 a notice named is not there, 6 a notice is being called and was
    not cancelled or moved, 7 another engine runs, 8 notices are due and no engine runs,
    1 internal error.
    """


notice.add_command(notice_spool_command, "spool")


@notice_command("list")
@filter_options
@form_options("json", "csv")
@with_settings(*READING)
def list_command(settings, numbers, since, until, form):
    """List the pending notices in outgoing/, by the time Asterisk calls them next.

    Columns: id, due (when Asterisk calls next: the scheduled time, the next
    attempt's while it retries, the current one's while it calls), number,
    recording, attempts (calls made so far) and state (pending, calling,
    retrying: waiting for its next attempt, which in reported delivery is a call
    file of its own, notice-ID.2.call...). Only notice-cli's own call files are
    listed.

    \b
      notice list
      notice list --number 79991234567 --since 2026-12-01 --until 2026-12-02
      notice list --json | jq -r '.[].id'
    """
    from .inventory import Picked, pending
    from .output import LIST_COLUMNS, write_listing

    picked = Picked.given(numbers, since, until, settings.zone, time.time())
    if settings.delivery == QUEUE:
        from .queue_inventory import listing

        listed = listing(settings, picked, lambda: pending(settings, picked))
    else:
        listed = pending(settings, picked)
    write_listing(LIST_COLUMNS, listed, settings, form, sys.stdout)


@notice_command("show")
@click.argument("notice_id", metavar="ID")
@form_options("json")
@with_settings(*READING)
def show_command(settings, notice_id, form):
    """Show one notice in full, pending or finished: its state, its outcome (as
    notice history has it: delivered, not delivered and why, pending, unknown),
    number, recording, scheduled and next call time, every attempt (in reported
    delivery with its outcome, the seconds of the message played and what
    followed: another call at its time, or the end), each run of on_failure with
    its exit code and output, its file and the call file's lines.

    \b
      notice show 20261128094512-9f3a1c2b
      notice show --json 20261128094512-9f3a1c2b

    Exit codes: 5 if there is no such notice, 4 if its ledger (data_dir/outcomes)
    cannot be read.
    """
    from .inventory import find
    from .output import shown_notice, write_shown

    found = None
    if settings.delivery == QUEUE:
        from .queue_inventory import find_queued

        found = find_queued(settings, notice_id)
    write_shown(shown_notice(found or find(settings, notice_id), settings), form, sys.stdout)


def _ids_or_numbers(ids, numbers, **_):
    if not ids and not numbers:
        raise click.UsageError("give the ids of the notices to cancel, or --number")


@notice_command("cancel", check=_ids_or_numbers)
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--number", "numbers", metavar="NUMBER", multiple=True,
              help="Cancel every pending notice to this client's number (repeat for several).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask (a script is never asked).")
@click.option("--force", is_flag=True,
              help="Remove even a notice Asterisk is calling or about to call (when Asterisk is down).")
@with_settings(*READING, "prepared_dir")
def cancel_command(settings, ids, numbers, yes, force):
    """Cancel pending notices: remove their call files from outgoing/ before Asterisk
    calls. Each ID is a notice's id or its call file's path in outgoing/; nothing
    outside outgoing/ is ever removed. On a terminal it asks first. A notice's
    recording goes too if the dialplan recorded it and no other pending notice plays
    it; a prepared recording, or one put there by hand, stays.

    A notice Asterisk is calling right now, or whose time is this very moment, is
    left and reported (exit code 6): removing its file would not stop the call.
    Once the attempt has failed it can be cancelled before the next one.

    \b
      notice cancel 20261128094512-9f3a1c2b
      notice cancel --yes --number 79991234567

    Exit codes: 0 cancelled, 5 an ID is not a pending notice (the others are
    cancelled), 6 a notice was being called and was left.
    """
    from .inventory import cancel, cancel_targets

    if settings.delivery == QUEUE:
        return _cancel_in_queue(settings, ids, numbers, yes, force)
    targets = cancel_targets(settings, ids, numbers)
    if targets.notices and not confirmed(targets.question(settings.zone), yes):
        print("notice cancel: nothing cancelled", file=sys.stderr)
        return
    _cancel_and_report(settings, cancel(settings, targets, time.time(), force))


def _cancel_and_report(settings, cancelled) -> None:
    for line in cancelled.report(settings.zone):
        print(line)
    for line in cancelled.refusals():
        print(f"notice cancel: {line}", file=sys.stderr)
    failure = cancelled.failure(settings.spool_dir)
    if failure:
        raise failure


def _cancel_in_queue(settings, ids, numbers, yes, force) -> None:
    """Queue delivery's cancel: the notices still in the queue there, the handed ones (and any
    spooled directly) in outgoing/ as in direct delivery, after one question for all."""
    from .cleanup import discard_cancelled
    from .inventory import cancel, cancel_targets, describe
    from .notice import check_number
    from .queue_inventory import cancel_waiting, queue_targets, restore_handed

    numbers = [check_number(number) for number in numbers]
    now = time.time()
    in_queue = queue_targets(settings, ids, numbers, now)
    targets = cancel_targets(settings, in_queue.unknown + in_queue.handed, numbers)
    waiting = in_queue.lines(settings.zone)
    if waiting or targets.notices:
        question = targets.question(settings.zone).splitlines()
        count = len(waiting) + len(targets.notices)
        question = [f"Cancel {count} notice{'s' if count != 1 else ''}:"] + waiting + question[1:]
        if not confirmed("\n".join(question), yes):
            print("notice cancel: nothing cancelled", file=sys.stderr)
            return
    now = time.time()  # the answer may come long after the question: judge each notice now
    cancelled_in_queue, handed_now, being_handed = cancel_waiting(settings, in_queue, now)
    if handed_now:
        targets = cancel_targets(settings, in_queue.unknown + in_queue.handed + handed_now, numbers)
    cancelled = cancel(settings, targets, now, force)
    # Not removed (Asterisk is calling it) or not found (Asterisk has finished it): handed
    # again, so that the engine records what Asterisk made of it.
    handed = set(in_queue.handed + handed_now)
    restore_handed(settings, [notice_id for notice_id, _ in cancelled.refused] +
                   [given for given in targets.not_found if given in handed], now)
    cancelled = cancelled._replace(refused=cancelled.refused + being_handed)
    fates = discard_cancelled(settings, cancelled_in_queue, ())
    for notice in cancelled_in_queue:
        fate = fates.get(notice.recording)
        print(f"cancelled {describe(notice, notice.due, settings.zone)} (queued){'; ' + fate.clause() if fate else ''}")
    if cancelled_in_queue and targets.numbers and not targets.notices:
        targets = targets._replace(numbers=frozenset())  # the numbers' notices were in the queue
    _cancel_and_report(settings, cancelled._replace(targets=targets))


def _prune_alone(numbers, since, until, outcomes, summary, form, prune_before, **_):
    if prune_before and (numbers or since or until or outcomes or summary or form != "table"):
        raise click.UsageError("--prune-before deletes by archive time alone; give it without filters or formats")
    if summary and form == "csv":
        raise click.UsageError("--summary prints a table, or JSON with --json")


@notice_command("history", check=_prune_alone)
@filter_options
@click.option("--outcome", "outcomes", metavar="WORD", multiple=True,
              help="Only the notices that ended so (repeat for several): delivered, not-delivered, pending, "
                   "unknown, or an outcome: confirmed, heard, hung_up, voicemail, machine, busy, no_answer, "
                   "failed, unanswered, missed, answered, unreported.")
@click.option("--summary", is_flag=True,
              help="Instead of the notices, how many ended with each outcome, and the totals of delivered, "
                   "not delivered, pending and unknown.")
@form_options("json", "csv")
@click.option("--prune-before", metavar="DATE",
              help="Instead of listing, delete the finished notices archived before DATE.")
@click.option("--yes", "-y", is_flag=True, help="With --prune-before: do not ask.")
@with_settings(*READING)
def history_command(settings, numbers, since, until, outcomes, summary, form, prune_before, yes):
    """List the finished notices, one a line however many calls each took, by the time
    they were scheduled: id, due, number, result and outcome (the notice's final
    outcome), attempts (calls made), last_attempt (when the last began) and status
    (Asterisk's Status of the last call file: Completed, Expired, Failed; Missed in
    queue delivery).

    \b
    result         outcome
    delivered      confirmed (1 pressed), heard (played to its end)
    not delivered  hung_up, voicemail, machine, busy, no_answer, failed; heard
                   if retry_on names it; Playback delivery: unanswered (Expired),
                   failed (Failed); queue delivery: missed
    pending        - (called again: retry_on)
    unknown        answered (Playback delivery, Completed: whether the message was
                   heard it cannot tell); unreported (reported delivery, archived
                   with no report: is [notice-deliver] in the dialplan?)

    \b
      notice history --since -7d
      notice history --number 79991234567 --csv > client.csv
      notice history --outcome not-delivered --since 2026-12-01
      notice history --summary --since 2026-12-02 --until 2026-12-03
      notice history --prune-before 2026-01-01 --yes

    Exit code 3 for a filter that is not understood (an --outcome word among them).
    """
    if prune_before:
        _prune(settings, prune_before, yes)
        return
    from .history import Chosen, Summary, with_outcomes
    from .inventory import Picked, finished
    from .output import HISTORY_COLUMNS, write_listing, write_summary

    chosen = Chosen.given(outcomes)
    picked = Picked.given(numbers, since, until, settings.zone, time.time())
    missed = ()
    if settings.delivery == QUEUE:
        from .queue_inventory import missed as queue_missed

        missed = queue_missed(settings, picked)
    rows = with_outcomes(finished(settings, picked, missed), settings.data_dir)
    if chosen:
        rows = chosen.picked(rows)
    if summary:
        write_summary(Summary.of(rows, picked.since, picked.until), settings.zone, form, sys.stdout)
    else:
        write_listing(HISTORY_COLUMNS, rows, settings, form, sys.stdout)


def _prune(settings, before, yes) -> None:
    """notice history --prune-before BEFORE: delete the finished notices archived before it,
    once a person at the terminal says yes."""
    from .inventory import prunable, prune

    pruning = prunable(settings, before, time.time())
    if pruning.names and not confirmed(pruning.question(settings.zone), yes):
        print("notice history: nothing deleted", file=sys.stderr)
        return
    print(pruning.report(prune(settings, pruning), settings.zone))


@notice_command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows even if some are invalid.")
@with_settings()
def import_command(settings, file, skip_invalid):
    """Schedule the notices of a CSV FILE ('-' for stdin), one per row. The header row
    names the columns: number, recording (a name, or N for prepared recording N),
    when (as for notice-spool), and optionally id.

    Every row is checked first: if any is invalid, each is reported with its line
    number and nothing is spooled (unless --skip-invalid). Importing the same file
    again skips the notices it already scheduled.

    \b
      notice import notices.csv
      printf 'number,recording,when\\n79991234567,3,2026-12-01 10:30\\n' | notice import -
    """
    from .bulk import import_notices

    # A name that is not UTF-8 (an old file system's) could be neither printed on a strict
    # terminal nor logged to syslog, after the notices were spooled: show it as click does.
    source = click.format_filename(getattr(file, "name", None) or "<stdin>")
    with ImportProgress() as progress:
        imported = import_notices(file, source, settings, time.time(), skip_invalid,
                                  progress=progress.spooled, planned=progress.planned)
    print(imported.report(source))


class ImportProgress:
    """What notice import shows while it works: each row it skips, on stderr, and on a
    terminal a progress bar of the notices spooled."""

    def __init__(self):
        self.bar = None

    def planned(self, plan) -> None:
        for problem in plan.problems:
            print(f"notice import: {problem} (skipped)", file=sys.stderr)
        if plan.notices and on_terminal(sys.stderr):
            self.bar = click.progressbar(length=len(plan.notices), label="spooling", file=sys.stderr)

    def spooled(self, count: int) -> None:
        if self.bar:
            self.bar.update(count)

    def __enter__(self):
        return self

    def __exit__(self, *raised) -> None:
        if self.bar:
            self.bar.render_finish()


@notice_command("gc")
@with_settings(*RECORDING_FOLDERS, "recording_retention")
def gc_command(settings):
    """Remove the staging files that killed notice-spool or import runs left in the
    spool's tmp/ folder (notice-*.call; Asterisk never reads tmp/), and in queue
    delivery those notice-spool left in data_dir's tmp/. A writer holds a
    lock on its staging file until it is in outgoing/, so a file is removed only when
    its writer is gone and it has not changed for 10 seconds: a notice being written
    is never touched.

    Then remove the dialplan's recordings (rec_...) that no pending notice plays and
    that nothing used for recording_retention days: since the last notice that played
    one finished, or since it was recorded if none did. Prepared recordings and files
    put in the recordings folder under other names are never removed.

    Last, in reported delivery, start again each on_failure run whose runner was
    stopped (a restart, a kill) before it kept the run. Safe to run at any time,
    e.g. hourly from cron.

    \b
      notice gc
      notice gc --spool-dir /var/spool/asterisk --recording-retention 7
    """
    from .cleanup import collect
    from .spool_writer import clean_queue_staging, clean_staging

    now = time.time()
    folders = [clean_staging(settings.spool_dir, now)]
    if settings.delivery == QUEUE:
        folders.append(clean_queue_staging(settings.data_dir, now))
    for cleaned in folders:
        line = f"removed {len(cleaned.removed)} leftover staging file{'s' if len(cleaned.removed) != 1 else ''} from {cleaned.folder}"
        if cleaned.busy:
            line += f"; {len(cleaned.busy)} being written, left alone"
        print(line)
    print(collect(settings, now).report())
    from .report import restart_stopped_runs

    restarted = restart_stopped_runs(settings, now)
    if restarted:
        print(f"started again on_failure of {len(restarted)} notice(s) whose run was stopped before it was kept: "
              + " ".join(restarted))


@notice_command("move")
@click.argument("notice_id", metavar="ID")
@click.argument("when")
@with_settings(*READING, "file_mode", "owner")
def move_command(settings, notice_id, when):
    """Reschedule the notice ID to WHEN (the forms of notice-spool). A notice still in
    the queue (queue delivery) keeps its id; one already in outgoing/ is spooled anew
    under a new id and its old call file removed (Asterisk keeps the time of a file
    name it has seen, so a name never comes back with another time). A notice Asterisk
    is calling, or is about to, is not moved (exit 6).

    If a move in outgoing/ is interrupted (killed, power) between the two steps, both
    notices are pending and notice list --number shows them: cancel the old one. In
    queue delivery the engine finishes the move at its next start.

    \b
      notice move 20261128094512-9f3a1c2b '2026-12-02 10:30'
      notice move 20261128094512-9f3a1c2b +1h

    Exit codes: 0 moved, 3 invalid time, 5 no such notice waiting, 6 being called.
    """
    from .queue_inventory import move

    print(move(settings, notice_id, when, time.time()).report(settings.zone))


@notice_command("run")
@with_settings()
def run_command(settings):
    """The delivery engine of queue delivery (delivery = queue), in the foreground:
    hands each queued notice to Asterisk lead seconds before it is due, no more than
    max_calls in progress and call_rate starting a second, records what Asterisk made
    of it, and marks missed a notice it could not start within late_limit. Stops on
    SIGTERM or Ctrl-C. Run it as a service (systemd/notice-run.service, README).

    \b
      notice run --delivery queue --max-calls 10 --call-rate 2

    Exit codes: 0 stopped, 3 invalid setting, 4 data_dir or the spool cannot be
    used, 7 another notice run is running on this data_dir.
    """
    from .engine import Engine, say_line

    if settings.delivery != QUEUE:
        print("notice run: delivery is direct: notices go straight to outgoing/ and there is nothing to hand; "
              "set delivery = queue to use the engine", file=sys.stderr)
    Engine(settings, say_line).run()


@notice_command("status")
@form_options("json")
@with_settings(*READING, "lead")
def status_command(settings, form):
    """The delivery engine's health: whether it runs (and since when), how many notices
    are queued, handed to Asterisk and being called now, how many are due in the next
    hour, and the first queued one. For monitoring checks:

    \b
      notice status || alert-the-admin

    Exit codes: 0 healthy, 8 notices are due and no engine runs, or Asterisk has not
    begun a handed notice well after its time.
    """
    from .errors import EXIT_UNHEALTHY
    from .output import write_health
    from .queue_inventory import health

    now = time.time()
    found = health(settings, now)
    problem = found.problem(settings.lead, now)
    write_health(found, problem, settings.zone, now, form, sys.stdout)
    if problem:
        print(f"notice status: {problem}", file=sys.stderr)
        return EXIT_UNHEALTHY


@notice_command("discard-recording")
@click.argument("name")
@with_settings(*RECORDING_FOLDERS)
def discard_recording_command(settings, name):
    """Remove the recording NAME that the dialplan made for a notice it did not save
    (refused, spool failed, operator hung up): every file NAME.wav, NAME.gsm, ... at the
    top of the recordings folder. Only a dialplan recording (rec_...) is removed, and
    not while a pending notice plays it; it prints what it did in one line.

    \b
      notice discard-recording rec_1732790000.42-1732790012

    Exit codes: 0 removed, kept (a notice plays it) or no such recording, 3 NAME is
    not a dialplan recording's name, 4 the folders could not be read or written.
    """
    from .cleanup import discard

    print(discard(settings, name).line(settings.recordings_dir))


@notice_command("report")
@click.argument("notice_id", metavar="ID")
@click.argument("attempt")
@click.argument("outcome")
@click.argument("played")
@with_settings()
def report_command(settings, notice_id, attempt, outcome, played):
    """Keep the OUTCOME of ATTEMPT (1, 2, ...) of notice ID, with the whole seconds of its
    message PLAYED, and act on it: the dialplan's [notice-deliver] runs it at the end of
    every attempt in reported delivery (README, "Delivery outcomes"). The report is on the
    disk (data_dir/outcomes/ID.jsonl) before it returns. An outcome in retry_on with
    retries left spools the next attempt retry_time later; a notice that ends not
    delivered starts on_failure. A second report of one attempt changes nothing.

    \b
      notice report 20261128094512-9f3a1c2b 1 heard 14

    OUTCOME: confirmed, heard, hung_up, voicemail, machine, busy, no_answer, failed.
    Exit codes: 0 kept (or kept before), 3 not a report, 5 no call file of that attempt
    (nothing kept for either), 4 data_dir or the spool could not be written.
    """
    import time

    from .report import report_attempt
    from .when import format_due

    done = report_attempt(notice_id, attempt, outcome, played, settings, time.time())
    print(done.line(lambda at: format_due(at, settings.zone)))


# --- notice dialplan -------------------------------------------------------------------------

def layout_options(command):
    """Where the dialplan goes: --freepbx (with --etc) or --asterisk DIR; and --dry-run."""
    command = click.option("--dry-run", is_flag=True, help="Print the changes as a unified diff; write nothing.")(command)
    command = click.option("--etc", metavar="DIR",
                           help="With --freepbx: the folder FreePBX writes its configuration to. [/etc/asterisk]")(command)
    command = click.option("--asterisk", "asterisk_dir", metavar="DIR",
                           help="Plain Asterisk: its configuration folder, with extensions.conf (/etc/asterisk).")(command)
    return click.option("--freepbx", is_flag=True,
                        help="FreePBX: its *_custom.conf files (FreePBX's own files are never touched).")(command)


def chosen_layout(freepbx, asterisk_dir, etc):
    """The layout and the folder the options name; a usage error unless exactly one is named."""
    from .dialplan_install import LAYOUTS

    if freepbx == (asterisk_dir is not None):
        raise click.UsageError("give either --freepbx or --asterisk DIR")
    if etc is not None and not freepbx:
        raise click.UsageError("--etc goes with --freepbx; give the plain Asterisk folder as --asterisk DIR")
    layout = LAYOUTS["freepbx" if freepbx else "asterisk"]
    return layout, (etc or layout.folder) if freepbx else asterisk_dir


CODES = ("in_call_code", "after_call_code", "any_time_code")


def _one_layout(freepbx, asterisk_dir, etc, **_):
    chosen_layout(freepbx, asterisk_dir, etc)


def change_dialplan(layout, folder, removing, dry_run, codes) -> None:
    """Install with the operators' CODES (or with REMOVING uninstall) and print one line per
    file and the next step, or with DRY_RUN the diff."""
    from .dialplan_files import install_dialplan
    from .dialplan_install import diff, report

    changes = install_dialplan(layout, folder, removing, dry_run, codes)
    if dry_run:  # the files' own bytes, Latin-1 comments and all
        sys.stdout.flush()
        sys.stdout.buffer.write(diff(changes, folder).encode("utf-8", "surrogateescape"))
        print("dry run: nothing written")
    else:
        print("\n".join(report(changes, layout)))


@notice.group("dialplan", context_settings=CONTEXT)
def dialplan_group():
    """Install, upgrade or remove the notice dialplan (the operators' *7, *61 and *62) in
    FreePBX or plain Asterisk.

    \b
      notice dialplan install --freepbx
      notice dialplan install --asterisk /etc/asterisk --dry-run
      notice dialplan uninstall --freepbx

    Exit codes: 0 done, 2 bad command line, 3 not a FreePBX or Asterisk folder, or
    broken notice-cli markers, 4 a file could not be read or written.
    """


@notice_command("install", group=dialplan_group, prog="notice dialplan", check=_one_layout)
@layout_options
@with_settings(*CODES)
def dialplan_install_command(settings, freepbx, asterisk_dir, etc, dry_run):
    """Install or upgrade the notice dialplan; a second run changes nothing. It
    prints one line per file, and what to run to apply the change.

    FreePBX (--freepbx): a block between "; BEGIN notice-cli" and "; END notice-cli"
    lines at the end of extensions_custom.conf, globals_custom.conf and
    features_applicationmap_custom.conf, replaced where it stands on upgrade. Put
    your own changes after the END line: a global set there overrides ours. The
    predial hooks are those of this FreePBX's version; a hook you wrote yourself is
    left as it is, and the line to add to it is printed.

    Plain Asterisk (--asterisk DIR): extensions_notice.conf, globals_notice.conf and
    features_notice.conf written whole, and blocks that #include them in
    extensions.conf ([globals] and the end) and features.conf ([applicationmap]).
    Your operators' context still needs 'include => notice-codes' (README).

    The operators' codes are *7 in a call, *61 after a call and *62 at any time,
    none a FreePBX default; change them here (or in notice.conf: in_call_code,
    after_call_code, any_time_code). An upgrade keeps the codes installed before.

    \b
      notice dialplan install --freepbx
      notice dialplan install --freepbx --dry-run
      notice dialplan install --asterisk /etc/asterisk --after-call-code '*71'
    """
    layout, folder = chosen_layout(freepbx, asterisk_dir, etc)
    change_dialplan(layout, folder, False, dry_run, {name: getattr(settings, name) for name in CODES})


@notice_command("uninstall", group=dialplan_group, prog="notice dialplan", check=_one_layout)
@layout_options
def dialplan_uninstall_command(freepbx, asterisk_dir, etc, dry_run):
    """Remove what install wrote: the notice-cli blocks (every other line of the
    files stays as it is) and, for plain Asterisk, the *_notice.conf files.

    \b
      notice dialplan uninstall --freepbx
      notice dialplan uninstall --asterisk /etc/asterisk --dry-run
    """
    layout, folder = chosen_layout(freepbx, asterisk_dir, etc)
    change_dialplan(layout, folder, True, dry_run, {})
