"""Which streams of the source travel to the output, and how: copied, or re-encoded when
the output container cannot hold them (and then we say so)."""

from __future__ import annotations

from dataclasses import dataclass, field

CONTAINERS = {".mkv": "matroska", ".mka": "matroska", ".mp4": "mp4", ".m4v": "mp4", ".mov": "mov"}

_MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "mp2"}
_MOV_AUDIO = _MP4_AUDIO | {"pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_s32le", "pcm_f32le", "pcm_u8"}
_TEXT_SUBS = {"subrip", "ass", "ssa", "webvtt", "text", "mov_text"}


@dataclass
class StreamPlan:
    args: list[str] = field(default_factory=list)     # ffmpeg output arguments for non-video streams
    notes: list[str] = field(default_factory=list)    # what was not copied bit-exact, and why
    audio: int = 0
    subtitles: int = 0
    attachments: int = 0


def plan_streams(report: dict, container: str, input_index: int = 1) -> StreamPlan:
    """Map every audio/subtitle/attachment stream of ``report`` (ffmpeg input ``input_index``)."""
    plan = StreamPlan()
    for st in report["streams"]:
        kind, codec, idx = st["type"], st.get("codec"), st["index"]
        src = f"{input_index}:{idx}"
        if kind == "audio":
            out = plan.audio
            plan.args += ["-map", src]
            if container == "matroska" or (container == "mp4" and codec in _MP4_AUDIO) or (
                container == "mov" and codec in _MOV_AUDIO
            ):
                plan.args += [f"-c:a:{out}", "copy"]
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
            elif codec in _TEXT_SUBS:
                plan.args += ["-map", src, f"-c:s:{out}", "mov_text"]
                if codec != "mov_text":
                    plan.notes.append(f"subtitle stream {idx} ({codec}) converted to mov_text for {container.upper()}")
            else:
                plan.notes.append(f"subtitle stream {idx} ({codec}) left out: {container.upper()} cannot hold "
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
                plan.notes.append(f"attachment stream {idx} left out: only Matroska holds attachments")
    return plan


def _stream_tags(spec: str, st: dict) -> list[str]:
    args = []
    for key in ("language", "title"):
        if st.get(key):
            args += [f"-metadata:s:{spec}", f"{key}={st[key]}"]
    return args


# Global tags that describe the old file's encoding, not its content: not carried over.
_STALE_GLOBAL_TAGS = {"encoder", "major_brand", "minor_version", "compatible_brands", "duration", "timecode"}


def global_tag_args(report: dict) -> list[str]:
    args = []
    for key, value in (report.get("tags") or {}).items():
        if key.lower() not in _STALE_GLOBAL_TAGS:
            args += ["-metadata", f"{key}={value}"]
    return args
