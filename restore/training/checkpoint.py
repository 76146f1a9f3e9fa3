"""Training checkpoints: everything needed to continue a run exactly where it stopped.

A checkpoint holds the generator, discriminator, EMA, both optimizers, the scheduler, the
torch RNG state and the iteration, plus the hash of the config that produced it, so that
``--resume`` with a changed config is refused instead of silently mixing two experiments.
Written with a temp name and rename (a crash never leaves a half checkpoint) and read back
with ``weights_only=True``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from restore.errors import UserError

LATEST = "latest.pt"


def save_checkpoint(work_dir: Path, iteration: int, state: dict[str, Any], keep: int = 2) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / f"iter-{iteration:07d}.pt"
    fd, tmp = tempfile.mkstemp(prefix=".ckpt.", dir=work_dir)
    os.close(fd)
    try:
        torch.save({"iteration": iteration, **state}, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    latest_tmp = work_dir / f".{LATEST}.tmp"
    latest_tmp.write_text(path.name + "\n")
    os.replace(latest_tmp, work_dir / LATEST)
    for old in sorted(work_dir.glob("iter-*.pt"))[:-keep]:
        old.unlink()
    return path


def latest_checkpoint(work_dir: Path) -> Path | None:
    pointer = work_dir / LATEST
    if not pointer.is_file():
        return None
    path = work_dir / pointer.read_text().strip()
    return path if path.is_file() else None


def load_checkpoint(path: Path, config_sha256: str) -> dict[str, Any]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("config_sha256") != config_sha256:
        raise UserError(f"{path} was written by a different training config; "
                        "resume with the same config or start again with --force")
    return state
