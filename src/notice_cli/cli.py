"""The command line (the only module that knows click)."""

import click

from . import __version__
from .entry import PROG, run_spool
from .settings import CONFIG_ENV, DEFAULT_CONFIG, SETTINGS


def setting_options(command):
    """One option per setting; the environment and the config file are read by settings.py,
    which names the source of a refused value."""
    for setting in reversed(SETTINGS):
        command = click.option(setting.option, setting.name, metavar=setting.metavar, default=None,
                               help=f"{setting.help} Env: {setting.env}.")(command)
    return command


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("number")
@click.argument("recording")
@click.argument("when")
@setting_options
@click.option("--config", metavar="FILE",
              help=f"INI file with a [notice] section of the settings above. Env: {CONFIG_ENV}. [{DEFAULT_CONFIG}]")
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
