"""What a file holds, as archivists need to know it: ``restore probe``.

Rates are exact rationals ("30000/1001"), the frame count is the container's or,
when it stores none (Matroska), counted by decoding; colour, field order,
timecode and per-stream language/title are reported as ffprobe sees them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import ffmpeg  # ffmpeg-python (no types): runs ffprobe, raises ffmpeg.Error

from restore.errors import InputError
from restore.frame import VideoFormat
from restore.media import pixfmt
from restore.media.tools import require_ffmpeg

# Pixel formats swscale turns into RGB faithfully. Palette, Bayer, 1-bit and XYZ
# formats would need their own handling and do not occur in archival transfers.
_UNSUPPORTED_PIX = re.compile(r"^(pal8|bayer_|monow|monob|xyz12|vaapi|cuda|qsv|videotoolbox|d3d11|dxva2|vdpau|drm_prime|opencl|vulkan)")


_A53_CODECS = {"h264", "hevc", "mpeg2video", "mpeg1video"}    # codecs that carry A/53 captions in side data


def _rational(text: str | None) -> Fraction | None:
    if not text or text in ("0/0", "N/A"):
        return None
    try:
        value = Fraction(text.replace(":", "/"))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _rat_str(value: Fraction | None) -> str | None:
    if value is None:
        return None
    return f"{value.numerator}/{value.denominator}"


def _tags(entry: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): v for k, v in (entry.get("tags") or {}).items()}


def _run_probe(path: Path, **extra: Any) -> dict[str, Any]:
    require_ffmpeg()
    try:
        report: dict[str, Any] = ffmpeg.probe(str(path), **extra)
        return report
    except ffmpeg.Error as exc:
        lines = [ln for ln in (exc.stderr or b"").decode("utf-8", "replace").splitlines() if ln.strip()]
        reason = lines[-1].split(": ", 1)[-1] if lines else "ffprobe failed"
        raise InputError(f"cannot read {path}: not a media file ffprobe understands ({reason})") from None


def count_frames(path: Path, stream_index: int) -> int | None:
    """Count the frames of one video stream by decoding it (containers that store no count)."""
    res = subprocess.run(
        ["ffprobe", "-v", "error", "-threads", "0", "-count_frames", "-select_streams", str(stream_index),
         "-show_entries", "stream=nb_read_frames", "-of", "json", str(path)],
        capture_output=True, text=True,
    )
    if res.returncode != 0:
        return None
    streams = json.loads(res.stdout or "{}").get("streams") or []
    try:
        return int(streams[0]["nb_read_frames"])
    except (IndexError, KeyError, ValueError):
        return None


def check_readable_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"input not found: {path}")
    if path.is_dir():
        raise InputError(f"input is a folder, not a media file: {path}")
    if not os.access(path, os.R_OK):
        raise InputError(f"input is not readable (permissions): {path}")
    if path.stat().st_size == 0:
        raise InputError(f"input is empty (0 bytes): {path}")


def probe(path: str | os.PathLike[str], count: bool = True) -> dict[str, Any]:
    """The ``restore probe`` report: container, duration and every stream's facts."""
    path = Path(path)
    check_readable_file(path)
    raw = _run_probe(path)
    fmt = raw.get("format", {})
    ftags = _tags(fmt)
    report = {
        "file": str(path),
        "size": int(fmt.get("size", path.stat().st_size)),
        "container": fmt.get("format_name"),
        "container_long": fmt.get("format_long_name"),
        "duration": float(fmt["duration"]) if fmt.get("duration") not in (None, "N/A") else None,
        "start_time": float(fmt["start_time"]) if fmt.get("start_time") not in (None, "N/A") else 0.0,
        "bit_rate": int(fmt["bit_rate"]) if str(fmt.get("bit_rate", "")).isdigit() else None,
        "timecode": ftags.get("timecode"),
        "tags": ftags,
        "streams": [],
    }
    for st in raw.get("streams", []):
        tags = _tags(st)
        kind = st.get("codec_type")
        entry = {
            "index": st.get("index"),
            "type": kind,
            "codec": st.get("codec_name"),
            "codec_long": st.get("codec_long_name"),
            "language": tags.get("language"),
            "title": tags.get("title"),
            "disposition": {k: v for k, v in (st.get("disposition") or {}).items() if v},
            "start_time": float(st["start_time"]) if st.get("start_time") not in (None, "N/A") else None,
        }
        if kind == "video":
            w, h = st.get("width"), st.get("height")
            sar = _rational(st.get("sample_aspect_ratio")) or Fraction(1)
            entry.update({
                "pix_fmt": st.get("pix_fmt"),
                "bit_depth": _video_depth(st),
                "width": w,
                "height": h,
                "sar": _rat_str(sar),
                "dar": _rat_str(Fraction(w, h) * sar) if w and h else None,
                "r_frame_rate": st.get("r_frame_rate"),
                "avg_frame_rate": st.get("avg_frame_rate"),
                "time_base": st.get("time_base"),
                "field_order": st.get("field_order", "unknown"),
                "color_primaries": st.get("color_primaries"),
                "color_transfer": st.get("color_transfer"),
                "color_space": st.get("color_space"),
                "color_range": st.get("color_range"),
                "timecode": tags.get("timecode") or report["timecode"],
                "duration": _stream_duration(st, tags),
                "attached_pic": bool((st.get("disposition") or {}).get("attached_pic")),
                "rotation": _rotation(st, tags),
                # CEA-608/708 captions carried in the picture's side data (A53), not as a stream of their own
                "closed_captions": bool(st.get("closed_captions")),
            })
            if not entry["closed_captions"] and entry["codec"] in _A53_CODECS and not entry["attached_pic"]:
                from restore.media.captions import has_a53_captions

                entry["closed_captions"] = has_a53_captions(path, st["index"])
            # a master made from a DPX sequence keeps the DPX header's codes as tags (restore.media.sequence)
            for key in ("dpx_transfer", "dpx_colorimetric"):
                m = re.search(r"\((\d+)\)\s*$", tags.get(key) or "")
                if m:
                    entry[key] = int(m[1])
            frames = st.get("nb_frames")
            if frames not in (None, "N/A", "0") and not entry["attached_pic"]:
                entry["frame_count"], entry["frame_count_method"] = int(frames), "container"
            elif count and not entry["attached_pic"]:
                entry["frame_count"], entry["frame_count_method"] = count_frames(path, st["index"]), "decoded"
            else:
                entry["frame_count"], entry["frame_count_method"] = None, None
        elif kind == "audio":
            entry.update({
                "sample_rate": int(st["sample_rate"]) if st.get("sample_rate") else None,
                "channels": st.get("channels"),
                "channel_layout": st.get("channel_layout"),
                "sample_fmt": st.get("sample_fmt"),
                "bit_depth": int(st["bits_per_raw_sample"]) if str(st.get("bits_per_raw_sample", "")).isdigit()
                else (int(st["bits_per_sample"]) if st.get("bits_per_sample") else None),
                "duration": _stream_duration(st, tags),
            })
        elif kind == "attachment":
            # Matroska will not write an attachment without them, and they are lost with -map_metadata -1
            entry.update({"filename": tags.get("filename"), "mimetype": tags.get("mimetype")})
        elif kind == "data" and tags.get("timecode"):
            entry["timecode"] = tags["timecode"]
            report["timecode"] = report["timecode"] or tags["timecode"]
        report["streams"].append(entry)
    return report


