"""The SR training loop: L1 (+ structure) pre-training, then L1 + structure + GAN, with EMA.

One process or many: under ``torchrun`` (``WORLD_SIZE`` > 1) every process trains on its own
batches and DDP averages gradients (gloo on CPU, NCCL on GPU); rank 0 validates, checkpoints
and exports. A run can stop anywhere and ``resume`` continues bit for bit: batches are a
function of (seed, iteration, rank) and the checkpoint holds every other piece of state.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F

from restore.errors import OutputError, UserError
from restore.models.archs import arch_scale, build_arch, count_macs, parameter_count
from restore.models.cards import REFERENCE_FRAME, card_path, new_card
from restore.models.loading import save_safetensors, sha256_file, write_json
from restore.pipeline import runner
from restore.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from restore.training.config import TrainConfig
from restore.training.data import PatchSampler, ValidationSet, load_images, make_degrader
from restore.training.determinism import facts as determinism_facts
from restore.training.determinism import previous_weights_sha256, reproduction_line, set_threads
from restore.training.ema import ModelEMA
from restore.training.evaluate import evaluate, resize_upscale, upscale_with
from restore.training.losses import StructureLoss, discriminator_loss, generator_gan_loss
from restore.training.progress import Progress


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> "Distributed":
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                   int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


@dataclass
class TrainResult:
    iterations: int
    complete: bool
    weights: Path | None
    card: dict | None
    generator: nn.Module            # the EMA generator (what is exported)
    validation: dict = field(default_factory=dict)


def resolve_device(device: str, dist_ctx: Distributed) -> torch.device:
    """restore.pipeline.runner.resolve_device; under torchrun, plain ``cuda`` is this rank's GPU."""
    name = runner.resolve_device(device)
    if name == "cuda" and dist_ctx.enabled:
        name = f"cuda:{dist_ctx.local_rank}"
    return torch.device(name)


def _corpora(config: TrainConfig) -> tuple[list, list, list[dict], list[tuple[int, float]] | None]:
    """Train and held-out entries of every corpus, after the corpus check passes, and the corpus
    (index, sampling share) of each training entry when the config weighs its corpora."""
    from restore.training.corpus import require_valid_corpus

    train_entries, heldout_entries, records, shares = [], [], [], []
    weighted = any("weight" in spec for spec in config.corpora)
    for index, spec in enumerate(config.corpora):
        corpus = require_valid_corpus(spec["path"])
        digest = corpus.manifest_sha256
        expected = spec.get("manifest_sha256")
        if expected and expected != digest:
            raise UserError(f"corpus {spec['path']}: manifest sha256 {digest[:12]}… differs from the config's "
                            f"{expected[:12]}…: the corpus changed; update the config to retrain on purpose")
        kind = spec.get("kind")
        train = corpus.select(split="train", kind=kind)
        heldout = corpus.select(split="heldout", kind=kind)
        if not train:
            raise UserError(f"corpus {spec['path']} has no training images" + (f" of kind '{kind}'" if kind else ""))
        train_entries += train
        heldout_entries += heldout
        shares += [(index, float(spec.get("weight", 1.0)))] * len(train)
        counts: dict[str, int] = {}
        for entry in train + heldout:
            counts[entry.license] = counts.get(entry.license, 0) + 1
        records.append({"name": Path(spec["path"]).name, "manifest_sha256": digest,
                        "kind": kind or "any", "train_images": len(train), "heldout_images": len(heldout),
                        "licence_counts": dict(sorted(counts.items())),
                        **({"sampling_weight": float(spec.get("weight", 1.0))} if weighted else {})})
    return train_entries, heldout_entries, records, (shares if weighted else None)


def _lr_factor(schedule, iteration: int) -> float:
    """Cosine decay within each phase; the GAN phase restarts from gan_lr (as Real-ESRGAN's second stage)."""
    if iteration < schedule.pretrain_iters:
        start, length, base = 0, schedule.pretrain_iters, 1.0
    else:
        start, length, base = schedule.pretrain_iters, schedule.gan_iters, schedule.gan_lr / schedule.lr
    progress = (iteration - start) / max(1, length)
    floor = schedule.lr_min_ratio
    return float(base * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))))


