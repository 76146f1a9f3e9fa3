import numpy as np
import pytest
from scipy import ndimage
from conftest import add_specks, context_for, moving_truth, needs_vapoursynth, to_frames

from restore.errors import PipelineError
from restore.stages.dust import Dust, DustParams

TRUTH = moving_truth(10, speed=1.0, box_speed=6)   # pan 1 px/frame, red box 6 px/frame
BOX_ROWS = slice(40, 70)


def box_columns(k):
    return slice(10 + 6 * k, 34 + 6 * k)


def run(method, images, **extra):
    stage = Dust(DustParams(method=method, **extra), context_for())
    out = list(stage.run(iter(to_frames(images))))
    assert [f.index for f in out] == list(range(len(images)))
    return stage, out


def repair_scores(out, dirty, masks):
    """(recall of defect pixels repaired, precision of changed pixels, max change off the defects)."""
    inner = range(1, len(out) - 1)
    hit = total = changed_all = changed_right = 0
    off_defect = 0.0
    for k in inner:
        changed = np.abs(out[k].image - dirty[k]).max(axis=2) > 2 / 255
        repaired = np.abs(out[k].image - TRUTH[k]).max(axis=2) < 0.1
        hit += int((masks[k] & repaired).sum())
        total += int(masks[k].sum())
        changed_all += int(changed.sum())
        near = ndimage.binary_dilation(masks[k], iterations=2)   # the repair may take a speck's rim
        changed_right += int((changed & near).sum())
        off_defect = max(off_defect, float(np.abs(out[k].image - dirty[k])[~near].max()))
    return hit / total, changed_right / max(changed_all, 1), off_defect


@needs_vapoursynth
def test_mc_median_removes_specks_on_moving_background_and_leaves_moving_box():
    dirty, masks = add_specks(TRUTH, avoid=(BOX_ROWS, slice(10, 100)))
    _, out = run("mc-median", dirty)
    recall, precision, off_defect = repair_scores(out, dirty, masks)
    assert recall > 0.9
    assert precision > 0.9
    assert off_defect < 0.1
    for k in range(1, len(out) - 1):   # the fast-moving box is not touched
        box = (BOX_ROWS, box_columns(k))
        assert np.abs(out[k].image[box] - dirty[k][box]).max() < 2 / 255


def test_median_fallback_cleans_still_areas_and_leaves_the_rest_bit_exact(no_vapoursynth):
    still = [TRUTH[0]] * 8
    dirty, masks = add_specks(still)
    stage, out = run("mc-median", dirty, fallback="median")
    assert stage.method == "median"
    for k in range(1, 7):
        assert np.abs(out[k].image - still[k]).max(axis=2)[masks[k]].max() < 0.05
        grown = ndimage.binary_dilation(masks[k], iterations=1)
        assert np.array_equal(out[k].image[~grown], dirty[k][~grown])


def test_without_vapoursynth_mc_median_refuses(no_vapoursynth):
    with pytest.raises(PipelineError, match="mc-median needs VapourSynth"):
        run("mc-median", TRUTH[:3])
