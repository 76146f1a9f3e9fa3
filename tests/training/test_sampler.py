"""Patch sampling across corpora: a venue photograph keeps its share beside a large general corpus."""

from __future__ import annotations

import numpy as np
import pytest

from restore.errors import UserError
from restore.training.data import PatchSampler


def _identity_degrader(hr, rng, scale):
    return hr[::scale, ::scale]


def _sampler(shares):
    # One small image valued 0.9 (corpus 0) beside ten images 16× its area valued 0.1 (corpus 1).
    images = [np.full((64, 64, 3), 230, np.uint8)] + [np.full((256, 256, 3), 25, np.uint8)] * 10
    return PatchSampler(images, 32, 2, _identity_degrader, seed=1, min_texture=0.0, texture_tries=1,
                        corpus_shares=shares)


def _share_of_first(sampler, draws=1200):
    patches = [sampler._crop(np.random.default_rng([9, i])) for i in range(draws)]
    return float(np.mean([p.mean() > 0.5 for p in patches]))


def test_corpus_shares_set_the_mix_whatever_the_image_areas():
    assert _share_of_first(_sampler(None)) < 0.02            # by area: 1 in 161
    shares = [(0, 0.5)] + [(1, 0.5)] * 10
    assert abs(_share_of_first(_sampler(shares)) - 0.5) < 0.05
    shares = [(0, 0.25)] + [(1, 0.75)] * 10
    assert abs(_share_of_first(_sampler(shares)) - 0.25) < 0.05


def test_corpus_weight_must_be_positive(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from sr_setup import make_corpus, write_config

    from restore.training.config import load_config

    corpus = make_corpus(tmp_path)
    path = write_config(tmp_path, corpus, corpora=[{"path": str(corpus), "kind": "general", "weight": 0}])
    with pytest.raises(UserError, match=r"corpora\[0\]\.weight: 0 is out of range \(expected > 0\)"):
        load_config(path)
