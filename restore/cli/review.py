"""Command: compare (the before/after review report)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from restore.errors import UserError


def _parse_frames(value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    if not re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*", value):
        raise UserError(f"--frames must be frame numbers separated by commas (e.g. 10,250), got '{value}'")
    return tuple(sorted({int(v) for v in value.split(",")}))


@click.command()
@click.argument("before", type=click.Path(path_type=Path))
@click.argument("after", type=click.Path(path_type=Path))
@click.option("-o", "--output-dir", required=True, type=click.Path(path_type=Path),
              help="Folder for the report (index.html, metrics.csv, summary.json, side_by_side.mp4).")
@click.option("--frames", help="AFTER frame numbers to export as PNG before/after pairs, e.g. 10,250.")
@click.option("--threshold", default=0.35, show_default=True, type=click.FloatRange(0.01, 2.0),
              help="Structural departure above which a region is listed as an invention to check.")
@click.option("--every", type=click.IntRange(1, 100000),
              help="Store pictures (and detect faces without a frame log) every N frames (default: one a second).")
@click.option("--niqe-every", type=click.IntRange(1, 1000000),
              help="Compute NIQE every N frames (default: 4 × --every, and at least 12 frames of a short clip; "
                   "about 0.3 s CPU per SD frame).")
@click.option("--frames-log", type=click.Path(path_type=Path),
              help="The run's per-frame log (default: AFTER.frames.jsonl when it exists).")
@click.option("--no-video", is_flag=True, help="Do not write side_by_side.mp4.")
@click.option("--no-niqe", is_flag=True, help="Do not compute NIQE.")
def compare(before: Path, after: Path, output_dir: Path, frames: str | None, threshold: float, every: int | None,
            niqe_every: int | None, frames_log: Path | None, no_video: bool, no_niqe: bool) -> None:
    """Compare BEFORE (the source) with AFTER (its restoration) and write a review report."""
    from restore.media.probe import check_readable_file
    from restore.review.report import ReviewOptions, build_report

    check_readable_file(before)
    check_readable_file(after)
    if frames_log is not None and not frames_log.is_file():
        raise UserError(f"--frames-log: no such file {frames_log}")
    options = ReviewOptions(threshold=threshold, every=every, niqe_every=niqe_every, frames=_parse_frames(frames),
                            video=not no_video, compute_niqe=not no_niqe)
    index = build_report(before, after, output_dir, options=options, frames_log=frames_log)
    import json

    summary = json.loads((index.parent / "summary.json").read_text(encoding="utf-8"))
    click.echo(f"wrote {index} ({summary['frames']} frames, fidelity mean {summary['fidelity']['mean']}, "
               f"{summary['inventions']['frames_above_threshold']} frames with inventions to check, "
               f"{summary['report_bytes'] / 1e6:.1f} MB)")
    for warning in summary.get("warnings") or []:
        click.echo(f"  note: {warning}")


def register(main: click.Group) -> None:
    main.add_command(compare)
