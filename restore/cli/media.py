"""Commands: probe, run, demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from restore.cli.progress import Progress
from restore.media.codecs import NAMES as CODEC_NAMES
from restore.errors import UserError


def _parse_size(value: str | None) -> tuple[int, int] | None:
    from restore.config import parse_size

    if not value:
        return None
    try:
        return parse_size(value)
    except ValueError as exc:
        raise UserError(f"--size: {exc}") from None


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--no-count", is_flag=True, help="Do not decode to count frames when the container stores no count.")
def probe(file: Path, no_count: bool) -> None:
    """Print what FILE holds as JSON (streams, rates, frame count, fields, colour, timecode)."""
    from restore.media.probe import probe as probe_file

    click.echo(json.dumps(probe_file(file, count=not no_count), indent=2))


@click.command()
@click.argument("input", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help=".mkv → FFV1 preservation master; .mp4/.mov → H.264 access copy; .mxf → DNxHR HQX; "
                   "FOLDER/frame_%06d.dpx (.tif, .png, .exr) → an image sequence.")
@click.option("--preview", "preview_count", type=click.IntRange(1, 1000), help="Restore only N frames spread over "
              "the source (each with the context its pipeline needs) into the --report DIR; no output is written.")
@click.option("--rate", help="Frame rate of an image sequence INPUT (a pattern such as scans/reel1_%06d.dpx, or a "
              "folder): 24, 25, 24000/1001 …")
@click.option("-p", "--pipeline", "pipeline_name", default="default", show_default=True,
              help="A name from pipelines/ or a path to a pipeline YAML file.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--keep-frames", type=click.Path(path_type=Path), help="Also write every restored frame as PNG/TIFF.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--scale", type=click.IntRange(1, 8), help="Super-resolution factor (overrides the pipeline).")
@click.option("--size", help="Exact output size WxH, e.g. 1440x1080 (overrides the pipeline).")
@click.option("--codec", type=click.Choice(CODEC_NAMES), help="Video codec (default: by extension; see the README's "
              "codec table).")
@click.option("--bit-depth", type=click.IntRange(8, 16), help="At least this many bits per sample (e.g. 10 for a "
              "10-bit access copy).")
@click.option("--chroma", type=click.Choice(["4:2:0", "4:2:2", "4:4:4"]), help="Chroma subsampling of an access "
              "copy (default 4:2:0).")
@click.option("--batch-size", default=4, show_default=True, type=click.IntRange(1, 256))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--no-sign", is_flag=True, help="Do not sign the output (C2PA).")
@click.option("--report", "report_dir", type=click.Path(path_type=Path), help="Also write the review report here.")
@click.option("--package", "package_dir", type=click.Path(path_type=Path), help="Also write a BagIt package here.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last committed segment.")
@click.option("--start", help="Restore from this frame: 250 (frames), 10s, or HH:MM:SS:FF counted from the first "
              "frame.")
@click.option("--duration", help="Restore this much: frames, seconds (10s) or HH:MM:SS:FF.")
@click.option("--frames", "frame_count", type=click.IntRange(1), help="Restore this many frames.")
@click.option("--fill-gaps", is_flag=True,
              help="Fill frames the source has no picture for (damage, cut containers) with copies of the frame "
                   "before; each filled frame is listed on stderr and in the record. Without it they are an error.")
@click.option("--corrections", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="An operator's corrections.json (made by restore serve) to apply, recorded in the provenance.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--log-json", is_flag=True, help="Progress and events as JSON lines on stderr.")
def run(input: Path, output: Path, pipeline_name: str, device: str, keep_frames: Path | None, overwrite: bool,
        scale: int | None, size: str | None, codec: str | None, bit_depth: int | None, chroma: str | None,
        batch_size: int, seed: int, no_sign: bool,
        report_dir: Path | None, package_dir: Path | None, resume: bool, start: str | None, duration: str | None,
        frame_count: int | None, fill_gaps: bool, corrections: Path | None, quiet: bool,
        log_json: bool, rate: str | None, preview_count: int | None) -> None:
    """Restore INPUT (a video file, or an image sequence: a %06d pattern or a folder, with --rate) into OUTPUT
    with a pipeline."""
    from restore.job import JobOptions
    from restore.media import sequence as seqmod
    from restore.media.probe import check_readable_file
    from restore.pipeline.spec import load_pipeline
    from restore.workflow import restore_file

    sequence = None
    if seqmod.is_sequence_input(input):
        if resume:
            raise UserError("--resume does not take image sequences: restore the sequence in one run")
        if rate is not None:
            rate_value = seqmod.parse_rate(rate)     # a bad --rate is named before the files are read
        sequence = seqmod.scan(input, None)
        sequence.rate = seqmod.parse_rate(rate) if rate is None else rate_value
    else:
        if rate is not None and input.exists():
            raise UserError("--rate is for image sequences (a %06d pattern or a folder); a video file has its own "
                            "frame rate")
        check_readable_file(input)
    if preview_count is not None:
        if report_dir is None:
            raise UserError("--preview restores its frames into the review report: give --report DIR")
        if output is not None or package_dir is not None or resume:
            raise UserError("--preview writes no output: give it without -o/--package/--resume")
    elif output is None:
        raise UserError("give the output with -o (e.g. -o restored.mkv), or --preview N --report DIR")
    else:
        seq_out = seqmod.is_sequence_output(output)
        # refused before any work: the report and the package read single files
        if report_dir is not None and (sequence is not None or seq_out):
            raise UserError("--report compares two video files, not image sequences: restore to an .mkv master "
                            "and report on it, or use --preview N --report DIR on the sequence")
        if package_dir is not None and seq_out:
            raise UserError("--package packs a file and its provenance, not an image sequence: package an .mkv "
                            "master instead")
    spec = load_pipeline(pipeline_name)
    progress = Progress(input.name, quiet=quiet, json_lines=log_json)
    options = JobOptions(device=device, overwrite=overwrite, keep_frames=keep_frames, scale=scale,
                         size=_parse_size(size), codec=codec, bit_depth=bit_depth, chroma=chroma,
                         batch_size=batch_size, seed=seed,
                         sign=not no_sign, fill_gaps=fill_gaps, start=start, duration=duration, frames=frame_count,
                         progress=progress, events=progress.event, sequence=sequence,
                         corrections=corrections)
    if preview_count is not None:
        from restore.preview import run_preview

        result = run_preview(input, spec, options, preview_count, report_dir)
        for warning in result.warnings:
            click.echo(f"restore: warning: {warning}", err=True)
        if not quiet:
            for line in result.lines():
                click.echo(line)
        return
    outcome = restore_file(input, output, spec, options, report_dir=report_dir, package_dir=package_dir,
                           resume=resume)
    progress.done()
    # what was dropped, filled or found damaged: on stderr whatever --quiet says, before the summary
    for warning in outcome.result.warnings:
        click.echo(f"restore: warning: {warning}", err=True)
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
