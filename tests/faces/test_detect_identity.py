"""Detection and identity on real portraits (need ../shared; skipped when absent)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from restore.faces.align import align_face, template
from restore.faces.detect import FaceDetector, estimate_yaw, packaged_model, YUNET_FILE
from restore.faces.identity import SAME_PERSON_THRESHOLD, IdentityEmbedder, cosine

from .conftest import SHARED, read_rgb


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


@pytest.fixture(scope="module")
def embedder():
    return IdentityEmbedder()


def test_packaged_models_are_found_offline():
    path = packaged_model(YUNET_FILE)
    assert path.is_file() and path.stat().st_size > 50_000


def test_finds_one_face_with_landmarks_in_template_order(detector, portrait_paths):
    image = read_rgb(portrait_paths[0])
    faces = detector.detect(image)
    assert len(faces) == 1
    lm = faces[0].landmarks
    x, y, w, h = faces[0].box
    assert lm[0, 0] < lm[2, 0] < lm[1, 0]                 # eyes either side of the nose
    assert lm[3, 0] < lm[4, 0]                             # mouth corners left to right
    assert max(lm[0, 1], lm[1, 1]) < lm[2, 1] < min(lm[3, 1], lm[4, 1])
    assert np.all((lm[:, 0] > x) & (lm[:, 0] < x + w) & (lm[:, 1] > y) & (lm[:, 1] < y + h))
    assert abs(estimate_yaw(lm)) < 20


def test_same_detections_as_the_reference_yunet_file(detector, portrait_paths):
    reference = SHARED / "weights" / "face_detection_yunet.onnx"
    if not reference.is_file():
        pytest.skip("../shared/weights/face_detection_yunet.onnx is absent")
    image = read_rgb(portrait_paths[1])
    ours = detector.detect(image)[0]
    bgr = np.ascontiguousarray((image[:, :, ::-1] * 255 + 0.5).astype(np.uint8))
    net = cv2.FaceDetectorYN.create(str(reference), "", (bgr.shape[1], bgr.shape[0]), 0.6, 0.3, 50)
    _, rows = net.detect(bgr)
    theirs = rows[0][4:14].reshape(5, 2)
    assert np.abs(ours.landmarks - theirs).max() < 0.05 * ours.size


def test_detection_is_rescaled_from_a_shrunk_frame(portrait_paths):
    image = read_rgb(portrait_paths[0])
    big = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    native = FaceDetector(max_side=4000).detect(image)[0]
    shrunk = FaceDetector(max_side=max(image.shape[:2])).detect(big)[0]
    assert shrunk.size == pytest.approx(3 * native.size, rel=0.05)
    assert np.abs(3 * native.landmarks - shrunk.landmarks).max() < 0.03 * shrunk.size


def test_identity_separates_people(detector, embedder, portrait_paths, other_person_path):
    def embed(path):
        image = read_rgb(path)
        face = detector.detect(image)[0]
        return embedder.embed(image, face.box, face.landmarks)

    a, b, other = embed(portrait_paths[0]), embed(portrait_paths[1]), embed(other_person_path)
    assert cosine(a, b) > SAME_PERSON_THRESHOLD
    assert cosine(a, other) < SAME_PERSON_THRESHOLD


def test_identity_of_an_aligned_crop_uses_the_template_points(detector, embedder, portrait_paths):
    image = read_rgb(portrait_paths[0])
    face = detector.detect(image)[0]
    crop = align_face(image, face.landmarks, 128).crop
    in_frame = embedder.embed(image, face.box, face.landmarks)
    in_crop = embedder.embed(crop, (0, 0, 128, 128), template(128))
    assert cosine(in_frame, in_crop) > 0.8


@pytest.mark.parametrize("roll, centre", [(0.0, (320.0, 240.0)), (35.0, (300.0, 200.0)), (-60.0, (40.0, 30.0)),
                                          (20.0, (610.0, 460.0))])
def test_identity_crop_reads_only_the_face_surroundings_yet_equals_the_whole_frame_crop(embedder, roll, centre):
    """SFace's crop is made from a window around the five points (converting a whole HD frame to 8 bits
    cost more than the network): it must be the crop made from the whole frame, for a rolled face and for
    faces at the frame's edges — to within one level on a few pixels, the rounding of a similarity fitted
    to points a whole number of pixels away (a window too small would read its border instead)."""
    rng = np.random.default_rng(1)
    frame = cv2.GaussianBlur(rng.random((480, 640, 3)).astype(np.float32), (0, 0), 1.2)
    points = template(112) - 56.0                      # ×1.7 below: about 47 px between the eyes
    t = np.deg2rad(roll)
    points = points @ np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]], np.float32) * 1.7
    points = (points + np.array(centre, np.float32)).astype(np.float32)
    box = (*(points.min(axis=0) - 30), *(np.ptp(points, axis=0) + 60))
    whole = (np.clip(frame, 0, 1) * 255.0 + 0.5).astype(np.uint8)
    row = np.zeros((1, 15), np.float32)
    row[0, :4], row[0, 4:14] = box, points.reshape(-1)
    expected = cv2.FaceRecognizerSF.create(str(embedder.model_path), "").alignCrop(
        np.ascontiguousarray(whole[:, :, ::-1]), row)
    diff = np.abs(embedder.crop(frame, box, points).astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.002, (diff.max(), (diff > 0).mean())
