"""``restore adapt``: fine-tune the models on one recording's venue and speaker; write a pipeline."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("adapt")
@click.option("--venue", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Reference shots of the venue: a corpus folder (MANIFEST.tsv with source and licence; "
                   "some shots marked heldout to measure the gain on).")
@click.option("--subject", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Portraits of the speaker: a face corpus folder (MANIFEST.tsv with person, source, licence).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The pipeline YAML to write (use it with `restore run -p`).")
@click.option("--base", default="speech-576i", show_default=True, help="The preset the pipeline starts from.")
@click.option("--sr-iters", default=300, show_default=True, type=click.IntRange(1),
              help="Fine-tuning steps of the super-resolution model on the venue (batches of 8 clips).")
@click.option("--face-iters", default=300, show_default=True, type=click.IntRange(1),
              help="Fine-tuning steps of the face model on the subject.")
@click.option("--weights-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the adapted weights go (default: the user weights folder, found by name).")
@click.option("--min-gain", "min_gain_db", default=0.0, show_default=True, type=float,
              help="dB of PSNR-Y over the generic model on the venue's held-out shots that the adapted SR's gain "
                   "must exceed at the lower end of its 95 % interval to enter the pipeline (otherwise the generic "
                   "model is kept; the weights are still written).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--overwrite", is_flag=True, help="Replace an existing pipeline file and adapted weights.")
def adapt_command(venue, subject, output, base, sr_iters, face_iters, weights_dir, min_gain_db, device,
                  overwrite) -> None:
    """Adapt super-resolution to a VENUE and faces to a SUBJECT; write a pipeline that uses them."""
    from restore.adapt import adapt, describe_gain

    result = adapt(venue, subject, output, base=base, sr_iters=sr_iters, face_iters=face_iters, device=device,
                   weights_dir=weights_dir, overwrite=overwrite, min_gain_db=min_gain_db, echo=click.echo)
    if result.venue:
        v = result.venue
        click.echo(f"venue, {v['clips']} held-out clips: PSNR-Y generic {v['generic_psnr_y']} dB → adapted "
                   f"{v['adapted_psnr_y']} dB ({describe_gain(v)}; bicubic {v['bicubic_psnr_y']} dB); "
                   + ("the pipeline uses the adapted model" if v["used"] else "the pipeline keeps the generic model"))
    if result.subject:
        s = result.subject
        click.echo(f"subject, {s['portraits']} held-out portraits: PSNR {s['generic_psnr']} → {s['adapted_psnr']} dB, "
                   f"identity {s['generic_identity']} → {s['adapted_identity']}")
    for path in result.weights:
        click.echo(f"weights: {path}")
    click.echo(f"wrote {result.pipeline}: restore run INPUT -o OUTPUT -p {result.pipeline}")


def register(main: click.Group) -> None:
    main.add_command(adapt_command)
