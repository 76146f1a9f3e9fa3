"""Face restoration judged by a recognition model it never saw: held-out people at SD-television size.

Run: ``PYTHONPATH=$PWD .venv/bin/python -m benchmarks faces`` (28 minutes on 2 shared cores;
``RESTORE_BENCH_FACES_LIMIT=N`` scores the first N faces, ``RESTORE_BENCH_FACES_ONLY=heldout|oldfilm`` one part;
``RESTORE_BENCH_FACES_ONLY=sr RESTORE_BENCH_SR=a,b`` scores only SR models a, b, … alone against
bicubic and each other on the held-out faces, in one run: about a minute;
``RESTORE_BENCH_FACES_PEOPLE=validation`` scores the face models' validation people instead of
the held-out split: the tuning set for the stage's inference, so the bench's people never tune it).
Weights under test: ``RESTORE_BENCH_FACE`` (default: the faces stage's, ``restore-face-v5``;
``RESTORE_BENCH_FACE_FIDELITY`` sets the stage's ``fidelity``, e.g. 0.3 for ``restore-face-v1``) and
``RESTORE_BENCH_SR`` (default ``restore-vsr-x2-v5``, the presets' SR); any registry name or path.

1. **Held-out people, SD television** (the people of ``corpora/faces/MANIFEST.tsv``'s
   held-out split: never trained on). Each portrait is the truth at 224×272 with its face
   about 118 px wide (the Congress portraits as they are; the studio sets scaled to that
   face size). It is degraded like SD television — optical blur σ 0.5–1, downscaled by 2
   (a face of ~60 px), light noise, MPEG-2 (ffmpeg, qscale 3–6) or JPEG (quality 60–85),
   and for half the faces interlaced video deinterlaced by line interpolation — into a
   5-frame static clip with fresh noise in every frame (fixed seeds), then restored ×2 by:
   bicubic; Real-ESRGAN general v3 (×4, then area-down to ×2; the weights from ../shared);
   our SR model alone, run through the real ``superres`` stage on the clip; SR followed by
   the ``faces`` stage (with its identity gates on, and off). The centre frame is scored
   against the truth: **identity distance** with dlib's ResNet face recognition model
   (Euclidean distance of 128-d descriptors, same person < 0.6 in dlib's own tests; the
   descriptors of truth and restoration are taken at the truth's landmarks, so only the
   pixels differ), face PSNR-Y and SSIM-Y on the truth's face box, the share of faces
   closer to the truth than bicubic's, and the paired difference to bicubic with a
   bootstrap 95 % interval (negative: closer to the true person than bicubic).
   The faces stage gates with SFace; dlib is used neither in training nor in gating, so
   it is an independent judge.
2. **Calibration of the drift gate**: 1 − SFace cosine between the face the stage
   received and the face it returns, for genuine restorations (gates off), for the
   received face blended a quarter and half of the way to another held-out person, and
   for another person; and, for the faces the gate stops, how often dlib agrees that the
   restoration had moved away from the truth.
3. **Reference portraits**: the held-out people with two portraits; each is restored
   with the other as the ``reference``.
4. **oldfilm-001** (24 frames, a real close-up, no ground truth): landmark jitter and
   correction flicker along the track for per-frame restoration, tracked landmarks, the
   old one-frame carry-over and the per-track, motion-aware averaging of the correction.

Independent recognition model (optional; without it the identity columns are skipped):
``pip install dlib-bin face_recognition_models`` — dlib-bin 20.0.1.post1 (dlib's C++
library and Python binding, Boost Software License 1.0) and face_recognition_models 0.3.0
(MIT packaging of Davis King's dlib-models, which he released into the public domain;
we use ``dlib_face_recognition_resnet_model_v1.dat`` and
``shape_predictor_5_face_landmarks.dat`` only — the 68-point model in the same package
was trained on iBUG 300-W, whose licence excludes commercial use). The package's
``__init__`` needs ``pkg_resources``, so its files are found without importing it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import torch

from benchmarks._archival import OLD_FILM, SHARED, mean, paired, print_table, read_old_film
from benchmarks.common import REPO
from restore.faces.detect import FaceDetector
from restore.faces.identity import IdentityEmbedder
from restore.frame import Frame, VideoFormat
from restore.metrics import psnr_y, ssim_y
from restore.stages.base import StageContext

FACES = SHARED / "corpora" / "faces"
ESRGAN = SHARED / "weights" / "realesr-general-x4v3.fp16-ncnn-conversion.pth"
TRUTH_W, TRUTH_H = 224, 272       # even sizes: the truth is the ×2 of a 112×136 SD crop
FACE_PX = 118                     # the Congress portraits' median face width
CLIP = 5                          # frames of the static clip; the centre one is scored
PER_FRAME = "SR + faces, per-frame correction (temporal 0)"
CORRECTION_AVERAGE = "SR + faces, the track averages the correction (temporal_average: correction)"
CAUSAL = "SR + faces, the track's past frames only (lookahead 0)"
SEED = 2024


def face_weights() -> str:
    from restore.stages.faces import FacesParams

    return os.environ.get("RESTORE_BENCH_FACE", FacesParams.weights)


def face_fidelity() -> dict:
    """``RESTORE_BENCH_FACE_FIDELITY``: the faces stage's ``fidelity`` (default: the stage's own)."""
    value = os.environ.get("RESTORE_BENCH_FACE_FIDELITY")
    return {"fidelity": float(value)} if value else {}


def sr_weights() -> str:
    return os.environ.get("RESTORE_BENCH_SR", "restore-vsr-x2-v5")


# --- the independent judge -------------------------------------------------------------

class DlibIdentity:
    """dlib's ResNet descriptor at the truth's five landmarks (same geometry for every method)."""

    def __init__(self):
        import dlib

        spec = importlib.util.find_spec("face_recognition_models")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("face_recognition_models is not installed")
        models = Path(list(spec.submodule_search_locations)[0]) / "models"
        self.dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self.net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def landmarks(self, truth: np.ndarray, box) -> object:
        rgb = _u8(truth)
        found = self.detector(rgb, 1)
        if found:
            rect = max(found, key=lambda r: r.width() * r.height())
        else:   # dlib's HOG detector misses some faces YuNet finds: use YuNet's box
            x, y, w, h = (int(round(v)) for v in box)
            rect = self.dlib.rectangle(x, y, x + w, y + h)
        return self.shape(rgb, rect)

    def descriptor(self, image: np.ndarray, shape) -> np.ndarray:
        return np.array(self.net.compute_face_descriptor(_u8(image), shape), np.float64)


def _u8(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))


# --- the truth and its degradation ----------------------------------------------------

def _people(corpus) -> list:
    """The portraits scored: the corpus's held-out split (the bench), or with
    ``RESTORE_BENCH_FACES_PEOPLE=validation`` the face models' validation people instead
    (training split, held out of face training by name: pipelines/training/face-v*.yaml,
    ``heldout``) — the set to tune the stage's inference on, so that the bench's people
    never are."""
    if os.environ.get("RESTORE_BENCH_FACES_PEOPLE", "heldout") != "validation":
        return corpus.select(split="heldout")
    from restore.training.config import load_face_config
    from restore.training.face_train import _held_out_person

    held = load_face_config(REPO / "pipelines" / "training" / "face-v5.yaml").heldout   # the rule training used
    excluded, fraction = set(held.get("exclude_people", [])), float(held.get("people_fraction", 0.05))
    return [e for e in corpus.select(split="train")
            if (person := e.subject or Path(e.rel).stem) not in excluded and _held_out_person(person, fraction)]


def heldout_truths(detector: FaceDetector) -> list[dict]:
    """Held-out portraits as 224×272 truths with a ~118-px face, and their YuNet face."""
    from restore.training.corpus import Corpus

    corpus = Corpus.load(REPO / "corpora" / "faces")
    truths = []
    for entry in _people(corpus):
        bgr = cv2.imread(str(entry.path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        rgb = bgr[:, :, ::-1].astype(np.float32) / 255.0
        faces = detector.detect(rgb)
        if not faces:
            continue
        scale = FACE_PX / faces[0].box[2]
        if abs(scale - 1) > 0.15:
            rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        else:
            scale = 1.0
        x, y, w, h = (v * scale for v in faces[0].box)
        # the face where the Congress portraits have it: centred, its box top at ~27 % of the height
        x0 = int(round(x + w / 2 - TRUTH_W / 2))
        y0 = int(round(y - 0.27 * TRUTH_H)) if scale != 1.0 else 0
        x0 = 0 if scale == 1.0 else x0
        pad = 200
        padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REFLECT101)
        truth = padded[y0 + pad:y0 + pad + TRUTH_H, x0 + pad:x0 + pad + TRUTH_W].copy()
        found = detector.detect(truth)
        if not found:
            continue
        truths.append({"file": entry.rel, "person": entry.subject, "truth": truth, "box": found[0].box,
                       "landmarks": found[0].landmarks})
    return truths


def _mpeg2(frames: list[np.ndarray], qscale: int) -> list[np.ndarray]:
    """Through MPEG-2 (4:2:0, ffmpeg's mpeg2video at a fixed quantiser) and back."""
    h, w = frames[0].shape[:2]
    raw = b"".join(_u8(f).tobytes() for f in frames)
    common = ["ffmpeg", "-hide_banner", "-loglevel", "error"]
    stream = subprocess.run(common + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "25",
                                      "-i", "pipe:0", "-c:v", "mpeg2video", "-q:v", str(qscale), "-g", "12",
                                      "-pix_fmt", "yuv420p", "-f", "mpeg2video", "pipe:1"],
                            input=raw, capture_output=True, check=True).stdout
    decoded = subprocess.run(common + ["-f", "mpegvideo", "-i", "pipe:0", "-f", "rawvideo", "-pix_fmt", "rgb24",
                                       "pipe:1"], input=stream, capture_output=True, check=True).stdout
    out = np.frombuffer(decoded, np.uint8).reshape(-1, h, w, 3)[:len(frames)]
    return [f.astype(np.float32) / 255.0 for f in out]


