"""The weights registry: find weights by name or path, load them into their architecture.

Names are looked up in the project's ``weights/`` folder (our trained, committed weights) and
then in the user's imported-weights folder (``$RESTORE_WEIGHTS_DIR``, else
``$XDG_DATA_HOME/restore/weights``, else ``~/.local/share/restore/weights``). A path to a file
is used as given. Every loaded model carries its card and the hashes provenance records.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from restore import resources
from restore.errors import PipelineError
from restore.models.archs import arch_scale, build_arch, count_macs, infer_arch, parameter_count
from restore.models.cards import card_path, new_card, read_card
from restore.models.loading import WEIGHT_SUFFIXES, read_state_dict, sha256_file

PROJECT_WEIGHTS = resources.weights_dir()


def user_weights_dir() -> Path:
    explicit = os.environ.get("RESTORE_WEIGHTS_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "restore" / "weights"


def search_dirs() -> list[Path]:
    return [PROJECT_WEIGHTS, user_weights_dir()]


def _looks_like_path(name_or_path: str | Path) -> bool:
    text = str(name_or_path)
    return isinstance(name_or_path, Path) or os.sep in text or text.endswith(WEIGHT_SUFFIXES)


def resolve_weights(name_or_path: str | Path) -> Path:
    """The weights file for a registered name or an explicit path; unknown → PipelineError."""
    if _looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise PipelineError(f"weights file not found: {path}")
        return path
    name = str(name_or_path)
    for folder in search_dirs():
        for suffix in WEIGHT_SUFFIXES:
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    known = ", ".join(entry["name"] for entry in list_weights()) or "none"
    raise PipelineError(f"unknown weights '{name}' (known: {known}; or give a path to a .safetensors file)")


def list_weights() -> list[dict[str, Any]]:
    """One entry per weights file that has a card, project weights first."""
    entries = []
    for folder in search_dirs():
        if not folder.is_dir():
            continue
        for card_file in sorted(folder.glob("*.card.json")):
            try:
                card = read_card(card_file)
            except PipelineError as exc:
                entries.append({"name": card_file.name.removesuffix(".card.json"), "error": str(exc),
                                "location": str(folder)})
                continue
            weights = card_file.parent / card.get("weights_file", f"{card['name']}.safetensors")
            entries.append({
                "name": card["name"], "arch": card["arch"]["type"], "scale": card["scale"],
                "parameters": card["parameters"], "origin": card.get("origin", ""),
                "path": str(weights), "present": weights.is_file(), "location": str(folder),
            })
    return entries


@dataclass(frozen=True)
class WeightsFacts:
    """What a stage reports about its weights before (or without) loading them."""

    name: str
    path: Path
    arch: dict[str, Any]
    scale: int
    radius: int                      # frames each side a multi-frame model reads (0: single-frame)
    card: dict[str, Any] | None
    card_sha256: str | None

    @property
    def sha256(self) -> str:
        return sha256_file(self.path)


def weights_facts(name_or_path: str | Path) -> WeightsFacts:
    """Architecture, scale and card of a weights file, from its card (or, for an uncarded file, the
    tensor names and shapes): no network is built and nothing is loaded into one."""
    path = resolve_weights(name_or_path)
    card_file = card_path(path)
    if card_file.is_file():
        card = read_card(card_file)
        arch = dict(card["arch"])
        return WeightsFacts(name=card["name"], path=path, arch=arch, scale=int(card["scale"]),
                            radius=int(card.get("radius", 0)), card=card, card_sha256=sha256_file(card_file))
    state, _ = read_state_dict(path)
    arch = infer_arch(state)
    return WeightsFacts(name=path.stem, path=path, arch=arch, scale=arch_scale(arch), radius=0, card=None,
                        card_sha256=None)


@dataclass
class LoadedModel:
    name: str
    module: nn.Module
    arch: dict[str, Any]
    scale: int
    card: dict[str, Any]
    sha256: str
    card_sha256: str | None
    path: Path


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu", verify: bool = True) -> LoadedModel:
    """Build the architecture its card names, load the weights strictly, return it in eval mode.

    A file without a card (e.g. a Real-ESRGAN .pth given by path) gets its architecture
    inferred from the state dict; ``restore weights import`` makes that permanent.
    """
    path = resolve_weights(name_or_path)
    state, _ = read_state_dict(path)
    digest = sha256_file(path)
    card_file = card_path(path)
    if card_file.is_file():
        card = read_card(card_file)
        card_digest = sha256_file(card_file)
        if verify and card["weights_sha256"] != digest:
            raise PipelineError(f"{path.name} does not match its model card (sha256 {digest[:12]}… "
                                f"vs card {card['weights_sha256'][:12]}…)")
        arch = dict(card["arch"])
    else:
        arch = infer_arch(state)
        card, card_digest = None, None
    module = build_arch(arch)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise PipelineError(f"{path.name} does not fit {arch['type']}: {first}") from None
    module.eval().requires_grad_(False).to(device)
    scale = arch_scale(arch)
    if card is None:
        from restore.models.cards import REFERENCE_FRAME

        card = new_card(path.stem, arch, scale, parameter_count(module), count_macs(module, *REFERENCE_FRAME),
                        digest, path.name, origin="uncarded file (architecture inferred)")
    return LoadedModel(name=card["name"], module=module, arch=arch, scale=scale, card=card,
                       sha256=digest, card_sha256=card_digest, path=path)
