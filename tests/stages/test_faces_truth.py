"""The faces stage against a known truth: held-out people (never trained on) at SD-television size,
super-resolved by the presets' SR and then restored by the faces stage with the face model trained on that
SR's output. The stage must leave faces no further from the truth than the SR output it received, and
must not move the person (its drift gate stays quiet on genuine restorations).

The truths, degradations and SR are the face bench's (benchmarks/bench_faces.py), on its first faces;
the bench's full figures are in the README ("Faces").
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SHARED

pytestmark = [pytest.mark.shared, pytest.mark.slow, pytest.mark.timeout(600),
              pytest.mark.skipif(not (SHARED / "corpora" / "faces").is_dir(), reason="needs ../shared/corpora/faces")]
FACES = 8


def test_faces_stage_brings_held_out_people_closer_to_their_truth():
    from benchmarks import bench_faces as bf
    from restore.faces.detect import FaceDetector
    from restore.stages.faces import FacesParams

    truths = bf.heldout_truths(FaceDetector(score_threshold=0.5))[:FACES]
    assert len(truths) == FACES
    superres = bf.SuperRes(bf.TRUTH_W // 2, bf.TRUTH_H // 2, weights="restore-vsr-x2-v5")
    gains, notes = [], []
    for i, item in enumerate(truths):
        clip, _ = bf.degrade_sd(item["truth"], bf.SEED + i)
        sr = superres(clip)
        out, summary, _ = bf.faces_stage(sr, (clip[0].shape[1], clip[0].shape[0]), weights=FacesParams.weights,
                                         fidelity=FacesParams.fidelity)
        centre = bf.CLIP // 2
        before = bf.face_psnr_ssim(sr[centre], item["truth"], item["box"])[0]
        after = bf.face_psnr_ssim(out[centre].image, item["truth"], item["box"])[0]
        gains.append(after - before)
        notes.extend(out[centre].notes["faces"])
    gains = np.array(gains)
    restored = [n for n in notes if n.get("restored")]
    assert len(restored) >= FACES - 1, notes                   # every face found and restored in full
    assert all(n.get("strength", 1.0) == 1.0 for n in restored), notes
    assert gains.mean() > 0.0 and (gains > 0).sum() >= FACES // 2, gains
    assert gains.min() > -0.3, gains                            # and no face pushed far from its truth
