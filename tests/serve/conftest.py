"""Fixtures for the workbench tests: a tiny RGB clip and a cheap pipeline that keeps the source's geometry."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import decode_rgb as decode_frames, ffmpeg

# a light denoise: cheap, output geometry = source geometry, so "the source's pixels" is exact
DENOISE_YAML = """\
name: test-denoise
description: Light hqdn3d denoise for the workbench tests (keeps the source's geometry).
stages:
  - stage: denoise
    method: hqdn3d
    strength: 1.0
"""
W, H, FRAMES = 160, 120, 12


def make_rgb_clip(path: Path, frames: int = FRAMES) -> Path:
    """160×120 RGB (gbrp FFV1) test pattern: an RGB source makes the FFV1 round trip exact."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25", "-frames:v", str(frames),
           "-c:v", "ffv1", "-pix_fmt", "gbrp", str(path))
    return path


def decode_rgb(path: Path, width: int = W, height: int = H) -> np.ndarray:
    return decode_frames(path, width, height)


def write_mask(folder: Path, box: tuple[int, int, int, int], width: int = W, height: int = H) -> tuple[str, str]:
    """A mask PNG named by its sha256 under folder/masks; returns (relative path, sha256)."""
    import cv2

    x, y, w, h = box
    mask = np.zeros((height, width), np.uint8)
    mask[y:y + h, x:x + w] = 255
    data = cv2.imencode(".png", mask)[1].tobytes()
    digest = hashlib.sha256(data).hexdigest()
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    (folder / "masks" / f"{digest}.png").write_bytes(data)
    return f"masks/{digest}.png", digest


def write_corrections(folder: Path, items: list[dict]) -> Path:
    doc = {"format": "restore-corrections", "version": 1, "job": "test", "revision": 1, "corrections": items,
           "history": []}
    path = folder / "corrections.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def rgb_clip(tmp_path) -> Path:
    return make_rgb_clip(tmp_path / "clip.mkv")


@pytest.fixture
def denoise_pipeline(tmp_path) -> Path:
    path = tmp_path / "test-denoise.yaml"
    path.write_text(DENOISE_YAML)
    return path


# --- a live workbench ------------------------------------------------------------------------
class LiveServer:
    """The workbench served by uvicorn in a thread of the test process (workers are real subprocesses)."""

    def __init__(self, settings):
        import socket
        import threading

        import uvicorn

        from restore.serve.app import create_app

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.settings = settings
        self.app = create_app(settings)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        import time

        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the workbench did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def request(self, path: str, *, data: bytes | None = None, headers: dict | None = None, method: str | None = None):
        """(status, headers, body) of one request, without raising on 4xx."""
        import urllib.error
        import urllib.request

        req = urllib.request.Request(self.url + path, data=data, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()


@pytest.fixture
def workbench_root(tmp_path) -> Path:
    """A root folder with one tiny film, and a folder with the test's preset."""
    root = tmp_path / "archive"
    (root / "films").mkdir(parents=True)
    make_rgb_clip(root / "films" / "clip.mkv")
    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "test-denoise.yaml").write_text(DENOISE_YAML)
    return root


def settings_for(root: Path, **changes):
    from restore.serve.app import Settings

    base = dict(root=root, workspace=root / "restore-workbench", presets=(root.parent / "presets",),
                segment_frames=4)
    base.update(changes)
    return Settings(**base)
