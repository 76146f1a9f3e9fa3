"""Commands for training data: ``corpus init|add|check``, ``degrade``, ``analyze``.

(``train`` itself lives in restore/cli/train.py.)
"""

from __future__ import annotations

import json

import click

from restore.errors import UserError


@click.group("corpus")
def corpus_group() -> None:
    """Training corpora with provenance (a MANIFEST.tsv per corpus)."""


@corpus_group.command("init")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--root", default=".", show_default=True,
              help="Where image paths resolve, relative to DIRECTORY (to reference images kept elsewhere).")
def corpus_init(directory: str, root: str) -> None:
    """Create an empty corpus in DIRECTORY."""
    from restore.training.corpus import Corpus

    corpus = Corpus.init(directory, root=root)
    click.echo(f"created {corpus.manifest}")


@corpus_group.command("add")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", required=True, type=click.Choice(["general", "venue", "subject"]))
@click.option("--source", required=True, help="Where the images come from (URL, package, archive reference).")
@click.option("--license", "license_", required=True, help="SPDX id (CC0-1.0, CC-BY-4.0, ...) or public-domain.")
@click.option("--subject", default="", help="The person or object shown (required for --kind subject).")
@click.option("--date", default="", help="When the picture was taken: YYYY or YYYY-MM.")
@click.option("--author", default="", help="Author or rights holder, for attribution.")
@click.option("--notes", default="", help="Free text kept in the manifest.")
@click.option("--split", default="train", show_default=True, type=click.Choice(["train", "heldout"]))
@click.option("--region", default=None, help="Use only this crop x0,y0,x1,y1 (pixels, end exclusive).")
def corpus_add(directory, files, kind, source, license_, subject, date, author, notes, split, region) -> None:
    """Record FILES in the corpus at DIRECTORY (files outside its root are copied in)."""
    from restore.training.corpus import Corpus

    corpus = Corpus.load(directory)
    added = corpus.add(list(files), kind=kind, source=source, license=license_, subject=subject, date=date,
                       author=author, notes=notes, split=split, region=region)
    click.echo(f"added {len(added)} image(s); {corpus.summary()}")


@corpus_group.command("check")
@click.argument("directory", type=click.Path(exists=True))
@click.option("--min-side", default=128, show_default=True, type=click.IntRange(1),
              help="Smallest accepted shorter side of an image or region, in pixels.")
def corpus_check(directory: str, min_side: int) -> None:
    """Check licences, sources, duplicates, near duplicates and image files; exit 2 on any problem."""
    from restore.training.corpus import Corpus

    corpus = Corpus.load(directory)
    problems = corpus.check(min_side=min_side)
    for line in problems:
        click.echo(line, err=True)
    click.echo(corpus.summary())
    if problems:
        raise UserError(f"{len(problems)} problem(s) in {corpus.manifest}")
    click.echo(f"ok; manifest sha256 {corpus.manifest_sha256}")


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


@click.command("degrade")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--preset", default="pal-vhs", show_default=True,
              help="pal-broadcast, pal-vhs (vhs), ntsc-vhs, film or realesrgan.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same pixels.")
@click.option("--scale", default=1, show_default=True, type=click.IntRange(1, 8),
              help="Output is 1/SCALE of the input size (training pairs use 2 or 4).")
