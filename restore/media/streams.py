"""Which streams of the source travel to the output, and how: copied, or re-encoded when
the output container cannot hold them (and then we say so), or left out (and then we warn).

Every stream of the source is accounted for: the main video is restored; sound, subtitles,
attachments and cover art are carried; the timecode track becomes the output's timecode;
anything else (a second video angle, a data track) is named in a warning.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any


_MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "mp2"}
_MOV_AUDIO = _MP4_AUDIO | {"pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_s32le", "pcm_f32le", "pcm_u8"}
_MXF_AUDIO = {"pcm_s16le", "pcm_s24le"}
_TEXT_SUBS = {"subrip", "ass", "ssa", "webvtt", "text", "mov_text"}


@dataclass
class StreamPlan:
    args: list[str] = field(default_factory=list)     # ffmpeg output arguments for non-video streams
    notes: list[str] = field(default_factory=list)    # what was not copied bit-exact, and why
    warnings: list[str] = field(default_factory=list)  # what was left out, and why
    # cover art Matroska can only hold as an attachment: (source stream index, file name, mimetype)
    attach: list[tuple[int, str, str]] = field(default_factory=list)
    audio: int = 0
    subtitles: int = 0
    attachments: int = 0


_COVER_TYPES = {"mjpeg": ("jpg", "image/jpeg"), "png": ("png", "image/png"), "bmp": ("bmp", "image/bmp"),
                "gif": ("gif", "image/gif"), "webp": ("webp", "image/webp")}


def plan_streams(report: dict[str, Any], container: str, input_index: int = 1,
                 main_video: int | None = None) -> StreamPlan:
    """Map every stream of ``report`` (ffmpeg input ``input_index``) but the main video ``main_video``."""
    plan = StreamPlan()
    covers = 0
    for st in report["streams"]:
        kind, codec, idx = st["type"], st.get("codec"), st["index"]
        src = f"{input_index}:{idx}"
        if container == "image2" and not (kind == "video" and idx == main_video):
            if kind == "data" and st.get("timecode"):
                continue          # named with the timecode
            if kind == "attachment":
                name = st.get("filename") or "unnamed"
                plan.warnings.append(f"attachment stream {idx} ({name}) left out: an image sequence holds pictures "
                                     f"only; keep it with: ffmpeg -dump_attachment:{idx} {name} -i SOURCE")
                continue
            what = {"audio": "sound", "subtitle": "subtitle"}.get(kind, kind or "unknown")
            plan.warnings.append(f"{what} stream {idx} ({codec or 'unknown'}) left out: an image sequence holds "
                                 f"pictures only; keep it with: ffmpeg -i SOURCE -map 0:{idx} -c copy STREAM.mka")
            continue
        if kind == "video" and idx == main_video:
            if st.get("closed_captions"):
                # decoding to frames and encoding anew drops the A53 side data they travel in: say so, and how
                # to keep them (ffmpeg's lavfi movie source splits them out as a subtitle stream)
                plan.warnings.append(
                    f"closed captions (CEA-608/708 in video stream {idx}'s side data) are not carried into the "
                    "restored picture; extract them with: ffmpeg -f lavfi -i \"movie=SOURCE[out0+subcc]\" "
                    "-map 0:s -c:s srt CAPTIONS.srt")
            continue
        if kind == "video" and st.get("attached_pic"):
            kept = _cover_art(plan, st, container, src, covers)
            covers += kept
            continue
        if kind == "video":
            plan.warnings.append(f"video stream {idx} ({codec} {st.get('width')}x{st.get('height')}) left out: "
                                 "restore writes the main picture only; extract it with "
                                 f"ffmpeg -i SOURCE -map 0:{idx} -c copy")
            continue
        if kind == "data":
            if st.get("timecode"):
                continue          # carried as the output's timecode
            plan.warnings.append(f"data stream {idx} ({codec or 'unknown'}) left out: restore does not carry "
                                 "data tracks")
            continue
        if kind not in ("audio", "subtitle", "attachment"):
            plan.warnings.append(f"stream {idx} ({kind or 'unknown type'}, {codec or 'unknown codec'}) left out: "
                                 "restore cannot carry it")
            continue
        if kind == "audio":
            out = plan.audio
            plan.args += ["-map", src]
            if container == "matroska" or (container == "mp4" and codec in _MP4_AUDIO) or (
                container == "mov" and codec in _MOV_AUDIO
            ) or (container == "mxf" and codec in _MXF_AUDIO and st.get("sample_rate") == 48000):
                plan.args += [f"-c:a:{out}", "copy"]
            elif container == "mxf":
                # MXF (SMPTE 377/382) carries 48 kHz PCM: anything else is converted, losslessly where it can be
                plan.args += [f"-c:a:{out}", "pcm_s24le", f"-ar:a:{out}", "48000"]
                plan.notes.append(f"audio stream {idx} ({codec}, {st.get('sample_rate')} Hz) converted to 24-bit "
                                  "48 kHz PCM: MXF holds nothing else; the Matroska master keeps it bit-exact")
            else:
                channels = int(st.get("channels") or 2)
                rate = 160 * max(1, channels)  # 320 kb/s for stereo: transparent for an access copy
                plan.args += [f"-c:a:{out}", "aac", f"-b:a:{out}", f"{rate}k"]
                plan.notes.append(
                    f"audio stream {idx} ({codec}) re-encoded to AAC {rate} kb/s: {container.upper()} cannot hold "
                    f"{codec}; the Matroska master keeps it bit-exact"
                )
            plan.args += _stream_tags(f"a:{out}", st)
            plan.audio += 1
        elif kind == "subtitle":
            out = plan.subtitles
            if container == "matroska":
                plan.args += ["-map", src, f"-c:s:{out}", "copy"]
            elif container == "mxf":
                plan.warnings.append(f"subtitle stream {idx} ({codec}) left out: MXF holds no subtitles; use a "
                                     ".mkv output to keep it")
                continue
            elif codec in _TEXT_SUBS:
                plan.args += ["-map", src, f"-c:s:{out}", "mov_text"]
                if codec != "mov_text":
                    plan.notes.append(f"subtitle stream {idx} ({codec}) converted to mov_text for {container.upper()}")
            else:
                plan.warnings.append(f"subtitle stream {idx} ({codec}) left out: {container.upper()} cannot hold "
                                     "bitmap subtitles; use a .mkv output to keep it")
                continue
            plan.args += _stream_tags(f"s:{out}", st)
            plan.subtitles += 1
        elif kind == "attachment":
            if container == "matroska":
                plan.args += ["-map", src, f"-c:t:{plan.attachments}", "copy"]
                for key in ("filename", "mimetype"):
                    if st.get(key):
                        plan.args += [f"-metadata:s:t:{plan.attachments}", f"{key}={st[key]}"]
                plan.attachments += 1
            else:
                name = st.get("filename") or "unnamed"
                plan.warnings.append(f"attachment stream {idx} ({name}) left out: only Matroska holds "
                                     "attachments; use a .mkv output to keep it")
    return plan


def _cover_art(plan: StreamPlan, st: dict[str, Any], container: str, src: str, covers: int) -> int:
    """Cover art (an attached picture): MP4 holds it as such, Matroska as an image attachment."""
    idx, codec = st["index"], st.get("codec")
    if container == "mp4":
        # after the main picture (v:0) come the covers: v:1, v:2 …
        plan.args += ["-map", src, f"-c:v:{covers + 1}", "copy", f"-disposition:v:{covers + 1}", "attached_pic"]
        return 1
    if container == "matroska" and codec in _COVER_TYPES:
        ext, mime = _COVER_TYPES[codec]
        plan.attach.append((idx, f"cover-{idx}.{ext}", mime))
        return 1
    plan.warnings.append(f"cover art (stream {idx}, {codec}) left out: {container.upper()} cannot hold it "
                         "here; use .mkv or .mp4 to keep it")
    return 0


def _stream_tags(spec: str, st: dict[str, Any]) -> list[str]:
    args = []
    for key in ("language", "title"):
        if st.get(key):
            args += [f"-metadata:s:{spec}", f"{key}={st[key]}"]
    return args


# Global tags that describe the old file's encoding, not its content: not carried over.
_STALE_GLOBAL_TAGS = {"encoder", "major_brand", "minor_version", "compatible_brands", "duration", "timecode"}


def global_tag_args(report: dict[str, Any]) -> list[str]:
    args = []
    for key, value in (report.get("tags") or {}).items():
        if key.lower() not in _STALE_GLOBAL_TAGS:
            args += ["-metadata", f"{key}={value}"]
    return args


_TIMECODE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


def check_timecode(timecode: str, fps: Fraction) -> str | None:
    """None when ``timecode`` is a SMPTE timecode ffmpeg can carry at ``fps``; else why not, in words.

    ffmpeg drops a timecode it cannot parse without a word (``99:99:99:99``, ``garbage``), so a source's
    timecode is checked here and a bad one is named in a warning instead of vanishing."""
    m = _TIMECODE.match(str(timecode).strip())
    if m is None:
        return "not HH:MM:SS:FF"
    hours, minutes, seconds, frames = int(m[1]), int(m[2]), int(m[3]), int(m[5])
    if hours > 23 or minutes > 59 or seconds > 59:
        return "hours, minutes or seconds out of range"
    if frames >= math.ceil(fps):
        return f"frame {frames} does not exist at {float(fps):g} fps"
    return None
