"""Import a Real-ESRGAN / BasicSR checkpoint as registered weights with a model card.

The checkpoint is read with ``weights_only=True`` (``params_ema`` preferred over ``params``, as
BasicSR's own inference does), its architecture inferred from parameter names and shapes, loaded
strictly (every tensor used, none missing), then re-saved as safetensors under the user's weights
folder with a card that records the source file's hash.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from restore.errors import OutputError, PipelineError
from restore.models.archs import arch_scale, build_arch, count_macs, infer_arch, parameter_count
from restore.models.cards import REFERENCE_FRAME, card_path, new_card
from restore.models.loading import read_state_dict, save_safetensors, sha256_file, write_json
from restore.models.registry import user_weights_dir

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def default_name(source: Path) -> str:
    stem = source.name.split(".")[0]
    return re.sub(r"[^A-Za-z0-9._-]", "-", stem)[:64] or "imported"


def import_checkpoint(source: Path, name: str | None = None, dest_dir: Path | None = None,
                      licence: str | None = None, key: str | None = None, force: bool = False) -> tuple[Path, dict[str, Any]]:
    source = Path(source)
    name = name or default_name(source)
    if not NAME_PATTERN.match(name):
        raise PipelineError(f"invalid weights name '{name}' (letters, digits, '.', '_', '-'; at most 64)")
    dest_dir = Path(dest_dir) if dest_dir else user_weights_dir()
    target = dest_dir / f"{name}.safetensors"
    if target.exists() and not force:
        raise OutputError(f"{target} exists (use --force to replace it)")
    if target.resolve() == source.resolve():
        raise OutputError("refusing to overwrite the checkpoint being imported")

    state, used_key = read_state_dict(source, key)
    arch = infer_arch(state)
    module = build_arch(arch)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise PipelineError(f"{source.name}: inferred {arch['type']} but strict loading failed: "
                            f"{str(exc).strip().splitlines()[0]}") from None

    digest = save_safetensors(module.state_dict(), target, metadata={"name": name, "arch": arch["type"]})
    card = new_card(
        name, arch, arch_scale(arch), parameter_count(module), count_macs(module, *REFERENCE_FRAME),
        digest, target.name, origin="imported",
        source={"file": source.name, "sha256": sha256_file(source), "state_key": used_key or "(bare state dict)"},
        licence=licence or "unknown (not stated at import)",
        notes="imported checkpoint: training data and settings unknown",
    )
    write_json(card_path(target), card)
    return target, card
