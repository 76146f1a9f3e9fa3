"""Carry the provenance record inside a Matroska file: an attachment plus global tags.

A record that travels inside the file survives being separated from its sidecars.
The remux copies every stream as is; its packets are compared with the original's
before it replaces the output, so it can never change a decoded frame.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from restore.errors import OutputError
from restore.provenance import framemd5

ATTACHMENT_NAME = "restore-provenance.json"
ATTACHMENT_MIME = "application/json"


def _attachment_count(path: Path) -> int:
    proc = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "t", "-show_entries", "stream=index",
                           "-of", "csv=p=0", str(path)], capture_output=True, text=True)
    return len([line for line in proc.stdout.splitlines() if line.strip()])


def embed_record(output: Path, embedded: dict, tags: dict[str, str]) -> None:
    """Remux output with the record attached and tags set; replace it only if every
    video and audio packet is byte-identical (so every decoded frame is too)."""
    # A record from an earlier finalize is replaced, not kept beside the new one;
    # other attachments (fonts, …) keep their own tags, so ours is tagged by its index.
    previous = _attachment_index(output)
    drop = ["-map", f"-0:{previous}"] if previous is not None else []
    new_index = _attachment_count(output) - (1 if previous is not None else 0)
    before = framemd5.packet_lines(output)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.embed{output.suffix}")
    with tempfile.TemporaryDirectory() as folder:
        attachment = Path(folder) / ATTACHMENT_NAME
        attachment.write_text(json.dumps(embedded, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(output), "-map", "0", *drop, "-c", "copy",
               "-attach", str(attachment),
               f"-metadata:s:t:{new_index}", f"mimetype={ATTACHMENT_MIME}",
               f"-metadata:s:t:{new_index}", f"filename={ATTACHMENT_NAME}"]
        for key, value in tags.items():
            cmd += ["-metadata", f"{key}={value}"]
        cmd += ["-y", str(tmp)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
                raise OutputError(f"cannot embed the provenance record into {output.name}: {last}")
            if framemd5.packet_lines(tmp) != before:
                raise OutputError(f"embedding provenance would change {output.name}'s video or audio packets; "
                                  "left the output as it was")
            os.replace(tmp, output)
        finally:
            tmp.unlink(missing_ok=True)


def extract_record(path: Path) -> dict | None:
    """The record attached to a Matroska file, or None when it carries none."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / ATTACHMENT_NAME
        index = _attachment_index(path)
        if index is None:
            return None
        subprocess.run(["ffmpeg", "-nostdin", "-v", "quiet", f"-dump_attachment:{index}", str(target),
                        "-i", str(path), "-t", "0", "-f", "null", "-"], capture_output=True)
        if not target.is_file():
            return None
        try:
            return json.loads(target.read_text())
        except (ValueError, UnicodeDecodeError):
            return None


def _attachment_index(path: Path) -> int | None:
    proc = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=index,codec_type:stream_tags=filename",
                           "-of", "json", str(path)], capture_output=True, text=True)
    try:
        streams = json.loads(proc.stdout or "{}").get("streams") or []
    except ValueError:
        return None
    for stream in streams:
        if stream.get("codec_type") == "attachment" and (stream.get("tags") or {}).get("filename") == ATTACHMENT_NAME:
            return stream["index"]
    return None


def global_tags(path: Path) -> dict[str, str]:
    proc = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", str(path)],
                          capture_output=True, text=True)
    try:
        return (json.loads(proc.stdout or "{}").get("format") or {}).get("tags") or {}
    except ValueError:
        return {}
