"""Model cards: a JSON file next to each weights file saying what it is and where it came from.

``NAME.safetensors`` has its card in ``NAME.card.json``. The card names the weights by hash, so a
card that no longer matches its file is detected; provenance records both hashes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from restore.clock import utc_stamp
from restore.errors import PipelineError

CARD_FORMAT = "restore-model-card/1"
REFERENCE_FRAME = (576, 720)  # height, width of a PAL SD frame: the size MACs are quoted for
REQUIRED = ("name", "format", "weights_sha256", "arch", "scale", "parameters", "macs_per_frame")


def card_path(weights_path: Path) -> Path:
    return Path(weights_path).with_suffix(".card.json")


utc_now = utc_stamp   # restore.clock


def new_card(name: str, arch: dict[str, Any], scale: int, parameters: int, macs_720x576: int,
             weights_sha256: str, weights_file: str, origin: str, **extra: Any) -> dict[str, Any]:
    """A card with the fields every weights file must have; ``extra`` adds training or import facts."""
    h, w = REFERENCE_FRAME
    card = {
        "format": CARD_FORMAT,
        "name": name,
        "origin": origin,
        "task": "super-resolution" if scale > 1 else "restoration",
        "weights_file": weights_file,
        "weights_sha256": weights_sha256,
        "arch": arch,
        "scale": scale,
        "parameters": parameters,
        "macs_per_frame": {f"{w}x{h}": macs_720x576},
        "created": utc_now(),
    }
    card.update(extra)
    return card


def read_card(path: Path) -> dict[str, Any]:
    try:
        card = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise PipelineError(f"model card not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise PipelineError(f"model card {Path(path).name} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    missing = [key for key in REQUIRED if key not in card]
    if missing:
        raise PipelineError(f"model card {Path(path).name} lacks: {', '.join(missing)}")
    return card


def summary_lines(card: dict[str, Any]) -> list[str]:
    """Human-readable summary for ``restore weights show``."""
    arch = dict(card["arch"])
    lines = [
        f"name:        {card['name']} ({card.get('origin', '?')})",
        f"arch:        {arch.pop('type')} {json.dumps(arch, sort_keys=True)}",
        f"scale:       x{card['scale']}",
        f"parameters:  {card['parameters']:,}",
    ]
    for size, macs in card["macs_per_frame"].items():
        lines.append(f"MACs/frame:  {macs / 1e9:.2f} G at {size}")
    lines.append(f"sha256:      {card['weights_sha256']}")
    training = card.get("training")
    if training:
        lines.append(f"iterations:  {training.get('iterations')}")
        facts = training.get("determinism")
        if facts:
            pinned = "AVX2 code path pinned" if facts.get("cpu_pins_complete") else "CPU code path not pinned"
            lines.append(f"rebuild:     {facts.get('threads')} threads, {pinned}, torch {facts.get('torch')} "
                         "(make weights: bit for bit under the same conditions)")
    for corpus in card.get("corpora", []):
        licences = ", ".join(f"{k} {v}" for k, v in sorted(corpus.get("licence_counts", {}).items()))
        lines.append(f"corpus:      {corpus.get('name')} manifest {corpus.get('manifest_sha256', '')[:16]}… ({licences})")
    for key, value in (card.get("validation") or {}).items():
        lines.append(f"validation:  {key} = {value}")
    energy = card.get("energy")
    if energy:
        lines.append(f"energy:      {energy.get('kwh', 0):.5f} kWh ({energy.get('method')})")
    if card.get("source"):
        lines.append(f"source:      {card['source']}")
    return lines
