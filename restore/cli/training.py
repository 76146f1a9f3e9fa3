"""Commands for training data: ``corpus init|add|check``, ``degrade``, ``analyze``.

(``train`` itself lives in restore/cli/train.py.)
"""

from __future__ import annotations

import json
import sys

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


def register(main: click.Group) -> None:
    main.add_command(corpus_group)
