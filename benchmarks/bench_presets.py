"""The presets on real and synthetic footage: speed per stage, flicker, NIQE, fidelity, and
accuracy against ground truth beside bicubic and the Real-ESRGAN general v3 checkpoint.

Real clips (no ground truth): the bundled sample and the first frames of the three
../shared/media/old-film clips, through each preset. Reported per run: seconds per
output frame of every stage; flicker index (restore.metrics.StaticFlickerRatio: output change
where the source is static, relative to the source's — 1 = as steady as the source);
NIQE (lower = more natural, on every 4th frame); fidelity: PSNR-Y/SSIM-Y of the output
brought back to the source's geometry, against the source.

Synthetic (ground truth): a slow pan over the held-out region of the venue photograph,
degraded with our pal-broadcast model to 360×288 and restored ×2 by each method:
bicubic, the Real-ESRGAN general v3 checkpoint (×4, resized to ×2), and each preset.

Fidelity (ground truth of each preset's kind, at the preset's own output rate and size,
against the preset's plain baseline; see ``fidelity``): PSNR-Y/SSIM-Y decoded as restore
decodes (explicit matrix, accurate swscale) and as ffmpeg decodes by default (what a player
or another bench sees), the mean-level shift, and the master's pixel format and colour tags.
Reproduce: `.venv/bin/python -m benchmarks presets` (part of `make bench`).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np

from benchmarks import ground_truth as gt
from benchmarks.common import REPO, SHARED, need_shared, table, workdir
from restore.job import JobOptions, run_job
from restore.metrics import StaticFlickerRatio, luma, psnr_y, ssim_y
from restore.pipeline.spec import available_pipelines, load_pipeline, parse_pipeline

PRESETS = [p for p in ("default", "speech-576i", "film") if p in available_pipelines()]
FRAMES = 12


def _cut(src: Path, dst: Path, frames: int) -> Path:
    if not dst.exists():
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0:v:0",
                        "-frames:v", str(frames), "-c:v", "ffv1", str(dst)], check=True)
    return dst


def _clips(d: Path) -> dict[str, Path]:
    clips = {"sample": _cut(REPO / "samples" / "speech-pal-sample.mkv", d / "sample.mkv", FRAMES)}
    for name in ("oldfilm-001", "oldfilm-002", "oldfilm-003"):
        src = SHARED / "media" / "old-film" / f"{name}.mkv"
        if src.exists():
            clips[name] = _cut(src, d / f"{name}.mkv", FRAMES)
    return clips


def measure(source: Path, output: Path, niqe_every: int = 4) -> dict:
    from restore.review.align import aligned_pairs, plan_alignment
    from restore.review.metrics import niqe

    alignment = plan_alignment(source, output)
    flicker = StaticFlickerRatio()
    psnrs, ssims, niqes = [], [], []
    for pair in aligned_pairs(source, output, alignment):
        psnrs.append(psnr_y(pair.after_aligned, pair.before))
        ssims.append(ssim_y(pair.after_aligned, pair.before))
        flicker.add(pair.before, pair.after)
        if pair.after_index % niqe_every == 0:
            value = niqe(pair.after)
            if value is not None:
                niqes.append(value)
    return {"fidelity_psnr": float(np.mean(psnrs)), "fidelity_ssim": float(np.mean(ssims)),
            "flicker": flicker.index, "niqe": float(np.mean(niqes)) if niqes else None}


def real_footage(d: Path) -> None:
    rows, stage_rows = [], []
    for clip_name, clip in _clips(d).items():
        for preset in PRESETS:
            out = d / f"{clip_name}.{preset}.mkv"
            result = run_job(clip, out, load_pipeline(preset), JobOptions(overwrite=True, provenance=False))
            m = measure(clip, out)
            rows.append([clip_name, preset, result.frames_out, result.seconds / result.frames_out,
                         m["flicker"], m["niqe"], m["fidelity_psnr"], m["fidelity_ssim"]])
            for t in result.stage_timings:
                stage_rows.append([clip_name, preset, t["stage"], t["seconds_per_frame"]])
    print("Real footage (first %d frames of each clip; fidelity = output brought back to the source's "
          "geometry vs the source)" % FRAMES)
    print(table(["clip", "preset", "frames out", "s/frame", "flicker idx", "NIQE", "fidelity PSNR-Y",
                 "fidelity SSIM-Y"], rows))
    print()
    print(table(["clip", "preset", "stage", "s/frame"], stage_rows))


def _pan_truth(n: int, w: int = 720, h: int = 576) -> list[np.ndarray]:
    venue = cv2.imread(str(SHARED / "corpora" / "venue" / "budgie-backgrounds__beacon-street-sunset.png"))
    venue = venue[:, 2560:, ::-1].astype(np.float32) / 255  # held-out region only
    frames = []
    for t in range(n):
        crop = venue[600 + t:600 + t + 2 * h, 200 + 3 * t:200 + 3 * t + 2 * w]
        frames.append(cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA))
    return frames


def _write(frames: list[np.ndarray], path: Path) -> Path:
    h, w = frames[0].shape[:2]
    proc = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb48le",
                             "-s", f"{w}x{h}", "-framerate", "25", "-i", "pipe:0", "-c:v", "ffv1",
                             "-pix_fmt", "yuv444p10le", str(path)], stdin=subprocess.PIPE)
    for f in frames:
        proc.stdin.write((np.clip(f, 0, 1) * 65535 + 0.5).astype("<u2").tobytes())
    proc.stdin.close()
    proc.wait()
    return path


def synthetic(d: Path) -> None:
    from restore.media.decode import read_frames
    from restore.training.degrade import DegradationModel

    truth = _pan_truth(8)
    model = DegradationModel(preset="pal-broadcast")
    rng = np.random.default_rng(0)
    low = [model.degrade(t, rng, 2) for t in truth]
    low_path = _write(low, d / "synthetic-low.mkv")
    h, w = truth[0].shape[:2]
    results = {"bicubic": [np.clip(cv2.resize(x, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1) for x in low]}
    esrgan = SHARED / "weights" / "realesr-general-x4v3.fp16-ncnn-conversion.pth"
    spec_text = f"stages:\n  - stage: superres\n    weights: {esrgan}\n    scale: 2\n"
    from restore.pipeline.spec import parse_pipeline

    candidates = [("Real-ESRGAN general v3 (x4→x2)", parse_pipeline(spec_text, source="esrgan.yaml"))]
    candidates += [(f"preset {p}", load_pipeline(p)) for p in PRESETS]
    rows = []
    for name, spec in candidates:
        out = d / f"synthetic.{name.split()[-1].strip('()')}.mkv"
        result = run_job(low_path, out, spec, JobOptions(overwrite=True, provenance=False, size=(w, h)
                                                         if any(s.name == "superres" for s in spec.stages) else None))
        ratio = result.frames_out // result.frames_in   # field-rate output: the first of each pair
        frames = [f.image for f in read_frames(out)][::ratio]
        if frames[0].shape[:2] != (h, w):
            frames = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames]
        results[name] = frames
        rows.append(result.seconds / result.frames_out)
    table_rows = []
    for i, (name, frames) in enumerate(results.items()):
        pairs = list(zip(frames[:len(truth)], truth))
        table_rows.append([name, np.mean([psnr_y(a, b, 4) for a, b in pairs]),
                           np.mean([ssim_y(a, b, 4) for a, b in pairs]), rows[i - 1] if i else None])
    print(f"Synthetic ground truth: {len(truth)} frames of a pan over the held-out venue region, degraded "
          f"(pal-broadcast) to {low[0].shape[1]}x{low[0].shape[0]}, restored to {w}x{h}")
    print(table(["method", "PSNR-Y", "SSIM-Y", "s/frame"], table_rows))


# --- fidelity: each preset on a ground truth of its kind, against its plain baseline -------------

VENUE = SHARED / "corpora" / "venue" / "budgie-backgrounds__beacon-street-sunset.png"
FACES = SHARED / "corpora" / "faces" / "congress_225x275"
FIELDS = 24                      # 50p truth pictures → 12 interlaced frames


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255


def _chamber_truth(width: int = 1536, height: int = 1152) -> list[np.ndarray]:
    """50p truth of a speech: a pan over the held-out venue region, a static caption band along the
    bottom and two speakers (portraits on a soft matte; one sways), square pixels, 4:3."""
    venue = _rgb(VENUE)[:, 2560:]
    band = cv2.resize(venue[1600:1800, :1280], (width, height // 8), interpolation=cv2.INTER_AREA)
    people = []
    for name in ("A000014.jpg", "A000109.jpg"):
        face = cv2.resize(_rgb(FACES / name), (300, 366), interpolation=cv2.INTER_CUBIC)
        yy, xx = np.mgrid[0:366, 0:300]
        matte = np.clip(1.5 - np.hypot((xx - 150) / 130, (yy - 183) / 170), 0, 1)[..., None].astype(np.float32)
        people.append((face, matte))
    frames = []
    for t in range(FIELDS):
        m = np.float32([[1.1, 0, -200 - 4.0 * t], [0, 1.1, -300]])
        f = cv2.warpAffine(venue, m, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        for i, (face, matte) in enumerate(people):
            x, y = 330 + 620 * i + (int(round(3 * np.sin(t / 4))) if i == 0 else 0), 430
            region = f[y:y + 366, x:x + 300]
            f[y:y + 366, x:x + 300] = matte * face + (1 - matte) * region
        f[height - band.shape[0]:] = band
        frames.append(np.clip(f, 0, 1))
    return frames


def _film_truth(width: int = 1280, height: int = 960, count: int = 12) -> list[np.ndarray]:
    photo = _rgb(SHARED / "corpora" / "general" / "budgie-backgrounds__roman-colosseum.jpg")
    grey = np.repeat(luma(photo)[..., None], 3, axis=2) * np.float32([1.02, 1.0, 0.93])   # toned print
    return gt.pan(np.clip(grey, 0, 1), count, width, height, dx=1.2, dy=0.4)


def _ffmpeg(src: Path, dst: Path, vf: str) -> Path:
    """A plain ffmpeg baseline; tagged BT.601 like its source (a YUV→YUV scale keeps the samples' matrix),
    so an HD-sized baseline is not read as BT.709 by size."""
    tags = "setparams=color_primaries=bt470bg:color_trc=smpte170m:colorspace=bt470bg:range=tv"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-vf", f"{vf},{tags}",
                    "-c:v", "ffv1", str(dst)], check=True)
    return dst


def _decode_default(path: Path) -> list[np.ndarray]:
    """Frames as ffmpeg gives them with no options: its default scaler, and the file's tags (BT.601 if none)."""
    v = probe_video(path)
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return list(np.frombuffer(raw, np.uint8).reshape(-1, v["height"], v["width"], 3).astype(np.float32) / 255)


def probe_video(path: Path) -> dict:
    import json

    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height,pix_fmt,color_space,color_primaries,color_transfer,color_range",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["streams"][0]


def _row(label: str, path: Path, truth: list[np.ndarray], every: int = 1) -> list:
    h, w = truth[0].shape[:2]
    ours = gt.fidelity(gt.at_size(gt.read_clip(path)[::every], w, h), truth)
    default = gt.fidelity(gt.at_size(_decode_default(path)[::every], w, h), truth)
    v = probe_video(path)
    tags = "/".join(v.get(k, "?") for k in ("color_primaries", "color_transfer", "color_space", "color_range"))
    return [label, ours["psnr"], ours["ssim"], ours["shift"], default["psnr"], default["shift"], v["pix_fmt"], tags]


def _run(src: Path, out: Path, spec, **options) -> Path:
    run_job(src, out, spec, JobOptions(overwrite=True, provenance=False, **options))
    return out


def fidelity(d: Path) -> None:
    """Each preset against its plain baseline on a truth of its kind, and speech-576i stage by stage."""
    hd = _chamber_truth()
    woven = gt.noise(gt.interlace(gt.at_size(hd, 720, 576)), 2.5 / 255, grain=0.6)
    src = gt.write_clip(woven, d / "truth-576i.mkv", field="tff", sar="16/15", tagged=False,
                        codec=["-c:v", "mpeg2video", "-b:v", "8M", "-maxrate", "9M", "-bufsize", "2M", "-g", "12"])
    truth_1080 = gt.at_size(hd, 1440, 1080)
    rows = [["— 576i speech: 50p truth → 25i TFF, noise, MPEG-2 8 Mb/s, untagged —"] + [""] * 7]
    rows.append(_row("default (25p 1536x1152)", _run(src, d / "fid.default.mkv", load_pipeline("default")),
                     hd[0::2]))
    rows.append(_row("  baseline: bicubic", _ffmpeg(src, d / "fid.bicubic.mkv", "scale=1536:1152:flags=bicubic"),
                     hd[0::2]))
    rows.append(_row("  baseline: bwdif + bicubic", _ffmpeg(src, d / "fid.bwdif25.mkv",
                                                            "bwdif=0:0:0,scale=1536:1152:flags=bicubic"), hd[0::2]))
    rows.append(_row("speech-576i (50p 1440x1080)", _run(src, d / "fid.speech.mkv", load_pipeline("speech-576i")),
                     truth_1080))
    rows.append(_row("  baseline: bwdif + bicubic", _ffmpeg(src, d / "fid.bwdif50.mkv",
                                                            "bwdif=1:0:0,scale=1440:1080:flags=bicubic"), truth_1080))
    film_hd = _film_truth()
    scan = gt.scratches(gt.dust(gt.noise(gt.flicker(gt.at_size(film_hd, 640, 480), 0.08, local=True),
                                         5 / 255), per_frame=6))
    film_src = gt.write_clip(scan, d / "truth-film.mkv", 24, pix_fmt="yuv444p")
    rows.append(["— film scan: 24p truth at 2x, dust, scratches, local flicker, grain, lossless —"] + [""] * 7)
    rows.append(_row("film (24p 1280x960)", _run(film_src, d / "fid.film.mkv", load_pipeline("film")), film_hd))
    rows.append(_row("  baseline: bicubic", _ffmpeg(film_src, d / "fid.film-bicubic.mkv",
                                                    "scale=1280:960:flags=bicubic"), film_hd))
    headers = ["method", "PSNR-Y", "SSIM-Y", "mean shift", "PSNR-Y ffmpeg-default", "shift ffmpeg-default",
               "pix_fmt", "primaries/transfer/matrix/range"]
    print("Fidelity against ground truth, at each preset's output rate and size (decoded as restore decodes, "
          "and as ffmpeg does by default; mean shift in 8-bit levels)")
    print(table(headers, rows))
    print()
    # the chain of speech-576i, stage by stage: SD stages at 720x576 against the truth there, then HD
    truth_sd = gt.at_size(hd, 720, 576)
    stages = load_pipeline("speech-576i").stages
    chain = [_row("bwdif=1:0:0 (ffmpeg)", _ffmpeg(src, d / "chain.bwdif.mkv", "bwdif=1:0:0"), truth_sd)]
    for k in range(1, len(stages) + 1):
        text = "output:\n  bit_depth: 10\nstages:\n" + "".join(
            f"  - {json.dumps(s.as_dict())}\n" for s in stages[:k])
        spec = parse_pipeline(text, source=f"speech-576i[:{k}]")
        out = _run(src, d / f"chain.{k}.mkv", spec)
        sd = probe_video(out)["height"] == 576
        chain.append(_row(" + ".join(s.name for s in stages[:k]), out, truth_sd if sd else truth_1080))
    print("speech-576i stage by stage (50p; up to deflicker against the truth at 720x576, then at 1440x1080)")
    print(table(headers, chain))


def main() -> None:
    if not need_shared("the presets bench (old-film clips, venue ground truth, Real-ESRGAN checkpoint)"):
        return
    d = workdir("presets")
    fidelity(d)
    print()
    real_footage(d)
    print()
    synthetic(d)
