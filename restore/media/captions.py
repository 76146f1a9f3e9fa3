"""Closed captions carried in the picture's side data (ATSC A/53: CEA-608 inside H.264/H.265 SEI or MPEG-2 user
data): found, and extracted beside the output.

A restored picture is decoded to frames and encoded anew, and the A/53 side data does not cross that path
(frames travel between processes as raw samples; libx264's ``-a53cc`` only passes on side data attached to the
frames ffmpeg itself decoded, and ffmpeg 5.1 has no filter or bitstream filter that puts a caption stream back
into a picture). So the captions are written beside the output, from the source, by ffmpeg's lavfi ``movie``
source, which splits them out as an EIA-608 stream (``[out0+subcc]``):

* ``OUT.captions.scc``: Scenarist SCC, the 608 byte pairs with their timecodes (what caption and broadcast
  tools re-insert);
* ``OUT.captions.srt``: the decoded text, for reading and search.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

A53_CODECS = {"h264", "hevc", "mpeg2video", "mpeg1video"}


def has_a53_captions(path: Path, stream_index: int, frames: int = 30) -> bool:
    """Whether the first ``frames`` decoded pictures of a stream carry A/53 caption side data (ffprobe's own
    ``closed_captions`` flag is set only when its probing happened to decode a frame, which it does not for
    H.264 in MP4 or Matroska)."""
    res = subprocess.run(["ffprobe", "-v", "error", "-select_streams", str(stream_index), "-read_intervals",
                          f"%+#{frames}", "-show_entries", "frame=side_data_list:side_data=side_data_type", "-of",
                          "csv=p=0", str(path)], capture_output=True, text=True)
    return "A53" in res.stdout


def extract(source: Path, scc: Path, srt: Path, window: tuple[float, float] | None = None) -> dict[str, Any]:
    """Write the source's captions to ``scc`` and ``srt`` (``window``: (start, duration) seconds of a trim).
    Returns what the record keeps: the files, how many captions the SRT holds."""
    with tempfile.TemporaryDirectory(prefix="restore-cc-") as tmp:
        # the movie source parses its file name as filter-graph text: a link with a plain name avoids quoting
        link = Path(tmp) / ("source" + (source.suffix if source.suffix.isascii() and source.suffix.replace(".", "").isalnum() else ""))
        os.symlink(source.resolve(), link)
        cut = ["-ss", f"{window[0]:.6f}", "-t", f"{window[1]:.6f}"] if window else []
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", f"movie={link.name}[out0+subcc]",
               "-map", "0:1", *cut, "-c:s", "copy", "-f", "scc", str(scc),
               "-map", "0:1", *cut, "-c:s", "srt", "-f", "srt", str(srt)]
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp)
    if res.returncode != 0:
        for path in (scc, srt):
            path.unlink(missing_ok=True)
        last = (res.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"cannot extract the closed captions: {last}")
    cues = srt.read_text(encoding="utf-8", errors="replace").count("-->") if srt.exists() else 0
    return {"cues": cues}
