"""What film does before it ever meets video: dust, scratches, flicker and exposure drift.

Dust lives one frame (it sits on that frame of the print); a scratch runs along the
film, so it persists over frames and wanders slowly sideways; flicker is a per-frame
change of exposure around a slowly drifting level.
"""

from __future__ import annotations

import math

import numpy as np

from restore.training.degradations import Context, draw, register


def draw_dust(image: np.ndarray, rng: np.random.Generator, count: int, radius=(0.6, 2.5),
              dark_prob: float = 0.8, min_gap: float = 2.0) -> np.ndarray:
    """``count`` specks of irregular shape, dark (dirt on the print) or bright (on the negative).

    Specks are placed apart from one another (``min_gap`` px between their outlines) so the
    count drawn is the count a detector can find.
    """
    h, w = image.shape[:2]
    out = image.copy()
    placed: list[tuple[float, float, float]] = []
    for _ in range(count):
        r = float(rng.uniform(*radius))
        for _attempt in range(30):
            cx, cy = rng.uniform(r + 1, w - r - 1), rng.uniform(r + 1, h - r - 1)
            if all(math.hypot(cx - x, cy - y) > r + rr + min_gap for x, y, rr in placed):
                break
        else:
            continue  # no room left: a crowded frame keeps fewer specks
        placed.append((cx, cy, r))
        size = int(math.ceil(r * 2 + 4))
        x0, y0 = int(cx) - size // 2, int(cy) - size // 2
        yy, xx = np.mgrid[y0:y0 + size, x0:x0 + size].astype(np.float32)
        angle = rng.uniform(0, math.pi)
        ax, ay = r, r * rng.uniform(0.5, 1.0)
        u = ((xx - cx) * math.cos(angle) + (yy - cy) * math.sin(angle)) / ax
        v = (-(xx - cx) * math.sin(angle) + (yy - cy) * math.cos(angle)) / ay
        alpha = np.clip(1.5 - np.sqrt(u * u + v * v) * 1.0, 0, 1)[..., None]  # solid core, soft rim
        level = rng.uniform(0.0, 0.12) if rng.random() < dark_prob else rng.uniform(0.88, 1.0)
        ys, xs = slice(max(0, y0), min(h, y0 + size)), slice(max(0, x0), min(w, x0 + size))
        a = alpha[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
        out[ys, xs] = out[ys, xs] * (1 - a) + level * a
    return out.astype(np.float32)


@register("dust")
def dust(images, p, ctx: Context):
    """Dust: a Poisson number of specks per frame, ``density`` specks per megapixel."""
    density = ctx.once("density", lambda: float(draw(p.get("density", [5.0, 60.0]), ctx.rng)))
    out = []
    for img in images:
        mean = density * img.shape[0] * img.shape[1] / 1e6
        count = int(ctx.rng.poisson(mean))
        out.append(draw_dust(img, ctx.rng, count, tuple(p.get("radius", (0.6, 2.5))), p.get("dark_prob", 0.8)))
    return out


def _new_scratch(rng: np.random.Generator, width_px: int, p: dict) -> dict:
    return {"x": float(rng.uniform(0.05, 0.95) * width_px),
            "drift": float(rng.normal(0, 0.3)),
            "width": float(rng.uniform(*p.get("width", (0.6, 1.6)))),
            "strength": float(rng.uniform(*p.get("strength", (0.15, 0.5)))) * (1 if rng.random() < 0.7 else -1),
            "life": int(rng.integers(*p.get("lifetime", (6, 60)))),
            "phase": float(rng.uniform(0, 2 * math.pi))}


def render_scratch(image: np.ndarray, s: dict) -> np.ndarray:
    """A bright (emulsion scraped off a print) or dark vertical line, slightly wavy."""
    h, w = image.shape[:2]
    ys = np.arange(h, dtype=np.float32)
    centre = s["x"] + 0.8 * np.sin(ys / max(h, 1) * 3.0 + s["phase"])
    xs = np.arange(w, dtype=np.float32)
    profile = np.exp(-0.5 * ((xs[None, :] - centre[:, None]) / s["width"]) ** 2)[..., None]
    target = 1.0 if s["strength"] > 0 else 0.0
    a = profile * abs(s["strength"])
    return (image * (1 - a) + target * a).astype(np.float32)


@register("scratches")
def scratches(images, p, ctx: Context):
    """Vertical scratches: ``rate`` new ones per second of film; each lives ``lifetime`` frames."""
    rate = ctx.once("rate", lambda: float(draw(p.get("rate", [0.5, 4.0]), ctx.rng)))
    out = []
    for img in images:
        w = img.shape[1]
        live = ctx.local.setdefault("live", [])
        if not ctx.clip:
            live.clear()
            born = int(ctx.rng.poisson(rate * p.get("still_seconds", 0.5)))
        else:
            born = int(ctx.rng.poisson(rate / ctx.fps))
        live.extend(_new_scratch(ctx.rng, w, p) for _ in range(born))
        for s in live:
            img = render_scratch(img, s)
            s["x"] = float(np.clip(s["x"] + s["drift"] + ctx.rng.normal(0, 0.15), 0, w - 1))
            s["life"] -= 1
        live[:] = [s for s in live if s["life"] > 0]
        out.append(img)
    return out


@register("flicker")
def flicker(images, p, ctx: Context):
    """Exposure changing frame to frame (``amplitude``: relative deviation of the gain) around a
    level that drifts slowly (``drift``: relative change per second)."""
    amplitude = ctx.once("amplitude", lambda: float(draw(p.get("amplitude", [0.01, 0.06]), ctx.rng)))
    drift = ctx.once("drift", lambda: float(draw(p.get("drift", [0.0, 0.05]), ctx.rng)))
    out = []
    for img in images:
        level = ctx.local.get("level", 0.0)
        if ctx.clip:
            level += float(ctx.rng.normal(0, drift / math.sqrt(ctx.fps)))
            ctx.local["level"] = level
        gain = 1.0 + level + amplitude * float(ctx.rng.standard_normal())
        out.append(np.clip(img * gain, 0, 1).astype(np.float32))
    return out
