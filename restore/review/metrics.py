"""Per-frame measures besides fidelity: flicker and NIQE.

Flicker index: the change of mean luma from the previous frame, in percent of
full scale. A restoration that steadies exposure brings AFTER's curve well
below BEFORE's; a stage that pumps brightness shows as spikes.

NIQE (Mittal et al. 2013, BasicSR's implementation with its bundled pristine
model, offline) is a no-reference naturalness score, lower is better. It costs
about 0.3 s CPU per 720×576 frame here (1.2 s wall on a loaded machine), so it is
computed on every Nth frame only (the page says which).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from restore.metrics import luma


class MeanLumaStep:
    """Flicker as the step of mean luma between consecutive frames (percent of full scale); None for the first."""

    def __init__(self):
        self._previous: float | None = None

    def __call__(self, image: np.ndarray) -> float | None:
        mean = float(luma(image[::2, ::2]).mean()) * 100.0
        step = None if self._previous is None else abs(mean - self._previous)
        self._previous = mean
        return step


_niqe = None


def niqe_available() -> bool:
    global _niqe
    if _niqe is None:
        try:
            import restore.models.compat  # noqa: F401  (basicsr needs its torchvision alias first)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # its scipy.ndimage.filters import
                from basicsr.metrics.niqe import calculate_niqe
            _niqe = calculate_niqe
        except Exception:  # basicsr missing or broken: the report says NIQE was not computed
            _niqe = False
    return _niqe is not False


def niqe(image: np.ndarray) -> float | None:
    """NIQE of an RGB float frame (lower is more natural), or None when it cannot be computed."""
    if not niqe_available() or min(image.shape[:2]) < 2 * 96:  # its statistics need several 96-px blocks
        return None
    bgr255 = np.ascontiguousarray(image[..., ::-1]) * 255.0
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # basicsr's deprecated scipy import and flat-block covariances
            value = float(_niqe(bgr255, crop_border=0, input_order="HWC", convert_to="y"))
    except (ValueError, np.linalg.LinAlgError):  # flat frames (black, a test card) have no statistics
        return None
    return value if math.isfinite(value) else None
