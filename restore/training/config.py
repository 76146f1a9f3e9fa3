"""The SR training config (one YAML file per experiment, as in BasicSR, but typed and checked).

Relative paths are resolved against the config file's folder, so a config means the same
thing whatever the working directory. Unknown keys are errors: a typo must not silently
fall back to a default and train something else than what the file says.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from restore.errors import UserError


def _build(cls, data: Any, where: str):
    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping, found {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(known)})")
    values = {}
    for name, value in data.items():
        default = known[name].default
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UserError(f"{where}.{name}: expected a number, found {value!r}")
            value = type(default)(value) if isinstance(default, float) else value
            if isinstance(default, int) and not float(value).is_integer():
                raise UserError(f"{where}.{name}: expected an integer, found {value!r}")
            value = type(default)(value)
        values[name] = value
    return cls(**values)


@dataclass
class Schedule:
    patch_size: int = 96          # HR side of a training patch
    batch_size: int = 8           # per process (DDP multiplies it by the world size)
    pretrain_iters: int = 2000    # L1 (+ structure) only
    gan_iters: int = 2000         # then + adversarial
    lr: float = 5e-4
    gan_lr: float = 1e-4
    lr_min_ratio: float = 0.1     # cosine decay within each phase down to lr × this
    d_lr: float = 1e-4
    ema_decay: float = 0.999
    min_texture: float = 0.02

    @property
    def total(self) -> int:
        return self.pretrain_iters + self.gan_iters


@dataclass
class LossWeights:
    l1: float = 1.0
    structure: float = 0.5        # the VGG-free perceptual substitute (see losses.StructureLoss)
    gan: float = 0.005


@dataclass
class Validation:
    every: int = 500
    crop: int = 384
    niqe: bool = True


@dataclass
class TrainConfig:
    name: str
    output: Path
    work_dir: Path
    model: dict
    corpora: list
    task: str = "sr"
    scale: int = 2
    seed: int = 0
    discriminator: dict = field(default_factory=lambda: {"type": "UNetDiscriminatorSN", "num_in_ch": 3,
                                                          "num_feat": 16, "skip_connection": True})
    degradation: dict = field(default_factory=lambda: {"preset": "pal-broadcast"})
    train: Schedule = field(default_factory=Schedule)
    losses: LossWeights = field(default_factory=LossWeights)
    validation: Validation = field(default_factory=Validation)
    checkpoint_every: int = 500
    log_every: int = 50
    threads: int = 0              # CPU threads per process; fixed for bit-exact rebuilds (0: all cores)
    notes: str = ""
    source: Path | None = None    # the YAML file (not a config key)

    def as_dict(self) -> dict:
        """The config as data, paths relative to the config's folder: the same on every checkout,
        so cards and checkpoint checks do not depend on where the repository was cloned."""
        data = asdict(self)
        data.pop("source")
        data = json.loads(json.dumps(data, default=str))
        base = Path(self.source).resolve().parent if self.source else None
        if base is not None:
            for key in ("output", "work_dir"):
                data[key] = _relative(data[key], base)
            for spec in data["corpora"]:
                spec["path"] = _relative(spec["path"], base)
            if isinstance(data.get("degradation"), dict) and data["degradation"].get("match"):
                data["degradation"]["match"] = _relative(data["degradation"]["match"], base)
        return data

    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()


def _relative(path: str, base: Path) -> str:
    return os.path.relpath(path, base) if os.path.isabs(path) else path


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    """The file's mapping; ``extends: OTHER.yaml`` (same folder) supplies defaults, merged per section."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UserError(f"training config not found: {path}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping at the top level")
    parent_name = raw.pop("extends", None)
    if parent_name is None:
        return raw
    parent_path = (path.parent / str(parent_name)).resolve()
    if parent_path in chain or parent_path.parent != path.resolve().parent:
        raise UserError(f"{path}: extends {parent_name}: must name another config in the same folder, without cycles")
    merged = _read_yaml(parent_path, chain + (path.resolve(),))
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def read_sections(path: Path, required: tuple[str, ...], sections: dict[str, type]) -> tuple[dict, Path]:
    """A training config's mapping with its typed sections built and ``output``/``work_dir``
    resolved against the file's folder (returned too): what every trainer's loader starts from."""
    data = _read_yaml(path)
    missing = [k for k in required if k not in data]
    if missing:
        raise UserError(f"{path}: missing key(s) {', '.join(missing)}")
    for key, cls in sections.items():
        if key in data:
            data[key] = _build(cls, data[key], f"{path.name}:{key}")
    base = path.resolve().parent
    for key in ("output", "work_dir"):
        data[key] = (base / str(data[key])).resolve()
    return data, base