def _prepare_outputs(config: TrainConfig, resume: bool, force: bool, dist_ctx: Distributed) -> None:
    if not dist_ctx.main:
        return
    has_run = latest_checkpoint(config.work_dir) is not None
    if force:
        if config.work_dir.is_dir():
            for stale in [*config.work_dir.glob("iter-*.pt"), config.work_dir / "latest.pt",
                          config.work_dir / "log.jsonl"]:
                stale.unlink(missing_ok=True)
        return
    if resume:
        if not has_run:
            raise UserError(f"nothing to resume in {config.work_dir}")
        return
    if has_run:
        raise OutputError(f"{config.work_dir} holds a training run: --resume to continue it or --force to restart")
    if config.output.exists():
        raise OutputError(f"{config.output} exists: --force retrains and replaces it")


class _Logger:
    def __init__(self, path: Path | None):
        self.path = path

    def write(self, record: dict) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")


def validate(module: nn.Module, valset: ValidationSet, scale: int, device, with_niqe: bool) -> dict:
    module.eval()
    pairs = list(zip(valset.lr, valset.hr))
    return evaluate(lambda lr: upscale_with(module, lr, device), pairs, scale, with_niqe)


def train(config: TrainConfig, *, resume: bool = False, force: bool = False, max_iters: int | None = None,
          device: str = "cpu", finetune: str | None = None, threads: int | None = None,
          progress: bool = True, echo: Callable[[str], None] | None = None) -> TrainResult:
    """Train (or fine-tune) the generator described by ``config``; see the module docstring."""
    dist_ctx = Distributed.from_env()
    echo = echo or (lambda message: None)
    dev = resolve_device(device, dist_ctx)
    if dist_ctx.enabled and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    if dev.type == "cpu":
        # Ranks on one machine share its cores; oversubscribing them is slower than not.
        local = int(os.environ.get("LOCAL_WORLD_SIZE", dist_ctx.world_size))
        set_threads(threads or config.threads or max(1, (os.cpu_count() or 1) // local))
    schedule = config.train
    finetuned_from = None
    if finetune:
        from restore.models.registry import load_model

        base = load_model(finetune)
        if base.scale != config.scale:
            raise UserError(f"{finetune} upscales ×{base.scale}, the config trains ×{config.scale}")
        config.model = dict(base.arch)
        finetuned_from = {"name": base.name, "sha256": base.sha256}
    config_sha = config.sha256() if not finetuned_from else \
        sha256_text(config.sha256() + finetuned_from["sha256"])
    _prepare_outputs(config, resume, force, dist_ctx)
    dist_ctx.barrier()

    train_entries, heldout_entries, corpus_records, corpus_shares = _corpora(config)
    degrader = make_degrader(config.degradation)
    sampler = PatchSampler(load_images(train_entries), schedule.patch_size, config.scale, degrader,
                           config.seed, schedule.min_texture, corpus_shares=corpus_shares)
    valset = None
    if dist_ctx.main and heldout_entries:
        valset = ValidationSet.build(heldout_entries, degrader, config.scale, config.validation.crop, config.seed)

    torch.manual_seed(config.seed)
    generator = build_arch(config.model).to(dev)
    if finetune:
        generator.load_state_dict(base.module.state_dict())
    discriminator = build_arch(config.discriminator).to(dev)
    ema = ModelEMA(generator, schedule.ema_decay)
    opt_g = torch.optim.Adam(generator.parameters(), lr=schedule.lr, betas=(0.9, 0.99))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=schedule.d_lr, betas=(0.9, 0.99))
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, lambda it: _lr_factor(schedule, it))
    start = 0
    spent = {"kwh": 0.0, "seconds": 0.0, "cpu_seconds": 0.0}  # earlier sessions of a resumed run
    log_path = config.work_dir / "log.jsonl" if dist_ctx.main else None
    if resume:
        ckpt_path = latest_checkpoint(config.work_dir)
        if ckpt_path is None:
            raise UserError(f"nothing to resume in {config.work_dir}")
        state = load_checkpoint(ckpt_path, config_sha)
        generator.load_state_dict(state["params"])
        discriminator.load_state_dict(state["discriminator"])
        ema.load_state_dict({"module": state["params_ema"], "updates": state["ema_updates"]})
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        sched_g.load_state_dict(state["sched_g"])
        torch.set_rng_state(state["rng_cpu"])
        start = int(state["iteration"])
        spent.update(state.get("spent", {}))
        echo(f"resuming {config.name} at iteration {start} from {ckpt_path.name}")
    end = min(schedule.total, max_iters) if max_iters is not None else schedule.total
    if end <= start and start < schedule.total:
        raise UserError(f"--max-iters {max_iters} is not beyond the checkpoint's iteration {start}")

    g_train, d_train = generator, discriminator
    if dist_ctx.enabled:
        ids = [dev.index] if dev.type == "cuda" else None
        g_train = nn.parallel.DistributedDataParallel(generator, device_ids=ids)
        d_train = nn.parallel.DistributedDataParallel(discriminator, device_ids=ids)
    structure = StructureLoss().to(dev)
    weights = config.losses
    logger = _Logger(log_path)
    bar = Progress(end - start, config.name, enabled=progress and dist_ctx.main)

    from restore.energy import EnergyMeter

    meter = EnergyMeter().start()
    t0 = time.monotonic()
    window: dict[str, list[float]] = {}
    validation: dict[str, Any] = {}
    for it in range(start, end):
        gan_phase = it >= schedule.pretrain_iters
        if gan_phase and it == schedule.pretrain_iters and schedule.pretrain_iters > 0:
            # Start adversarial training from the averaged pre-trained weights, as Real-ESRGAN
            # starts from RealESRNet's params_ema.
            generator.load_state_dict(ema.module.state_dict())
        generator.train()
        lr_batch, hr_batch = (t.to(dev) for t in sampler.batch(it, schedule.batch_size, dist_ctx.rank))
        sr = g_train(lr_batch)
        losses = {"l1": F.l1_loss(sr, hr_batch)}
        if weights.structure > 0:
            losses["structure"] = structure(sr, hr_batch)
        if gan_phase and weights.gan > 0:
            # The generator step goes through the bare discriminator: its weights are frozen here
            # and DDP must not expect their gradients.
            discriminator.requires_grad_(False)
            losses["gan"] = generator_gan_loss(discriminator(sr))
            discriminator.requires_grad_(True)
        total = weights.l1 * losses["l1"] + weights.structure * losses.get("structure", 0.0) \
            + weights.gan * losses.get("gan", 0.0)
        opt_g.zero_grad(set_to_none=True)
        total.backward()
        opt_g.step()
        sched_g.step()
        if gan_phase and weights.gan > 0:
            logits = d_train(torch.cat([hr_batch, sr.detach()]))
            real, fake = logits.split(hr_batch.shape[0])
            losses["d"] = discriminator_loss(real, fake)
            opt_d.zero_grad(set_to_none=True)
            losses["d"].backward()
            opt_d.step()
        ema.update(generator)

        iteration = it + 1
        for key, value in losses.items():
            window.setdefault(key, []).append(float(value.detach()))
        bar.update(iteration - start, {k: v[-1] for k, v in window.items()}, "gan" if gan_phase else "l1")
        if iteration % config.log_every == 0 or iteration == end:
            record = {"iteration": iteration, "phase": "gan" if gan_phase else "pretrain",
                      "lr": opt_g.param_groups[0]["lr"], "elapsed_s": round(time.monotonic() - t0, 1)}
            record.update({k: round(float(np.mean(v)), 5) for k, v in window.items()})
            logger.write(record)
            window.clear()
        if valset is not None and (iteration % config.validation.every == 0 or iteration == end):
            validation = {"iteration": iteration, **validate(ema.module, valset, config.scale, dev,
                                                               config.validation.niqe)}
            logger.write({"validation": validation})
            bar.note(f"validation at {iteration}: " + ", ".join(f"{k} {v}" for k, v in validation.items()
                                                                  if k != "iteration"))
        if dist_ctx.main and (iteration % config.checkpoint_every == 0 or iteration == end):
            save_checkpoint(config.work_dir, iteration, {
                "config_sha256": config_sha,
                # BasicSR's names: `restore weights import` reads a checkpoint like any BasicSR one.
                "params": generator.state_dict(), "params_ema": ema.module.state_dict(),
                "ema_updates": ema.updates, "discriminator": discriminator.state_dict(),
                "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "sched_g": sched_g.state_dict(),
                "rng_cpu": torch.get_rng_state(),
                "spent": _spent_so_far(meter, spent, t0)})
    bar.close()
    seconds = time.monotonic() - t0
    energy_dict = _energy_totals(meter, spent, seconds, dist_ctx)

    result = TrainResult(iterations=end, complete=end >= schedule.total, weights=None, card=None,
                         generator=ema.module, validation=validation)
    if dist_ctx.main and end > start:
        baseline = None
        if valset is not None:
            import cv2

            pairs = list(zip(valset.lr, valset.hr))
            baseline = evaluate(resize_upscale(config.scale, cv2.INTER_CUBIC), pairs, config.scale,
                                config.validation.niqe)
        result.weights, result.card = export(config, ema.module, iteration=end, config_sha=config_sha,
                                             corpora=corpus_records, validation=validation,
                                             bicubic=baseline, energy=energy_dict, seconds=seconds,
                                             finetuned_from=finetuned_from, world_size=dist_ctx.world_size,
                                             device=str(dev), start=start)
        echo(f"wrote {result.weights} ({end}/{schedule.total} iterations)")
        line = reproduction_line(config.name, result.card["training"]["replaced_weights_sha256"],
                                 result.card["weights_sha256"])
        if line:
            echo(line)
    dist_ctx.barrier()
    return result


