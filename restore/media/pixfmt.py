"""Pixel-format facts: planar equivalents, raw frame sizes, colour-matrix names."""

from __future__ import annotations

import functools
import json
import subprocess
from typing import Any

from restore.frame import VideoFormat


@functools.lru_cache(maxsize=None)
def _descriptors() -> dict[str, dict[str, Any]]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_pixel_formats", "-of", "json"],
                         capture_output=True, text=True, check=True).stdout
    return {d["name"]: d for d in json.loads(out).get("pixel_formats", [])}


def descriptor(pix_fmt: str) -> dict[str, Any]:
    return _descriptors()[pix_fmt]


def is_rgb(pix_fmt: str) -> bool:
    return bool(descriptor(pix_fmt).get("flags", {}).get("rgb"))


def chroma_shift(pix_fmt: str) -> tuple[int, int]:
    d = descriptor(pix_fmt)
    return int(d.get("log2_chroma_w", 0)), int(d.get("log2_chroma_h", 0))


def planar_equivalent(pix_fmt: str, bit_depth: int) -> str:
    """A planar format holding the same samples (repacking to it is lossless).

    Packed capture formats (uyvy422, yuyv422, rgb24, v210-decoded …) are rewritten as
    planes so pass-through runs stay bit-exact while frame sizes stay computable.
    """
    d = descriptor(pix_fmt)
    flags = d.get("flags", {})
    comps = int(d.get("nb_components", 3))
    if is_float(pix_fmt):
        # floating-point samples (OpenEXR): 16-bit integers are what every encoder we use takes
        return "gray16le" if comps in (1, 2) else "gbrp16le"
    if (flags.get("planar") or comps == 1) and not flags.get("bitstream") and not flags.get("big_endian"):
        return pix_fmt  # already planes (yuvj* keeps its full-range meaning)
    suffix = "" if bit_depth <= 8 else ("10le" if bit_depth <= 10 else "12le" if bit_depth <= 12 else "16le")
    if comps in (1, 2) and not is_rgb(pix_fmt):
        return "gray" if bit_depth <= 8 else f"gray{suffix[:-2]}le"
    if is_rgb(pix_fmt):
        return f"gbrp{suffix}"
    cw, ch = chroma_shift(pix_fmt)
    family = {(0, 0): "yuv444p", (1, 0): "yuv422p", (1, 1): "yuv420p", (2, 0): "yuv411p", (2, 2): "yuv410p"}
    base = family.get((cw, ch), "yuv444p")
    if base in ("yuv411p", "yuv410p") and suffix:
        base = "yuv444p"  # no high-depth 4:1:1 planar format exists; 4:4:4 holds the samples
    return base + (f"p{suffix}"[1:] if suffix else "")


def with_depth(pix_fmt: str, bit_depth: int) -> str:
    """The planar format of ``pix_fmt``'s family (same chroma subsampling, YUV, RGB or gray) holding at least
    ``bit_depth`` bits: ``yuv420p`` at 10 → ``yuv420p10le``. A format already that deep is returned as it is.

    (``planar_equivalent`` cannot do this: it keeps a planar format unchanged, whatever depth is asked.)
    """
    if pixel_depth(pix_fmt) >= bit_depth:
        return planar_equivalent(pix_fmt, pixel_depth(pix_fmt))
    suffix = "10le" if bit_depth <= 10 else "12le" if bit_depth <= 12 else "16le"
    d = descriptor(pix_fmt)
    if is_rgb(pix_fmt):
        return f"gbrp{suffix}"
    if int(d.get("nb_components", 3)) in (1, 2):
        return f"gray{suffix}"
    family = {(0, 0): "yuv444p", (1, 0): "yuv422p", (1, 1): "yuv420p"}
    # 4:1:1 and 4:1:0 have no deep planar formats: 4:4:4 holds their samples
    return family.get(chroma_shift(pix_fmt), "yuv444p") + suffix


def is_float(pix_fmt: str) -> bool:
    """Floating-point samples (gbrpf32le …): ffprobe 5.1 lists no float flag, the names say it."""
    import re

    return bool(descriptor(pix_fmt).get("flags", {}).get("float")) or re.search(r"f(16|32)(le|be)$", pix_fmt) is not None


def pixel_depth(pix_fmt: str) -> int:
    comps = descriptor(pix_fmt).get("components") or [{"bit_depth": 8}]
    return max(int(c.get("bit_depth", 8)) for c in comps)


def raw_frame_size(pix_fmt: str, width: int, height: int) -> int:
    """Bytes of one frame of a planar (or gray) format written by ffmpeg's rawvideo muxer."""
    d = descriptor(pix_fmt)
    depth = pixel_depth(pix_fmt)
    bps = 1 if depth <= 8 else 2
    comps = int(d.get("nb_components", 3))
    cw, ch = chroma_shift(pix_fmt)
    luma = width * height
    if comps == 1:
        return luma * bps
    chroma_w = -(-width // (1 << cw))
    chroma_h = -(-height // (1 << ch))
    planes = luma + 2 * chroma_w * chroma_h + (luma if comps == 4 else 0)
    return planes * bps


@functools.lru_cache(maxsize=None)
def rgb16_white() -> int:
    """The 16-bit RGB value swscale means by full white, measured once on this ffmpeg.

    ffmpeg 5.1's swscale scales 8-bit full range to 16 bits by ×256, not ×257: YUV white decodes to
    RGB48 65280, and RGB48 65535 encodes 0.4 % too bright (+0.42 levels of mean luma on a grey ramp,
    −0.49 the other way). Frames that cross an ffmpeg pipe as 16-bit RGB are scaled by this value, so
    both directions are level-exact whether or not the installed ffmpeg has that quirk.
    """
    white_yuv = bytes([235] * 64 + [128] * 128)    # 8×8 yuv444p: limited-range white, neutral chroma
    from restore.media.decode import sws_flags

    out = subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "yuv444p", "-s", "8x8", "-i", "-",
                          "-sws_flags", sws_flags(), "-vf", "scale=in_color_matrix=bt601:in_range=tv:out_range=pc,"
                          "format=rgb48le", "-f", "rawvideo", "-pix_fmt", "rgb48le", "-"],
                         input=white_yuv, capture_output=True, check=True).stdout
    return int.from_bytes(out[2:4], "little")    # the green sample of the first pixel


def colour_matrix(fmt: VideoFormat) -> str:
    """The YUV↔RGB matrix swscale should use (name as the scale filter spells it)."""
    cs = fmt.colorspace
    if cs in ("bt709",):
        return "bt709"
    if cs in ("bt2020nc", "bt2020c", "bt2020_ncl", "bt2020_cl"):
        return "bt2020"
    if cs in ("bt470bg", "smpte170m", "bt601", "fcc"):
        return "bt601" if cs != "fcc" else "fcc"
    if cs == "smpte240m":
        return "smpte240m"
    # untagged (or RGB, where no matrix applies): the broadcast convention — SD is BT.601, HD and above BT.709
    return "bt709" if fmt.height >= 720 else "bt601"


def colour_range(fmt: VideoFormat) -> str:
    if fmt.color_range in ("pc", "jpeg") or fmt.pix_fmt.startswith("yuvj"):
        return "pc"
    return "tv"
