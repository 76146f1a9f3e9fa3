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
def harmful_weights(tmp_path_factory) -> Path:
    """A deliberately harmful face model: random U-Net with a random (non-zero) tail. It keeps
    the face recognisable as the same person to the old 0.363 gate (SFace ≈ 0.8) but moves it:
    identity drift."""
    torch.manual_seed(0)
    model = FaceUNetS()
    with torch.no_grad():
        torch.nn.init.normal_(model.tail.weight, std=0.5)
    path = tmp_path_factory.mktemp("weights") / "face-harmful.safetensors"
    save_face_weights(model, path)
    write_face_card(path, model, "face-harmful", "test fixture: a model that moves identity", {"crop_size": 128})
    return path


def reference_folder(root: Path, licence: str = "CC-BY-4.0", with_manifest: bool = True) -> Path:
    """A reference folder of the test portrait's person (links to ../shared, outside the repo)."""
    portraits = sorted(PORTRAIT.parent.glob("lisa_lisa[2-4].jpg"))
    if len(portraits) < 3:
        pytest.skip("../shared/corpora/faces is absent")
    folder = root / "reference"
    folder.mkdir()
    rows = ["file\tperson\tsource\tlicense"]
    for p in portraits:
        (folder / p.name).symlink_to(p.resolve())
        rows.append(f"{p.name}\tdebruine-lisa\twebmorphR.stim inst/lisa/{p.name}\t{licence}")
    if with_manifest:
        (folder / "MANIFEST.tsv").write_text("\n".join(rows) + "\n")
    return folder


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


def test_drifting_face_is_left_unrestored_and_reported(harmful_weights):
    events: list = []
    stage = make_stage(harmful_weights, events, fidelity=0.0, drift_fallback=False)
    frames = frames_with_portrait([(200, 100)])
    (out,) = stage.process_batch(frames)
    stage.close()
    np.testing.assert_array_equal(out.image, frames[0].image)
    (face,) = out.notes["faces"]
    # the old gate alone would have let it through: it is the same person, moved
    assert face["identity"] > 0.363 and face["drift"] > stage.params.max_drift
    assert face["restored"] is False and face["gate"] == "drift" and face["strength"] == 0.0
    (warning,) = [e for e in events if e.get("event") == "identity_drift"]
    assert warning["track"] == 0 and "left unrestored" in warning["message"]
    summary = stage.describe()["summary"]
    assert summary["drift_unrestored"] == 1 and summary["restored"] == 0


def test_drift_fallback_weakens_the_correction_until_identity_holds(harmful_weights):
    events: list = []
    stage = make_stage(harmful_weights, events, fidelity=0.0)
    frames = frames_with_portrait([(200, 100)])
    (out,) = stage.process_batch(frames)
    (face,) = out.notes["faces"]
    assert face["gate"] == "drift"
    if face["restored"]:            # weakened: what is returned is back within max_drift
        assert face["strength"] < 1.0 and 1.0 - face["identity_out"] <= stage.params.max_drift
    else:
        np.testing.assert_array_equal(out.image, frames[0].image)
    assert any(e.get("event") == "identity_drift" for e in events)


def test_max_drift_is_validated():
    cls = get_stage("faces")
    with pytest.raises(ParamError, match="max_drift"):
        parse_params(cls.Params, {"max_drift": -0.1})


def test_reference_without_licence_is_refused_in_one_line(tmp_path):
    from restore.errors import PipelineError
    from restore.pipeline.spec import parse_pipeline

    folder = reference_folder(tmp_path, licence="")
    text = f"name: t\nstages:\n  - stage: faces\n    reference: {folder}\n"
    with pytest.raises(PipelineError) as info:
        parse_pipeline(text, source="t.yaml")
    message = str(info.value)
    assert "\n" not in message and "stages[0].reference" in message and "licence" in message

    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "face.jpg").symlink_to(PORTRAIT.resolve())
    with pytest.raises(PipelineError, match="MANIFEST.tsv"):
        parse_pipeline(f"name: t\nstages:\n  - stage: faces\n    reference: {bare}\n", source="t.yaml")


def test_reference_is_recorded_and_each_track_scored_against_it(brightening_weights, tmp_path):
    import hashlib

    folder = reference_folder(tmp_path)
    events: list = []
    stage = make_stage(brightening_weights, events, fidelity=0.0, reference=str(folder))
    (out,) = stage.process_batch(frames_with_portrait([(200, 100)]))
    stage.close()
    (face,) = out.notes["faces"]
    assert face["reference"]["received"] > 0.363 and face["reference"]["track_matches"]
    record = stage.describe()["reference"]
    assert record["licences"] == {"CC-BY-4.0": 3} and record["people"] == ["debruine-lisa"]
    for entry in record["files"]:
        assert entry["sha256"] == hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest()
        assert entry["face_found"] and entry["source"].startswith("webmorphR.stim")
    (track,) = stage.describe()["summary"]["reference_tracks"]
    assert track["is_reference_person"] and track["frames"] == 1