def _rotation(st: dict[str, Any], tags: dict[str, Any]) -> int | None:
    """Display rotation in degrees (counter-clockwise, as ffprobe reports it), None when there is none."""
    for side in st.get("side_data_list") or []:
        if "rotation" in side:
            try:
                value = int(round(float(side["rotation"])))
            except (TypeError, ValueError):
                continue
            return value or None
    try:
        return int(tags["rotate"]) or None
    except (KeyError, ValueError):
        return None


def _video_depth(st: dict[str, Any]) -> int | None:
    try:
        return pixfmt.pixel_depth(st.get("pix_fmt") or "")
    except KeyError:
        raw = str(st.get("bits_per_raw_sample", ""))
        return int(raw) if raw.isdigit() else None


def _stream_duration(st: dict[str, Any], tags: dict[str, Any]) -> float | None:
    if st.get("duration") not in (None, "N/A"):
        return float(st["duration"])
    text = tags.get("duration")  # Matroska keeps per-stream duration as a tag "HH:MM:SS.nnnnnnnnn"
    if text:
        m = re.match(r"(\d+):(\d+):([\d.]+)", text)
        if m:
            return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    return None


def main_video_stream(report: dict[str, Any]) -> dict[str, Any]:
    videos = [s for s in report["streams"] if s["type"] == "video" and not s.get("attached_pic")]
    if not videos:
        kinds = sorted({s["type"] for s in report["streams"]}) or ["nothing"]
        raise InputError(f"no video stream in {report['file']} (it holds {', '.join(kinds)})")
    video: dict[str, Any] = videos[0]
    return video


def video_format(report: dict[str, Any]) -> VideoFormat:
    """The VideoFormat of the main video stream, refusing what we cannot process faithfully."""
    v = main_video_stream(report)
    pix = v.get("pix_fmt") or ""
    if not pix or _UNSUPPORTED_PIX.match(pix):
        raise InputError(f"unsupported pixel format '{pix or 'unknown'}' in {report['file']}")
    if not v.get("width") or not v.get("height"):
        raise InputError(f"video stream has no frame size in {report['file']}")
    fps = _rational(v.get("r_frame_rate")) or _rational(v.get("avg_frame_rate"))
    if fps is None:
        raise InputError(f"video stream has no frame rate in {report['file']}")
    field = v.get("field_order") or "unknown"
    return VideoFormat(
        width=int(v["width"]), height=int(v["height"]), fps=fps,
        sar=_rational(v.get("sar")) or Fraction(1), pix_fmt=pix, bit_depth=int(v.get("bit_depth") or 8),
        field_order=field, color_primaries=_known(v.get("color_primaries")),
        color_trc=_known(v.get("color_transfer")), colorspace=_known(v.get("color_space")),
        color_range=_known(v.get("color_range")),
    )


def _known(value: str | None) -> str | None:
    return None if value in (None, "unknown", "unspecified", "reserved") else value
