"""Reading and writing weights without executing anything from the file.

safetensors is our format. PyTorch ``.pth`` files (Real-ESRGAN, BasicSR) are read only with
``torch.load(weights_only=True)``, which refuses any pickled object that is not a tensor or a
plain container: an untrusted checkpoint can at worst fail to load, never run code.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

from restore.digest import sha256_file as sha256_file   # re-exported: weights' checksums
from restore.errors import PipelineError

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt")
# BasicSR stores the EMA generator under params_ema; it is the one meant for inference.
STATE_KEYS = ("params_ema", "params", "state_dict", "model")


def _tensors_only(state: dict, path: Path) -> dict[str, torch.Tensor]:
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise PipelineError(f"{path.name}: entry '{bad[0]}' is not a tensor")
    return state


def read_state_dict(path: Path, key: str | None = None) -> tuple[dict[str, torch.Tensor], str]:
    """Return (state dict, the key it came from: '' for a bare dict or safetensors)."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path)), ""
        except Exception as exc:  # safetensors raises its own error types on corrupt headers
            raise PipelineError(f"{path.name}: not a valid safetensors file ({exc})") from None
    if path.suffix not in WEIGHT_SUFFIXES:
        raise PipelineError(f"{path.name}: unsupported weights format (use .safetensors or .pth)")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for forbidden globals, RuntimeError for corrupt zips
        raise PipelineError(f"{path.name}: cannot be read safely with weights_only=True ({type(exc).__name__})") from None
    if not isinstance(loaded, dict):
        raise PipelineError(f"{path.name}: expected a dict of tensors, found {type(loaded).__name__}")
    keys = [key] if key else [k for k in STATE_KEYS if k in loaded]
    for candidate in keys:
        if candidate not in loaded:
            raise PipelineError(f"{path.name}: no '{candidate}' entry (has: {', '.join(map(str, loaded))})")
        if isinstance(loaded[candidate], dict):
            return _tensors_only(loaded[candidate], path), candidate
    return _tensors_only(loaded, path), ""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # mkstemp creates 0600; weights and cards are meant to be shared like any other file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safetensors_bytes(state: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors encoding of ``state``, the same bytes for the same tensors in every process.

    The safetensors library writes ``__metadata__`` from a Rust HashMap, whose order is
    randomised per process: two runs that train identical tensors would write files with
    different sha256. The header is re-emitted here with sorted keys, at its original length
    (the format pads the header with spaces), so tensor offsets are untouched.
    """
    from safetensors.torch import save

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    blob = save(tensors, metadata=metadata)
    size = int.from_bytes(blob[:8], "little")
    header = json.dumps(json.loads(blob[8:8 + size]), sort_keys=True, separators=(",", ":")).encode()
    if len(header) > size:   # cannot happen: the same JSON, only reordered
        raise RuntimeError("safetensors header grew when sorted")
    return blob[:8] + header.ljust(size, b" ") + blob[8 + size:]


def save_safetensors(state: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> str:
    """Write atomically (temp name + rename) with a reproducible header; return the file's sha256."""
    atomic_write_bytes(Path(path), safetensors_bytes(state, metadata))
    return sha256_file(Path(path))


def write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(Path(path), (json.dumps(data, indent=2, sort_keys=False) + "\n").encode())
