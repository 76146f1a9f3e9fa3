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
import warnings
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
    "restore.cli.discover",   # pipelines, stages
    "restore.cli.serve",      # serve (the workbench)
    "restore.cli.schema",     # schema (JSON Schemas of the config files)
]


def log_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    path = Path(base) / "restore" / "logs"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return path
    except OSError:
        return Path(tempfile.gettempdir())


def write_crash_log(exc: BaseException, caught_warnings: list | None = None) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = log_dir() / f"restore-crash-{stamp}-{os.getpid()}.log"
    with open(path, "w") as fh:
        fh.write(f"restore {__version__}\nargv: {sys.argv!r}\n\n")
        for w in caught_warnings or []:
            fh.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno))
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=fh)
    return path


def one_line(exc: BaseException, limit: int = 2000) -> str:
    """The message as the promised single line: a newline from a library or ffmpeg is folded, and a
    message that quotes too much is cut (the log file, when there is one, keeps everything)."""
    text = " / ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


class RestoreGroup(click.Group):
    """Maps exceptions to exit codes: UserError → 2 (one line), anything else → 1 (+ log file)."""

    def invoke(self, ctx):
        # Library warnings (torch on a pickled checkpoint, …) are held back until the command ends: an
        # error is then one line, as promised, and the warnings go to the log file; after a success they
        # are shown as before, so nothing is hidden from a run that kept going.
        with warnings.catch_warnings(record=True) as caught:
            try:
                result = super().invoke(ctx)
            except UserError as exc:
                if caught:
                    write_crash_log(exc, caught)
                click.echo(f"restore: error: {one_line(exc)}", err=True)
                ctx.exit(exc.exit_code)
            except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
                raise
            except KeyboardInterrupt:
                click.echo("restore: interrupted", err=True)
                ctx.exit(130)
            except BrokenPipeError:
                # the reader of our output went away (`restore stages | head`): not an error of ours
                sys.stdout = open(os.devnull, "w")
                ctx.exit(141)
            except Exception as exc:  # internal error: never a traceback on the terminal
                path = write_crash_log(exc, caught)
                click.echo(f"restore: internal error: {type(exc).__name__}: {one_line(exc)} (details in {path})", err=True)
                ctx.exit(1)
        for w in caught:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        return result


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
