"""Image sequences in and out: DPX (10-bit linear and log), 16-bit TIFF, PNG, EXR; gaps and duplicates; the
output folder renamed into place with its provenance; round trips through FFV1 bit-exact (framemd5)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from restore.media import sequence as seqmod
from tests.conftest import ffmpeg, framemd5, run_cli

# every frame differs, every channel differs
PATTERN_VF = "geq=r='X*900+N*3000':g='Y*1200+N*700':b='60000-X*800'"


def make_sequence(folder: Path, name: str, *, pix_fmt: str, frames: int = 5, start: int = 100,
                  size: str = "64x48") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ffmpeg("-f", "lavfi", "-i", f"color=s={size}:r=24", "-frames:v", str(frames), "-vf",
           f"format=rgb48le,{PATTERN_VF}", "-pix_fmt", pix_fmt, "-start_number", str(start), str(folder / name))
    return folder / name


def seq_md5(pattern: Path, start: int, pix_fmt: str | None = None) -> list[str]:
    """framemd5 of a sequence's decoded frames (``pix_fmt``: repacked first, e.g. planar FFV1 RGB vs rgb48)."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-start_number", str(start), "-i", str(pattern),
                          *(["-pix_fmt", pix_fmt] if pix_fmt else []), "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [ln.split(",")[-1].strip() for ln in out.splitlines() if ln and not ln.startswith("#")]


def one_line_error(res, fragment: str) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2 and len(lines) == 1 and fragment in lines[0], res.stderr
    return lines[0]


def set_transfer(folder: Path, code: int) -> None:
    for path in folder.glob("*.dpx"):
        seqmod.set_dpx_transfer(path, code, code)


@pytest.mark.parametrize("transfer", [2, 1], ids=["linear", "log-printing-density"])
def test_dpx_to_ffv1_to_dpx_is_bit_exact_and_keeps_the_transfer(tmp_path, transfer):
    scans = tmp_path / "scans"
    pattern = make_sequence(scans, "reel1_%06d.dpx", pix_fmt="gbrp10le")
    set_transfer(scans, transfer)
    master = tmp_path / "reel1.mkv"
    res = run_cli("run", str(pattern), "--rate", "24", "-o", str(master), "-p", "passthrough", "-q", "--no-sign")
    assert res.returncode == 0, res.stderr
    source = seq_md5(pattern, 100)
    assert framemd5(master) == source and len(source) == 5
    stream = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(master)],
                                       capture_output=True, text=True).stdout)["streams"][0]
    assert stream["pix_fmt"] == "gbrp10le" and stream["r_frame_rate"] == "24/1"
    name = seqmod.DPX_CODES[transfer]
    assert stream["tags"]["DPX_TRANSFER"] == f"{name} ({transfer})"
    # printing density has no ffmpeg tag: "unknown", not a guess from the frame size
    assert stream.get("color_transfer", "unknown") == ("linear" if transfer == 2 else "unknown")
    doc = json.loads(master.with_name("reel1.mkv.provenance.json").read_text())
    seq = doc["record"]["source"]["probe"]["sequence"]
    assert (seq["first_frame"], seq["last_frame"], seq["frames"], seq["dpx_transfer"]["code"]) == (100, 104, 5, transfer)
    manifest = master.with_name("reel1.mkv.source.sha256").read_text()
    assert doc["record"]["source"]["sha256"] == hashlib.sha256(manifest.encode()).hexdigest()
    assert manifest.splitlines()[0].endswith("  reel1_000100.dpx")

    back = tmp_path / "back" / "f_%06d.dpx"
    res = run_cli("run", str(master), "-o", str(back), "-p", "passthrough", "-q")
    assert res.returncode == 0, res.stderr
    assert seq_md5(back, 0) == source
    for path in sorted(back.parent.glob("f_*.dpx")):
        assert seqmod.read_header(path, "dpx").transfer == transfer
    assert (back.parent / "f.sha256").is_file() and (back.parent / "f.provenance.json").is_file()
    doc = json.loads((back.parent / "f.provenance.json").read_text())
    assert doc["sealed"]["output"]["frames"] == 5 and doc["sealed"]["c2pa"] is None
    listed = (back.parent / "f.sha256").read_text().splitlines()
    assert [ln.split("  ")[1] for ln in listed] == [f"f_{k:06d}.dpx" for k in range(5)]
    for line in listed:
        digest, file = line.split("  ")
        assert hashlib.sha256((back.parent / file).read_bytes()).hexdigest() == digest