def _jpeg(frame: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", _u8(frame)[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0


def _bob(frame: np.ndarray, parity: int) -> np.ndarray:
    """Keep one field and interpolate the other's lines (a deinterlacer on a moving face)."""
    out = frame.copy()
    h = frame.shape[0]
    for y in range(1 - parity, h, 2):
        above = frame[y - 1] if y - 1 >= 0 else frame[y + 1]
        below = frame[y + 1] if y + 1 < h else frame[y - 1]
        out[y] = 0.5 * (above + below)
    return out


def degrade_sd(truth: np.ndarray, seed: int) -> tuple[list[np.ndarray], dict]:
    """A 5-frame static SD clip of ``truth`` (half its size), fresh noise in every frame."""
    rng = np.random.default_rng(seed)
    sigma = rng.uniform(0.5, 1.0)
    noise = rng.uniform(1.0, 3.0) / 255
    interlaced = bool(rng.random() < 0.5)
    codec = "mpeg2" if rng.random() < 0.5 else "jpeg"
    quality = int(rng.integers(3, 7)) if codec == "mpeg2" else int(rng.integers(60, 86))
    small = cv2.resize(cv2.GaussianBlur(truth, (0, 0), sigma), (TRUTH_W // 2, TRUTH_H // 2),
                       interpolation=cv2.INTER_AREA)
    frames = []
    for _ in range(CLIP):
        grain = rng.normal(0, noise, small.shape[:2])[..., None] + rng.normal(0, noise / 3, small.shape)
        frames.append(np.clip(small + grain, 0, 1).astype(np.float32))
    frames = _mpeg2(frames, quality) if codec == "mpeg2" else [_jpeg(f, quality) for f in frames]
    if interlaced:
        frames = [_bob(f, k % 2) for k, f in enumerate(frames)]
    return frames, {"blur": sigma, "noise": noise * 255, "interlaced": interlaced, "codec": codec, "q": quality}


# --- the methods --------------------------------------------------------------------------

def bicubic(clip: list[np.ndarray]) -> np.ndarray:
    return np.clip(cv2.resize(clip[CLIP // 2], (TRUTH_W, TRUTH_H), interpolation=cv2.INTER_CUBIC), 0, 1)


class Esrgan:
    def __init__(self):
        from restore.models.registry import load_model

        self.model = load_model(ESRGAN, "cpu")

    def __call__(self, clip: list[np.ndarray]) -> np.ndarray:
        x = torch.from_numpy(clip[CLIP // 2].transpose(2, 0, 1)[None].copy())
        with torch.no_grad():
            y = self.model.module(x).clamp(0, 1)[0].numpy().transpose(1, 2, 0)
        return cv2.resize(y, (TRUTH_W, TRUTH_H), interpolation=cv2.INTER_AREA)


class SuperRes:
    """Our SR weights through the real ``superres`` stage (so a multi-frame model works too)."""

    def __init__(self, width: int, height: int, weights: str | None = None):
        from restore.pipeline.params import parse_params
        from restore.pipeline.registry import get_stage

        cls = get_stage("superres")     # whatever class the pipeline's `superres` is today
        fmt = VideoFormat(width=width, height=height, fps=Fraction(25))
        self.stage = cls(parse_params(cls.Params, {"weights": weights or sr_weights(), "scale": 2}),
                         StageContext(source_format=fmt, input_format=fmt))
        self.stage.setup()

    def __call__(self, clip: list[np.ndarray]) -> list[np.ndarray]:
        frames = [Frame(index=i, pts=Fraction(i, 25), image=img) for i, img in enumerate(clip)]
        return [f.image for f in self.stage.run(iter(frames))]


def faces_stage(images: list[np.ndarray], source_size: tuple[int, int], fps: Fraction = Fraction(25),
                **params) -> tuple[list[Frame], dict, list[dict]]:
    """The ``faces`` stage over a clip: output frames, its summary and its events."""
    from restore.pipeline.params import parse_params
    from restore.stages.faces import Faces

    h, w = images[0].shape[:2]
    source = VideoFormat(width=source_size[0], height=source_size[1], fps=fps)
    events: list[dict] = []
    stage = Faces(parse_params(Faces.Params, {"weights": face_weights(), **face_fidelity(), **params}),
                  StageContext(source_format=source, input_format=VideoFormat(width=w, height=h, fps=fps),
                               report=events.append))
    stage.setup()
    frames = [Frame(index=i, pts=Fraction(i) / fps, image=img) for i, img in enumerate(images)]
    out = list(stage.run(iter(frames)))
    stage.close()
    return out, stage.summary or {}, events


# --- metrics --------------------------------------------------------------------------

def face_psnr_ssim(out: np.ndarray, truth: np.ndarray, box) -> tuple[float, float]:
    x, y, w, h = (int(round(v)) for v in box)
    x, y = max(0, x), max(0, y)
    a, b = out[y:y + h, x:x + w], truth[y:y + h, x:x + w]
    return psnr_y(a, b), ssim_y(a, b)


def score_faces(item: dict, outputs: dict[str, np.ndarray], results: dict, judge: DlibIdentity | None) -> None:
    """Append each output's face PSNR-Y, SSIM-Y and dlib distance to the truth (NaN without a judge)."""
    shape = judge.landmarks(item["truth"], item["box"]) if judge else None
    truth_desc = judge.descriptor(item["truth"], shape) if judge else None
    for name, image in outputs.items():
        psnr, ssim = face_psnr_ssim(image, item["truth"], item["box"])
        results[name]["psnr"].append(psnr)
        results[name]["ssim"].append(ssim)
        results[name]["dist"].append(float(np.linalg.norm(judge.descriptor(image, shape) - truth_desc))
                                     if judge else np.nan)


def bench_heldout() -> None:
    detector = FaceDetector(score_threshold=0.5)
    truths = heldout_truths(detector)
    limit = int(os.environ.get("RESTORE_BENCH_FACES_LIMIT", "0"))   # a quick look: the first N faces
    truths = truths[:limit] if limit > 0 else truths
    if os.environ.get("RESTORE_BENCH_FACES_PEOPLE") == "validation":
        print(f"scoring the face models' validation people ({len(truths)} faces; training split, never trained "
              "on): a tuning run, not the bench")
    if not truths:
        print("skipped held-out faces: no held-out portrait found")
        return
    try:
        judge = DlibIdentity()
    except ImportError as exc:
        judge = None
        print(f"identity column skipped: the independent recognition model is missing ({exc}; "
              "pip install dlib-bin face_recognition_models)")
    embedder = IdentityEmbedder()
    esrgan = Esrgan() if ESRGAN.is_file() else None
    superres = SuperRes(TRUTH_W // 2, TRUTH_H // 2)
    if esrgan is None:
        print(f"Real-ESRGAN row skipped: {ESRGAN} not found")
    methods = ["bicubic"] + (["Real-ESRGAN general v3 (×4 → ×2)"] if esrgan else []) + [
        f"{sr_weights()} (SR alone)", f"SR + faces {face_weights()}, gates off", f"SR + faces {face_weights()} (default)"]
    scored = methods + [CAUSAL, CORRECTION_AVERAGE]
    results = {m: {"dist": [], "psnr": [], "ssim": []} for m in scored}
    calib = {"genuine": [], "gate": [], "strength": [], "noise": [], "crops": []}
    steady = {k: {"correction": [], "output": [], "psnr": []} for k in (PER_FRAME, methods[-1], CAUSAL,
                                                                           CORRECTION_AVERAGE)}
    degradations = []
    sr_flicker: list[float] = []
    seconds = {m: 0.0 for m in scored}
    start = time.perf_counter()
    for i, item in enumerate(truths):
        clip, how = degrade_sd(item["truth"], SEED + i)
        degradations.append(how)
        outputs = {}
        t = time.perf_counter()
        outputs[methods[0]] = bicubic(clip)
        seconds[methods[0]] += time.perf_counter() - t
        if esrgan:
            t = time.perf_counter()
            outputs[methods[1]] = esrgan(clip)
            seconds[methods[1]] += time.perf_counter() - t
        t = time.perf_counter()
        sr = superres(clip)
        seconds[methods[-3]] += time.perf_counter() - t
        sr_flicker.append(output_flicker(sr, item["box"]))
        outputs[methods[-3]] = sr[CLIP // 2]
        source_size = (clip[0].shape[1], clip[0].shape[0])
        for name, params in ((methods[-2], {"max_drift": 2.0, "identity_threshold": -1.0}), (methods[-1], {}),
                             (PER_FRAME, {"temporal": 0.0}), (CAUSAL, {"lookahead": 0}),
                             (CORRECTION_AVERAGE, {"temporal_average": "correction"})):
            t = time.perf_counter()
            out, _, _ = faces_stage(sr, source_size, **params)
            if name in steady:
                steady[name]["correction"].append(correction_flicker(sr, out))
                steady[name]["output"].append(output_flicker([f.image for f in out], item["box"]))
                steady[name]["psnr"].append(mean(face_psnr_ssim(f.image, item["truth"], item["box"])[0] for f in out))
            if name == PER_FRAME:   # only for the steadiness comparison below
                continue
            seconds[name] += time.perf_counter() - t
            outputs[name] = out[CLIP // 2].image
            if name in (CAUSAL, CORRECTION_AVERAGE):
                continue
            facts = out[CLIP // 2].notes["faces"]
            main = max(facts, key=lambda f: f["box"][2]) if facts else None
            if name == methods[-2]:
                calib["genuine"].append(main["drift"] if main and main.get("drift") is not None else np.nan)
            else:
                calib["gate"].append(main.get("gate") if main else "no face")
                calib["strength"].append(main.get("strength", 0.0) if main else np.nan)
        # what the stage received, for the stranger and morph distributions
        found = detector.detect(sr[CLIP // 2])
        calib["crops"].append(embedder.crop(sr[CLIP // 2], found[0].box, found[0].landmarks) if found else None)
        # the source's own noise: the same face in another frame of the static clip
        if found:
            feats = [embedder.embed(sr[k], found[0].box, found[0].landmarks) for k in (0, CLIP // 2)]
            calib["noise"].append(1.0 - float(feats[0] @ feats[1]))
        score_faces(item, outputs, results, judge)
    elapsed = time.perf_counter() - start
    n = len(truths)
    base = np.array(results["bicubic"]["dist"])
    rows = []
    for name in scored:
        d = np.array(results[name]["dist"])
        row = [name]
        if judge:
            if name == "bicubic":
                row += [float(d.mean()), "—", "—"]
            else:
                delta, lo, hi, _ = paired(d, base)
                row += [float(d.mean()), f"{delta:+.4f} [{lo:+.4f}, {hi:+.4f}]", float((d < base).mean())]
        row += [mean(results[name]["psnr"]), mean(results[name]["ssim"]), seconds[name] / n]
        rows.append(row)
    codecs = sum(d["codec"] == "mpeg2" for d in degradations)
    inter = sum(d["interlaced"] for d in degradations)
    header = ["method"] + (["dlib distance ↓", "Δ vs bicubic [95 % CI]", "closer than bicubic"] if judge else []) + [
        "face PSNR-Y", "face SSIM-Y", "s/face"]
    print_table(f"Held-out people at SD-television size ({n} faces of {len({t['person'] for t in truths})} "
                f"people; {codecs} MPEG-2 / {n - codecs} JPEG, {inter} deinterlaced; {elapsed:.0f} s)", header, rows,
                "dlib: Euclidean distance of ResNet descriptors to the truth's (same person < 0.6); "
                "Δ < 0: closer to the true person than bicubic (paired, bootstrap 95 % interval)")
    gates = [g for g in calib["gate"]]
    print(f"default gates on the scored frame: restored in full {sum(g is None for g in gates)}, "
          f"weakened {sum(g in ('drift', 'reference', 'recovering') and s > 0 for g, s in zip(gates, calib['strength']))}, "
          f"left unrestored {sum(s == 0 for s in calib['strength'])}, no face found {sum(g == 'no face' for g in gates)}")
    print_table(f"Steadiness on the static clips ({n} faces × {CLIP} frames, fresh noise per frame)",
                ["faces stage", "correction flicker (8-bit)", "output flicker (8-bit)", "face PSNR-Y, all frames"],
                [[name, mean(v["correction"]), mean(v["output"]), mean(v["psnr"])] for name, v in steady.items()],
                "correction flicker: frame-to-frame change of what the stage added, inside the face box; output "
                "flicker: of the output itself (the truth is still, so all of it is error); SR alone: "
                f"{mean(sr_flicker):.3f}")
    bench_calibration(calib, embedder, results, methods, judge is not None)
    bench_reference(truths, superres, results, methods, judge)


def bench_calibration(calib: dict, embedder: IdentityEmbedder, results: dict, methods: list[str], judged: bool) -> None:
    """Drift of genuine restorations vs. faces moved toward someone else, at the gate's threshold."""
    from restore.stages.faces import DEFAULT_MAX_DRIFT

    crops = [c for c in calib["crops"] if c is not None]
    feats = embedder.embed_crops(crops)
    genuine = np.array([g for g in calib["genuine"] if np.isfinite(g)])
    morphs = {}
    for share in (0.1, 0.25, 0.5):
        drifts = []
        for k, crop in enumerate(crops):
            other = crops[(k + 1) % len(crops)]
            blend = np.clip((1 - share) * crop.astype(np.float32) + share * other.astype(np.float32) + 0.5, 0, 255)
            drifts.append(1.0 - float(embedder.embed_crops([blend.astype(np.uint8)])[0] @ feats[k]))
        morphs[share] = np.array(drifts)
    strangers = 1.0 - np.array([feats[k] @ feats[(k + 7) % len(feats)] for k in range(len(feats))])

    def q(a, p):
        return float(np.percentile(a, p))

    thresholds = sorted({0.05, 0.08, 0.1, 0.15, DEFAULT_MAX_DRIFT})
    cases = [("received face, another frame of the clip (noise only)", np.array(calib["noise"])),
             ("genuine restoration (gates off)", genuine)]
    cases += [(f"received face {int(share * 100)} % of the way to another person", d) for share, d in morphs.items()]
    cases.append(("another person", strangers))
    rows = [[label, len(d), q(d, 10), q(d, 50), q(d, 90), q(d, 99)] + [float((d > t).mean()) for t in thresholds]
            for label, d in cases]
    print_table("Drift gate calibration: 1 − SFace cosine to the face the stage received", [
        "case", "n", "p10", "median", "p90", "p99"] + [f"> {t:g}" for t in thresholds], rows,
        f"share above each threshold; the default max_drift is {DEFAULT_MAX_DRIFT}: it must pass genuine "
        "restorations and stop faces moved toward another person")
    if judged:
        off = np.array(results[methods[-2]]["dist"])
        sr = np.array(results[methods[-3]]["dist"])
        stopped = np.array([s is not None and s < 1.0 for s in calib["strength"]])
        moved = off > sr
        lines = [f"dlib says the full restoration moved the face away from the truth (further than its SR input) "
                 f"on {moved.mean():.0%} of faces"]
        drift = np.array(calib["genuine"], np.float64)
        ok = np.isfinite(drift)
        if ok.sum() > 2:
            # can SFace's drift see what dlib sees? (it would justify a tighter max_drift)
            corr = float(np.corrcoef(drift[ok], (off - sr)[ok])[0, 1])
            top = drift[ok] >= np.percentile(drift[ok], 90)
            lines.append(f"SFace drift vs dlib's change (full restoration − SR input): correlation {corr:+.2f}; "
                         f"dlib says 'moved away' on {moved[ok][top].mean():.0%} of the 10 % most-drifting faces")
        if stopped.any():
            lines.append(f"of the {stopped.sum()} faces the drift gate weakened or stopped, dlib agrees on "
                         f"{moved[stopped].mean():.0%}; of the {(~stopped).sum()} it passed, {moved[~stopped].mean():.0%}")
        print("\n".join(lines))


def bench_reference(truths: list[dict], superres: SuperRes, results: dict, methods: list[str], judge) -> None:
    """People with two held-out portraits: each restored with the other as its reference."""
    by_person: dict[str, list[int]] = {}
    for i, t in enumerate(truths):
        by_person.setdefault(t["person"], []).append(i)
    pairs = [(i, j) for ids in by_person.values() if len(ids) >= 2 for i in ids for j in ids if i != j]
    if not pairs:
        print("skipped reference portraits: no held-out person has two portraits")
        return
    dists, base, sr_d, tracks, gates = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, j in pairs:
            folder = Path(tmp) / f"ref-{i}"
            folder.mkdir()
            src = FACES / truths[j]["file"]
            (folder / src.name).symlink_to(src.resolve())
            (folder / "MANIFEST.tsv").write_text(
                "file\tperson\tsource\tlicense\n"
                f"{src.name}\t{truths[j]['person']}\tcorpora/faces {truths[j]['file']}\tCC-BY-4.0\n")
            clip, _ = degrade_sd(truths[i]["truth"], SEED + i)
            sr = superres(clip)
            out, summary, _ = faces_stage(sr, (clip[0].shape[1], clip[0].shape[0]), reference=str(folder))
            tracks.extend(summary.get("reference_tracks") or [])
            facts = out[CLIP // 2].notes["faces"]
            gates.append(max(facts, key=lambda f: f["box"][2]).get("gate") if facts else "no face")
            if judge:
                shape = judge.landmarks(truths[i]["truth"], truths[i]["box"])
                truth_desc = judge.descriptor(truths[i]["truth"], shape)
                dists.append(float(np.linalg.norm(judge.descriptor(out[CLIP // 2].image, shape) - truth_desc)))
                base.append(results[methods[-1]]["dist"][i])
                sr_d.append(results[methods[-3]]["dist"][i])
    matched = [t for t in tracks if t["is_reference_person"]]
    rows = [["tracks recognised as the reference person", f"{len(matched)} / {len(tracks)}"],
            ["scored frame: restored in full / weakened or left alone by the reference gate / by the drift gate",
             f"{sum(g is None for g in gates)} / {sum(g == 'reference' for g in gates)} / "
             f"{sum(g == 'drift' for g in gates)}"],
            ["SFace to the reference: received → returned (mean)",
             f"{mean(t['received_mean'] for t in tracks):.3f} → {mean(t['returned_mean'] for t in tracks):.3f}"]]
    if judge:
        rows += [["dlib distance: SR alone / SR + faces / SR + faces + reference",
                  f"{mean(sr_d):.4f} / {mean(base):.4f} / {mean(dists):.4f}"]]
    people = sum(len(ids) >= 2 for ids in by_person.values())
    print_table(f"Reference portraits ({len(pairs)} restorations of {people} held-out people "
                "with two portraits, the other one as reference)", ["", "value"], rows)


# --- the real clip ------------------------------------------------------------------------

def landmark_jitter(frames: list[Frame]) -> float:
    """Mean distance of each frame's alignment landmarks from the midpoint of its neighbours',
    in % of the eye distance: steady motion scores 0, shake does not."""
    tracks: dict[int, dict[int, np.ndarray]] = {}
    for t, frame in enumerate(frames):
        for face in frame.notes.get("faces") or []:
            tracks.setdefault(face["track"], {})[t] = np.array(face["landmarks"], np.float64)
    values = []
    for points in tracks.values():
        for t, lm in points.items():
            if t - 1 in points and t + 1 in points:
                eye = np.linalg.norm(lm[1] - lm[0]) or 1.0
                values.append(float(np.linalg.norm(lm - (points[t - 1] + points[t + 1]) / 2, axis=1).mean()) / eye * 100)
    return mean(values) if values else float("nan")


def correction_flicker(frames_in, frames_out) -> float:
    """Mean frame-to-frame change of what the stage added (output − input) inside the
    face box, 8-bit units: the film's own motion and grain cancel out, what is left is
    the restoration shaking or flickering."""
    diffs = []
    for t in range(1, len(frames_out)):
        for face in frames_out[t].notes.get("faces") or []:
            x, y, w, h = (int(round(v)) for v in face["box"])
            x, y = max(0, x), max(0, y)
            now = frames_out[t].image[y:y + h, x:x + w] - frames_in[t][y:y + h, x:x + w]
            before = frames_out[t - 1].image[y:y + h, x:x + w] - frames_in[t - 1][y:y + h, x:x + w]
            diffs.append(float(np.abs(now - before).mean()) * 255)
    return mean(diffs) if diffs else float("nan")


def face_change(frames: list[Frame]) -> float:
    """Mean frame-to-frame change of the frames inside each frame's detected face boxes, 8-bit units."""
    diffs = []
    for t in range(1, len(frames)):
        for face in frames[t].notes.get("faces") or []:
            x, y, w, h = (int(round(v)) for v in face["box"])
            x, y = max(0, x), max(0, y)
            diffs.append(float(np.abs(frames[t].image[y:y + h, x:x + w] - frames[t - 1].image[y:y + h, x:x + w]).mean())
                         * 255)
    return mean(diffs) if diffs else float("nan")


def output_flicker(images: list[np.ndarray], box) -> float:
    """Mean frame-to-frame change of the picture inside the (truth's) face box, 8-bit units: on a
    still face with fresh noise in every frame, all of it is error — what the eye sees boil."""
    x, y, w, h = (int(round(v)) for v in box)
    x, y = max(0, x), max(0, y)
    return mean(float(np.abs(b[y:y + h, x:x + w] - a[y:y + h, x:x + w]).mean()) * 255
                for a, b in zip(images, images[1:]))


def bench_old_film() -> None:
    clip = OLD_FILM / "oldfilm-001.mkv"
    if not clip.is_file():
        print("skipped old-film face run: oldfilm-001.mkv not found")
        return
    images, fps = read_old_film("oldfilm-001.mkv", 24)
    size = (images[0].shape[1], images[0].shape[0])
    rows = []
    for label, params in [
            ("per-frame alignment and correction", {"smoothing": 0.0, "max_missed": 0, "temporal": 0.0}),
            ("tracked + One-Euro landmarks, per-frame correction", {"temporal": 0.0}),
            ("+ previous frame's correction 0.3 (the old carry-over)", {"temporal": 0.3, "temporal_motion": 0.5}),
            ("+ track average 0.5 of the correction", {"temporal": 0.5, "temporal_average": "correction"}),
            ("+ track average 0.7 of the correction (until 2026-12-07)", {"temporal_average": "correction"}),
            ("+ track average 0.7 of the restored face, past frames only (until 2026-12-07)", {"lookahead": 0}),
            ("+ track average 0.7 of the restored face, 2 frames ahead (default)", {}),
            ("+ track average 0.85 of the restored face", {"temporal": 0.85})]:
        start = time.perf_counter()
        out, summary, _ = faces_stage(images, size, fps, **params)
        elapsed = time.perf_counter() - start
        rows.append([label, summary["faces"], summary["restored"], summary["identity_mean"], summary["identity_min"],
                     landmark_jitter(out), correction_flicker(images, out), face_change(out),
                     elapsed / max(1, summary["faces"]) * 1000])
    # the film itself, measured in the same boxes
    source_change = face_change([frame.with_image(image) for frame, image in zip(out, images)])
    print_table(f"oldfilm-001 ({len(images)} frames, {size[0]}×{size[1]}) through the faces stage, {face_weights()}",
                ["landmarks / correction", "faces", "restored", "identity mean", "identity min",
                 "landmark jitter (% eye dist.)", "correction flicker (8-bit)", "output change (8-bit)",
                 "ms/face (all)"], rows,
                "identity: SFace cosine between the stage's input face and its output face; landmark jitter: "
                "distance of the alignment landmarks from their neighbours' midpoint; output change: frame-to-frame "
                "change of the output in the face box (the film's own motion and grain included: the input "
                f"scores {source_change:.3f})")


def bench_sr_models(names: list[str]) -> None:
    """Several SR models alone on the held-out faces, in one run: bicubic, each model, and each model
    against the one before it (paired). Cheap (no face stage), for choosing between SR candidates."""
    truths = heldout_truths(FaceDetector(score_threshold=0.5))
    limit = int(os.environ.get("RESTORE_BENCH_FACES_LIMIT", "0"))
    truths = truths[:limit] if limit > 0 else truths
    try:
        judge = DlibIdentity()
    except ImportError as exc:
        print(f"bench_faces sr skipped: the independent recognition model is missing ({exc})")
        return
    models = {name: SuperRes(TRUTH_W // 2, TRUTH_H // 2, weights=name) for name in names}
    results = {m: {"dist": [], "psnr": [], "ssim": []} for m in ["bicubic"] + names}
    for i, item in enumerate(truths):
        clip, _ = degrade_sd(item["truth"], SEED + i)   # the same degradation as bench_heldout, face for face
        outputs = {"bicubic": bicubic(clip)} | {name: run(clip)[CLIP // 2] for name, run in models.items()}
        score_faces(item, outputs, results, judge)
    base = np.array(results["bicubic"]["dist"])
    rows, previous = [], None
    for name, r in results.items():
        d = np.array(r["dist"])
        vs_bicubic = "—" if name == "bicubic" else "{:+.4f} [{:+.4f}, {:+.4f}]".format(*paired(d, base)[:3])
        vs_previous = "—" if previous is None or previous == "bicubic" else "{:+.4f} [{:+.4f}, {:+.4f}]".format(
            *paired(d, np.array(results[previous]["dist"]))[:3])
        rows.append([name, float(d.mean()), vs_bicubic, "—" if name == "bicubic" else float((d < base).mean()),
                     vs_previous, mean(r["psnr"]), mean(r["ssim"])])
        previous = name
    print_table(f"SR alone on held-out people at SD-television size ({len(truths)} faces)",
                ["method", "dlib distance ↓", "Δ vs bicubic [95 % CI]", "closer than bicubic", "Δ vs row above",
                 "face PSNR-Y", "face SSIM-Y"], rows,
                "the same truths, degradations and judge as the held-out table of the full bench")


def main() -> None:
    if not FACES.is_dir():
        print(f"bench_faces skipped: {FACES} not found")
        return
    from restore.errors import UserError
    from restore.models.registry import resolve_weights

    only = os.environ.get("RESTORE_BENCH_FACES_ONLY", "")
    sr_names = [n for n in sr_weights().split(",") if n]
    try:
        resolve_weights(face_weights())
        for name in sr_names:
            resolve_weights(name)
    except UserError as exc:
        print(f"bench_faces skipped: {exc}")
        return
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if only == "sr":
        bench_sr_models(sr_names)
        return
    if len(sr_names) > 1:
        print("bench_faces: RESTORE_BENCH_SR names one model, except with RESTORE_BENCH_FACES_ONLY=sr")
        return
    if only in ("", "heldout"):
        bench_heldout()
    if only in ("", "oldfilm"):
        bench_old_film()


if __name__ == "__main__":
    main()
