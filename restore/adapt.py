"""``restore adapt``: the models adapted to one recording's venue and speaker, in one command.

The mission's own workflow: a 1981 speech in a parliament chamber, a photographic campaign in the
chamber (reference shots of the venue) and portraits of the speaker from that period. Given a
venue corpus and a subject corpus (each with its MANIFEST.tsv: source and licence of every
picture), ``adapt``:

1. checks both corpora (licences, sources, duplicates) and refuses what fails, before any work;
2. fine-tunes the multi-frame SR model on the venue's training shots, half of every batch replayed
   from the general corpus (a venue-only fine-tune forgets detail it has not seen there), and
   measures generic against adapted on the venue's **held-out** shots;
3. fine-tunes the face model on the subject's training portraits (restore.training.face_train) and
   measures generic against adapted on the subject's held-out portraits;
4. installs the adapted weights with their model cards (base weights, corpora, measurements) in the
   user weights folder, and writes a pipeline YAML — a preset with those weights — for
   ``restore run -p``.

Models know nothing of files and stages nothing of training: this module is where the two meet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from restore import resources
from restore.errors import OutputError, UserError

REPO = resources.source_root() or Path.cwd()     # runs/packs: made in a checkout by `make packs`
VSR_CONFIG = resources.pipelines_dir() / "training" / "vsr-x2.yaml"
FACE_CONFIG = resources.pipelines_dir() / "training" / "face-v2.yaml"
GENERAL_PACK = REPO / "runs" / "packs" / "sr" / "index.tsv"
# Held-out crops below which the gain's interval is too wide to show a gain of the size a venue
# gives (0–0.2 dB): one photograph's held-out half gives 3–5 (python -m benchmarks adapt).
FEW_HELDOUT_CROPS = 8
# Below this many held-out crops there is no interval at all: the clips of a single crop all share its
# content, so their spread says nothing of how the gain varies from one part of the venue to another.
MIN_CROPS_FOR_INTERVAL = 2


@dataclass
class AdaptResult:
    pipeline: Path
    weights: list[Path] = field(default_factory=list)
    venue: dict | None = None            # generic vs adapted on held-out venue clips
    subject: dict | None = None          # generic vs adapted on held-out portraits


def paired_gain(adapted: list[float], generic: list[float], groups: list[int] | None = None, seed: int = 0) -> dict:
    """The adapted model's gain over the generic one on the same held-out clips: the mean, its 95 %
    bootstrap interval and the share of clips it wins. A mean alone cannot tell a venue the model
    learned from a few lucky clips; the interval's lower end is what the pipeline relies on.

    ``groups`` names the held-out crop each clip was filmed from: clips of one crop share its content,
    so the bootstrap draws crops, not clips (drawing clips would count one lucky crop eight times as
    eight witnesses, and the interval would come out too narrow)."""
    import numpy as np

    from restore.metrics import mean_interval

    diff = np.asarray(adapted, np.float64) - np.asarray(generic, np.float64)
    if diff.size == 0:
        raise ValueError("no held-out clips to compare on")
    crops = len(set(groups)) if groups is not None else int(diff.size)
    interval = None
    if crops >= MIN_CROPS_FOR_INTERVAL:
        low, high = mean_interval(diff, groups, seed)
        interval = [round(low, 3), round(high, 3)]
    result = {"gain_db": round(float(diff.mean()), 3), "gain_ci95_db": interval,
              "clips_better_than_generic": round(float((diff > 0).mean()), 3), "independent_crops": crops}
    if groups is not None:
        # with few crops the bootstrap's lower end is about the worst crop's gain: show each one
        labels = np.asarray(groups)
        result["per_crop_gain_db"] = [round(float(diff[labels == g].mean()), 3) for g in sorted(set(groups))]
    return result


def describe_gain(gain: dict) -> str:
    """One line: the mean gain, its interval (or why there is none) and each held-out crop's gain."""
    crops = gain["independent_crops"]
    each = gain.get("per_crop_gain_db")
    shown = f"; per crop {', '.join(f'{g:+.3f}' for g in each)}" if each and len(each) <= 12 else ""
    if gain["gain_ci95_db"] is None:
        return (f"{gain['gain_db']:+.3f} dB on {crops} held-out crop: no interval (one crop cannot tell the "
                f"venue from that crop's content)")
    low, high = gain["gain_ci95_db"]
    return (f"{gain['gain_db']:+.3f} dB, 95 % interval {low:+.3f} to {high:+.3f} over {crops} held-out crops"
            f"{shown}; better on {gain['clips_better_than_generic']:.0%} of the clips")


def _slug(path: Path) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.resolve().name.lower()).strip("-") or "set"


def check_corpora(venue: Path | None, subject: Path | None) -> None:
    """Both corpora must pass their checks before anything is trained."""
    if venue is None and subject is None:
        raise UserError("restore adapt needs --venue DIR, --subject DIR or both")
    if venue is not None:
        from restore.training.corpus import require_valid_corpus

        corpus = require_valid_corpus(venue)
        if not corpus.select(split="train"):
            raise UserError(f"{venue}: no training shots (split train) in its manifest")
    if subject is not None:
        from restore.training.face_data import read_face_manifest

        read_face_manifest(Path(subject))     # refuses a portrait without source and licence