def test_tiff16_to_ffv1_to_tiff16_is_bit_exact_and_to_prores_4444_within_stated_psnr(tmp_path):
    pattern = make_sequence(tmp_path / "t", "s_%04d.tif", pix_fmt="rgb48le", start=1)
    master = tmp_path / "t.mkv"
    assert run_cli("run", str(tmp_path / "t"), "--rate", "25", "-o", str(master), "-p", "passthrough", "-q",
                   "--no-sign").returncode == 0
    source = seq_md5(pattern, 1)
    # the master holds the same samples as planes (gbrp16le): compared as the TIFF's rgb48le
    assert framemd5(master, pix_fmt="rgb48le") == source
    back = tmp_path / "back" / "s_%04d.tif"
    res = run_cli("run", str(master), "-o", str(back), "-p", "passthrough", "-q", "--no-sign")
    assert res.returncode == 0, res.stderr
    assert seq_md5(back, 0) == source
    assert subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=pix_fmt", "-of", "csv=p=0",
                           str(back.parent / "s_0000.tif")], capture_output=True, text=True).stdout.strip() == "rgb48le"
    # ProRes 4444 is not lossless: 10-bit 4:4:4 Y'CbCr; measured 65.4 dB on the 16-bit scale here
    prores = tmp_path / "p.mov"
    assert run_cli("run", str(pattern), "--rate", "25", "-o", str(prores), "--codec", "prores-4444", "-p",
                   "passthrough", "-q", "--no-sign").returncode == 0
    assert psnr(pattern, prores, start=1) >= 55.0


def psnr(pattern: Path, other: Path, start: int = 0) -> float:
    out = subprocess.run(["ffmpeg", "-nostdin", "-start_number", str(start), "-i", str(pattern), "-i", str(other),
                          "-lavfi", "[0:v]format=rgb48le[a];[1:v]format=rgb48le[b];[a][b]psnr", "-f", "null", "-"],
                         capture_output=True, text=True).stderr
    return float(re.search(r"average:([\d.]+|inf)", out)[1])


def test_png16_and_exr(tmp_path):
    pattern = make_sequence(tmp_path / "p", "p_%03d.png", pix_fmt="rgb48be", start=7, frames=3)
    master = tmp_path / "p.mkv"
    assert run_cli("run", str(pattern), "--rate", "25", "-o", str(master), "-p", "passthrough", "-q",
                   "--no-sign").returncode == 0
    assert framemd5(master, pix_fmt="rgb48le") == seq_md5(pattern, 7, "rgb48le")
    exr = tmp_path / "e" / "e_%04d.exr"
    res = run_cli("run", str(master), "-o", str(exr), "-p", "passthrough", "-q", "--no-sign")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in exr.parent.glob("*.exr")) == ["e_0000.exr", "e_0001.exr", "e_0002.exr"]
    back = tmp_path / "e.mkv"
    res = run_cli("run", str(exr.parent), "--rate", "25", "-o", str(back), "-p", "passthrough", "--no-sign")
    assert res.returncode == 0, res.stderr
    assert "OpenEXR frames are read as 16-bit integers" in res.stdout
    assert psnr(pattern, back, start=7) >= 60.0       # float, not bit-exact: measured 70 dB


def test_missing_frame_is_an_error_unless_filled_and_duplicates_always(tmp_path):
    scans = tmp_path / "scans"
    pattern = make_sequence(scans, "r_%04d.dpx", pix_fmt="gbrp10le", frames=6, start=10)
    (scans / "r_0012.dpx").unlink()
    (scans / "r_0013.dpx").unlink()
    out = tmp_path / "o.mkv"
    line = one_line_error(run_cli("run", str(pattern), "--rate", "24", "-o", str(out), "-p", "passthrough"),
                          "no file for frame number(s) 12-13")
    assert "--fill-gaps" in line and not out.exists()
    res = run_cli("run", str(pattern), "--rate", "24", "-o", str(out), "-p", "passthrough", "-q", "--no-sign",
                  "--fill-gaps")
    assert res.returncode == 0, res.stderr
    assert "filled frames 12-13" in res.stderr and "copies of frame 11" in res.stderr
    md5 = framemd5(out)
    assert len(md5) == 6 and md5[2] == md5[3] == md5[1]
    record = json.loads(out.with_name("o.mkv.provenance.json").read_text())["record"]
    assert [f["frame"] for f in record["filled_frames"]] == [12, 13]
    assert all(f["copy_of"] == 11 for f in record["filled_frames"])

    (scans / "r_00014.dpx").write_bytes((scans / "r_0014.dpx").read_bytes())
    for extra in ([], ["--fill-gaps"]):
        line = one_line_error(run_cli("run", str(pattern), "--rate", "24", "-o", str(tmp_path / "d.mkv"),
                                      "-p", "passthrough", *extra), "given by more than one file")
        assert "frame 14: r_00014.dpx, r_0014.dpx" in line


