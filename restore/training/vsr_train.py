"""Training of the multi-frame super-resolution model (``task: vsr``).

Data: high-resolution crops of licensed photographs (a crop pack made by
``restore.training.crops.export_crops`` from checked corpora), filmed by the synthetic camera of
``restore.training.video_synth`` and degraded by its broadcast chain, on the training device
itself, so a GPU is never waiting for a CPU. Each batch is a pure function of (seed, iteration):
a stopped run resumes exactly where it was, from the checkpoint's weights, optimiser and EMA.

The shape is BasicSR's: a trainer with ``step`` (one optimisation step), ``validate`` (held-out
clips against bicubic) and ``export`` (EMA weights as safetensors and their model card).
Losses are L1 plus the VGG-free StructureLoss; no adversarial term — this model must restore
what the frames hold, and a discriminator rewards what looks plausible instead.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

import numpy as np
import torch
from torch.nn import functional as F

from restore.errors import UserError
from restore.models.archs import arch_scale, build_arch, count_macs, parameter_count
from restore.models.cards import REFERENCE_FRAME, card_path, new_card
from restore.models.loading import save_safetensors, sha256_file, write_json
from restore.models.motion import align_window
from restore.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from restore.config import ConfigError, Overrides, Range
from restore.training.config import INTERNAL, _read_yaml, parse_file
from restore.training.ema import ModelEMA
from restore.training.determinism import facts as determinism_facts, previous_weights_sha256
from restore.training.losses import SSIMLoss, StructureLoss
from restore.training.trainer import batch_generator, display_path, prepare_outputs, resolve_device
from restore.training.video_synth import BroadcastRanges, CameraRanges, degrade_clips, render_clips


@dataclass
class VSRSchedule:
    patch_size: int = field(default=128, metadata={"min": 8, "help": "HR side; LR patches are patch_size / scale"})
    batch_size: int = field(default=32, metadata={"min": 1})
    iters: int = field(default=20000, metadata={
        "min": 0, "help": "0: as many as fit in time_limit_s, fixed after the warm-up (recorded)"})
    lr: float = field(default=1e-3, metadata={"gt": 0})
    lr_min: float = field(default=1e-5, metadata={"min": 0})
    warmup: int = field(default=500, metadata={"min": 1})
    ema_decay: float = field(default=0.999, metadata={"min": 0, "max": 1})
    grad_clip: float = field(default=1.0, metadata={"min": 0})
    time_limit_s: float = field(default=0.0, metadata={
        "min": 0, "help": "wall-clock budget on a lent machine (0: none); the card says if it fired"})


@dataclass
class VSRLosses:
    l1: float = field(default=1.0, metadata={"min": 0})
    structure: float = field(default=0.25, metadata={"min": 0})
    ssim: float = field(default=0.0, metadata={"min": 0, "help": "weight of 1 − SSIM-Y (the benches' measure)"})


@dataclass
class VSRValidation:
    every: int = field(default=1000, metadata={"min": 1})
    clips: int = field(default=64, metadata={"min": 1, "help": "fixed held-out clips, rendered once"})


@dataclass
class VSRConfig:
    """A multi-frame super-resolution training config (task: vsr). Paths are relative to the file."""

    name: str
    output: Path
    work_dir: Path
    model: dict
    crops: Path | list[Path] = field(metadata={"help": "index.tsv of each crop pack (`make packs`)"})
    corpora: list[str] = field(metadata={"min_items": 1, "help": "manifest folders the crops must come from"})
    task: Literal["vsr"] = "vsr"
    scale: int = field(default=2, metadata={"min": 1, "max": 8})
    seed: int = field(default=0, metadata={"min": 0})
    crop_weights: list[Annotated[float, Range(gt=0)]] = field(
        default_factory=list, metadata={"help": "share of the draws per pack (default: equal)"})
    heldout_packs: list[Annotated[int, Range(min=0)]] | None = field(
        default=None, metadata={"help": "the packs (0-based, in `crops` order) whose held-out crops validate; "
                                        "the others' are left out entirely (default: every pack's)"})
    camera: Annotated[dict, Overrides(CameraRanges)] = field(default_factory=dict)
    degradation: Annotated[dict, Overrides(BroadcastRanges)] = field(default_factory=dict)
    train: VSRSchedule = field(default_factory=VSRSchedule)
    losses: VSRLosses = field(default_factory=VSRLosses)
    validation: VSRValidation = field(default_factory=VSRValidation)
    checkpoint_every: int = field(default=1000, metadata={"min": 1})
    log_every: int = field(default=100, metadata={"min": 1})
    threads: int = field(default=0, metadata={"min": 0})
    notes: str = ""
    source: Path | None = field(default=None, metadata=INTERNAL)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("source")
        data = json.loads(json.dumps(data, default=str))
        base = Path(self.source).resolve().parent if self.source else None
        if base is not None:
            for key in ("output", "work_dir"):
                data[key] = os.path.relpath(data[key], base)
            data["crops"] = [os.path.relpath(p, base) for p in data["crops"]]
            data["corpora"] = [os.path.relpath(p, base) for p in data["corpora"]]
        return data

    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()

    def camera_ranges(self) -> CameraRanges:
        return _ranges(CameraRanges, self.camera, "camera")

    def broadcast_ranges(self) -> BroadcastRanges:
        return _ranges(BroadcastRanges, self.degradation, "degradation")


def _ranges(cls, overrides: dict, where: str):
    """The dataclass ``cls`` with the config's (already checked) overrides of its defaults."""
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
    return replace(cls(), **values)