@click.option("--match", "match", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Centre the degradation on `restore analyze` figures of this footage.")
@click.option("--max-frames", type=click.IntRange(1), default=None, help="Degrade only the first N frames.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
def degrade_command(source, output, preset, seed, scale, match, max_frames, overwrite) -> None:
    """Show the synthetic degradation on an image or a clip (SOURCE → OUTPUT)."""
    from pathlib import Path

    import numpy as np

    from restore.media.encode import check_output_path
    from restore.training.degrade import DegradationModel

    source, output = Path(source), Path(output)
    check_output_path(output, [source], overwrite)
    model = DegradationModel(config={"match": match} if match else None, preset=preset)
    rng = np.random.default_rng(seed)
    if source.suffix.lower() in IMAGE_SUFFIXES:
        if output.suffix.lower() not in IMAGE_SUFFIXES:
            raise UserError(f"an image degrades into an image: name the output .png, not {output.suffix}")
        written = _degrade_image(model, source, output, rng, scale)
        click.echo(f"wrote {written} ({model.preset}, seed {seed})")
        return
    frames = _degrade_clip(model, source, output, rng, scale, max_frames, overwrite)
    click.echo(f"wrote {output}: {frames} frames ({model.preset}, seed {seed})")


def _degrade_image(model, source, output, rng, scale):
    import os

    import numpy as np
    from PIL import Image

    try:
        with Image.open(source) as img:
            hr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    except Exception as exc:
        raise UserError(f"{source}: not a readable image ({type(exc).__name__})") from None
    try:
        lr = model.degrade(hr, rng, scale)
    except ValueError as exc:
        raise UserError(f"{source}: {exc}") from None
    tmp = output.with_name(f".{output.stem}.partial-{os.getpid()}{output.suffix}")
    try:
        Image.fromarray(np.round(lr * 255).astype(np.uint8)).save(tmp, format=Image.registered_extensions()
                                                                  [output.suffix.lower()])
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output


def _degrade_clip(model, source, output, rng, scale, max_frames, overwrite) -> int:
    from restore.frame import Frame
    from restore.media import probe, read_frames, video_format
    from restore.media.encode import VideoWriter, choose_settings

    fmt = video_format(probe(source, count=False))
    model.fps = float(fmt.fps)
    out_fmt = fmt.replace(width=fmt.width // scale, height=fmt.height // scale, pix_fmt="yuv444p", bit_depth=8,
                          field_order="progressive")
    writer = VideoWriter(output, out_fmt, choose_settings(output, out_fmt), overwrite=overwrite)
    count = 0
    try:
        frames = (f.image for f in read_frames(source, max_frames=max_frames))
        for image in model.degrade_clip(frames, rng, scale):
            writer.write(Frame(index=count, pts=count / fmt.fps, image=image))
            count += 1
        writer.finish(count)
    except BaseException:
        writer.abort()
        raise
    return count


@click.command("analyze")
@click.argument("footage", type=click.Path(exists=True, dir_okay=False))
@click.option("--max-frames", default=200, show_default=True, type=click.IntRange(3),
              help="Analyse the first N frames.")
@click.option("--against", "corpus_dir", type=click.Path(exists=True), default=None,
              help="Also degrade a pan over this corpus's first training picture with --preset, plain and "
                   "centred on FOOTAGE (match:), and report their figures and distances to FOOTAGE's.")
@click.option("--preset", default="film", show_default=True, help="Preset for --against.")
@click.option("--scale", default=2, show_default=True, type=click.IntRange(1, 8), help="Scale for --against.")
def analyze_command(footage: str, max_frames: int, corpus_dir: str | None, preset: str, scale: int) -> None:
    """Measure noise, sharpness, blocking, interlacing, flicker and dust of FOOTAGE (JSON on stdout)."""
    from restore.training.analyze import analyze_footage

    stats = analyze_footage(footage, max_frames=max_frames)
    if corpus_dir is None:
        click.echo(json.dumps(stats, indent=2))
        return
    from restore.training.corpus import require_valid_corpus
    from restore.training.degradations.match import panned_clip, synthetic_vs_real

    corpus = require_valid_corpus(corpus_dir)
    entries = corpus.select(split="train") or corpus.entries
    if not entries:
        raise UserError(f"corpus {corpus_dir} is empty")
    try:
        frames = panned_clip(entries[0].load_rgb())
    except ValueError as exc:
        raise UserError(f"{entries[0].rel}: {exc}") from None
    comparison = synthetic_vs_real(stats, frames, preset=preset, scale=scale)
    comparison["picture"] = entries[0].label()
    click.echo(json.dumps({"footage": stats, "synthetic": comparison}, indent=2))


def register(main: click.Group) -> None:
    main.add_command(corpus_group)
    main.add_command(degrade_command)
    main.add_command(analyze_command)
