"""Pipeline files: YAML in pipelines/, validated on load.

    name: default
    description: what it does, for whom
    output:              # optional
      codec: ffv1        # a name from restore.media.codecs (default: by the output's extension)
      bit_depth: 10      # at least this many bits (FFV1 masters; 10-bit access copies)
      chroma: auto       # auto | 4:2:0 | 4:2:2 | 4:4:4 (access copies: 4:2:0 unless asked)
      colour: auto       # auto | keep | bt709: the output's YUV matrix (auto: BT.709 when SD becomes HD)
    stages:
      - stage: deflicker
        radius: 5
      - stage: superres
        weights: restore-sr-x2

Every mistake (unknown key, wrong type, missing weights) is reported as one line
naming the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from restore import resources, safeyaml
from restore.errors import PipelineError
from restore.media import codecs
from restore.pipeline.params import ParamError, params_to_dict, parse_params
from restore.pipeline.registry import get_stage, stage_names
from restore.registry import UnknownNameError
from restore.stages.base import Stage

PIPELINES_DIR = resources.pipelines_dir()


CODEC_NAMES = codecs.NAMES       # one table for every list of codecs (restore.media.codecs)
if TYPE_CHECKING:
    CodecName = str
else:
    CodecName = Literal[CODEC_NAMES]   # checked by parse_params from the table, whatever it holds


@dataclass(frozen=True)
class OutputParams:
    codec: CodecName | None = None
    bit_depth: int | None = field(default=None, metadata={"min": 8, "max": 16})
    chroma: Literal["auto", "4:2:0", "4:2:2", "4:4:4"] = "auto"
    crf: int | None = field(default=None, metadata={"min": 0, "max": 51})
    # YUV matrix of the output (restore.media.colour): auto = BT.709 when an SD BT.601 source becomes HD,
    # else the source's; keep = always the source's; bt709 = always BT.709
    colour: Literal["auto", "keep", "bt709"] = "auto"


@dataclass(frozen=True)
class StageSpec:
    name: str
    cls: type[Stage]
    params: Any

    def as_dict(self) -> dict[str, Any]:
        return {"stage": self.name, **params_to_dict(self.params)}


@dataclass
class PipelineSpec:
    name: str
    description: str
    stages: list[StageSpec]
    output: OutputParams
    source: str              # file path, for messages and provenance
    text: str                # the YAML as written (recorded in provenance)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "output": params_to_dict(self.output),
                "stages": [s.as_dict() for s in self.stages]}

    def preview_frames(self) -> int:
        """How many of the clip's first frames the job must decode up front (``Stage.preview_frames``)."""
        return max((s.cls.preview_frames(s.params) for s in self.stages), default=0)

    def check_resize_options(self, scale: object, size: object) -> None:
        """--scale/--size are for stages that resize (``Stage.resizes``): refuse them without one."""
        if (scale or size) and not any(s.cls.resizes for s in self.stages):
            able = [name for name in stage_names() if get_stage(name).resizes]
            raise PipelineError(f"--scale/--size need a stage that resizes ({', '.join(able) or 'none'}), "
                                f"and pipeline '{self.name}' has none")


def available_pipelines() -> list[str]:
    return sorted(p.stem for p in PIPELINES_DIR.glob("*.yaml"))


def resolve_pipeline(name_or_path: str) -> Path:
    """A name from pipelines/ (``default``) or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or "/" in name_or_path or candidate.exists():
        if not candidate.is_file():
            raise PipelineError(f"pipeline file not found: {name_or_path}")
        return candidate
    path = PIPELINES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise PipelineError(f"unknown pipeline '{name_or_path}' (available: {', '.join(available_pipelines())})")
    return path


def load_pipeline(name_or_path: str) -> PipelineSpec:
    path = resolve_pipeline(name_or_path)
    text = path.read_text(encoding="utf-8")
    return parse_pipeline(text, source=str(path), default_name=path.stem)


def parse_pipeline(text: str, source: str = "<pipeline>", default_name: str = "pipeline") -> PipelineSpec:
    def fail(key: str, message: str) -> PipelineError:
        return PipelineError(f"{source}: {key}: {message}")

    try:
        data = safeyaml.load(text)
    except safeyaml.YamlLimitError as exc:
        raise fail("YAML", str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        raise fail(where, f"not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise fail("top level", f"got {safeyaml.brief(data)} (expected a mapping with 'stages')")
    allowed = {"name", "description", "output", "stages"}
    unknown = sorted((k for k in data if k not in allowed), key=str)
    if unknown:
        raise fail(_key(unknown[0]), f"unknown key (expected one of: {', '.join(sorted(allowed))})")
    name = data.get("name", default_name)
    description = data.get("description", "")
    if not isinstance(name, str):
        raise fail("name", f"got {safeyaml.brief(name)} (expected a string)")
    if not isinstance(description, str):
        raise fail("description", f"got {safeyaml.brief(description)} (expected a string)")
    output_data = data.get("output") or {}
    if not isinstance(output_data, dict):
        raise fail("output", f"got {safeyaml.brief(output_data)} (expected a mapping)")
    try:
        output = parse_params(OutputParams, output_data, "output")
    except ParamError as exc:
        raise fail(exc.key, exc.problem) from None
    stages_data = data.get("stages") or []
    if not isinstance(stages_data, list):
        raise fail("stages", f"got {safeyaml.brief(stages_data)} (expected a list of stages)")
    stages = []
    for i, entry in enumerate(stages_data):
        where = f"stages[{i}]"
        if isinstance(entry, str):
            entry = {"stage": entry}
        if not isinstance(entry, dict) or "stage" not in entry:
            raise fail(where, f"got {safeyaml.brief(entry)} (expected a mapping with a 'stage' key)")
        entry = dict(entry)
        stage_name = entry.pop("stage")
        if not isinstance(stage_name, str):
            raise fail(f"{where}.stage", f"got {safeyaml.brief(stage_name)} (expected a stage name)")
        try:
            cls = get_stage(stage_name)
        except UnknownNameError:
            raise fail(f"{where}.stage", f"unknown stage {safeyaml.brief(stage_name)} (expected one of: {', '.join(stage_names())})") from None
        try:
            params = parse_params(cls.Params, entry, where)
            problem = cls.check_params(params)
        except ParamError as exc:
            raise fail(exc.key, exc.problem) from None
        if problem:
            key, message = problem
            raise fail(f"{where}.{key}", message)
        stages.append(StageSpec(stage_name, cls, params))
    return PipelineSpec(name=name, description=description, stages=stages, output=output, source=source, text=text)


def _key(key: object) -> str:
    """A mapping key as a message names it: short strings as they are, anything else briefly."""
    return key if isinstance(key, str) and len(key) <= 60 else safeyaml.brief(key)
