"""Training configs (one YAML file per experiment, as in BasicSR, but typed and checked).

``task`` picks the kind: ``sr`` (``TrainConfig``, here), ``vsr`` (``VSRConfig``,
restore.training.vsr_train) or ``face`` (``FaceConfig``, here). All three go through
restore.config, the validator of every file restore reads: unknown keys, wrong types and
out-of-range values are errors (``cfg.yaml: train.lr: got 'fast' (expected a number)``), as a
typo must not silently fall back to a default and train something else than what the file
says. ``extends: OTHER.yaml`` (same folder) supplies defaults, merged per section.

SR and VSR paths are resolved against the config file's folder, so a config means the same
thing whatever the working directory; the face configs' paths are the working directory's.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

import yaml

from restore import safeyaml
from restore.config import ConfigError, Range, parse
from restore.errors import UserError

# ``internal``: set by the loader, not a key of the file (no schema entry, refused if written)
INTERNAL = {"internal": True}


@dataclass
class Schedule:
    patch_size: int = field(default=96, metadata={"min": 16, "help": "HR side of a training patch"})
    batch_size: int = field(default=8, metadata={"min": 1, "help": "per process (DDP multiplies it)"})
    pretrain_iters: int = field(default=2000, metadata={"min": 0, "help": "L1 (+ structure) only"})
    gan_iters: int = field(default=2000, metadata={"min": 0, "help": "then + adversarial"})
    lr: float = field(default=5e-4, metadata={"gt": 0})
    gan_lr: float = field(default=1e-4, metadata={"gt": 0})
    lr_min_ratio: float = field(default=0.1, metadata={"min": 0, "max": 1,
                                                       "help": "cosine decay within each phase down to lr × this"})
    d_lr: float = field(default=1e-4, metadata={"gt": 0})
    ema_decay: float = field(default=0.999, metadata={"min": 0, "max": 1})
    min_texture: float = field(default=0.02, metadata={"min": 0})

    @property
    def total(self) -> int:
        return self.pretrain_iters + self.gan_iters


@dataclass
class LossWeights:
    l1: float = field(default=1.0, metadata={"min": 0})
    structure: float = field(default=0.5, metadata={"min": 0, "help": "the VGG-free perceptual substitute"})
    gan: float = field(default=0.005, metadata={"min": 0})


@dataclass
class Validation:
    every: int = field(default=500, metadata={"min": 1})
    crop: int = field(default=384, metadata={"min": 16})
    niqe: bool = True


class CorpusSpec(TypedDict, total=False):
    """One corpus of an SR config: a folder (relative to the config) and what to take from it."""

    path: str
    kind: str
    manifest_sha256: str
    weight: Annotated[float, Range(gt=0)]     # the corpus's share of the training patches


@dataclass
class TrainConfig:
    """A single-frame super-resolution training config (task: sr)."""

    name: str
    output: Path = field(metadata={"help": "the weights file, relative to the config"})
    work_dir: Path = field(metadata={"help": "checkpoints and log, relative to the config"})
    model: dict = field(metadata={"help": "the generator: {type: ARCH, ...its arguments}"})
    corpora: list[str | CorpusSpec] = field(metadata={"min_items": 1})
    task: Literal["sr"] = "sr"
    scale: int = field(default=2, metadata={"min": 1, "max": 4})
    seed: int = field(default=0, metadata={"min": 0})
    discriminator: dict = field(default_factory=lambda: {"type": "UNetDiscriminatorSN", "num_in_ch": 3,
                                                          "num_feat": 16, "skip_connection": True})
    degradation: dict = field(default_factory=lambda: {"preset": "pal-broadcast"})
    train: Schedule = field(default_factory=Schedule)
    losses: LossWeights = field(default_factory=LossWeights)
    validation: Validation = field(default_factory=Validation)
    checkpoint_every: int = field(default=500, metadata={"min": 1})
    log_every: int = field(default=50, metadata={"min": 1})
    # CPU threads per process; fixed for bit-exact rebuilds (0: all cores)
    threads: int = field(default=0, metadata={"min": 0})
    notes: str = ""
    source: Path | None = field(default=None, metadata=INTERNAL)    # the YAML file (not a config key)

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
        raw = safeyaml.load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"training config not found: {path}") from None
    except safeyaml.YamlLimitError as exc:
        raise ConfigError("YAML", str(exc), path) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"line {mark.line + 1}" if mark else "YAML", "not valid YAML", path) from None
    if not isinstance(raw, dict):
        raise ConfigError("top level", f"got {safeyaml.brief(raw)} (expected a mapping)", path)
    parent_name = raw.pop("extends", None)
    if parent_name is None:
        return raw
    parent_path = (path.parent / str(parent_name)).resolve()
    if parent_path in chain or parent_path.parent != path.resolve().parent:
        raise ConfigError("extends", f"{safeyaml.brief(parent_name)}: must name another config in the same "
                                     "folder, without cycles", path)
    merged = _read_yaml(parent_path, chain + (path.resolve(),))
    for key, value in raw.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def read_task(path: Path) -> tuple[str, dict]:
    """The config's task (``extends:`` resolved, so a candidate inherits its task) and its mapping."""
    raw = _read_yaml(Path(path))
    task = raw.get("task", "sr")
    if task not in TASKS:
        raise ConfigError("task", f"got {safeyaml.brief(task)} (expected one of: {', '.join(TASKS)})", path)
    return task, raw