def test_track_average_steadies_the_face_on_a_static_clip():
    """The real face model on a still portrait with fresh noise in every frame."""
    rng = np.random.default_rng(3)
    clean = frames_with_portrait([(200, 100)] * 6)
    noisy = [Frame(index=f.index, pts=f.pts, image=np.clip(f.image + rng.normal(0, 0.03, f.image.shape), 0, 1)
                   .astype(np.float32)) for f in clean]

    def flicker(**params) -> tuple[float, float, float]:
        """Frame-to-frame change, in the face box, of what the stage added and of its output; output error."""
        stage = make_stage(Path(get_stage("faces").Params().weights), [], **params)
        out = stage.process_batch(noisy[:3]) + stage.process_batch(noisy[3:])
        x, y, w, h = (int(v) for v in out[-1].notes["faces"][0]["box"])
        added = [(o.image - i.image)[y:y + h, x:x + w] for o, i in zip(out, noisy)]
        shown = [o.image[y:y + h, x:x + w] for o in out]

        def change(images):
            return float(np.mean([np.abs(b - a).mean() for a, b in zip(images[1:], images[2:])]))
        error = float(np.mean([np.abs(o.image - c.image)[y:y + h, x:x + w].mean() for o, c in zip(out[2:], clean[2:])]))
        return change(added), change(shown), error

    per_frame = flicker(temporal=0.0)
    correction = flicker(temporal=0.7, temporal_average="correction")
    face = flicker(temporal=0.7)                      # the default: the restored face is averaged
    assert correction[0] < 0.7 * per_frame[0]         # the invention is steadied...
    assert correction[1] > 0.9 * per_frame[1]         # ...but the frame's noise comes back with it
    assert face[1] < 0.7 * per_frame[1] and face[1] < 0.7 * correction[1]   # the face itself is steady
    assert face[2] < per_frame[2]                     # and closer to the clean portrait


def test_lookahead_holds_frames_back_and_steadies_the_tracks_first_frames():
    """The stage finishes a frame once the next ``lookahead`` are restored: it holds a batch plus those
    frames (not the clip), says so as its radius, and a track's first frames are averaged with the
    frames after them instead of standing alone."""
    rng = np.random.default_rng(4)
    clean = frames_with_portrait([(200, 100)] * 6)
    noisy = [Frame(index=f.index, pts=f.pts, image=np.clip(f.image + rng.normal(0, 0.03, f.image.shape), 0, 1)
                   .astype(np.float32)) for f in clean]
    weights = Path(get_stage("faces").Params().weights)

    def run(**params) -> tuple[list[Frame], int]:
        stage = make_stage(weights, [], **params)
        pulled = []

        def source():
            for frame in noisy:
                pulled.append(frame.index)
                yield frame
        out = []
        first_after = None
        for frame in stage.run(source()):
            first_after = len(pulled) if first_after is None else first_after
            out.append(frame)
        assert stage.radius == params.get("lookahead", 2)
        return out, first_after

    causal, held_causal = run(lookahead=0)
    ahead, held_ahead = run(lookahead=2)
    assert [f.index for f in ahead] == list(range(6))
    assert held_causal == 2 and held_ahead == 4          # batch of 2, plus 2 ahead
    x, y, w, h = (int(v) for v in ahead[0].notes["faces"][0]["box"])

    def error(frames, k):
        return float(np.abs(frames[k].image - clean[k].image)[y:y + h, x:x + w].mean())
    # the first frames: the causal average holds one and two frames; with the look-ahead three and four
    assert error(ahead, 0) < 0.85 * error(causal, 0)
    assert error(ahead, 1) < 0.92 * error(causal, 1)
    assert make_stage(weights, [], temporal=0.0).radius == 0      # nothing averaged: nothing held back


def test_reference_gate_refuses_a_face_moved_away_from_the_reference(harmful_weights, tmp_path):
    events: list = []
    # drift gate off: only the reference can stop this model
    stage = make_stage(harmful_weights, events, fidelity=0.0, max_drift=2.0, drift_fallback=False,
                       reference=str(reference_folder(tmp_path)))
    frames = frames_with_portrait([(200, 100)])
    (out,) = stage.process_batch(frames)
    (face,) = out.notes["faces"]
    assert face["gate"] == "reference" and face["restored"] is False
    assert face["reference"]["returned"] == face["reference"]["received"]   # what was returned: the source
    np.testing.assert_array_equal(out.image, frames[0].image)
    assert any(e.get("event") == "identity_reference" for e in events)


def test_a_face_model_says_when_it_does_not_follow_the_sr_model_it_learned_on():
    from restore.pipeline.spec import load_pipeline, parse_pipeline

    def notes(text: str) -> list[str]:
        spec = parse_pipeline(text, source="test.yaml") if "\n" in text else load_pipeline(text)
        return [n for i, s in enumerate(spec.stages) for n in s.cls.pipeline_notes(s.params, spec.stages[:i])]

    assert notes("default") == [] and notes("speech-576i") == []          # v3 after v5, as trained
    other = notes("stages:\n  - stage: superres\n    weights: restore-sr-x2\n  - stage: faces\n")
    assert len(other) == 1 and "restore-vsr-x2-v5" in other[0] and "follows restore-sr-x2" in other[0]
    alone = notes("stages:\n  - stage: faces\n")
    assert len(alone) == 1 and "follows no super-resolution" in alone[0]
    assert notes("stages:\n  - stage: faces\n    weights: restore-face-v1\n") == []   # not trained after an SR
