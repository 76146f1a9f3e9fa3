"""The stage registry: a stage is one module plus one decorator (as BasicSR's ARCH_REGISTRY)."""

from __future__ import annotations

import importlib
import pkgutil

_STAGES: dict[str, type] = {}


def register_stage(cls: type) -> type:
    name = cls.name
    if name in _STAGES and _STAGES[name] is not cls:
        raise ValueError(f"stage name {name!r} registered twice")
    _STAGES[name] = cls
    return cls


def _discover() -> None:
    import restore.stages as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_") and info.name != "base":
            importlib.import_module(f"restore.stages.{info.name}")


def get_stage(name: str) -> type:
    """The stage class called ``name``; its module (restore/stages/NAME.py) is imported on demand,
    so a pipeline pays only for the stages it uses (some import torch or start helpers)."""
    if name not in _STAGES:
        module = name.replace("-", "_")
        if module.isidentifier() and not module.startswith("_"):
            try:
                importlib.import_module(f"restore.stages.{module}")
            except ModuleNotFoundError as exc:
                if exc.name != f"restore.stages.{module}":
                    raise
    if name not in _STAGES:
        _discover()
    try:
        return _STAGES[name]
    except KeyError:
        raise KeyError(name) from None


def stage_names() -> list[str]:
    if not _STAGES:
        _discover()
    return sorted(_STAGES)
