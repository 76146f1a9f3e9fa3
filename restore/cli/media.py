"""Commands: probe, run, demo."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from restore.cli.progress import Progress
from restore.errors import UserError


def _parse_size(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    m = re.fullmatch(r"(\d+)[xX](\d+)", value)
    if not m or int(m[1]) < 2 or int(m[2]) < 2:
        raise UserError(f"--size must be WIDTHxHEIGHT (e.g. 1440x1080), got '{value}'")
    return int(m[1]), int(m[2])


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--no-count", is_flag=True, help="Do not decode to count frames when the container stores no count.")
def probe(file: Path, no_count: bool) -> None:
    """Print what FILE holds as JSON (streams, rates, frame count, fields, colour, timecode)."""
    from restore.media.probe import probe as probe_file

    click.echo(json.dumps(probe_file(file, count=not no_count), indent=2))


@click.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help=".mkv → FFV1 preservation master; .mp4/.mov → H.264 access copy.")
@click.option("-p", "--pipeline", "pipeline_name", default="default", show_default=True,
              help="A name from pipelines/ or a path to a pipeline YAML file.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--keep-frames", type=click.Path(path_type=Path), help="Also write every restored frame as PNG/TIFF.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--scale", type=click.IntRange(1, 8), help="Super-resolution factor (overrides the pipeline).")
@click.option("--size", help="Exact output size WxH, e.g. 1440x1080 (overrides the pipeline).")
@click.option("--codec", type=click.Choice(["ffv1", "h264", "h265"]), help="Video codec (default: by extension).")
@click.option("--batch-size", default=4, show_default=True, type=click.IntRange(1, 256))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--no-sign", is_flag=True, help="Do not sign the output (C2PA).")
@click.option("--report", "report_dir", type=click.Path(path_type=Path), help="Also write the review report here.")
@click.option("--package", "package_dir", type=click.Path(path_type=Path), help="Also write a BagIt package here.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last committed segment.")
@click.option("--corrections", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="An operator's corrections.json (made by restore serve) to apply, recorded in the provenance.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--log-json", is_flag=True, help="Progress and events as JSON lines on stderr.")
def run(input: Path, output: Path, pipeline_name: str, device: str, keep_frames: Path | None, overwrite: bool,
        scale: int | None, size: str | None, codec: str | None, batch_size: int, seed: int, no_sign: bool,
        report_dir: Path | None, package_dir: Path | None, resume: bool, corrections: Path | None, quiet: bool,
        log_json: bool) -> None:
    """Restore INPUT into OUTPUT with a pipeline."""
    from restore.job import JobOptions
    from restore.media.probe import check_readable_file
    from restore.pipeline.spec import load_pipeline
    from restore.workflow import restore_file

    check_readable_file(input)
    spec = load_pipeline(pipeline_name)
    progress = Progress(input.name, quiet=quiet, json_lines=log_json)
    options = JobOptions(device=device, overwrite=overwrite, keep_frames=keep_frames, scale=scale,
                         size=_parse_size(size), codec=codec, batch_size=batch_size, seed=seed,
                         sign=not no_sign, progress=progress, events=progress.event, corrections=corrections)
    outcome = restore_file(input, output, spec, options, report_dir=report_dir, package_dir=package_dir,
                           resume=resume)
    progress.done()
    if log_json:
        click.echo(json.dumps({"event": "done", **outcome.summary()}, default=str), err=True)
    if not quiet:
        for line in outcome.lines():
            click.echo(line)


@click.command()
@click.option("-o", "--output-dir", default="out", show_default=True, type=click.Path(path_type=Path))
def demo(output_dir: Path) -> None:
    """Restore the bundled sample with the default pipeline into out/ and say what was written."""
    from restore.workflow import run_demo

    for line in run_demo(output_dir, progress=Progress("demo", stream=sys.stderr)):
        click.echo(line)


def register(main: click.Group) -> None:
    main.add_command(probe)
    main.add_command(run)
    main.add_command(demo)
