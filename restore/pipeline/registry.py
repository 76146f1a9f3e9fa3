"""The stage registry: a stage is one module plus one decorator (as BasicSR's ARCH_REGISTRY).

``restore/stages/NAME.py`` holding a ``@register_stage`` class is all it takes: the module is
imported when a pipeline first names the stage (so a pipeline pays only for the stages it
uses; some import torch or start helpers), or when every name is asked for.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TypeVar

from restore.registry import Registry
from restore.stages.base import Stage

S = TypeVar("S", bound=type[Stage])


def _find_stages(name: str | None) -> None:
    """Import restore/stages/NAME.py for ``name``; for None, every public stage module."""
    import restore.stages as pkg

    if name is not None:
        module = name.replace("-", "_")
        if module.isidentifier() and not module.startswith("_") and module != "base":
            try:
                importlib.import_module(f"restore.stages.{module}")
            except ModuleNotFoundError as exc:
                if exc.name != f"restore.stages.{module}":
                    raise
        return
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_") and info.name not in ("base", "vs_worker"):
            importlib.import_module(f"restore.stages.{info.name}")


STAGES: Registry[type[Stage]] = Registry("stage", finder=_find_stages)


def register_stage(cls: S) -> S:
    """Class decorator: register a ``Stage`` subclass under its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__}: a registered stage needs a name")
    STAGES.register(cls.name, cls)
    return cls


# Thin aliases: many modules, tests and benchmarks look stages up by these names.
def get_stage(name: str) -> type[Stage]:
    """The stage class called ``name``; unknown → ``UnknownNameError`` (a KeyError) listing the known."""
    return STAGES.get(name)


def stage_names() -> list[str]:
    return STAGES.names()
