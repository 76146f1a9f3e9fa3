"""Tiny before/after clips made with ffmpeg and numpy, and one shared report built from them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ffmpeg

# The invented object: a white block with a black core drawn into AFTER on frames 5–7 only.
INVENTED_FRAMES = (5, 6, 7)
INVENTED_BOX_AFTER = (300, 140, 70, 60)   # x, y, w, h in AFTER pixels (AFTER is BEFORE × 2)


def make_pair(folder: Path, frames: int = 12) -> tuple[Path, Path]:
    """BEFORE: 256×192 grainy test pattern; AFTER: lanczos ×2 with an invented block on INVENTED_FRAMES."""
    before, after = folder / "before.mkv", folder / "after.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=256x192:rate=25,noise=alls=10:allf=t", "-frames:v", str(frames),
           "-c:v", "ffv1", str(before))
    x, y, w, h = INVENTED_BOX_AFTER
    first, last = INVENTED_FRAMES[0], INVENTED_FRAMES[-1]
    ffmpeg("-i", str(before), "-vf",
           f"scale=512:384:flags=lanczos,drawbox=x={x}:y={y}:w={w}:h={h}:color=white:t=fill:"
           f"enable='between(n,{first},{last})',drawbox=x={x + 15}:y={y + 12}:w={w - 30}:h={h - 24}:color=black:"
           f"t=fill:enable='between(n,{first},{last})'", "-c:v", "ffv1", str(after))
    return before, after


def write_sidecar(after: Path, frames: int, faces_by_frame: dict[int, list[dict]] | None = None,
                  ratio: int = 1) -> Path:
    """A run's per-frame log as restore run writes it (index, source_index, pts, notes)."""
    path = after.with_name(after.name + ".frames.jsonl")
    with open(path, "w", encoding="utf-8") as fh:
        for k in range(frames):
            notes = {"stage_seconds": {"denoise": 0.01 + 0.001 * k, "superres": 0.2}}
            if faces_by_frame and k in faces_by_frame:
                notes["faces"] = faces_by_frame[k]
            fh.write(json.dumps({"index": k, "source_index": k // ratio, "pts": f"{k}/{25 * ratio}",
                                 "notes": notes}) + "\n")
    return path


def sidecar_faces(frames: int) -> dict[int, list[dict]]:
    """Two tracks: track 0 keeps its identity, track 1 drops below the threshold from frame 6."""
    faces = {}
    for k in range(frames):
        faces[k] = [{"track": 0, "box": [20, 20, 60, 70], "score": 0.9, "identity": 0.8, "restored": True},
                    {"track": 1, "box": [200, 120, 50, 60], "score": 0.8,
                     "identity": 0.7 if k < 6 else 0.2, "restored": True}]
    return faces


def write_provenance(after: Path) -> Path:
    """A sealed record as restore.provenance writes it beside an output (only the fields the report shows)."""
    path = after.with_name(after.name + ".provenance.json")
    record = {"restore_version": "0.1.0", "device": "cpu", "pipeline": {"name": "test"},
              "stages": [{"stage": "superres", "params": {"scale": 2}}],
              "models": [{"name": "sr-x2", "sha256": "ab" * 32, "architecture": "SRVGGNetCompact",
                          "corpora": [{"name": "general", "manifest_sha256": "cd" * 32, "licences": {"CC0": 3}}]}],
              "energy": {"kwh": 0.0012, "gco2e": 0.06, "method": "estimate"},
              "started": "2026-01-01T10:00:00+00:00", "finished": "2026-01-01T10:02:30+00:00"}
    path.write_text(json.dumps({"record": record, "record_sha256": "00" * 32}), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def built_report(tmp_path_factory):
    """One report over the invented-block pair with a sidecar (faces, stage timings) and PNG pairs."""
    from restore.review.report import ReviewOptions, build_report

    folder = tmp_path_factory.mktemp("review")
    before, after = make_pair(folder)
    write_sidecar(after, 12, sidecar_faces(12))
    write_provenance(after)
    index = build_report(before, after, folder / "report",
                         options=ReviewOptions(every=4, niqe_every=4, frames=(2, 6, 99)))
    return index


def decoded(path: Path) -> list[np.ndarray]:
    from restore.media import read_frames

    return [f.image for f in read_frames(path)]
