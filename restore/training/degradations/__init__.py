"""Degradation operations: small functions composed into presets by restore.training.degrade.

Every operation has the signature ``op(images, params, ctx) -> images``: a list of float32
H×W×3 RGB images in [0, 1] (one image, a batch of training patches, or a chunk of a clip),
its realised parameters (ranges already drawn) and a ``Context`` carrying the random
generator and, for clips, the state that must persist from one frame to the next
(scratches, flicker, the previous field). Units are pixels of the image the operation
sees: operations after the resize to the target size work in low-resolution pixels.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from restore.registry import Registry

Op = Callable[..., list]    # op(images, params, ctx) -> images
# The operations, by the name a degradation config's steps give (``op: blur``); the modules
# imported at the end of this file register theirs with ``@register``.
OPS: Registry[Op] = Registry("degradation operation")


def register(name: str) -> Callable[[Op], Op]:
    """Function decorator: make ``op(images, params, ctx)`` available to configs as ``name``."""
    return OPS.register(name)


@dataclass
class Context:
    rng: np.random.Generator
    clip: bool = False          # frames are consecutive (temporal effects use the state)
    fps: float = 25.0
    state: dict = field(default_factory=dict)   # shared by all steps (target size, frame index)
    local: dict = field(default_factory=dict)   # this step's own state, kept across a clip's frames

    def once(self, key: str, make):
        """A value drawn once per image, or once per clip in clip mode (one camera, one tape)."""
        if key not in self.local:
            self.local[key] = make()
        return self.local[key]


@contextlib.contextmanager
def seeded_globals(rng: np.random.Generator):
    """basicsr's samplers draw from numpy's and Python's global generators. We seed both
    from our generator for the duration of the call and put their old state back, so a
    seed reproduces the same pixels and callers' global state is left untouched. Not
    thread-safe: generate training pairs in one thread per process (DataLoader workers are
    processes)."""
    np_state, py_state = np.random.get_state(), random.getstate()
    seed = int(rng.integers(0, 2**31 - 1))
    np.random.seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def draw(spec, rng: np.random.Generator):
    """A value from a parameter spec: a number, [low, high] (uniform), or {"choices", "weights"}."""
    if isinstance(spec, dict) and "choices" in spec:
        choices = list(spec["choices"])
        weights = np.asarray(spec.get("weights", [1.0] * len(choices)), dtype=float)
        return choices[int(rng.choice(len(choices), p=weights / weights.sum()))]
    if isinstance(spec, (list, tuple)) and len(spec) == 2 and all(isinstance(v, (int, float)) for v in spec):
        low, high = float(spec[0]), float(spec[1])
        return low if high <= low else float(rng.uniform(low, high))
    return spec


def to_luma(image: np.ndarray) -> np.ndarray:
    """BT.601 luma, the weighting of the SD systems the archive was made with."""
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114


# Import the modules that register operations.
from restore.training.degradations import analog, codecs, film, optics, noise  # noqa: E402,F401