def _spent_so_far(meter, spent: dict, t0: float) -> dict:
    """Energy and time up to now, all sessions of this run; the meter restarts for the next segment."""
    report = meter.stop()
    spent["kwh"] += report.kwh
    spent["cpu_seconds"] += report.cpu_seconds
    meter.start()
    return {**spent, "seconds": spent["seconds"] + time.monotonic() - t0}


def _energy_totals(meter, spent: dict, seconds: float, dist_ctx: Distributed) -> dict:
    """The card's energy block: totals over every metered segment (and every DDP process)."""
    report = meter.stop()
    totals = torch.tensor([spent["kwh"] + report.kwh, spent["cpu_seconds"] + report.cpu_seconds],
                          dtype=torch.float64)
    if dist_ctx.enabled:
        dist.all_reduce(totals)
    kwh, cpu_seconds = (float(v) for v in totals)
    return {"kwh": kwh, "gco2e": kwh * report.grid_gco2_per_kwh, "method": report.method,
            "is_estimate": report.is_estimate, "seconds": round(spent["seconds"] + seconds, 1),
            "cpu_seconds": round(cpu_seconds, 1), "grid_gco2_per_kwh": report.grid_gco2_per_kwh,
            "processes": dist_ctx.world_size,
            "assumptions": report.assumptions.split(";", 1)[-1].strip() if report.is_estimate else report.assumptions,
            "how": (f"restore.energy.EnergyMeter over the whole run; CPU energy = CPU-seconds × {meter.watts:g} W "
                    "per busy core"
                    if report.is_estimate else "restore.energy.EnergyMeter counters over the whole run")}


