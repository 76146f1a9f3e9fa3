"""What a user can ask for, described from the code itself: presets and stages with their parameters.

``restore pipelines`` and ``restore stages [NAME]`` print this; nothing here is written by
hand twice, so the listing cannot drift from what a pipeline file accepts.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any

from restore.pipeline.registry import get_stage, stage_names
from restore.pipeline.spec import available_pipelines, load_pipeline
from restore.stages.base import Stage


def uses_trained_model(cls: type[Stage]) -> bool:
    """A stage whose parameters name weights runs a trained (generative) model."""
    return any(f.name == "weights" for f in dataclasses.fields(cls.Params))


def summary(cls: type[Stage]) -> str:
    """The first paragraph of the stage's own docstring, else of its module's (never a base class's)."""
    doc = cls.__dict__.get("__doc__") or inspect.getmodule(cls).__doc__ or ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in typing.get_args(hint))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        parts = [_type_name(a) for a in typing.get_args(hint) if a is not type(None)]
        return " | ".join(parts) + (" (optional)" if type(None) in typing.get_args(hint) else "")
    if origin in (list, tuple):
        return f"list of {_type_name(typing.get_args(hint)[0])}" if typing.get_args(hint) else "list"
    return getattr(hint, "__name__", str(hint))


def parameters(cls: type[Stage]) -> list[dict[str, Any]]:
    hints = typing.get_type_hints(cls.Params)
    rows = []
    for f in dataclasses.fields(cls.Params):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        rng = None if lo is None and hi is None else f"{'' if lo is None else lo}..{'' if hi is None else hi}"
        rows.append({"name": f.name, "type": _type_name(hints[f.name]), "default": default, "range": rng})
    return rows


def stages() -> list[dict[str, Any]]:
    out = []
    for name in stage_names():
        cls = get_stage(name)
        out.append({"stage": name, "summary": summary(cls), "trained_model": uses_trained_model(cls),
                    "radius": cls.radius, "resizes": cls.resizes, "parameters": parameters(cls)})
    return out


def pipelines() -> list[dict[str, Any]]:
    out = []
    for name in available_pipelines():
        spec = load_pipeline(name)
        out.append({"pipeline": name, "description": " ".join(spec.description.split()),
                    "stages": [s.name for s in spec.stages],
                    "trained_models": any(uses_trained_model(s.cls) for s in spec.stages)})
    return out
