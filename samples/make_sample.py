"""Build samples/speech-pal-sample.mkv: a short stand-in for a 1981 PAL broadcast of a speech.

What it is made of (all public domain or CC0, recorded in samples/SOURCES.md):
  * the speaker: an official portrait of a member of the US Congress (a work of the US
    federal government, public domain), from ../shared/corpora/faces;
  * the background: the held-out region of the CC0 "venue" photograph from
    ../shared/corpora/venue (never the region used for training);
  * the caption and banner: drawn here; the voice: espeak-ng reading our own text.

What is done to it (the look of a digitised 1980s PAL recording): 50 progressive
pictures a second with a slow camera pan and a swaying speaker, softened like an SD
tube camera and tape, luma noise, chroma bandwidth cut to a quarter, woven into
576i fields top-field-first, MPEG-2 at broadcast bitrate, MP2 sound, PAL colour tags
and a studio timecode. Run `make sample` (needs ../shared and, for the voice,
Debian's espeak-ng).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
PORTRAIT = SHARED / "corpora" / "faces" / "congress_225x275" / "A000055.jpg"
VENUE = SHARED / "corpora" / "venue" / "budgie-backgrounds__beacon-street-sunset.png"
OUTPUT = HERE / "speech-pal-sample.mkv"
SECONDS = 4
RATE = 50                      # progressive pictures per second before interlacing
SPEECH = ("Members of this house. Tonight we debate the budget for the coming year, "
          "and what it means for every family in the country.")


def _speaker_layer(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The portrait on a soft oval matte, scaled so the face is ~150 px wide on a 768-px-wide frame."""
    face = cv2.imread(str(PORTRAIT), cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255
    face = cv2.resize(face, None, fx=1.45, fy=1.45, interpolation=cv2.INTER_CUBIC)
    h, w = face.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    oval = ((xx - w / 2) / (w * 0.47)) ** 2 + ((yy - h * 0.55) / (h * 0.52)) ** 2
    matte = np.clip((1.0 - oval) * 4, 0, 1)
    matte[int(h * 0.8):] = np.maximum(matte[int(h * 0.8):], 0.98 * (np.abs(xx[int(h * 0.8):] - w / 2) < w * 0.45))
    return face, cv2.GaussianBlur(matte, (0, 0), 3)


def _background(t: float) -> np.ndarray:
    venue = cv2.imread(str(VENUE), cv2.IMREAD_COLOR)[:, :, ::-1]
    # held-out region only (x >= 2560, see corpora/venue MANIFEST): a slow pan across it
    x0 = 2560 + int(200 * t / SECONDS)
    crop = venue[700:700 + 1000, x0:x0 + 1080].astype(np.float32) / 255
    return cv2.resize(crop, (768, 576), interpolation=cv2.INTER_AREA)


def render_frames():
    face, matte = _speaker_layer(768, 576)
    fh, fw = face.shape[:2]
    for i in range(SECONDS * RATE):
        t = i / RATE
        frame = _background(t)
        dx = int(10 * np.sin(2 * np.pi * 0.4 * t))        # the speaker sways
        dy = int(4 * np.sin(2 * np.pi * 0.7 * t))
        x0, y0 = 768 // 2 - fw // 2 + dx, 576 - fh + 30 + dy
        ys, xs = slice(max(y0, 0), min(y0 + fh, 576)), slice(max(x0, 0), min(x0 + fw, 768))
        fy, fx = slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0)
        a = matte[fy, fx][..., None]
        frame[ys, xs] = a * face[fy, fx] + (1 - a) * frame[ys, xs]
        # the banner (a word a model must not rewrite) and a lower-third caption
        cv2.rectangle(frame, (0, 40), (768, 88), (0.08, 0.12, 0.35), -1)
        cv2.putText(frame, "PARLIAMENT  1981", (200, 78), cv2.FONT_HERSHEY_DUPLEX, 1.2, (0.95, 0.95, 0.9), 2,
                    cv2.LINE_AA)
        cv2.rectangle(frame, (60, 470), (520, 510), (0.1, 0.1, 0.1), -1)
        cv2.putText(frame, "The Budget Debate", (75, 500), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0.9, 0.9, 0.9), 2,
                    cv2.LINE_AA)
        yield frame


def degrade(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Tube camera and tape: soft, noisy luma; chroma smeared to a quarter of its bandwidth."""
    frame = cv2.GaussianBlur(frame, (0, 0), 1.1)
    ycc = cv2.cvtColor(frame, cv2.COLOR_RGB2YCrCb)
    ycc[..., 0] += rng.normal(0, 0.018, ycc.shape[:2]).astype(np.float32)
    for c in (1, 2):
        small = cv2.resize(ycc[..., c], (768 // 4, 576), interpolation=cv2.INTER_AREA)
        ycc[..., c] = cv2.resize(small, (768, 576), interpolation=cv2.INTER_CUBIC)
    out = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
    return cv2.resize(np.clip(out, 0, 1), (720, 576), interpolation=cv2.INTER_AREA)  # anamorphic 4:3 PAL


def speech(wav: Path) -> bool:
    try:
        subprocess.run(["espeak-ng", "-v", "en-gb", "-s", "150", "-w", str(wav), SPEECH], check=True,
                       capture_output=True)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False


def main() -> int:
    if not PORTRAIT.exists() or not VENUE.exists():
        print(f"make_sample: needs ../shared (not found: {PORTRAIT if not PORTRAIT.exists() else VENUE})",
              file=sys.stderr)
        return 2
    rng = np.random.default_rng(1981)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        audio = ["-i", str(wav)] if speech(wav) else ["-f", "lavfi", "-i", f"sine=f=440:d={SECONDS}"]
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y",
               "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "720x576", "-framerate", str(RATE), "-i", "pipe:0",
               *audio, "-map", "0:v", "-map", "1:a", "-t", str(SECONDS),
               # 50 progressive pictures → 25 interlaced frames, top field first
               "-vf", "scale=out_color_matrix=bt601:out_range=tv,format=yuv420p,"
                      "tinterlace=mode=interleave_top,setfield=tff,setsar=16/15,"
                      "setparams=color_primaries=bt470bg:color_trc=bt709:colorspace=bt470bg:range=tv",
               "-c:v", "mpeg2video", "-b:v", "5M", "-maxrate", "6M", "-bufsize", "1835k", "-g", "12", "-bf", "2",
               "-flags", "+ilme+ildct", "-top", "1",
               "-c:a", "mp2", "-b:a", "192k", "-ar", "48000", "-ac", "1",
               "-metadata", "title=Budget debate (synthetic PAL sample)",
               "-metadata:s:a:0", "language=eng", "-timecode", "10:00:00:00",
               str(OUTPUT.with_suffix(".partial.mkv"))]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
        for frame in render_frames():
            proc.stdin.write((degrade(frame, rng) * 255 + 0.5).astype(np.uint8).tobytes())
        proc.stdin.close()
        if proc.wait() != 0:
            return 1
    OUTPUT.with_suffix(".partial.mkv").replace(OUTPUT)
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
