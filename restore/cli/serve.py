"""Command: serve (the conservator's workbench)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but localhost needs the token printed at start.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
              help="The folder whose films the workbench may open (nothing outside it).")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where jobs, outputs, corrections and packages go [default: ROOT/restore-workbench].")
@click.option("--presets", "presets", multiple=True, type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Another folder of pipeline YAML files to offer as presets (repeatable).")
@click.option("--segment-frames", default=250, show_default=True, type=click.IntRange(1),
              help="Frames per segment: a re-run after a correction redoes only the segments it touches.")
def serve(host: str, port: int, root: Path, workspace: Path | None, presets: tuple[Path, ...],
          segment_frames: int) -> None:
    """Start the workbench: run, review, correct and approve restorations in a browser."""
    from restore.serve import serve as run_server

    run_server(host=host, port=port, root=root, workspace=workspace, presets=presets,
               segment_frames=segment_frames, echo=lambda line: click.echo(line, err=True))


def register(main: click.Group) -> None:
    main.add_command(serve)
