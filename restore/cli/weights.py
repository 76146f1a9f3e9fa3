"""``restore weights list|show|import``: the weights we can run, what they are, adding more."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group("weights")
def weights_group() -> None:
    """Registered model weights and their model cards."""


@weights_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(as_json: bool) -> None:
    """Weights in the project's weights/ folder and the user's imported-weights folder."""
    from restore.models.registry import list_weights, search_dirs

    entries = list_weights()
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo("no weights found in " + ", ".join(map(str, search_dirs())))
        return
    for entry in entries:
        if "error" in entry:
            click.echo(f"{entry['name']:<28} unreadable card: {entry['error']}")
            continue
        missing = "" if entry["present"] else "  (weights file missing)"
        click.echo(f"{entry['name']:<28} {entry['arch']:<18} x{entry['scale']}  {entry['parameters']:>10,} params  "
                   f"{entry['origin']:<10} {entry['path']}{missing}")


@weights_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the whole model card.")
def show_command(name: str, as_json: bool) -> None:
    """Summary of the model card of NAME (a registered name or a weights file)."""
    from restore.models.cards import card_path, read_card, summary_lines
    from restore.models.loading import sha256_file
    from restore.models.registry import resolve_weights

    path = resolve_weights(name)
    card = read_card(card_path(path))
    if as_json:
        click.echo(json.dumps(card, indent=2))
        return
    for line in summary_lines(card):
        click.echo(line)
    matches = sha256_file(path) == card["weights_sha256"]
    click.echo(f"file:        {path} ({'matches its card' if matches else 'DOES NOT MATCH its card'})")


@weights_group.command("import")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default=None, help="Registered name (default: from the file name).")
@click.option("--licence", "licence", default=None, help="Licence of the weights, recorded in the card.")
@click.option("--key", default=None, help="State-dict entry to use (default: params_ema, then params).")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to import into (default: the user's weights folder).")
@click.option("--force", is_flag=True, help="Replace weights already imported under this name.")
def import_command(checkpoint: Path, name: str | None, licence: str | None, key: str | None, dest: Path | None,
                   force: bool) -> None:
    """Import a Real-ESRGAN/BasicSR CHECKPOINT (.pth, read with weights_only=True) as safetensors + card."""
    from restore.models.import_checkpoint import import_checkpoint

    target, card = import_checkpoint(checkpoint, name=name, dest_dir=dest, licence=licence, key=key, force=force)
    arch = dict(card["arch"])
    click.echo(f"imported {card['name']}: {arch.pop('type')} x{card['scale']}, {card['parameters']:,} parameters, "
               f"loads strictly; sha256 {card['weights_sha256'][:16]}… -> {target}")


def register(main: click.Group) -> None:
    main.add_command(weights_group)