def load_vsr_config(path: Path) -> VSRConfig:
    """The typed config of a ``task: vsr`` YAML file (``extends:`` another one in the same folder)."""
    path = Path(path)
    data = _read_yaml(path)
    config = parse_file(VSRConfig, data, path)
    base = path.resolve().parent
    config.output = (base / config.output).resolve()
    config.work_dir = (base / config.work_dir).resolve()
    crops = config.crops if isinstance(config.crops, (list, tuple)) else [config.crops]
    config.crops = [(base / p).resolve() for p in crops]
    config.corpora = [str((base / p).resolve()) for p in config.corpora]
    config.crop_weights = list(data.get("crop_weights") or [])   # as written: the config's hash covers it
    config.source = path
    if arch_scale(config.model) != config.scale:
        raise ConfigError("model", f"the model upscales ×{arch_scale(config.model)} (expected the config's "
                                   f"scale, {config.scale})", path)
    if config.train.patch_size % (2 * config.scale):
        raise ConfigError("train.patch_size", f"{config.train.patch_size} does not fit scale {config.scale} "
                                              f"(expected a multiple of {2 * config.scale})", path)
    return config


# --- data -------------------------------------------------------------------------------------


@dataclass
class CropPack:
    """HR crops of licensed photographs, split into training and held-out crops.

    Several packs can be mixed (``crops: [venue, general]`` with ``crop_weights``): each pack's
    training crops then get that share of the draws, whatever its size — how a venue
    adaptation keeps replaying the general corpus. Crops of different sizes may be mixed (a
    pack of small portraits, never resampled, beside 288-px textures): each size is its own
    group, and a batch is synthesised group by group (``synthesise_picks``).
    """

    groups: list[torch.Tensor]    # the training crops, uint8 (n_g, 3, S_g, S_g), one tensor per crop size
    slots: torch.Tensor           # (N, 2) int64: group and row of each training crop, in the packs' order
    heldout: torch.Tensor
    draw_weights: torch.Tensor    # (N,) probability of each training crop
    records: list[dict]           # per corpus: manifest sha256, images, licences
    index_sha256: list[str]
    crops: int

    @property
    def train(self) -> torch.Tensor:
        """All training crops as one tensor (only when they share one size)."""
        if len(self.groups) != 1:
            raise UserError(f"the training crops come in {len(self.groups)} sizes; use CropPack.groups")
        return self.groups[0]

    @classmethod
    def load(cls, indexes: Path | list, corpora: list[str], weights: list[float] | None = None,
             heldout_packs: list[int] | None = None) -> "CropPack":
        """Read the packs and refuse any crop whose source image is not in one of ``corpora``'s
        manifests with a licence: training never sees an image without a recorded licence.

        ``heldout_packs``: the packs whose held-out crops make the validation set (default: all). The
        other packs' held-out crops are dropped, never trained on: a venue adaptation replays the
        general pack for training only, and is measured on the venue's held-out shots alone."""
        import cv2

        from restore.training.corpus import Corpus

        indexes = [Path(i) for i in (indexes if isinstance(indexes, (list, tuple)) else [indexes])]
        weights = list(weights) if weights else [1.0] * len(indexes)
        if len(weights) != len(indexes) or any(w <= 0 for w in weights):
            raise UserError("crop_weights: one positive number per crop pack")
        validating = set(range(len(indexes)) if heldout_packs is None else heldout_packs)
        if not validating <= set(range(len(indexes))):
            raise UserError(f"heldout_packs: {sorted(validating)} names a pack beyond the {len(indexes)} given")
        licensed: dict[str, tuple[str, dict]] = {}
        records = {}
        for folder in corpora:
            corpus = Corpus.load(folder)
            records[folder] = {"name": Path(folder).name, "manifest_sha256": corpus.manifest_sha256,
                               "licence_counts": {}, "train_images": 0, "heldout_images": 0}
            for entry in corpus.entries:
                if entry.license and entry.source:
                    splits = licensed.get(entry.sha256, (folder, {"license": entry.license, "splits": set()}))[1]
                    splits["splits"].add(entry.split)
                    licensed[entry.sha256] = (folder, splits)
        train, heldout, draw, seen, digests, total = [], [], [], set(), [], 0
        for number, (index, share) in enumerate(zip(indexes, weights)):
            if not index.is_file():
                raise UserError(f"crop pack not found: {index} (make it with `make packs`)")
            with open(index, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t"))
            if not rows:
                raise UserError(f"{index}: no crops")
            digests.append(sha256_file(index))
            total += len(rows)
            pack_train = []
            for row in rows:
                source_sha = row.get("sha256") or row.get("source_sha256") or ""   # the source image's hash
                origin = licensed.get(source_sha)
                if origin is None:
                    raise UserError(f"{index}: crop {row.get('crop')} comes from an image that no corpus of the "
                                    f"config lists with a licence (sha256 {source_sha[:12] or '?'}…)")
                folder, facts = origin
                # one file can hold a training and a held-out region (the venue): the pack says which
                split = row.get("split") or ("heldout" if facts["splits"] == {"heldout"} else "train")
                if split == "heldout" and number not in validating:
                    continue
                image = cv2.imread(str(index.parent / row["crop"]), cv2.IMREAD_COLOR)
                if image is None:
                    raise UserError(f"{index}: cannot read crop {row['crop']}")
                tensor = torch.from_numpy(np.ascontiguousarray(image[:, :, ::-1])).permute(2, 0, 1)
                (heldout if split == "heldout" else pack_train).append(tensor)
                if (folder, source_sha, split) not in seen:
                    seen.add((folder, source_sha, split))
                    record = records[folder]
                    record["licence_counts"][facts["license"]] = record["licence_counts"].get(facts["license"], 0) + 1
                    record["heldout_images" if split == "heldout" else "train_images"] += 1
            train += pack_train
            draw += [share / max(1, len(pack_train))] * len(pack_train)
        if not train:
            raise UserError("the crop packs hold no training crops")
        sizes = list(dict.fromkeys(tuple(t.shape) for t in train))      # first-seen order: deterministic
        if any(s[0] != 3 or s[1] != s[2] for s in sizes):
            raise UserError(f"crops must be square RGB pictures, found {sizes}")
        if heldout and len({tuple(t.shape) for t in heldout}) != 1:
            raise UserError(f"held-out crops must share one size, found {sorted({tuple(t.shape) for t in heldout})}")
        groups = [[] for _ in sizes]
        slots = []
        for tensor in train:
            g = sizes.index(tuple(tensor.shape))
            slots.append((g, len(groups[g])))
            groups[g].append(tensor)
        draw_weights = torch.tensor(draw, dtype=torch.float64)
        return cls([torch.stack(g) for g in groups], torch.tensor(slots, dtype=torch.int64),
                   torch.stack(heldout) if heldout else torch.zeros(0, *train[0].shape, dtype=torch.uint8),
                   (draw_weights / draw_weights.sum()).float(), [records[f] for f in corpora], digests, total)


def synthesise_picks(groups: list[torch.Tensor], slots: torch.Tensor, picks: torch.Tensor, config: VSRConfig,
                     frames: int, gen: torch.Generator, camera: CameraRanges,
                     broadcast: BroadcastRanges) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`synthesise` for the drawn crops ``picks`` (indices into the packs' training crops), one call per
    crop size present, the clips returned in the order drawn. With one size this is exactly
    ``synthesise(groups[0][picks], ...)``, so runs on single-size packs reproduce bit for bit."""
    if len(groups) == 1:
        return synthesise(groups[0][picks], config, frames, gen, camera, broadcast)
    slot = slots[picks]
    lrs, hrs, where = [], [], []
    for g, crops in enumerate(groups):
        members = (slot[:, 0] == g).nonzero().flatten()
        if len(members) == 0:
            continue
        lr, hr = synthesise(crops[slot[members, 1]], config, frames, gen, camera, broadcast)
        lrs.append(lr)
        hrs.append(hr)
        where.append(members)
    order = torch.cat(where)
    back = torch.empty_like(order)
    back[order] = torch.arange(len(order), device=order.device)
    return torch.cat(lrs)[back], torch.cat(hrs)[back]


def synthesise(crops: torch.Tensor, config: VSRConfig, frames: int, gen: torch.Generator,
               camera: CameraRanges, broadcast: BroadcastRanges) -> tuple[torch.Tensor, torch.Tensor]:
    """(registered LR windows (N, T, 3, h, w), HR centre frames (N, 3, H, W)) from uint8 crops."""
    sources = crops.float() / 255.0
    hr = render_clips(sources, config.train.patch_size, frames, gen, camera)
    lr = degrade_clips(hr, config.scale, gen, broadcast)
    return align_window(lr), hr[:, frames // 2]


def _psnr_y(a: torch.Tensor, b: torch.Tensor, border: int = 4) -> torch.Tensor:
    """Per-sample PSNR of BT.601 limited-range luma (restore.metrics' definition), images in [0, 1]."""
    w = a.new_tensor([65.481, 128.553, 24.966]).view(1, 3, 1, 1) / 255.0
    ya = (a.clamp(0, 1) * w).sum(1)
    yb = (b.clamp(0, 1) * w).sum(1)
    if border:
        ya, yb = ya[:, border:-border, border:-border], yb[:, border:-border, border:-border]
    mse = ((ya - yb) ** 2).mean(dim=(1, 2)).clamp_min(1e-12)
    return 10 * torch.log10(1.0 / mse)


# --- the trainer ----------------------------------------------------------------------------------


class VSRTrainer:
    def __init__(self, config: VSRConfig, device: str = "cpu", echo: Callable[[str], None] | None = None,
                 finetune: str | None = None):
        self.config = config
        self.echo = echo or (lambda message: None)
        self.device = resolve_device(device)
        self.finetuned_from = None
        base = None
        if finetune:
            from restore.models.registry import load_model

            base = load_model(finetune)
            if base.arch.get("type") != "WindowFusionSR" or base.scale != config.scale:
                raise UserError(f"{finetune} is not a ×{config.scale} multi-frame (WindowFusionSR) model; a "
                                "single-frame model adapts with `restore train pipelines/training/sr-x2-venue.yaml`")
            config.model = dict(base.arch)            # the architecture comes from the weights
            self.finetuned_from = {"name": base.name, "sha256": base.sha256}
        if config.threads:
            torch.set_num_threads(config.threads)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True   # shapes never change during a run
        self.pack = CropPack.load(config.crops, config.corpora, config.crop_weights or None,
                                  heldout_packs=config.heldout_packs)
        self.train_groups = [g.to(self.device) for g in self.pack.groups]
        self.slots = self.pack.slots.to(self.device)
        self.draw_weights = self.pack.draw_weights.to(self.device)
        self.camera = config.camera_ranges()
        self.broadcast = config.broadcast_ranges()
        torch.manual_seed(config.seed)
        self.model = build_arch(config.model)
        if base is not None:
            self.model.load_state_dict(base.module.state_dict())
        self.model.to(self.device)
        self.frames = int(self.model.frames)
        self.ema = ModelEMA(self.model, config.train.ema_decay)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=config.train.lr, betas=(0.9, 0.99))
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, self._lr_factor)
        self.structure = StructureLoss().to(self.device)
        self.ssim = SSIMLoss().to(self.device)
        self.iteration = 0
        self.iters = config.train.iters          # resolved from the time budget when the config says 0
        self.spent = {"seconds": 0.0, "kwh": 0.0, "gpu_kwh": 0.0, "cpu_seconds": 0.0}
        self.validation: dict[str, Any] = {}
        self._valset = self._build_valset()
        self.autocast = torch.autocast("cuda", dtype=torch.bfloat16) if self.device.type == "cuda" else None

    # schedule
    def _lr_factor(self, iteration: int) -> float:
        t = self.config.train
        if iteration < t.warmup:
            return (iteration + 1) / t.warmup
        total = self.iters or 10 * t.warmup      # provisional until the budget fixes it
        progress = (iteration - t.warmup) / max(1, total - t.warmup)
        floor = t.lr_min / t.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    def _build_valset(self):
        held = self.pack.heldout
        if len(held) == 0:
            return None
        count = self.config.validation.clips
        gen = batch_generator(self.config.seed, -1, self.device)
        picks = torch.arange(count, device="cpu") % len(held)
        crops = held[picks].to(self.device)
        with torch.no_grad():
            lr, hr = synthesise(crops, self.config, self.frames, gen, self.camera, self.broadcast)
        return lr, hr

    # one step
    def step(self) -> dict[str, float]:
        c = self.config
        it = self.iteration
        gen = batch_generator(c.seed, it, self.device)
        picks = torch.multinomial(self.draw_weights, c.train.batch_size, replacement=True, generator=gen)
        with torch.no_grad():
            lr, hr = synthesise_picks(self.train_groups, self.slots, picks, c, self.frames, gen, self.camera,
                                      self.broadcast)
        self.model.train()
        if self.autocast is not None:
            with self.autocast:
                sr = self.model(lr)
            sr = sr.float()
        else:
            sr = self.model(lr)
        losses = {"l1": F.l1_loss(sr, hr)}
        if c.losses.structure > 0:
            losses["structure"] = self.structure(sr, hr)
        if c.losses.ssim > 0:
            losses["ssim"] = self.ssim(sr, hr)
        total = c.losses.l1 * losses["l1"] + c.losses.structure * losses.get("structure", 0.0) \
            + c.losses.ssim * losses.get("ssim", 0.0)
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        if c.train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.train.grad_clip)
        self.opt.step()
        self.sched.step()
        self.ema.update(self.model)
        self.iteration += 1
        return {k: v.detach() for k, v in losses.items()}     # read back only when logged: no stall per step

    @torch.no_grad()
    def validate(self, per_clip: bool = False) -> dict[str, Any]:
        """PSNR-Y and SSIM-Y of the EMA model and of bicubic on the validation clips (with ``per_clip``,
        each clip's PSNR-Y and the held-out crop it was filmed from, for a paired comparison of two
        models on the same clips: clips of one crop are not independent witnesses)."""
        if self._valset is None:
            return {}
        lr, hr = self._valset
        model = self.ema.module.eval()
        outs, bicubic = [], []
        for i in range(0, len(lr), 16):
            outs.append(model(lr[i:i + 16]).float().clamp(0, 1))
            centre = lr[i:i + 16, self.frames // 2]
            bicubic.append(F.interpolate(centre, scale_factor=self.config.scale, mode="bicubic",
                                         align_corners=False).clamp(0, 1))
        outs_all, bicubic_all = torch.cat(outs), torch.cat(bicubic)
        ours, base = _psnr_y(outs_all, hr), _psnr_y(bicubic_all, hr)
        ssim_ours = 1.0 - float(self.ssim(outs_all[..., 4:-4, 4:-4], hr[..., 4:-4, 4:-4]))
        ssim_base = 1.0 - float(self.ssim(bicubic_all[..., 4:-4, 4:-4], hr[..., 4:-4, 4:-4]))
        result = {"iteration": self.iteration, "psnr_y": round(float(ours.mean()), 3),
                  "bicubic_psnr_y": round(float(base.mean()), 3),
                  "ssim_y": round(ssim_ours, 4), "bicubic_ssim_y": round(ssim_base, 4),
                  "gain_db": round(float((ours - base).mean()), 3),
                  "clips_better_than_bicubic": round(float((ours > base).float().mean()), 3),
                  "clips": len(lr)}
        if per_clip:
            result["per_clip_psnr_y"] = [float(v) for v in ours]
            result["per_clip_crop"] = [i % len(self.pack.heldout) for i in range(len(lr))]   # _build_valset's picks
        return result

    # checkpoints
    def run_sha256(self) -> str:
        """The config's hash, and the base weights' when fine-tuning: a checkpoint resumes only the same run."""
        if not self.finetuned_from:
            return self.config.sha256()
        return hashlib.sha256((self.config.sha256() + self.finetuned_from["sha256"]).encode()).hexdigest()

    def state(self) -> dict:
        return {"config_sha256": self.run_sha256(), "params": self.model.state_dict(),
                "params_ema": self.ema.module.state_dict(), "ema_updates": self.ema.updates,
                "opt": self.opt.state_dict(), "sched": self.sched.state_dict(), "spent": dict(self.spent),
                "iters": self.iters,
                "validation": json.dumps(self.validation)}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["params"])
        self.ema.load_state_dict({"module": state["params_ema"], "updates": state["ema_updates"]})
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])
        self.spent.update(state.get("spent", {}))
        self.validation = json.loads(state.get("validation") or "{}")
        self.iteration = int(state["iteration"])
        self.iters = int(state.get("iters", self.config.train.iters))

    def export(self, *, complete: bool, stopped_by_time: bool, session_seconds: float, energy: dict) -> dict:
        c = self.config
        module = self.ema.module.to("cpu").float().eval()
        previous = previous_weights_sha256(card_path(c.output))
        c.output.parent.mkdir(parents=True, exist_ok=True)
        digest = save_safetensors(module.state_dict(), c.output, metadata={"name": c.name, "arch": c.model["type"]})
        licence_counts: dict[str, int] = {}
        for record in self.pack.records:
            for licence, count in record["licence_counts"].items():
                licence_counts[licence] = licence_counts.get(licence, 0) + count
        hardware = {"device": str(self.device), "torch": torch.__version__}
        if self.device.type == "cuda":
            hardware["gpu"] = torch.cuda.get_device_name(self.device)
        card = new_card(
            c.name, dict(c.model), arch_scale(c.model), parameter_count(module),
            count_macs(module, *REFERENCE_FRAME), digest, c.output.name,
            origin="fine-tuned" if self.finetuned_from else "trained",
            task="video-super-resolution", frames=self.frames, radius=int(module.radius),
            registration="restore.models.motion.align_window (whole-pixel block phase correlation)",
            training={
                "config_file": display_path(c.source), "config_sha256": c.sha256(), "config": c.as_dict(),
                "iterations": self.iteration, "schedule_iterations": self.iters, "complete": complete,
                "schedule_from_time_budget": c.train.iters == 0,
                "stopped_by_time_limit": stopped_by_time, "batch_size": c.train.batch_size,
                "clips_seen": self.iteration * c.train.batch_size,
                "last_session_seconds": round(session_seconds, 1), "hardware": hardware,
                "determinism": determinism_facts(),
                "data": "synthetic camera motion over HR crops of the corpora below, degraded on the device "
                        "by restore.training.video_synth (pal-broadcast chain, JPEG-style DCT codec)",
                "crop_packs": {"index_sha256": self.pack.index_sha256, "crops": self.pack.crops,
                               "weights": c.crop_weights or None, "heldout_packs": c.heldout_packs},
                "losses": asdict(c.losses), "replaced_weights_sha256": previous,
                "finetuned_from": self.finetuned_from,
            },
            corpora=self.pack.records, licence_counts=dict(sorted(licence_counts.items())),
            validation=self.validation, energy=energy,
            licence_note="weights derived from the corpora above; see their manifests for per-image licences",
        )
        write_json(card_path(c.output), card)
        self.ema.module.to(self.device)
        return card