def parse_file(cls: type, data: dict, path: Path) -> Any:
    """``cls`` built from a config file's mapping; every mistake is ``path: key: problem``."""
    try:
        return parse(cls, data)
    except ConfigError as exc:
        raise exc.at(path) from None


def load_config(path: str | Path) -> TrainConfig:
    path = Path(path)
    config = parse_file(TrainConfig, _read_yaml(path), path)
    base = path.resolve().parent
    config.output = (base / config.output).resolve()
    config.work_dir = (base / config.work_dir).resolve()
    degradation = config.degradation
    if isinstance(degradation, dict) and degradation.get("match"):
        # Like every other path in the file: relative to the config, not to the working directory.
        config.degradation = {**degradation, "match": str((base / str(degradation["match"])).resolve())}
    config.corpora = [_corpus_spec(item, base) for item in config.corpora]
    config.source = path
    _check(config, path)
    return config


def override_corpus(config: TrainConfig, directory: str | Path) -> None:
    """Train on DIRECTORY instead of the config's first corpus (``--corpus``), keeping the kind and
    sampling weight it had; further corpora (the general replay of an adaptation) stay."""
    first = config.corpora[0]
    spec = {"path": str(Path(directory).resolve()), **{k: first[k] for k in ("kind", "weight") if k in first}}
    config.corpora = [spec, *config.corpora[1:]]


def _corpus_spec(item: str | dict, base: Path) -> dict:
    spec = {"path": item} if isinstance(item, str) else dict(item)
    spec["path"] = str((base / str(spec["path"])).resolve())
    return spec


def _check(config: TrainConfig, path: Path) -> None:
    """What one key's type and range cannot say: how the keys go together."""
    t = config.train
    if t.patch_size % config.scale or t.patch_size < 16 * config.scale:
        raise ConfigError("train.patch_size", f"{t.patch_size} does not fit scale {config.scale} (expected a "
                                              f"multiple of {config.scale}, >= {16 * config.scale})", path)
    if t.total < 1:
        raise ConfigError("train.pretrain_iters", "pretrain_iters + gan_iters is 0 (expected at least one "
                                                  "training iteration)", path)
    model_scale = config.model.get("upscale", config.model.get("scale", 1))
    if model_scale != config.scale:
        raise ConfigError("model.upscale", f"the model upscales ×{safeyaml.brief(model_scale)} (expected the "
                                           f"config's scale, {config.scale})", path)


# --- the face restorer's config (task: face, restore.training.face_train) --------------------------

Probability = Annotated[float, Range(min=0, max=1)]
Interval = tuple[float, float]


class FaceArch(TypedDict, total=False):
    channels: list[Annotated[int, Range(min=1)]]
    blocks: list[Annotated[int, Range(min=0)]]


class FaceLoss(TypedDict, total=False):
    l1: Annotated[float, Range(min=0)]
    gradient: Annotated[float, Range(min=0)]   # Sobel-gradient L1
    fft: Annotated[float, Range(min=0)]        # amplitude-spectrum L1


class FaceHeldout(TypedDict, total=False):
    people_fraction: Probability               # whole people held out, by a hash of their id
    exclude_people: list[str]                  # never trained on nor validated
    pairs_per_face: Annotated[int, Range(min=1)]


