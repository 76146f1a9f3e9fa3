"""The tuning set (benchmarks/tuning.py) never holds a picture a held-out bench scores."""

from __future__ import annotations

import pytest

from benchmarks import bench_vsr as vsr
from benchmarks import tuning


def _heldout_files() -> set[str]:
    from restore.training.corpus import Corpus

    files = set()
    for name in vsr.CORPORA:      # every corpus the held-out video and robustness benches read
        folder = tuning.REPO / "corpora" / name
        if (folder / "MANIFEST.tsv").is_file():
            files |= {e.sha256 for e in Corpus.load(folder).select(split="heldout")}
    return files


def test_tuning_pictures_are_training_pictures_and_never_held_out_ones():
    entries = tuning.training_entries()
    if not entries:
        pytest.skip("no training picture of corpora/general is present (../shared)")
    picked = tuning.spread(entries, tuning.BROADCAST_PICTURES, 3) + tuning.spread(entries, tuning.GRID_PICTURES, 2)
    assert len(picked) == tuning.BROADCAST_PICTURES + tuning.GRID_PICTURES
    assert all(e.split == "train" for e in picked)
    heldout = _heldout_files()
    assert heldout, "the corpora list held-out pictures"
    # by content, not by name: a region of a held-out photograph would share its file's hash
    assert not {e.sha256 for e in picked} & heldout


def test_spread_takes_evenly_spaced_entries_from_the_phase():
    items = list(range(100))
    assert tuning.spread(items, 4, 2) == [12, 37, 62, 87]
    assert tuning.spread(items, 20, 3) == list(range(1, 100, 5))
    assert tuning.spread(items[:3], 4, 2) == [0, 1, 2]      # fewer than asked: all of them