def sha256_text(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def export(config: TrainConfig, module: nn.Module, *, iteration: int, config_sha: str, corpora: list[dict],
           validation: dict, bicubic: dict | None, energy: dict, seconds: float, finetuned_from: dict | None,
           world_size: int, device: str, start: int) -> tuple[Path, dict]:
    """Write the EMA generator as safetensors and its model card next to it."""
    module = module.to("cpu").eval()
    previous = previous_weights_sha256(card_path(config.output))
    digest = save_safetensors(module.state_dict(), config.output,
                              metadata={"name": config.name, "arch": config.model["type"]})
    licence_counts: dict[str, int] = {}
    for record in corpora:
        for licence, count in record["licence_counts"].items():
            licence_counts[licence] = licence_counts.get(licence, 0) + count
    source = config.source
    card = new_card(
        config.name, dict(config.model), arch_scale(config.model), parameter_count(module),
        count_macs(module, *REFERENCE_FRAME), digest, config.output.name,
        origin="fine-tuned" if finetuned_from else "trained",
        training={
            "config_file": _display_path(source) if source else None,
            "config_file_sha256": sha256_file(source) if source else None,
            "config_sha256": config_sha, "config": config.as_dict(),
            "iterations": iteration, "schedule_iterations": config.train.total,
            "complete": iteration >= config.train.total, "resumed_from": start or None,
            "last_session_seconds": round(seconds, 1), "world_size": world_size, "device": device,
            "torch": torch.__version__, "finetuned_from": finetuned_from,
            "determinism": determinism_facts(), "replaced_weights_sha256": previous,
            "perceptual_loss": "StructureLoss (multi-scale gradient + log-spectrum L1; no pretrained network)",
        },
        corpora=corpora, licence_counts=dict(sorted(licence_counts.items())),
        validation={**validation, "bicubic": bicubic} if validation else {},
        energy={**energy, "scope": "whole run, all sessions" if start else "whole run"},
        licence_note="weights derived from the corpora above; see their manifests for per-image licences",
    )
    write_json(card_path(config.output), card)
    return config.output, card


def _display_path(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(Path(path).resolve().relative_to(Path.cwd()))
    return str(path)
