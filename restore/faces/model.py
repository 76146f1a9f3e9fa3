"""Loading and saving the face restorer's weights (safetensors only, with the architecture in metadata)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from restore.models.face_arch import ARCH_NAME, build_face_model

TEMPLATE_NAME = "ffhq5-facexlib"


def save_face_weights(model, path: Path, crop_size: int) -> None:
    meta = {"arch": ARCH_NAME, "arch_config": json.dumps(model.config), "crop_size": str(crop_size),
            "template": TEMPLATE_NAME}
    tmp = Path(path).with_name(Path(path).name + ".partial")
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp), metadata=meta)
    tmp.replace(path)


def read_metadata(path: Path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = dict(fh.metadata() or {})
    if meta.get("arch") != ARCH_NAME:
        raise ValueError(f"{path}: not {ARCH_NAME} face weights (arch={meta.get('arch')!r})")
    meta["arch_config"] = json.loads(meta.get("arch_config", "{}"))
    meta["crop_size"] = int(meta.get("crop_size", 128))
    return meta


def load_face_model(path: Path, device: str = "cpu"):
    """(model in eval mode on ``device``, metadata) from a ``.safetensors`` file we wrote."""
    meta = read_metadata(Path(path))
    model = build_face_model(meta["arch_config"])
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.to(device).eval(), meta