class FaceDegradation(TypedDict, total=False):
    """The synthetic archival chain (restore.training.face_data, face_synth): chances and ranges."""

    grey_p: Probability
    blur_sigma: Interval
    small_size: Interval
    noise_p: Probability
    noise_sigma: Interval
    jpeg_p: Probability
    jpeg_quality: Interval
    tone_p: Probability
    field_p: Probability
    chroma_p: Probability


class FaceCascade(TypedDict, total=False):
    """Train on the faces stage's real input (restore.training.face_cascade): pairs of the aligned
    output of an SR model and the aligned truth, instead of synthetic degradations of clean crops."""

    sr_weights: str                            # the SR model the faces stage will follow
    sr_config: str                             # its training config (the degradation ranges)
    draws: Annotated[int, Range(min=1)]        # shots per portrait
    face_px: Interval                          # face width in the SR frame (never enlarged)
    # several sets of shots pooled, each filmed with its own seed and cached on its own (default: the
    # config's seed): a continuation sees every shot its predecessors were trained on, and new ones
    seeds: list[Annotated[int, Range(min=0)]]


class FaceFinetune(TypedDict, total=False):
    iters: Annotated[int, Range(min=1)]
    lr: Annotated[float, Range(gt=0)]
    heldout_fraction: Annotated[float, Range(gt=0, max=1)]
    pairs_per_face: Annotated[int, Range(min=1)]
    draws: Annotated[int, Range(min=1)]        # shots per portrait when the model follows an SR model
    output_dir: str


@dataclass
class FaceConfig:
    """A face restorer training config (task: face). Paths are relative to the working directory."""

    iters: int = field(metadata={"min": 0, "help": "the schedule in iterations (0: what fits in time_limit_s)"})
    lr: float = field(metadata={"gt": 0})
    task: Literal["face"] = "face"
    name: str = "restore-face"
    corpus: str | None = field(default=None, metadata={"help": "portraits with a MANIFEST.tsv"})
    crops: str | None = field(default=None, metadata={"help": "an aligned-face pack (index.tsv) instead"})
    output: str | None = field(default=None, metadata={"help": "default: weights/NAME.safetensors"})
    run_dir: str = field(default="runs/face", metadata={"help": "checkpoints for --resume"})
    cache_dir: str | None = None
    crop_size: int = field(default=128, metadata={"min": 16})
    arch: FaceArch = field(default_factory=dict)
    init_from: str | None = field(default=None, metadata={"help": "weights (name or path) to continue from"})
    seed: int = field(default=0, metadata={"min": 0})
    synth: Literal["numpy", "torch"] = "numpy"
    batch_size: int = field(default=16, metadata={"min": 1})
    patch_size: int | None = field(default=None, metadata={"min": 8})
    threads: int | None = field(default=None, metadata={"min": 0})
    lr_min: float | None = field(default=None, metadata={"min": 0})
    time_limit_s: float = field(default=0.0, metadata={"min": 0})
    calibrate_iters: int = field(default=200, metadata={"min": 2})
    validate_every: int = field(default=0, metadata={"min": 0})
    checkpoint_every: int = field(default=100, metadata={"min": 1})
    loss: FaceLoss = field(default_factory=dict)
    heldout: FaceHeldout = field(default_factory=dict)
    degradation: FaceDegradation = field(default_factory=dict)
    cascade: FaceCascade = field(default_factory=dict)
    finetune: FaceFinetune = field(default_factory=dict)
    notes: str = ""
    raw: dict = field(default_factory=dict, metadata=INTERNAL)   # the mapping as written (for the card)


RETIRED_FACE_KEYS = ("max_minutes", "max_cpu_minutes")


def face_config(data: dict, source: str | Path = "face training config") -> FaceConfig:
    """The typed face config of a mapping (a file's, or a test's)."""
    for where, section in (("", data), ("finetune.", data.get("finetune"))):
        for key in RETIRED_FACE_KEYS:
            if isinstance(section, dict) and key in section:
                raise ConfigError(where + key, "no longer exists (expected iters: the schedule is counted in "
                                               "iterations only, so that a rebuild gives the same weights)", source)
    config = parse_file(FaceConfig, data, source)
    config.raw = dict(data)
    return config


def load_face_config(path: str | Path) -> FaceConfig:
    path = Path(path)
    return face_config(_read_yaml(path), path)


TASKS = ("sr", "vsr", "face")


def config_classes() -> dict[str, type]:
    """The config dataclass of each task (for ``restore schema``)."""
    from restore.training.vsr_train import VSRConfig

    return {"sr": TrainConfig, "vsr": VSRConfig, "face": FaceConfig}