def _faces_stage(spec: dict) -> dict:
    """The base pipeline's faces stage, or one added after super-resolution (as the presets place it)."""
    stages = spec.setdefault("stages", [])
    for stage in stages:
        if stage.get("stage") == "faces":
            return stage
    at = next((i + 1 for i, s in enumerate(stages) if s.get("stage") == "superres"), len(stages))
    stage = {"stage": "faces", "weights": "restore-face-v5", "fidelity": 0.0}
    stages.insert(at, stage)
    return stage


def _base_stage(spec: dict, name: str) -> dict:
    for stage in spec.get("stages", []):
        if stage.get("stage") == name:
            return stage
    raise UserError(f"base pipeline {spec.get('name')!r} has no {name} stage to adapt")


def adapt_venue(venue: Path, work: Path, weights_dir: Path, name: str, *, base_weights: str, iters: int,
                device: str, echo: Callable[[str], None], replay: Path = GENERAL_PACK,
                replay_corpora: list[str] | None = None) -> tuple[Path, dict]:
    """Fine-tune the multi-frame SR model on the venue with general replay; (weights, measurements)."""
    from restore.training.crops import export_crops
    from restore.training.vsr_train import VSRTrainer, load_vsr_config

    if not Path(replay).is_file():
        raise UserError(f"the general replay pack {replay} is missing: run `make packs` first")
    echo(f"cutting crops of the venue shots in {venue}")
    venue_pack = export_crops([venue], work / "venue-pack", size=288, per_image=12, include_heldout=True,
                              heldout_per_image=6)
    config = load_vsr_config(VSR_CONFIG)
    config.name = name
    config.output = weights_dir / f"{name}.safetensors"
    config.work_dir = work / "vsr"
    config.crops = [venue_pack, Path(replay)]
    config.crop_weights = [0.5, 0.5]
    # measured on the venue's held-out shots only: the replay pack's held-out crops (other places, and
    # until 2026-12-07 seven of every ten crops this measure drew) are not the venue
    config.heldout_packs = [0]
    config.corpora = [str(Path(venue).resolve()), *(replay_corpora or config.corpora)]
    config.train.iters = iters
    config.train.time_limit_s = 0
    config.train.batch_size = 8
    config.train.lr = 5e-5            # a converged model, small batches: small steps
    config.train.warmup = max(1, iters // 20)
    config.train.ema_decay = 0.99
    config.validation.every = iters
    config.validation.clips = 48
    config.checkpoint_every = iters
    trainer = VSRTrainer(config, device=device, echo=echo, finetune=base_weights)
    if len(trainer.pack.heldout) == 0:
        raise UserError(f"{venue}: no held-out shots (split heldout) to measure the adaptation on; "
                        "mark a few with `restore corpus add --split heldout`")
    crops = len(trainer.pack.heldout)
    if crops < FEW_HELDOUT_CROPS:
        echo(f"the venue's held-out shots give {crops} crop(s) to measure on: the gain's interval will be wide, "
             f"and a gain of a few tenths of a dB may not show; mark more shots held out")
    generic = trainer.validate(per_clip=True)
    echo(f"generic {base_weights} on the venue's held-out shots: {generic['psnr_y']} dB PSNR-Y "
         f"(bicubic {generic['bicubic_psnr_y']})")
    while trainer.iteration < iters:
        trainer.step()
    adapted = trainer.validate(per_clip=True)
    generic.pop("per_clip_crop")
    before, after, crop_of = generic.pop("per_clip_psnr_y"), adapted.pop("per_clip_psnr_y"), adapted.pop("per_clip_crop")
    gain = paired_gain(after, before, crop_of)
    # the clips one by one, for the caller that pools several venues (not the card: a summary is enough there)
    per_clip = {"gain_db": [round(a - b, 4) for a, b in zip(after, before)], "crop": list(crop_of)}
    measurements = {"clips": adapted["clips"], "bicubic_psnr_y": adapted["bicubic_psnr_y"],
                    "generic_psnr_y": generic["psnr_y"], "adapted_psnr_y": adapted["psnr_y"], **gain,
                    "per_clip": per_clip}
    trainer.validation = {**adapted, "generic": generic, "gain_over_generic": gain,
                          "note": "held-out venue shots, synthetic broadcast clips"}
    trainer.export(complete=True, stopped_by_time=False, session_seconds=0.0,
                   energy={"note": "see the base model's card; a CPU fine-tune of a few minutes"})
    echo(f"adapted {name}: {adapted['psnr_y']} dB over {adapted['clips']} clips; against the generic model "
         f"{describe_gain(gain)}")
    return config.output, measurements


def adapt_subject(subject: Path, weights_dir: Path, *, base_weights: str, iters: int, device: str,
                  overwrite: bool, echo: Callable[[str], None]) -> tuple[Path, dict]:
    """Fine-tune the face model on the subject's portraits; (weights, generic vs adapted)."""
    import json

    from restore.models.cards import card_path
    from restore.training.face_train import train_face

    raw = yaml.safe_load(FACE_CONFIG.read_text())
    raw["finetune"] = {**raw.get("finetune", {}), "iters": iters, "output_dir": str(weights_dir)}
    raw.pop("crops", None)
    written = train_face(raw, finetune=Path(base_weights), corpus=Path(subject), device=device, force=overwrite,
                         log=echo)
    card = json.loads(card_path(written).read_text())
    generic, adapted = card["validation"]["generic"], card["validation"]["finetuned"]
    return written, {"portraits": adapted.get("faces"), "generic_psnr": generic.get("psnr_output"),
                     "adapted_psnr": adapted.get("psnr_output"),
                     "generic_identity": generic.get("identity_output"),
                     "adapted_identity": adapted.get("identity_output")}


def adapt(venue: Path | None, subject: Path | None, output: Path, *, base: str = "speech-576i",
          sr_iters: int = 300, face_iters: int = 300, device: str = "cpu", weights_dir: Path | None = None,
          overwrite: bool = False, replay: Path | None = None, replay_corpora: list[str] | None = None,
          min_gain_db: float = 0.0, echo: Callable[[str], None] = print) -> AdaptResult:
    """Adapt the base pipeline's models; an adapted SR enters the pipeline only if it beats the generic
    model on the venue's held-out shots by more than ``min_gain_db`` at the lower end of its gain's 95 %
    interval (otherwise its weights and card are still written, for inspection, and the pipeline keeps the
    generic model and says why)."""
    from restore.models.registry import resolve_weights, user_weights_dir
    from restore.pipeline.spec import load_pipeline

    output = Path(output)
    if output.suffix not in (".yaml", ".yml"):
        raise UserError(f"{output}: the adapted pipeline is a YAML file (name it .yaml)")
    if output.exists() and not overwrite:
        raise OutputError(f"{output} exists: --overwrite replaces it")
    check_corpora(venue, subject)
    spec_path = resources.pipelines_dir() / f"{base}.yaml"
    if not spec_path.is_file():
        raise UserError(f"unknown base pipeline {base!r} (a name from pipelines/)")
    spec = yaml.safe_load(spec_path.read_text())
    weights_dir = Path(weights_dir or user_weights_dir())
    weights_dir.mkdir(parents=True, exist_ok=True)
    work = output.parent / f".{output.name}.adapt"
    result = AdaptResult(pipeline=output)
    notes = []
    if venue is not None:
        stage = _base_stage(spec, "superres")
        name = f"{Path(stage['weights']).stem}-venue-{_slug(venue)}"
        if (weights_dir / f"{name}.safetensors").exists() and not overwrite:
            raise OutputError(f"{weights_dir / name}.safetensors exists: --overwrite replaces it")
        path, result.venue = adapt_venue(Path(venue), work, weights_dir, name, base_weights=stage["weights"],
                                         iters=sr_iters, device=device, echo=echo, replay=replay or GENERAL_PACK,
                                         replay_corpora=replay_corpora)
        result.weights.append(path)
        measured = f"PSNR-Y on its held-out shots {describe_gain(result.venue)}"
        # the interval's lower end, not the mean: a gain within the noise of the crops is no gain
        interval = result.venue["gain_ci95_db"]
        result.venue["used"] = interval is not None and interval[0] > min_gain_db
        if result.venue["used"]:
            stage["weights"] = name if weights_dir == user_weights_dir() else str(path)
            notes.append(f"super-resolution fine-tuned on {venue} ({measured})")
        else:
            notes.append(f"super-resolution fine-tuned on {venue} did not surely beat the generic {stage['weights']} "
                         f"({measured}), so the generic model is kept")
            echo(f"the adapted super-resolution is not used: {measured} against the generic model (the interval's "
                 f"lower end must exceed {min_gain_db:+.3f}); its weights stay in {path.parent}")
    if subject is not None:
        stage = _faces_stage(spec)
        path, result.subject = adapt_subject(Path(subject), weights_dir, base_weights=str(resolve_weights(stage["weights"])),
                                             iters=face_iters, device=device, overwrite=overwrite, echo=echo)
        stage["weights"] = path.stem if weights_dir == user_weights_dir() else str(path)
        # the speaker's portraits also gate every restored face: it must stay that person
        stage["reference"] = str(Path(subject).resolve())
        result.weights.append(path)
        notes.append(f"faces fine-tuned on {subject} (held-out portraits: identity "
                     f"{result.subject['generic_identity']} → {result.subject['adapted_identity']})")
    spec["name"] = output.stem
    spec["description"] = (f"{spec.get('description', '').strip()} Adapted by `restore adapt`: "
                           + "; ".join(notes) + ".")
    tmp = output.with_name(f".{output.name}.partial")
    tmp.write_text(f"# written by restore adapt from pipelines/{base}.yaml\n" + yaml.safe_dump(spec, sort_keys=False))
    try:
        load_pipeline(str(tmp))                 # the file must load like any pipeline
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(output)
    return result
