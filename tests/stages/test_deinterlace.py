from fractions import Fraction

import numpy as np
import pytest
from conftest import context_for, interlace, moving_truth, needs_vapoursynth, psnr_y, to_frames

from restore.errors import PipelineError
from restore.pipeline.params import parse_params
from restore.stages.deinterlace import Deinterlace, DeinterlaceParams, detect_field_order

TRUTH = moving_truth(16)          # 50p ground truth → 8 interlaced frames at 25i


def run(method, rate="field", tff=True, field_order="auto", stream_order="tt", **extra):
    params = parse_params(DeinterlaceParams, {"method": method, "rate": rate, "field_order": field_order, **extra})
    stage = Deinterlace(params, context_for(field_order=stream_order))
    frames = to_frames(interlace(TRUTH, tff=tff))
    return stage, list(stage.run(iter(frames)))


def mean_psnr(out, truth):
    return float(np.mean([psnr_y(o.image, t) for o, t in zip(out, truth)]))


def check_timing(out, rate):
    step = Fraction(1, 50) if rate == "field" else Fraction(1, 25)
    assert [f.pts for f in out] == [k * step for k in range(len(out))]
    per = 2 if rate == "field" else 1
    assert [f.source_index for f in out] == [k // per for k in range(len(out))]
    assert [f.index for f in out] == list(range(len(out)))


@pytest.mark.parametrize("method", ["bwdif", "yadif"])
@pytest.mark.parametrize("rate", ["field", "frame"])
def test_ffmpeg_methods_keep_counts_and_timing(method, rate):
    stage, out = run(method, rate)
    assert len(out) == (16 if rate == "field" else 8)
    check_timing(out, rate)
    truth = TRUTH if rate == "field" else TRUTH[::2]
    assert mean_psnr(out, truth) > 30
    fmt = stage.output_format(context_for(field_order="tt").input_format)
    assert fmt.fps == (50 if rate == "field" else 25) and fmt.field_order == "progressive"


@pytest.mark.parametrize("tff", [True, False])
def test_field_order_from_stream_flag_is_respected(tff):
    _, right = run("bwdif", tff=tff, stream_order="tt" if tff else "bb")
    _, wrong = run("bwdif", tff=tff, stream_order="bb" if tff else "tt")
    assert mean_psnr(right, TRUTH) > mean_psnr(wrong, TRUTH) + 3


@pytest.mark.parametrize("tff", [True, False])
def test_idet_detects_field_order_of_unflagged_stream(tff):
    stage, out = run("bwdif", tff=tff, stream_order="unknown")
    assert stage.decided_order == ("tff" if tff else "bff")
    assert mean_psnr(out, TRUTH) > 30


def test_a_stream_flagged_progressive_is_trusted():
    """idet reads some progressive pans and fine textures as interlaced, so a progressive flag is taken at
    its word (the pictures pass untouched, even combed ones); a mis-flagged capture is deinterlaced by
    naming its field order, and with detection off as the broadcast-common top field first."""
    stage, out = run("bwdif", rate="frame", stream_order="progressive")
    assert stage.decided_order == "progressive"
    combed = to_frames(interlace(TRUTH, tff=True))
    assert all(np.array_equal(o.image, c.image) for o, c in zip(out, combed))
    named, fixed = run("bwdif", rate="frame", field_order="tff", stream_order="progressive")
    forced, forced_out = run("bwdif", rate="frame", stream_order="progressive", detect=False)
    assert named.decided_order == forced.decided_order == "tff"
    assert mean_psnr(fixed, TRUTH[::2]) > mean_psnr(out, TRUTH[::2]) + 3
    assert mean_psnr(forced_out, TRUTH[::2]) == mean_psnr(fixed, TRUTH[::2])


def test_progressive_material_passes_through_at_promised_rate():
    frames = to_frames(TRUTH[::2])
    stage = Deinterlace(DeinterlaceParams(method="bwdif", rate="field"), context_for(field_order="progressive"))
    out = list(stage.run(iter(frames)))
    assert stage.decided_order == "progressive"
    assert len(out) == 16
    assert all(np.array_equal(o.image, frames[o.source_index].image) for o in out)
    assert detect_field_order(frames, 160, 120, Fraction(25)) == "progressive"


@needs_vapoursynth
@pytest.mark.parametrize("method", ["nnedi3", "qtgmc"])
@pytest.mark.parametrize("rate", ["field", "frame"])
def test_vapoursynth_methods_keep_counts_and_timing(method, rate):
    _, out = run(method, rate, preset="fast")
    assert len(out) == (16 if rate == "field" else 8)
    check_timing(out, rate)
    assert mean_psnr(out, TRUTH if rate == "field" else TRUTH[::2]) > 30


@needs_vapoursynth
def test_qtgmc_beats_bwdif_on_ground_truth():
    _, bwdif = run("bwdif")
    _, qtgmc = run("qtgmc", preset="medium")
    assert mean_psnr(qtgmc, TRUTH) > mean_psnr(bwdif, TRUTH) + 1.0


def test_without_vapoursynth_qtgmc_falls_back_or_refuses(no_vapoursynth, capsys):
    stage, out = run("qtgmc", fallback="bwdif")
    assert stage.method == "bwdif" and len(out) == 16
    check_timing(out, "field")
    assert "using bwdif instead of qtgmc" in capsys.readouterr().err
    with pytest.raises(PipelineError, match="qtgmc needs VapourSynth"):
        run("qtgmc")
