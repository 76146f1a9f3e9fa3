"""Closed captions in the picture's side data (A/53 CEA-608 in H.264 SEI): found by probe, never dropped
silently, extracted beside the output as SCC (the 608 codes) and SRT (text).

ffmpeg 5.1 cannot make such a clip from an SCC file (no encoder or bitstream filter inserts A/53 from a caption
stream; libx264 ``-a53cc`` only passes on side data of frames decoded from a file that already has it), so the
fixture writes the SEI itself: CEA-608 pop-on caption "HELLO" (RCL, ENM, PAC, text, EOC, later EDM) in an
ITU-T T.35 / GA94 user-data SEI before each picture of a libx264 stream.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ffmpeg, probe_json, run_cli


def _parity(byte: int) -> int:
    byte &= 0x7F
    return byte | (0x80 if bin(byte).count("1") % 2 == 0 else 0)


def _sei(pair: tuple[int, int]) -> bytes:
    payload = b"\xb5\x00\x31GA94\x03" + bytes([0xC1, 0xFF, 0xFC, *pair, 0xFF])   # one field-1 pair per picture
    rbsp = bytes([4, len(payload)]) + payload + b"\x80"
    out, zeros = bytearray(), 0
    for x in rbsp:                        # emulation prevention
        if zeros >= 2 and x <= 3:
            out.append(3)
            zeros = 0
        out.append(x)
        zeros = zeros + 1 if x == 0 else 0
    return b"\x00\x00\x00\x01\x06" + bytes(out)


def caption_pairs(text: str, frames: int) -> list[tuple[int, int]]:
    def pair(a, b):
        return _parity(a), _parity(b)
    codes = [pair(0x14, 0x20)] * 2 + [pair(0x14, 0x2E)] * 2 + [pair(0x14, 0x70)] * 2   # RCL, ENM, PAC row 15
    padded = text + ("\0" if len(text) % 2 else "")
    codes += [pair(ord(padded[i]), ord(padded[i + 1])) for i in range(0, len(padded), 2)]
    codes += [pair(0x14, 0x2F)] * 2                                                     # EOC: show it
    codes += [(0x80, 0x80)] * (frames - len(codes))
    codes[frames - 4] = codes[frames - 3] = pair(0x14, 0x2C)                            # EDM: clear it
    return codes


def make_captioned(path, tmp, text="HELLO", seconds=2):
    raw = tmp / "raw.h264"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=64x48:r=25:d={seconds}", "-f", "lavfi", "-i", f"sine=d={seconds}",
           "-map", "0:v", "-c:v", "libx264", "-bf", "0", "-x264-params", "aud=1", "-pix_fmt", "yuv420p", "-f", "h264",
           str(raw))
    data = raw.read_bytes()
    units = [u for u in re.split(b"(?=\x00\x00\x00\x01\x09)", data) if u]        # access units (AUD first)
    pairs = caption_pairs(text, len(units))
    out = bytearray()
    for unit, pair in zip(units, pairs):
        m = re.search(b"\x00\x00\x01[\x01\x05\x21\x25\x41\x45\x61\x65]", unit)    # first slice: SEI goes before it
        k = m.start() - (1 if m.start() and unit[m.start() - 1] == 0 else 0)
        out += unit[:k] + _sei(pair) + unit[k:]
    cc = tmp / "cc.h264"
    cc.write_bytes(bytes(out))
    ffmpeg("-r", "25", "-i", str(cc), "-f", "lavfi", "-i", f"sine=d={seconds}", "-map", "0:v", "-map", "1:a",
           "-c:v", "copy", "-c:a", "aac", "-shortest", str(path))
    return path


@pytest.fixture(scope="module")
def captioned(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cc")
    return make_captioned(tmp / "captioned.mp4", tmp)


def test_probe_finds_captions_ffprobe_misses(captioned):
    video = next(s for s in probe_json(captioned)["streams"] if s["type"] == "video")
    assert video["closed_captions"] is True


@pytest.mark.parametrize("target", ["o.mkv", "o.mp4", "seq/f_%04d.png"])
def test_captions_are_extracted_beside_the_output_and_said(captioned, tmp_path, target):
    out = tmp_path / target
    res = run_cli("run", str(captioned), "-o", str(out), "-p", "passthrough", "--no-sign")
    assert res.returncode == 0, res.stderr
    if "%" in target:
        scc, srt, record_file = (tmp_path / "seq" / "f.captions.scc", tmp_path / "seq" / "f.captions.srt",
                                 tmp_path / "seq" / "f.provenance.json")
    else:
        scc, srt = out.with_name(out.name + ".captions.scc"), out.with_name(out.name + ".captions.srt")
        record_file = out.with_name(out.name + ".provenance.json")
    assert f"extracted beside it to {scc.name}" in res.stderr and "1 caption(s) as text" in res.stderr
    text = srt.read_text()
    assert "HELLO" in text and "00:00:00,360 -->" in text
    codes = scc.read_text()
    assert codes.startswith("Scenarist_SCC V1.0") and "9420" in codes and "942f" in codes
    record = json.loads(record_file.read_text())["record"]
    assert record["captions"] == {"source_stream": 0, "carried_in_picture": False, "scc": scc.name,
                                  "srt": srt.name, "srt_cues": 1, "trimmed": False}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
