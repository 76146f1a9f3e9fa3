"""``--keep-frames DIR``: the classic "split into frames" workflow, one lossless image per frame.

8-bit output → PNG; deeper → 16-bit TIFF. ``manifest.tsv`` lists every file with its
frame index, source frame, presentation time and sha256, so a frame folder can be
checked and put back in order without guessing from file names.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from restore.errors import OutputError
from restore.frame import Frame


class FrameLog:
    """``OUTPUT.frames.jsonl``: one line per output frame with what the stages noted about it
    (time spent, faces found and their identity scores). The review report reads it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.partial")
        self._fh = open(self._tmp, "w", encoding="utf-8")

    def write(self, frame: Frame) -> None:
        pts = f"{frame.pts.numerator}/{frame.pts.denominator}"
        self._fh.write(json.dumps({"index": frame.index, "source_index": frame.source_index, "pts": pts,
                                   "notes": frame.notes}, default=_jsonable, separators=(",", ":")) + "\n")

    def commit(self) -> Path:
        self._fh.close()
        os.replace(self._tmp, self.path)
        return self.path

    def close(self) -> tuple[Path, Path]:
        """Finish writing but leave the log under its temporary name: (temporary, final), for the run to
        publish together with its output."""
        self._fh.close()
        return self._tmp, self.path

    def discard(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "FrameLog":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """An exception inside the ``with`` block discards the log (also one ``close`` left to publish)."""
        if exc is not None:
            self.discard()


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


class FrameDumper:
    def __init__(self, folder: Path, bit_depth: int = 8):
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create frames folder {folder}: {exc.strerror}") from None
        if any(self.folder.iterdir()):
            raise OutputError(f"frames folder is not empty: {folder}")
        self.deep = bit_depth > 8
        self._manifest_tmp = self.folder / ".manifest.tsv.partial"
        self._manifest = open(self._manifest_tmp, "w", encoding="utf-8")
        self._manifest.write("index\tsource_index\tpts\tfile\tsha256\n")
        self.count = 0

    def write(self, frame: Frame) -> None:
        rgb = frame.rgb
        if self.deep:
            data = np.clip(rgb * 65535.0 + 0.5, 0, 65535).astype(np.uint16)
            name = f"frame_{frame.index:07d}.tiff"
        else:
            data = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
            name = f"frame_{frame.index:07d}.png"
        ok, encoded = cv2.imencode(os.path.splitext(name)[1], cv2.cvtColor(data, cv2.COLOR_RGB2BGR))
        if not ok:
            raise OutputError(f"cannot encode frame {frame.index} as {name}")
        blob = encoded.tobytes()
        tmp = self.folder / f".{name}.partial"
        tmp.write_bytes(blob)
        os.replace(tmp, self.folder / name)
        pts = f"{frame.pts.numerator}/{frame.pts.denominator}"
        self._manifest.write(f"{frame.index}\t{frame.source_index}\t{pts}\t{name}\t{hashlib.sha256(blob).hexdigest()}\n")
        self.count += 1

    def close(self) -> None:
        if not self._manifest.closed:
            self._manifest.close()
            os.replace(self._manifest_tmp, self.folder / "manifest.tsv")