def train_vsr(config: VSRConfig, *, resume: bool = False, force: bool = False, max_iters: int | None = None,
              device: str = "cpu", echo: Callable[[str], None] | None = None, finetune: str | None = None) -> dict:
    """Run (or continue) the schedule; export the EMA weights and card at the end. Returns the card."""
    from restore.energy import EnergyMeter

    echo = echo or (lambda message: None)
    work = config.work_dir
    prepare_outputs(work, config.output, resume=resume, force=force)

    trainer = VSRTrainer(config, device=device, echo=echo, finetune=finetune)
    if resume:
        path = latest_checkpoint(work)
        trainer.load(load_checkpoint(path, trainer.run_sha256()))
        echo(f"resuming {config.name} at iteration {trainer.iteration} from {path.name}")
    if config.train.iters == 0 and not config.train.time_limit_s:
        raise UserError("train.iters 0 means 'what fits in train.time_limit_s': set time_limit_s too")
    shared = max(1, int(os.environ.get("RESTORE_RUNS_SHARING_DEVICE", "1")))
    meter = EnergyMeter(device=trainer.device).start()
    t0 = time.monotonic()
    log = work / "log.jsonl"
    work.mkdir(parents=True, exist_ok=True)
    window: dict[str, list[float]] = {}
    stopped_by_time = False
    half_way = t0

    def checkpoint() -> None:
        report = meter.stop()
        trainer.spent["kwh"] += report.kwh / shared if report.parts.get("gpu", {}).get("measured") else report.kwh
        trainer.spent["gpu_kwh"] += report.parts.get("gpu", {}).get("kwh", 0.0) / shared
        trainer.spent["cpu_seconds"] += report.cpu_seconds
        trainer.spent["seconds"] += report.seconds
        meter.start()
        save_checkpoint(work, trainer.iteration, trainer.state())

    def end() -> int:
        total = trainer.iters or (1 << 62)
        return min(total, max_iters) if max_iters else total

    while trainer.iteration < end():
        losses = trainer.step()
        if not trainer.iters and trainer.iteration == config.train.warmup // 2:
            half_way = time.monotonic()          # the first steps pay for kernel selection: time the rest
        if not trainer.iters and trainer.iteration == config.train.warmup:
            # Fix the schedule from the measured rate, so the cosine decay ends inside the budget.
            rate = (config.train.warmup - config.train.warmup // 2) / max(1e-6, time.monotonic() - half_way)
            left = config.train.time_limit_s - (time.monotonic() - t0)
            trainer.iters = trainer.iteration + max(1, int(rate * left * 0.9))
            echo(f"schedule: {trainer.iters} iterations ({rate:.1f} it/s within {config.train.time_limit_s:g} s)")
        for key, value in losses.items():
            window.setdefault(key, []).append(value)
        it = trainer.iteration
        if it % config.log_every == 0 or it == end():
            record = {"iteration": it, "lr": trainer.opt.param_groups[0]["lr"],
                      "elapsed_s": round(time.monotonic() - t0, 1),
                      **{k: round(float(torch.stack(v).mean()), 5) for k, v in window.items()}}
            window.clear()
            with open(log, "a") as fh:
                fh.write(json.dumps(record) + "\n")
            echo(json.dumps(record))
        if it % config.validation.every == 0 or it == end():
            trainer.validation = trainer.validate()
            if trainer.validation:
                with open(log, "a") as fh:
                    fh.write(json.dumps({"validation": trainer.validation}) + "\n")
                echo(f"validation: {trainer.validation}")
        if it % config.checkpoint_every == 0 or it == end():
            checkpoint()
        if config.train.time_limit_s and time.monotonic() - t0 > config.train.time_limit_s and it < end():
            stopped_by_time = True
            echo(f"time limit {config.train.time_limit_s:g} s reached at iteration {it}; exporting")
            trainer.validation = trainer.validate()
            checkpoint()
            break
    session = time.monotonic() - t0
    meter.stop()
    energy = {"kwh": trainer.spent["kwh"], "gpu_kwh": trainer.spent["gpu_kwh"],
              "cpu_seconds": round(trainer.spent["cpu_seconds"], 1), "seconds": round(trainer.spent["seconds"], 1),
              "method": "nvml" if trainer.spent["gpu_kwh"] else "estimate",
              "how": "restore.energy.EnergyMeter over every session of the run"
                     + (f"; the GPU was shared by {shared} concurrent runs and its energy is divided among them"
                        if shared > 1 else "")}
    card = trainer.export(complete=bool(trainer.iters) and trainer.iteration >= trainer.iters,
                          stopped_by_time=stopped_by_time, session_seconds=session, energy=energy)
    echo(f"wrote {config.output} ({trainer.iteration}/{trainer.iters} iterations)")
    return card