def load_config(path: str | Path) -> TrainConfig:
    path = Path(path)
    data, base = read_sections(path, ("name", "output", "work_dir", "model", "corpora"),
                               {"train": Schedule, "losses": LossWeights, "validation": Validation})
    degradation = data.get("degradation")
    if isinstance(degradation, dict) and degradation.get("match"):
        # Like every other path in the file: relative to the config, not to the working directory.
        data["degradation"] = {**degradation, "match": str((base / str(degradation["match"])).resolve())}
    corpora = data["corpora"]
    if not isinstance(corpora, list) or not corpora:
        raise UserError(f"{path.name}:corpora: expected a non-empty list")
    data["corpora"] = [_corpus_spec(item, base, f"{path.name}:corpora[{i}]") for i, item in enumerate(corpora)]
    config = _build(TrainConfig, data, path.name)
    config.source = path
    _check(config, path.name)
    return config


def override_corpus(config: TrainConfig, directory: str | Path) -> None:
    """Train on DIRECTORY instead of the config's first corpus (``--corpus``), keeping the kind and
    sampling weight it had; further corpora (the general replay of an adaptation) stay."""
    first = config.corpora[0]
    spec = {"path": str(Path(directory).resolve()), **{k: first[k] for k in ("kind", "weight") if k in first}}
    config.corpora = [spec, *config.corpora[1:]]


def _corpus_spec(item: Any, base: Path, where: str) -> dict:
    if isinstance(item, str):
        item = {"path": item}
    if not isinstance(item, dict) or "path" not in item:
        raise UserError(f"{where}: expected {{path: DIR, kind: ..., manifest_sha256: ...}}")
    unknown = set(item) - {"path", "kind", "manifest_sha256", "weight"}
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if "weight" in item and (isinstance(item["weight"], bool) or not isinstance(item["weight"], (int, float))
                             or item["weight"] <= 0):
        raise UserError(f"{where}.weight: expected a number > 0 (the corpus's share of the training patches)")
    spec = dict(item)
    spec["path"] = str((base / str(item["path"])).resolve())
    return spec


def _check(config: TrainConfig, where: str) -> None:
    t = config.train
    if config.task != "sr":
        raise UserError(f"{where}: task '{config.task}' is not an SR config")
    if config.scale not in (1, 2, 3, 4):
        raise UserError(f"{where}: scale must be 1, 2, 3 or 4")
    if t.patch_size % config.scale or t.patch_size < 16 * config.scale:
        raise UserError(f"{where}: train.patch_size must be a multiple of scale and ≥ {16 * config.scale}")
    if t.batch_size < 1 or t.pretrain_iters < 0 or t.gan_iters < 0 or t.total < 1:
        raise UserError(f"{where}: batch_size ≥ 1 and at least one training iteration are required")
    if config.checkpoint_every < 1 or config.log_every < 1 or config.validation.every < 1:
        raise UserError(f"{where}: checkpoint_every, log_every and validation.every must be ≥ 1")
    model_scale = int(config.model.get("upscale", config.model.get("scale", 1)))
    if model_scale != config.scale:
        raise UserError(f"{where}: model upscales ×{model_scale} but scale is {config.scale}")
