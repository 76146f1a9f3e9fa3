"""Tiny clips (lavfi), a hand-built runner record, and an isolated config folder for signing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from restore.provenance.record import sidecar_paths

# A card as restore/models/cards.py writes it for weights we trained.
CARD = {"format": "restore-model-card/1", "name": "sr-test", "origin": "trained",
        "arch": {"type": "SRVGGNetCompact", "num_feat": 16}, "scale": 2, "parameters": 12345,
        "corpora": [{"name": "general", "manifest_sha256": "c0" * 32,
                     "licence_counts": {"CC0-1.0": 12, "CC-BY-4.0": 3}}]}
CORPUS_SHA256 = "c0" * 32
WEIGHTS_SHA256 = "ab" * 32
CARD_SHA256 = "cd" * 32
# What restore/media/encode.py writes for a master (FFV1 v3, intra-only, slice CRCs).
FFV1_MASTER = ["-c:v", "ffv1", "-level", "3", "-g", "1", "-slicecrc", "1", "-slices", "4",
               "-coder", "1", "-context", "1", "-c:a", "flac"]


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def runner_record() -> dict:
    """A record as the runner builds it: one filter stage and one AI stage with its model card."""
    return {
        "restore_version": "0.1.0",
        "pipeline": {"name": "test", "path": "pipelines/test.yaml",
                     "yaml": "stages:\n  - denoise: {strength: 0.3}\n  - superres: {model: sr-test}\n"},
        "stages": [
            {"stage": "denoise", "params": {"strength": 0.3}, "models": []},
            {"stage": "superres", "params": {"scale": 2},
             "models": [{"name": "sr-test", "sha256": WEIGHTS_SHA256, "card_sha256": CARD_SHA256, "card": CARD}]},
        ],
        "device": "cpu",
        "started": "2026-11-24T01:00:00+00:00",
        "finished": "2026-11-24T01:00:04+00:00",
        "frames": {"in": 6, "out": 6},
        "source_probe": {"format": "matroska", "video": {"codec": "ffv1", "width": 64, "height": 48}},
        "energy": {"kwh": 1.2e-6, "gco2e": 6.0e-5, "method": "estimated: 15 W per busy core"},
        "metrics": {"psnr_db": 38.2},
        "output_format": {"codec": "ffv1", "pix_fmt": "yuv420p"},
    }


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch) -> Path:
    """Every test gets its own config folder and no signing settings from the environment."""
    folder = tmp_path / "config"
    monkeypatch.setenv("RESTORE_CONFIG_DIR", str(folder))
    for name in ("RESTORE_SIGN_CERT", "RESTORE_SIGN_KEY", "RESTORE_SIGN_CALLBACK", "RESTORE_SIGN_ALG",
                 "RESTORE_SIGN_TSA_URL", "RESTORE_TRUST_ANCHORS"):
        monkeypatch.delenv(name, raising=False)
    return folder


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    """A source (FFV1 + FLAC), a 'restored' master (mirrored, FFV1) and an H.264/AAC access copy."""
    folder = tmp_path_factory.mktemp("clips")
    source, master, access = folder / "source.mkv", folder / "film.mkv", folder / "film.mp4"
    # noise makes every frame differ: a damaged FFV1 slice is concealed from the previous frame
    lavfi = ["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:d=0.24,noise=alls=40:allf=t",
             "-f", "lavfi", "-i", "sine=f=440:d=0.24:sample_rate=48000", "-shortest"]
    ffmpeg(*lavfi, "-c:v", "ffv1", "-c:a", "flac", str(source))
    ffmpeg("-i", str(source), "-vf", "hflip", *FFV1_MASTER, str(master))
    ffmpeg("-i", str(source), "-vf", "hflip", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(access))
    return {"source": source, "master": master, "access": access}


def fresh_copy(clip: Path, folder: Path) -> Path:
    """A copy of a clip in its own folder, so each test finalizes (and tampers with) its own file."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / clip.name
    shutil.copy2(clip, target)
    return target


def copy_with_sidecars(output: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in [output, *sidecar_paths(output).values()]:
        if path is not None and path.exists():
            shutil.copy2(path, folder / path.name)
    return folder / output.name


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def video_packet_offset(path: Path) -> int:
    """A byte offset in the middle of the second video packet: picture data, not container."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pos,size",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    packet = json.loads(out)["packets"][1]
    return int(packet["pos"]) + int(packet["size"]) // 2


@pytest.fixture(scope="session")
def signed(clips, tmp_path_factory) -> dict:
    """The master and access copy finalized once, signed by a local CA in their own config folder."""
    from restore.provenance import finalize_output

    folder = tmp_path_factory.mktemp("signed")
    config = folder / "config"
    patch = pytest.MonkeyPatch()
    patch.setenv("RESTORE_CONFIG_DIR", str(config))
    for name in ("RESTORE_SIGN_CERT", "RESTORE_SIGN_KEY", "RESTORE_SIGN_CALLBACK", "RESTORE_TRUST_ANCHORS"):
        patch.delenv(name, raising=False)
    try:
        master, access = fresh_copy(clips["master"], folder), fresh_copy(clips["access"], folder)
        before = (folder / "before.framemd5")
        from restore.provenance.framemd5 import write_framemd5

        write_framemd5(master, before)
        results = {"master": finalize_output(master, clips["source"], runner_record()),
                   "access": finalize_output(access, clips["source"], runner_record())}
    finally:
        patch.undo()
    return {"master": master, "access": access, "results": results, "ca": config / "identity" / "ca.pem",
            "master_framemd5_before": before}
