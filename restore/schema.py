"""JSON Schemas of the files a user writes, from the same declarations that check them on load.

``restore schema [FOLDER]`` (``make schema``) writes them to docs/schema/; an editor with a YAML
language server then completes keys and flags a typo as it is typed, e.g. with the first line

    # yaml-language-server: $schema=../docs/schema/pipeline.schema.json

Every error an editor shows there is also one that ``restore`` itself refuses with exit code 2
(the converse is not true: whether a weights file or a corpus exists is only known at run time).
"""

from __future__ import annotations

import json
from pathlib import Path

from restore.config import _schema, json_schema

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def pipeline_schema() -> dict:
    from restore.pipeline.registry import get_stage, stage_names
    from restore.pipeline.spec import OutputParams

    options = [{"enum": list(stage_names()), "description": "a stage with its default parameters"}]
    for name in stage_names():
        cls = get_stage(name)
        params = _schema(cls.Params)
        params["properties"] = {"stage": {"const": name}, **params["properties"]}
        params["required"] = ["stage", *params.get("required", [])]
        summary = (cls.__doc__ or "").strip().split("\n")[0]
        if summary:
            params["description"] = summary
        options.append(params)
    return {"$schema": DRAFT, "title": "restore pipeline", "type": "object", "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "description": {"type": "string"},
                           "output": _schema(OutputParams),
                           "stages": {"type": "array", "items": {"anyOf": options}}}}


def jobfile_schema() -> dict:
    from restore.batch.jobfile import JobFileDoc

    return json_schema(JobFileDoc, title="restore batch job file")


def training_schema(task: str) -> dict:
    from restore.training.config import config_classes

    schema = json_schema(config_classes()[task], title=f"restore training config (task: {task})",
                         extra={"extends": {"type": "string",
                                            "description": "another config of the same folder supplying "
                                                           "defaults, merged per section"}})
    schema.pop("required", None)        # ``extends`` may supply them
    return schema


def schemas() -> dict[str, dict]:
    """File name → schema, for docs/schema/."""
    from restore.training.config import TASKS

    files = {"pipeline.schema.json": pipeline_schema(), "jobfile.schema.json": jobfile_schema()}
    for task in TASKS:
        files[f"training-{task}.schema.json"] = training_schema(task)
    return files


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = folder / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written
