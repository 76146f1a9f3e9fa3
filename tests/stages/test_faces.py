"""The faces stage: detection, paste-back position, identity report, tracking across frames."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from restore.frame import Frame, VideoFormat
from restore.models.face_arch import FaceUNetS
from restore.pipeline.params import ParamError, parse_params
from restore.pipeline.registry import get_stage
from restore.stages.base import StageContext
from restore.training.face_train import save_face_weights, write_face_card

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
PORTRAIT = SHARED / "corpora" / "faces" / "debruine_self" / "lisa_lisa1.jpg"


@pytest.fixture(scope="module")
def brightening_weights(tmp_path_factory) -> Path:
    """A FaceUNetS whose output is its input + 0.2: every restored pixel changes visibly."""
    model = FaceUNetS()
    with torch.no_grad():
        model.tail.bias.fill_(0.2)
    path = tmp_path_factory.mktemp("weights") / "face-test.safetensors"
    save_face_weights(model, path)
    write_face_card(path, model, "face-test", "test fixture", {"crop_size": 128})
    return path


def make_stage(weights: Path, events: list, source: VideoFormat | None = None, **params):
    cls = get_stage("faces")
    context = StageContext(batch_size=2, report=events.append, source_format=source)
    stage = cls(parse_params(cls.Params, {"weights": str(weights), **params}), context)
    stage.setup()
    return stage


def frames_with_portrait(offsets: list[tuple[int, int]], size=(480, 640)) -> list[Frame]:
    if not PORTRAIT.is_file():
        pytest.skip("../shared/corpora/faces is absent")
    face = cv2.imread(str(PORTRAIT))[:, :, ::-1].astype(np.float32) / 255.0
    face = cv2.resize(face, (192, 256), interpolation=cv2.INTER_AREA)
    frames = []
    for i, (x, y) in enumerate(offsets):
        image = np.full(size + (3,), 0.3, np.float32)
        image[y:y + 256, x:x + 192] = face
        frames.append(Frame(index=i, pts=Fraction(i, 25), image=image))
    return frames


def test_params_are_validated():
    cls = get_stage("faces")
    with pytest.raises(ParamError, match="fidelity"):
        parse_params(cls.Params, {"fidelity": 1.5})
    with pytest.raises(ParamError, match="unknown key"):
        parse_params(cls.Params, {"fidelty": 0.5})


def test_frame_without_faces_is_unchanged(brightening_weights):
    events: list = []
    stage = make_stage(brightening_weights, events)
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.random((120, 160, 3)).astype(np.float32), (0, 0), 2)
    (out,) = stage.process_batch([Frame(index=0, pts=Fraction(0), image=image)])
    np.testing.assert_array_equal(out.image, image)
    assert out.notes["faces"] == []
    stage.close()
    assert events[-1]["event"] == "summary" and events[-1]["faces"] == 0


@pytest.mark.slow
def test_face_is_found_and_restored_in_place_on_every_frame(brightening_weights):
    events: list = []
    stage = make_stage(brightening_weights, events, fidelity=0.0)
    frames = frames_with_portrait([(200, 100), (204, 101), (208, 102)])
    out = stage.process_batch(frames[:2]) + stage.process_batch(frames[2:])
    stage.close()
    for before, after, (x, y) in zip(frames, out, [(200, 100), (204, 101), (208, 102)]):
        (face,) = after.notes["faces"]
        assert face["restored"] and face["track"] == 0
        assert face["identity"] > 0.363
        change = np.abs(after.image - before.image).sum(axis=2)
        assert change.max() > 0.3                         # the model's +0.2 per channel arrived
        ys, xs = np.nonzero(change > 0.05)
        # the change sits on the face: centred on the detected box, never far outside it
        bx, by, bw, bh = face["box"]
        assert bx <= x + 192 and bx + bw >= x and by <= y + 256 and by + bh >= y
        box_centre = np.array([bx + bw / 2, by + bh / 2])
        assert np.linalg.norm(np.array([xs.mean(), ys.mean()]) - box_centre) < 0.25 * bw
        assert np.abs(np.stack([xs, ys], 1) - box_centre).max() < 1.25 * max(bw, bh)
    summary = events[-1]
    assert summary["restored"] == 3 and summary["tracks"] == 1 and summary["low_identity"] == 0


def test_low_identity_face_is_reported_and_left_alone(brightening_weights):
    events: list = []
    stage = make_stage(brightening_weights, events, fidelity=0.0, identity_threshold=0.9999)
    frames = frames_with_portrait([(200, 100)])
    (out,) = stage.process_batch(frames)
    np.testing.assert_array_equal(out.image, frames[0].image)
    (face,) = out.notes["faces"]
    assert face["restored"] is False and face["identity"] < 0.9999
    assert any(e.get("event") == "low_identity" and e["track"] == 0 for e in events)


def test_tiny_faces_in_the_source_are_skipped(brightening_weights):
    events: list = []
    # the frame is a ×8 upscale of a 80×60 source: the 190-px face held ~24 source pixels
    source = VideoFormat(width=80, height=60, fps=Fraction(25))
    stage = make_stage(brightening_weights, events, source=source, min_face=32)
    frames = frames_with_portrait([(200, 100)])
    (out,) = stage.process_batch(frames)
    (face,) = out.notes["faces"]
    assert face["restored"] is False and face["skipped"].startswith("small")
    np.testing.assert_array_equal(out.image, frames[0].image)


def test_fidelity_one_keeps_the_input(brightening_weights):
    stage = make_stage(brightening_weights, [], fidelity=1.0)
    frames = frames_with_portrait([(200, 100)])
    (out,) = stage.process_batch(frames)
    np.testing.assert_allclose(out.image, frames[0].image, atol=1e-6)


def test_temporal_blend_follows_a_face_and_forgets_it_on_a_cut(brightening_weights):
    from restore.stages.faces import _Face
    from restore.faces.track import TrackedFace

    stage = make_stage(brightening_weights, [], temporal=0.25)
    tracked = TrackedFace(track=0, detection=None, landmarks=np.zeros((5, 2)), coasting=False)
    stage.tracker.tracks = [type("T", (), {"id": 0})()]
    rng = np.random.default_rng(0)
    crop = rng.random((128, 128, 3)).astype(np.float32)
    first = stage._steady(_Face(0, tracked, {}, crop=crop), np.full_like(crop, 0.4))
    np.testing.assert_allclose(first, 0.4)
    same = stage._steady(_Face(0, tracked, {}, crop=crop + 0.01), np.zeros_like(crop))
    np.testing.assert_allclose(same, 0.1, atol=1e-6)          # a quarter of the previous correction
    cut = stage._steady(_Face(0, tracked, {}, crop=1 - crop), np.zeros_like(crop))
    np.testing.assert_array_equal(cut, 0.0)                    # new content: nothing carried over
