"""Training pairs for super-resolution: textured HR patches and their synthetically degraded LR.

Randomness is drawn from ``numpy.random.default_rng([seed, iteration, rank])``: the batch of
iteration *i* on rank *r* is a pure function of the config, so a resumed run sees exactly the
batches an uninterrupted run would have seen, and DDP ranks see different ones, without any
data-loader state to checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import torch

from restore.errors import UserError


class Degrader(Protocol):
    def degrade(self, hr: np.ndarray, rng: np.random.Generator, scale: int) -> np.ndarray: ...


@dataclass
class AreaDegrader:
    """Clean area downscaling plus optional Gaussian noise: the classical bicubic-SR setting.

    Not a model of archival damage; used for quick experiments and tests of the loop itself.
    """

    noise: float = 0.0

    def degrade(self, hr: np.ndarray, rng: np.random.Generator, scale: int) -> np.ndarray:
        import cv2

        h, w = hr.shape[0] // scale, hr.shape[1] // scale
        lr = cv2.resize(hr[: h * scale, : w * scale], (w, h), interpolation=cv2.INTER_AREA)
        if self.noise > 0:
            lr = lr + rng.normal(0.0, self.noise, lr.shape).astype(np.float32)
        return lr


def make_degrader(options: dict | None) -> Degrader:
    """The degradation named by a config's ``degradation`` section.

    ``{model: archival, preset: ..., ...}`` (the default) is restore.training.degrade's synthetic
    archival model; ``{model: area, noise: σ}`` is plain downscaling.
    """
    options = dict(options or {})
    model = options.pop("model", "archival")
    if model == "area":
        return AreaDegrader(noise=float(options.get("noise", 0.0)))
    if model != "archival":
        raise UserError(f"degradation model '{model}' is not 'archival' or 'area'")
    from restore.training.degrade import DegradationModel

    preset = options.pop("preset", "pal-broadcast")
    return DegradationModel(config=options or None, preset=preset)


def load_images(entries: Sequence) -> list[np.ndarray]:
    """Corpus entries (cropped to their regions) as uint8 H×W×3: a quarter of float32's memory."""
    return [np.round(entry.load_rgb() * 255.0).astype(np.uint8) for entry in entries]


def texture_score(patch: np.ndarray) -> float:
    """Mean absolute luma gradient: near 0 for sky and soft background, ~0.05+ for detail."""
    luma = patch[..., 0] * 0.299 + patch[..., 1] * 0.587 + patch[..., 2] * 0.114
    return float(np.abs(np.diff(luma, axis=0)).mean() + np.abs(np.diff(luma, axis=1)).mean())


def augment(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One of the eight flips/transposes: content statistics of photographs are invariant to them."""
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    if rng.random() < 0.5:
        patch = patch[::-1]
    if rng.random() < 0.5:
        patch = patch.transpose(1, 0, 2)
    return np.ascontiguousarray(patch)


def to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).copy()).float()


def checked_degrade(degrader: Degrader, hr: np.ndarray, rng: np.random.Generator, scale: int) -> np.ndarray:
    return _checked(hr, degrader.degrade(hr, rng, scale), scale)


def _checked(hr: np.ndarray, lr: np.ndarray, scale: int) -> np.ndarray:
    expected = (hr.shape[0] // scale, hr.shape[1] // scale, 3)
    if lr.shape != expected:
        raise RuntimeError(f"degradation returned {lr.shape}, expected {expected} for scale {scale}")
    return np.clip(lr.astype(np.float32), 0.0, 1.0)


@dataclass
class PatchSampler:
    """Draws (LR, HR) batches of random textured crops from in-memory images."""

    images: list[np.ndarray]
    patch_size: int              # HR side, a multiple of scale
    scale: int
    degrader: Degrader
    seed: int
    min_texture: float = 0.02
    texture_tries: int = 8
    # Share of the patches each image's corpus gets (``weight`` of a config's corpus), aligned with
    # ``images``; None: every image in proportion to its area.
    corpus_shares: list[tuple[int, float]] | None = None

    def __post_init__(self) -> None:
        if self.patch_size % self.scale:
            raise UserError(f"patch_size {self.patch_size} is not a multiple of scale {self.scale}")
        keep = [i for i, img in enumerate(self.images) if min(img.shape[:2]) >= self.patch_size]
        if not keep:
            raise UserError(f"no training image is at least {self.patch_size} px on its shorter side")
        self.images = [self.images[i] for i in keep]
        areas = np.array([img.shape[0] * img.shape[1] for img in self.images], dtype=np.float64)
        if self.corpus_shares is None:
            self._weights = areas / areas.sum()  # big images hold more distinct patches
            return
        # Within a corpus by area; between corpora by their shares, so that one venue photograph
        # mixed with fifty general images still supplies its share of the batches.
        groups = np.array([self.corpus_shares[i][0] for i in keep])
        shares = np.array([self.corpus_shares[i][1] for i in keep], dtype=np.float64)
        weights = np.zeros_like(areas)
        for group in np.unique(groups):
            members = groups == group
            weights[members] = shares[members] * areas[members] / areas[members].sum()
        self._weights = weights / weights.sum()

    def _crop(self, rng: np.random.Generator) -> np.ndarray:
        """The most textured of a few random crops: wallpapers have much flat sky and blur."""
        best, best_score = None, -1.0
        for _ in range(self.texture_tries):
            image = self.images[rng.choice(len(self.images), p=self._weights)]
            y = rng.integers(0, image.shape[0] - self.patch_size + 1)
            x = rng.integers(0, image.shape[1] - self.patch_size + 1)
            patch = image[y:y + self.patch_size, x:x + self.patch_size].astype(np.float32) / 255.0
            score = texture_score(patch)
            if score >= self.min_texture:
                return patch
            if score > best_score:
                best, best_score = patch, score
        return best

    def batch(self, iteration: int, batch_size: int, rank: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, iteration, rank])
        hrs = [augment(self._crop(rng), rng) for _ in range(batch_size)]
        if hasattr(self.degrader, "degrade_batch"):
            # One ffmpeg run for the whole batch when the preset ends in a video codec.
            lrs = [_checked(hr, lr, self.scale) for hr, lr in zip(hrs, self.degrader.degrade_batch(hrs, rng, self.scale))]
        else:
            lrs = [checked_degrade(self.degrader, hr, rng, self.scale) for hr in hrs]
        return to_tensor(lrs), to_tensor(hrs)


@dataclass
class ValidationSet:
    """Fixed held-out pairs: one centre crop per image, degraded with a per-image seed."""

    names: list[str]
    lr: list[np.ndarray]
    hr: list[np.ndarray]

    @classmethod
    def build(cls, entries: Sequence, degrader: Degrader, scale: int, crop: int, seed: int) -> "ValidationSet":
        names, lrs, hrs = [], [], []
        for index, entry in enumerate(entries):
            image = entry.load_rgb()
            h, w = image.shape[:2]
            ch, cw = (min(crop, h) // scale) * scale, (min(crop, w) // scale) * scale
            y, x = (h - ch) // 2, (w - cw) // 2
            hr = np.ascontiguousarray(image[y:y + ch, x:x + cw])
            lrs.append(checked_degrade(degrader, hr, np.random.default_rng([seed, index]), scale))
            hrs.append(hr)
            names.append(entry.label())
        return cls(names, lrs, hrs)

    def __len__(self) -> int:
        return len(self.names)
