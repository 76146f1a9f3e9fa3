"""``restore schema [FOLDER]``: write the JSON Schemas of pipelines, job files and training configs."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT = Path(__file__).resolve().parents[2] / "docs" / "schema"


@click.command("schema")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
def schema_command(folder: Path | None) -> None:
    """Write JSON Schemas (pipeline, job file, training configs) for editors, to FOLDER (docs/schema)."""
    from restore.schema import write_schemas

    for path in write_schemas(folder or DEFAULT):
        click.echo(f"wrote {path}")


def register(main: click.Group) -> None:
    main.add_command(schema_command)
