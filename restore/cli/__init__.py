"""The command line: a thin skin over the library (argument parsing and exit codes only).

Exit codes: 0 success; 2 a problem with what the user gave us (one line on stderr);
1 an internal error (one line naming the log file that holds the traceback).
Each command group lives in its own module and is added to ``main`` below.
"""

from __future__ import annotations

import datetime
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path

import click

from restore import __version__
from restore.errors import UserError

COMMAND_MODULES = [
    "restore.cli.media",      # probe, run, demo
    "restore.cli.weights",    # weights list|show|import
    "restore.cli.training",   # corpus, degrade, analyze, train
    "restore.cli.train",      # train
    "restore.cli.adapt",      # adapt
    "restore.cli.provenance", # verify, package
    "restore.cli.review",     # compare
    "restore.cli.batch",      # batch
    "restore.cli.serve",      # serve (the workbench)
]


def log_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    path = Path(base) / "restore" / "logs"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return path
    except OSError:
        return Path(tempfile.gettempdir())


def write_crash_log(exc: BaseException) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = log_dir() / f"restore-crash-{stamp}-{os.getpid()}.log"
    with open(path, "w") as fh:
        fh.write(f"restore {__version__}\nargv: {sys.argv!r}\n\n")
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=fh)
    return path


class RestoreGroup(click.Group):
    """Maps exceptions to exit codes: UserError → 2 (one line), anything else → 1 (+ log file)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"restore: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("restore: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # internal error: never a traceback on the terminal
            path = write_crash_log(exc)
            click.echo(f"restore: internal error: {type(exc).__name__}: {exc} (details in {path})", err=True)
            ctx.exit(1)


def _terminate_cleanly(signum, frame):
    # SIGTERM (kill, a batch scheduler, systemd) unwinds like Ctrl-C, so temporary files
    # are removed on the way out; SIGKILL cannot be caught, and leaves only hidden temp names
    raise KeyboardInterrupt


@click.group(cls=RestoreGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="restore")
def main() -> None:
    """Restore archival footage: frame-accurate, measured, with provenance."""
    signal.signal(signal.SIGTERM, _terminate_cleanly)


def _load_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # a command group not written yet
                continue
            raise
        module.register(main)


_load_commands()
