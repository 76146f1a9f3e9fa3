"""Venue adaptation (``restore adapt --venue``) on a venue the generic model saw, and on four it never saw.

Run: ``python -m benchmarks adapt`` (needs ../shared and the general replay pack of ``make packs``;
about 2 min a venue on 2 idle cores, 4–5 on cores shared with a training run).

``corpora/venue`` is one photograph, and the generic ``restore-vsr-x2-v5`` trained on its training
region, so there "adapted vs generic" compares two models that both saw those rooftops: it cannot
show what adaptation brings to a place the model has not seen, which is the workflow's premise (a
1981 chamber is in no training set). So the same command also runs on four pictures of places that
no restore model trained on: the held-out split of ``corpora/general`` (a lit footbridge, a tea
plantation, an interior with a lamp, a ribbed facade: its four pictures of places), each made a
venue corpus in a temporary folder — its left part the venue's training shot, its right part (an
80-px gap between) the held-out shot the gain is measured on. Each row is
one ``restore adapt`` with its defaults (300 steps, half of each batch replayed from the general
pack); the gain is paired per clip (48 synthetic broadcast clips of the held-out part) with its
95 % bootstrap interval, whose lower end decides whether the pipeline uses the adapted model. One
picture's held-out half gives only 3–5 crops, too few for a narrow interval; the last row pools the
unseen venues' clips (interval drawn over every venue's crops), which asks the workflow's question —
does adapting to a place no model saw help? — with four places' evidence instead of one's.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks._archival import print_table
from benchmarks.common import REPO, SHARED

GENERAL = SHARED / "corpora" / "general"
# (row, picture of corpora/general's held-out split)
UNSEEN = (("footbridge at night (general, held out)", "budgie-backgrounds__high-trestle-trail.jpg"),
          ("tea plantation in mist (general, held out)", "budgie-backgrounds__tea-gardens.jpg"),
          ("interior, a lamp and a carved bird (general, held out)", "lomiri-wallpapers-16.04__free_by_Peter_Nerlich.jpg"),
          ("a building's ribbed facade (general, held out)", "plasma-workspace-wallpapers__Grey.jpg"))
GAP = 80


def _unseen_venue(folder: Path, picture: str) -> Path:
    """A venue corpus of one held-out picture of corpora/general: left part trained, right part held out."""
    from restore.training.corpus import Corpus

    entry = next(e for e in Corpus.load(REPO / "corpora" / "general").entries if e.rel == picture)
    if entry.split != "heldout":
        raise RuntimeError(f"{picture} is not in corpora/general's held-out split: a model trained on it")
    half = (entry.width - GAP) // 2
    corpus = Corpus.init(folder)
    common = dict(kind="venue", source=f"{entry.source} (corpora/general, held-out split)", license=entry.license,
                  author=entry.author)
    corpus.add([entry.path], split="train", region=f"0,0,{half},{entry.height}", **common)
    corpus.add([entry.path], split="heldout", region=f"{half + GAP},0,{entry.width},{entry.height}", **common)
    return folder


def _pooled(venues: list[tuple[int, dict]]) -> list:
    """One row for every unseen venue together: the mean gain per clip, its interval drawn over the
    (venue, crop) pairs — each held-out crop is its own content — and the share of clips won."""
    import numpy as np

    from restore.metrics import mean_interval

    gains = np.concatenate([np.asarray(c["gain_db"], np.float64) for _, c in venues])
    groups = [i * 1000 + crop for i, c in venues for crop in c["crop"]]
    low, high = mean_interval(gains, groups)
    return [f"all {len(venues)} unseen venues", gains.size, len(set(groups)), "", "", "",
            f"{gains.mean():+.3f} [{low:+.3f}, {high:+.3f}]", "", f"{(gains > 0).mean():.0%}", "", ""]


def main() -> None:
    from restore.adapt import GENERAL_PACK, adapt

    if not GENERAL.is_dir():
        print(f"bench_adapt skipped: {GENERAL} not found")
        return
    if not GENERAL_PACK.is_file():
        print(f"bench_adapt skipped: the general replay pack {GENERAL_PACK} is missing (make packs)")
        return
    rows: list[list] = []
    pooled: list[tuple[int, dict]] = []
    with tempfile.TemporaryDirectory(prefix="bench-adapt-") as tmp:
        work = Path(tmp)
        venues = [("rooftops → street (corpora/venue: the generic model trained on its rooftops)",
                   REPO / "corpora" / "venue")]
        venues += [(name, _unseen_venue(work / f"unseen-{i}", picture)) for i, (name, picture) in enumerate(UNSEEN)]
        for i, (name, venue) in enumerate(venues):
            t0 = time.perf_counter()
            result = adapt(venue, None, work / f"adapted-{i}.yaml", base="default", weights_dir=work / f"w{i}",
                           echo=lambda line: None)
            v = result.venue
            interval = v["gain_ci95_db"]
            gain = f"{v['gain_db']:+.3f} " + (f"[{interval[0]:+.3f}, {interval[1]:+.3f}]" if interval else "(no interval)")
            rows.append([name, v["clips"], v["independent_crops"], f"{v['bicubic_psnr_y']:.3f}", f"{v['generic_psnr_y']:.3f}",
                         f"{v['adapted_psnr_y']:.3f}", gain, " ".join(f"{g:+.2f}" for g in v["per_crop_gain_db"]),
                         f"{v['clips_better_than_generic']:.0%}", "adapted" if v["used"] else "generic",
                         f"{time.perf_counter() - t0:.0f}"])
            if i > 0:     # a place no model saw
                pooled.append((i, v["per_clip"]))
            print(f"{name}: done", flush=True)
    rows.append(_pooled(pooled))
    print_table("Venue adaptation, PSNR-Y on the held-out part (48 synthetic broadcast clips, ×2)",
                ["venue", "clips", "of crops", "bicubic", "generic v5", "adapted", "gain [95 % interval]", "per crop", "clips won",
                 "pipeline uses", "s"], rows,
                note="One `restore adapt --venue` per row, defaults (300 steps); the unseen venues are pictures of "
                     "corpora/general's held-out split, which no restore model trained on.")
