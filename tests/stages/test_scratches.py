import numpy as np
import pytest
from conftest import add_scratches, add_shutter_edge, context_for, moving_truth, needs_vapoursynth, to_frames

from restore.errors import PipelineError
from restore.stages.scratches import Scratches, ScratchesParams

CLEAN = add_shutter_edge(moving_truth(6, speed=1.0, fine=False))   # soft, like old film
DIRTY, MASKS = add_scratches(CLEAN)


def run(method, images=DIRTY, **extra):
    stage = Scratches(ScratchesParams(method=method, **extra), context_for())
    out = list(stage.run(iter(to_frames(images))))
    assert [f.index for f in out] == list(range(len(images)))
    return stage, out


def scores(out):
    """(recall: scratch pixels brought near the truth, precision: changed pixels that were scratches)."""
    hit = total = changed_right = changed_all = 0
    for o, dirty, clean, mask in zip(out, DIRTY, CLEAN, MASKS):
        changed = np.abs(o.image - dirty).max(axis=2) > 2 / 255
        repaired = np.abs(o.image - clean).max(axis=2) < 0.08
        hit += int((mask & repaired).sum())
        total += int(mask.sum())
        changed_all += int(changed.sum())
        changed_right += int((changed & mask).sum())
    return hit / total, changed_right / max(changed_all, 1)


def test_columns_repairs_scratches_and_leaves_shutter_edge():
    _, out = run("columns")
    recall, precision = scores(out)
    assert recall > 0.95 and precision > 0.95
    for o, dirty in zip(out, DIRTY):       # the shutter edge at column 30 keeps its step
        assert np.abs(o.image[:, 24:36] - dirty[:, 24:36]).max() < 2 / 255


@needs_vapoursynth
def test_descratch_keeps_frames_touches_only_near_scratches_and_leaves_shutter_edge():
    _, out = run("descratch")
    recall, precision = scores(out)
    assert recall > 0.3 and precision > 0.6      # weaker than columns: see bench_dust
    for o, dirty in zip(out, DIRTY):
        assert np.abs(o.image[:, 24:36] - dirty[:, 24:36]).max() < 2 / 255


def test_clean_picture_with_vertical_detail_is_left_alone():
    _, out = run("columns", images=CLEAN)
    assert all(np.array_equal(o.image, c) for o, c in zip(out, CLEAN))


def test_without_vapoursynth_descratch_falls_back_or_refuses(no_vapoursynth):
    stage, out = run("descratch", fallback="columns")
    assert stage.method == "columns" and len(out) == len(DIRTY)
    with pytest.raises(PipelineError, match="descratch needs VapourSynth"):
        run("descratch")