def test_sequence_input_errors_are_one_line(tmp_path):
    scans = tmp_path / "scans"
    pattern = make_sequence(scans, "a_%04d.dpx", pix_fmt="gbrp10le", frames=2)
    out = str(tmp_path / "o.mkv")
    one_line_error(run_cli("run", str(pattern), "-o", out, "-p", "passthrough"), "give it with --rate")
    one_line_error(run_cli("run", str(pattern), "--rate", "fast", "-o", out, "-p", "passthrough"), "--rate must be")
    make_sequence(scans, "b_%04d.dpx", pix_fmt="gbrp10le", frames=2)
    one_line_error(run_cli("run", str(scans), "--rate", "24", "-o", out, "-p", "passthrough"),
                   "holds 2 image sequences")
    ffmpeg("-f", "lavfi", "-i", "color=s=32x32", "-frames:v", "1", "-pix_fmt", "gbrp10le", str(scans / "a_0102.dpx"))
    one_line_error(run_cli("run", str(pattern), "--rate", "24", "-o", out, "-p", "passthrough"),
                   "a sequence must hold one size and depth")
    one_line_error(run_cli("run", str(tmp_path / "none_%04d.dpx"), "--rate", "24", "-o", out, "-p", "passthrough"),
                   "no file matches")
    assert not Path(out).exists()
    assert seqmod.parse_rate("23.976") == seqmod.parse_rate("24000/1001")


def test_output_sequence_folder_appears_whole_and_is_never_mixed(tmp_path):
    clip = tmp_path / "in.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=0.2", "-f", "lavfi", "-i", "sine=d=0.2",
           "-c:v", "ffv1", "-c:a", "pcm_s16le", str(clip))
    out = tmp_path / "frames" / "f_%05d.png"
    res = run_cli("run", str(clip), "-o", str(out), "-p", "passthrough", "--no-sign")
    assert res.returncode == 0, res.stderr
    assert "sound stream 1 (pcm_s16le) left out: an image sequence holds pictures only" in res.stderr
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == ["f.framemd5", "f.premis.xml", "f.provenance.json", "f.sha256", "f.source.framemd5"] + \
        [f"f_{k:05d}.png" for k in range(5)]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []       # no staging, no lock left
    # not empty: refused, untouched; --overwrite replaces an earlier sequence of its own
    one_line_error(run_cli("run", str(clip), "-o", str(out), "-p", "passthrough"), "is not empty")
    res = run_cli("run", str(clip), "-o", str(out), "-p", "passthrough", "-q", "--no-sign", "--overwrite")
    assert res.returncode == 0, res.stderr
    (tmp_path / "frames" / "notes.txt").write_text("mine")
    one_line_error(run_cli("run", str(clip), "-o", str(out), "-p", "passthrough", "--overwrite"),
                   "holds files that are not this sequence")
    assert (tmp_path / "frames" / "notes.txt").read_text() == "mine"


def test_interrupted_sequence_leaves_nothing_under_the_final_name(tmp_path):
    import os
    import signal
    import sys
    import time

    from tests.conftest import REPO

    clip = tmp_path / "long.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=640x480:r=25:d=20", "-c:v", "ffv1", str(clip))
    out = tmp_path / "frames" / "g_%05d.dpx"
    proc = subprocess.Popen([sys.executable, "-m", "restore.cli", "run", str(clip), "-o", str(out), "-p",
                             "passthrough", "-q", "--no-sign"], cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not any(len(list(p.glob("g_*.dpx"))) > 3 for p in tmp_path.glob(".frames.partial-*")):
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read()
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    assert not (tmp_path / "frames").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
