"""One codec table (restore.media.codecs) read by every list of codecs, and the editors' formats it adds."""

from __future__ import annotations

import json
import subprocess
import typing

import pytest

from restore.media import codecs
from tests.conftest import ffmpeg, framemd5, run_cli


def test_every_list_of_codecs_is_the_table():
    """Adding a codec used to mean editing six lists, which had drifted (.mka, .m4v)."""
    import restore.batch.jobfile as jobfile
    from restore.cli.media import run
    from restore.pipeline.spec import OutputParams

    cli = next(p for p in run.params if p.name == "codec")
    assert tuple(cli.type.choices) == codecs.NAMES
    hint = typing.get_type_hints(OutputParams)["codec"]
    assert set(typing.get_args(typing.get_args(hint)[0])) == set(codecs.NAMES)
    assert set(jobfile.CODECS) == set(codecs.NAMES)
    assert jobfile.OUTPUT_SUFFIXES == set(codecs.EXTENSIONS)
    for spec in codecs.CODECS.values():
        assert spec.containers and all(c in codecs.CONTAINERS for c in spec.containers)
        assert spec.premis_event == ("normalization" if spec.role == codecs.MASTER else "migration")
    for box in codecs.CONTAINERS.values():
        assert box.name in codecs.CODECS[box.default_codec].containers


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("codecs")
    src = folder / "in.mkv"
    # within the SDI range (v210's encoder clips the reserved codes 0-3 and 1020-1023, as SDI does)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=0.24", "-f", "lavfi", "-i", "sine=d=0.24:sample_rate=48000",
           "-vf", "format=yuv422p,lutyuv=y='clip(val,16,235)':u='clip(val,16,240)':v='clip(val,16,240)'", "-c:v", "ffv1", "-pix_fmt", "yuv422p10le", "-c:a", "pcm_s24le", "-timecode", "10:00:00:00", str(src))
    return src


# image sequences (dpx, tiff, png, exr) have their own tests: tests/media/test_sequences.py
CASES = [(name, ext) for name, spec in codecs.CODECS.items() for box in spec.containers
         for ext in codecs.CONTAINERS[box].extensions[:1] if not codecs.CONTAINERS[box].sequence]
PROBE_NAME = {"h265": "hevc", "prores-hq": "prores", "prores-4444": "prores", "dnxhr-hqx": "dnxhd"}


@pytest.mark.parametrize("name,ext", CASES, ids=[f"{n}{e}" for n, e in CASES])
def test_each_codec_into_each_of_its_containers(source, tmp_path, name, ext):
    out = tmp_path / f"o{ext}"
    res = run_cli("run", str(source), "-o", str(out), "-p", "passthrough", "-q", "--codec", name)
    assert res.returncode == 0, res.stderr
    streams = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-select_streams", "v:0",
                                         "-of", "json", str(out)], capture_output=True, text=True).stdout)["streams"]
    assert streams[0]["codec_name"] == PROBE_NAME.get(name, name)
    record = json.loads(out.with_name(out.name + ".provenance.json").read_text())["record"]
    assert record["output"]["format"]["codec"] == name
    events = [e["eventType"] for e in record["events"]]
    assert codecs.codec(name).premis_event in events
    assert run_cli("verify", str(out), "--no-decode").returncode == 0


def test_editor_formats_and_10_bit_422_access_copy(source, tmp_path):
    expect = {"hq.mov": ("--codec", "prores-hq", "prores", "HQ", "yuv422p10le"),
              "4444.mov": ("--codec", "prores-4444", "prores", "4444", None),
              "dnx.mxf": ("--codec", "dnxhr-hqx", "dnxhd", "DNXHR HQX", "yuv422p10le"),
              "acc.mp4": ("--chroma", "4:2:2", "h264", "High 4:2:2", "yuv422p10le")}
    for name, (flag, value, codec, profile, pix) in expect.items():
        out = tmp_path / name
        extra = ["--bit-depth", "10"] if name == "acc.mp4" else []
        res = run_cli("run", str(source), "-o", str(out), "-p", "passthrough", "-q", "--no-sign", flag, value, *extra)
        assert res.returncode == 0, res.stderr
        v = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-select_streams", "v:0", "-of",
                                       "json", str(out)], capture_output=True, text=True).stdout)["streams"][0]
        assert (v["codec_name"], v["profile"]) == (codec, profile)
        if pix:
            assert v["pix_fmt"] == pix


def test_v210_from_10_bit_422_is_lossless(source, tmp_path):
    out = tmp_path / "o.mov"
    res = run_cli("run", str(source), "-o", str(out), "-p", "passthrough", "-q", "--no-sign", "--codec", "v210")
    assert res.returncode == 0, res.stderr
    assert framemd5(out, pix_fmt="yuv422p10le") == framemd5(source, pix_fmt="yuv422p10le")


def test_codec_in_a_container_that_cannot_hold_it(source, tmp_path):
    res = run_cli("run", str(source), "-o", str(tmp_path / "o.mxf"), "-p", "passthrough", "--codec", "prores-hq")
    assert res.returncode == 2 and "Apple ProRes 422 HQ goes into .mov, not .mxf" in res.stderr
    res = run_cli("run", str(source), "-o", str(tmp_path / "o.mka"), "-p", "passthrough")
    assert res.returncode == 2 and "unsupported output type '.mka'" in res.stderr
