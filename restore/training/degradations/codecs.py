"""Compression: JPEG through OpenCV (fast path) and MPEG-2 / H.264 through an ffmpeg pipe.

The ffmpeg path encodes all images it is given as one small clip (a batch of training
patches or a chunk of a real clip) so that one process start serves many images.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading

import cv2
import numpy as np

from restore.training.degradations import Context, draw, register

# MPEG-2 qscale 2 (broadcast master) .. 16+ (heavily starved DVD); x264 CRF 18 .. 40.
FFMPEG_CODECS = {"mpeg2": "mpeg2video", "h264": "libx264"}


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    bgr = cv2.cvtColor(np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", bgr, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not encode JPEG")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def ffmpeg_roundtrip(images: list[np.ndarray], codec: str, quality: float, gop: int = 12,
                     fps: float = 25.0) -> list[np.ndarray]:
    """Encode same-size images as one clip with ``codec`` and decode it back.

    Sizes are padded (edge pixels repeated) to a multiple of 16, the macroblock size, and
    cropped back, so any patch size works. One thread: the output is then reproducible.
    """
    h, w = images[0].shape[:2]
    ph, pw = -h % 16, -w % 16
    frames = [np.pad(np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8), ((0, ph), (0, pw), (0, 0)),
                     mode="edge") for img in images]
    size = f"{w + pw}x{h + ph}"
    if codec == "mpeg2":
        args = ["-c:v", "mpeg2video", "-qscale:v", str(int(round(quality))), "-g", str(gop), "-bf", "2",
                "-f", "mpeg2video"]
    elif codec == "h264":
        args = ["-c:v", "libx264", "-crf", str(int(round(quality))), "-preset", "veryfast", "-g", str(gop),
                "-x264-params", "threads=1:lookahead-threads=1", "-f", "h264"]
    else:
        raise ValueError(f"unknown codec {codec!r}: choose one of {', '.join(FFMPEG_CODECS)}")
    base = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1"]
    encode = base + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", size, "-r", f"{fps:g}", "-i", "pipe:0",
                     "-pix_fmt", "yuv420p", *args, "pipe:1"]
    demuxer = {"mpeg2video": "mpegvideo", "h264": "h264"}[args[-1]]
    decode = base + ["-f", demuxer, "-i", "pipe:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    raw = _encode_decode(encode, decode, b"".join(f.tobytes() for f in frames))
    frame_bytes = (w + pw) * (h + ph) * 3
    if len(raw) != frame_bytes * len(images):
        raise RuntimeError(f"ffmpeg {codec} round trip returned {len(raw) // frame_bytes} frames "
                           f"for {len(images)}")
    decoded = np.frombuffer(raw, np.uint8).reshape(len(images), h + ph, w + pw, 3)[:, :h, :w]
    return [f.astype(np.float32) / 255.0 for f in decoded]


def _encode_decode(encode: list[str], decode: list[str], data: bytes) -> bytes:
    """Encoder piped straight into decoder: both start at once, which halves the latency
    that dominates for small patches."""
    with tempfile.TemporaryFile() as enc_err, tempfile.TemporaryFile() as dec_err:
        enc = subprocess.Popen(encode, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=enc_err)
        dec = subprocess.Popen(decode, stdin=enc.stdout, stdout=subprocess.PIPE, stderr=dec_err)
        enc.stdout.close()  # the decoder holds the only read end now
        writer = threading.Thread(target=_feed, args=(enc.stdin, data), daemon=True)
        writer.start()
        raw = dec.stdout.read()
        writer.join()
        if enc.wait() != 0 or dec.wait() != 0:
            enc_err.seek(0)
            dec_err.seek(0)
            detail = (enc_err.read() + dec_err.read()).decode(errors="replace")[-300:]
            raise RuntimeError(f"ffmpeg round trip failed: {detail}")
    return raw


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
    except BrokenPipeError:
        pass  # the encoder died; its exit code tells why
    finally:
        pipe.close()


@register("jpeg")
def jpeg_op(images, p, ctx: Context):
    """JPEG at ``quality`` (drawn per image: a still's compression is its own)."""
    return [jpeg(img, int(round(draw(p.get("quality", [30, 95]), ctx.rng)))) for img in images]


@register("codec")
def codec(images, p, ctx: Context):
    """Video compression: with ``ffmpeg_prob`` a real MPEG-2/H.264 round trip of all the images
    as one clip, otherwise JPEG (the fast path: the same 8×8 DCT blocking as MPEG-2 intra)."""
    use_ffmpeg = ctx.once("ffmpeg", lambda: ctx.rng.random() < p.get("ffmpeg_prob", 0.3))
    if not use_ffmpeg:
        quality = ctx.once("jpeg_quality", lambda: int(round(draw(p.get("jpeg_quality", [40, 95]), ctx.rng))))
        return [jpeg(img, quality) for img in images]
    name = ctx.once("codec", lambda: draw(p.get("codec", {"choices": ["mpeg2", "h264"], "weights": [0.7, 0.3]}),
                                          ctx.rng))
    spec = p.get("mpeg2_qscale", [2, 12]) if name == "mpeg2" else p.get("h264_crf", [20, 36])
    quality = ctx.once("quality", lambda: draw(spec, ctx.rng))
    return ffmpeg_roundtrip(images, name, quality, gop=int(p.get("gop", 12)), fps=ctx.fps)
