"""What every trainer shares: BasicSR's shape, and the pieces each loop used to repeat.

A trainer (``SRTrainer``, ``VSRTrainer``, ``FaceTrainer``) holds one run's models and
optimisers and offers the same four operations:

* ``step()`` — one optimisation step on the batch of the current iteration (batches are a
  pure function of seed and iteration, so a resumed run sees the same ones), then
  ``iteration += 1``; returns the losses;
* ``validate()`` — held-out metrics of the current (EMA) weights, as a dict;
* ``state()`` / ``load(state)`` — everything a checkpoint must hold to resume bit for bit;
* ``export(...)`` — the weights as safetensors and their model card.

The driver of each task (``train``, ``train_vsr``, ``train_face``) owns the schedule around
them: logging, validation and checkpoint intervals, time budgets, energy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Protocol

import torch

from restore.errors import OutputError, UserError


class Trainer(Protocol):
    iteration: int

    def step(self) -> dict[str, Any]: ...

    def validate(self) -> dict[str, Any]: ...

    def state(self) -> dict: ...

    def load(self, state: dict) -> None: ...


def resolve_device(device: str, local_rank: int | None = None) -> torch.device:
    """restore.pipeline.runner.resolve_device (the one definition); under DDP plain ``cuda`` is this
    process's GPU."""
    from restore.pipeline import runner

    name = runner.resolve_device(device)
    if name == "cuda" and local_rank is not None:
        name = f"cuda:{local_rank}"
    return torch.device(name)


def prepare_outputs(work_dir: Path, output: Path, *, resume: bool, force: bool) -> None:
    """Refuse to mix runs: ``--resume`` needs a checkpoint, a fresh run needs none (and no weights),
    ``--force`` clears the old checkpoints and log."""
    from restore.training.checkpoint import latest_checkpoint

    has_run = latest_checkpoint(work_dir) is not None
    if force:
        if work_dir.is_dir():
            for stale in [*work_dir.glob("iter-*.pt"), work_dir / "latest.pt", work_dir / "log.jsonl"]:
                stale.unlink(missing_ok=True)
        return
    if resume:
        if not has_run:
            raise UserError(f"nothing to resume in {work_dir}")
        return
    if has_run:
        raise OutputError(f"{work_dir} holds a training run: --resume to continue it or --force to restart")
    if output.exists():
        raise OutputError(f"{output} exists: --force retrains and replaces it")


def batch_generator(seed: int, iteration: int, device: torch.device | str) -> torch.Generator:
    """The random stream of one iteration: a pure function of (seed, iteration)."""
    gen = torch.Generator(device=device)
    gen.manual_seed(int(hashlib.sha256(f"{seed}:{iteration}".encode()).hexdigest()[:15], 16))
    return gen


def cosine(progress: float, high: float, low: float) -> float:
    """From ``high`` at progress 0 down to ``low`` at 1 (and after)."""
    return low + 0.5 * (high - low) * (1 + math.cos(math.pi * min(progress, 1.0)))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class JsonLog:
    """The run's log.jsonl (``None``: a process that does not log, e.g. a DDP rank other than 0)."""

    def __init__(self, path: Path | None):
        self.path = path

    def write(self, record: dict) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")


def display_path(path: Path | None) -> str | None:
    """A path as a card records it: relative to the working directory when inside it."""
    if path is None:
        return None
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(Path.cwd()))
    return str(path)
