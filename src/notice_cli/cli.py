"""The command line (the only module that knows click): notice-spool, and the `notice` group
whose subcommands see, cancel and bulk-schedule notices.

Each command builds its settings, makes one call to the module that does the work, and
prints; command.guarded() turns every error into one line and its exit code. The modules
behind list, show, cancel, history and import are imported in the command that uses them,
so notice-spool with options (which comes through here) does not load them.
"""

import sys
import time

import click

from . import __version__
from .command import PROG, guarded, run_spool
from .errors import EXIT_OK, NotCancelled, NotFound
from .settings import CONFIG_ENV, DEFAULT_CONFIG, SETTINGS, load

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
# The settings of the commands that read the spool: where it is, where recordings are (shown
# relative to it), the channel template (the number of a file that does not carry it), the zone.
READING = ("spool_dir", "recordings_dir", "channel", "tz")
# Where recordings are, for the commands that remove the dialplan's: the spool (what pending
# notices play), the recordings folder and the prepared one (never touched).
RECORDING_FOLDERS = ("spool_dir", "recordings_dir", "prepared_dir")


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


def picked_by(numbers, since, until, settings):
    from .inventory import Picked
    from .notice import check_number
    from .when import parse_instant

    now = time.time()
    bound = (lambda text: None if text is None else parse_instant(text, settings.zone, now, date_alone=True))
    return Picked(frozenset(check_number(number) for number in numbers), bound(since), bound(until))


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
      notice gc
      notice discard-recording rec_1732790000.42-1732790012
      notice dialplan install --freepbx

    The commands on notices take the settings of notice-spool (options, NOTICE_*
    environment variables, /etc/asterisk/notice.conf). Exit codes: 0 done, 2 bad command
    line, 3 invalid input, 4 the spool (or Asterisk's configuration) could not be read or
    written, 5 a notice named is not there, 6 a notice is being called and was not
    cancelled, 1 internal error.
    """


notice.add_command(notice_spool_command, "spool")


@notice.command("list")
@filter_options
@form_options("json", "csv")
@setting_options(*READING)
@config_option
@click.pass_context
def list_command(ctx, numbers, since, until, form, config, **options):
    """List the pending notices in outgoing/, by the time Asterisk calls them next.

    Columns: id, due (when Asterisk calls next: the scheduled time, the next
    attempt's while it retries, the current one's while it calls), number,
    recording, attempts (calls made so far) and state (pending, calling,
    retrying). Only notice-cli's own call files are listed.

    \b
      notice list
      notice list --number 79991234567 --since 2026-12-01 --until 2026-12-02
      notice list --json | jq -r '.[].id'
    """
    def run():
        from .inventory import pending
        from .output import LIST_COLUMNS, write_listing

        settings = load(options, config)
        listed = pending(settings, picked_by(numbers, since, until, settings))
        write_listing(LIST_COLUMNS, listed, settings, form, sys.stdout)
        return EXIT_OK

    ctx.exit(guarded("notice list", run))


@notice.command("show")
@click.argument("notice_id", metavar="ID")
@form_options("json")
@setting_options(*READING)
@config_option
@click.pass_context
def show_command(ctx, notice_id, form, config, **options):
    """Show one notice in full, pending or finished: its state, number, recording,
    scheduled and next call time, every attempt, its file and the call file's lines.

    \b
      notice show 20261128094512-9f3a1c2b
      notice show --json 20261128094512-9f3a1c2b

    Exit code 5 if there is no such notice.
    """
    def run():
        from .inventory import find
        from .output import shown_notice, write_shown

        settings = load(options, config)
        write_shown(shown_notice(find(settings, notice_id), settings), form, sys.stdout)
        return EXIT_OK

    ctx.exit(guarded("notice show", run))


@notice.command("cancel")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--number", "numbers", metavar="NUMBER", multiple=True,
              help="Cancel every pending notice to this client's number (repeat for several).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask (a script is never asked).")
@click.option("--force", is_flag=True,
              help="Remove even a notice Asterisk is calling or about to call (when Asterisk is down).")
@setting_options(*READING, "prepared_dir")
@config_option
@click.pass_context
def cancel_command(ctx, ids, numbers, yes, force, config, **options):
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
    if not ids and not numbers:
        raise click.UsageError("give the ids of the notices to cancel, or --number")

    def run():
        from .cleanup import discard_cancelled
        from .inventory import cancel, cancel_targets, describe
        from .notice import check_number

        settings = load(options, config)
        chosen = frozenset(check_number(number) for number in numbers)
        targets, missing = cancel_targets(settings, list(ids), chosen)
        if targets and not confirmed(_cancel_question(targets, settings.zone), yes):
            print("notice cancel: nothing cancelled", file=sys.stderr)
            return EXIT_OK
        cancelled, refused, forced = cancel(settings, targets, time.time(), force)
        fates = discard_cancelled(settings, cancelled, forced)
        for notice in cancelled:
            fate = fates.get(notice.recording)
            print(f"cancelled {describe(notice, notice.due, settings.zone)}{'; ' + fate.clause() if fate else ''}")
        for notice_id, why in refused:
            print(f"notice cancel: {notice_id} not cancelled: {why}", file=sys.stderr)
        if missing:
            raise NotFound(f"not pending in {settings.spool_dir}/outgoing: {', '.join(missing)}")
        if chosen and not targets:
            raise NotFound(f"no pending notice to {', '.join(sorted(chosen))}")
        if refused:
            raise NotCancelled(f"{len(refused)} of {len(targets)} notices left in the spool; cancel them once "
                               "their call is over (or --force if Asterisk is not running)")
        return EXIT_OK

    ctx.exit(guarded("notice cancel", run))


def _cancel_question(targets, zone) -> str:
    from .inventory import describe

    lines = [f"  {describe(notice, notice.due, zone)} ({notice.state})" for notice in targets]
    return "\n".join([f"Cancel {len(targets)} notice{'s' if len(targets) != 1 else ''}:"] + lines + ["Cancel them?"])


@notice.command("history")
@filter_options
@form_options("json", "csv")
@click.option("--prune-before", metavar="DATE",
              help="Instead of listing, delete the finished notices archived before DATE.")
@click.option("--yes", "-y", is_flag=True, help="With --prune-before: do not ask.")
@setting_options(*READING)
@config_option
@click.pass_context
def history_command(ctx, numbers, since, until, form, prune_before, yes, config, **options):
    """List the finished notices Asterisk archived in outgoing_done/, by the time they
    were scheduled: id, due, number, outcome (Completed: answered and played;
    Expired: no attempt answered; Failed: Asterisk could not use the call file),
    attempts and the last attempt's time.

    \b
      notice history --since -7d
      notice history --number 79991234567 --csv > client.csv
      notice history --prune-before 2026-01-01 --yes
    """
    if prune_before and (numbers or since or until or form != "table"):
        raise click.UsageError("--prune-before deletes by archive time alone; give it without filters or formats")

    def run():
        from .inventory import finished, prunable, prune
        from .output import HISTORY_COLUMNS, write_listing
        from .when import format_due, parse_instant

        settings = load(options, config)
        if prune_before:
            before = parse_instant(prune_before, settings.zone, time.time(), date_alone=True)
            names = prunable(settings, before)
            shown_before = format_due(before, settings.zone)
            if names and not confirmed(f"Delete {len(names)} finished notices archived before {shown_before}?", yes):
                print("notice history: nothing deleted", file=sys.stderr)
                return EXIT_OK
            print(f"deleted {prune(settings, names, before)} finished notices archived before {shown_before}")
            return EXIT_OK
        listed = finished(settings, picked_by(numbers, since, until, settings))
        write_listing(HISTORY_COLUMNS, listed, settings, form, sys.stdout)
        return EXIT_OK

    ctx.exit(guarded("notice history", run))


@notice.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows even if some are invalid.")
@setting_options()
@config_option
@click.pass_context
def import_command(ctx, file, skip_invalid, config, **options):
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
    def run():
        from .bulk import import_notices

        settings = load(options, config)
        # A name that is not UTF-8 (an old file system's) could be neither printed on a strict
        # terminal nor logged to syslog, after the notices were spooled: show it as click does.
        source = click.format_filename(getattr(file, "name", None) or "<stdin>")
        bar = None

        def planned(plan):
            nonlocal bar
            for problem in plan.problems:
                print(f"notice import: {problem} (skipped)", file=sys.stderr)
            if plan.notices and on_terminal(sys.stderr):
                bar = click.progressbar(length=len(plan.notices), label="spooling", file=sys.stderr)

        try:
            imported = import_notices(file, source, settings, time.time(), skip_invalid,
                                      progress=lambda done: bar and bar.update(done), planned=planned)
        finally:
            if bar:
                bar.render_finish()
        print(imported.report(source))
        return EXIT_OK

    ctx.exit(guarded("notice import", run))


@notice.command("gc")
@setting_options(*RECORDING_FOLDERS, "recording_retention")
@config_option
@click.pass_context
def gc_command(ctx, config, **options):
    """Remove the staging files that killed notice-spool or import runs left in the
    spool's tmp/ folder (notice-*.call; Asterisk never reads tmp/). A writer holds a
    lock on its staging file until it is in outgoing/, so a file is removed only when
    its writer is gone and it has not changed for 10 seconds: a notice being written
    is never touched.

    Then remove the dialplan's recordings (rec_...) that no pending notice plays and
    that nothing used for recording_retention days: since the last notice that played
    one finished, or since it was recorded if none did. Prepared recordings and files
    put in the recordings folder under other names are never removed. Safe to run at
    any time, e.g. hourly from cron.

    \b
      notice gc
      notice gc --spool-dir /var/spool/asterisk --recording-retention 7
    """
    def run():
        from .cleanup import collect
        from .spool import clean_staging

        settings = load(options, config)
        now = time.time()
        cleaned = clean_staging(settings.spool_dir, now)
        line = f"removed {len(cleaned.removed)} leftover staging file{'s' if len(cleaned.removed) != 1 else ''} from {cleaned.folder}"
        if cleaned.busy:
            line += f"; {len(cleaned.busy)} being written, left alone"
        print(line)
        print(collect(settings, now).report())
        return EXIT_OK

    ctx.exit(guarded("notice gc", run))


@notice.command("discard-recording")
@click.argument("name")
@setting_options(*RECORDING_FOLDERS)
@config_option
@click.pass_context
def discard_recording_command(ctx, name, config, **options):
    """Remove the recording NAME that the dialplan made for a notice it did not save
    (refused, spool failed, operator hung up): every file NAME.wav, NAME.gsm, ... at the
    top of the recordings folder. Only a dialplan recording (rec_...) is removed, and
    not while a pending notice plays it; it prints what it did in one line.

    \b
      notice discard-recording rec_1732790000.42-1732790012

    Exit codes: 0 removed, kept (a notice plays it) or no such recording, 3 NAME is
    not a dialplan recording's name, 4 the folders could not be read or written.
    """
    def run():
        from .cleanup import discard

        settings = load(options, config)
        print(discard(settings, name).line(settings.recordings_dir))
        return EXIT_OK

    ctx.exit(guarded("notice discard-recording", run))


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


def run_dialplan(layout, folder, removing, dry_run, options=None, config=None) -> int:
    """Install (or with REMOVING uninstall) and print one line per file and the next step, or
    with DRY_RUN the diff. OPTIONS and CONFIG give the operators' codes."""
    def run():
        from .dialplan_files import install_dialplan
        from .dialplan_install import diff, report

        codes = {} if removing else {name: getattr(load(options or {}, config), name) for name in CODES}
        changes = install_dialplan(layout, folder, removing, dry_run, codes)
        if dry_run:  # the files' own bytes, Latin-1 comments and all
            sys.stdout.flush()
            sys.stdout.buffer.write(diff(changes, folder).encode("utf-8", "surrogateescape"))
            print("dry run: nothing written")
        else:
            print("\n".join(report(changes, layout)))
        return EXIT_OK

    return guarded("notice dialplan", run)


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


@dialplan_group.command("install")
@layout_options
@setting_options(*CODES)
@config_option
@click.pass_context
def dialplan_install_command(ctx, freepbx, asterisk_dir, etc, dry_run, config, **codes):
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
    ctx.exit(run_dialplan(layout, folder, False, dry_run, codes, config))


@dialplan_group.command("uninstall")
@layout_options
@click.pass_context
def dialplan_uninstall_command(ctx, freepbx, asterisk_dir, etc, dry_run):
    """Remove what install wrote: the notice-cli blocks (every other line of the
    files stays as it is) and, for plain Asterisk, the *_notice.conf files.

    \b
      notice dialplan uninstall --freepbx
      notice dialplan uninstall --asterisk /etc/asterisk --dry-run
    """
    layout, folder = chosen_layout(freepbx, asterisk_dir, etc)
    ctx.exit(run_dialplan(layout, folder, True, dry_run))
