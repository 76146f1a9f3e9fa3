"""Commands: pipelines, stages — what can be asked for, with its parameters."""

from __future__ import annotations

import json
import textwrap

import click

from restore.errors import PipelineError


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def pipelines(as_json: bool) -> None:
    """The preset pipelines, what each is for, its stages, and whether it runs a trained model."""
    from restore.pipeline.catalogue import pipelines as listing

    rows = listing()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        ai = "runs trained models" if row["trained_models"] else "classical only, no trained model"
        click.echo(f"{row['pipeline']}  ({ai})")
        click.echo(f"  stages: {' → '.join(row['stages']) or 'none'}")
        for line in textwrap.wrap(row["description"], 96):
            click.echo(f"  {line}")
        click.echo()


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def stages(name: str | None, as_json: bool) -> None:
    """The stages a pipeline can use; with NAME, its parameters (type, range, default)."""
    from restore.pipeline.catalogue import stages as listing

    rows = listing()
    if name is not None:
        rows = [r for r in rows if r["stage"] == name]
        if not rows:
            from restore.pipeline.registry import stage_names

            raise PipelineError(f"unknown stage '{name[:60]}' (known: {', '.join(stage_names())})")
    if as_json:
        click.echo(json.dumps(rows if name is None else rows[0], indent=2, default=str))
        return
    for row in rows:
        ai = "trained model" if row["trained_model"] else "classical"
        click.echo(f"{row['stage']}  ({ai})  {row['summary']}" if name is None else f"{row['stage']} ({ai})")
        if name is None:
            continue
        for line in textwrap.wrap(row["summary"], 96):
            click.echo(f"  {line}")
        click.echo("  parameters:")
        for p in row["parameters"]:
            extra = f", range {p['range']}" if p["range"] else ""
            click.echo(f"    {p['name']}: {p['type']} (default {p['default']!r}{extra})")


def register(main: click.Group) -> None:
    main.add_command(pipelines)
    main.add_command(stages)
