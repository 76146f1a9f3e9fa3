"""The provenance software block names VapourSynth, its release and plugins, when it touched pixels."""

from __future__ import annotations

import json

import pytest

from restore.provenance import vapoursynth
from restore.provenance.record import software_versions
from restore.stages._vapoursynth import vapoursynth_available
from restore.stages.deinterlace import Deinterlace
from restore.stages.denoise import Denoise
from restore.stages.dust import Dust
from restore.stages.scratches import Scratches
from tests.conftest import run_cli

needs_vs = pytest.mark.skipif(not vapoursynth_available(),
                              reason="no VapourSynth environment (.venv-vs or RESTORE_VS_PYTHON; make install makes it)")


def test_every_vapoursynth_method_is_in_the_table():
    for stage in (Deinterlace, Denoise, Dust, Scratches):
        for method in stage.VS_METHODS:
            assert (stage.name, method) in vapoursynth.USES, (stage.name, method)


def test_ffmpeg_methods_add_no_vapoursynth_block():
    stages = [{"stage": "deinterlace", "method_used": "bwdif"}, {"stage": "denoise", "method_used": "hqdn3d"}]
    assert vapoursynth.vapoursynth_stages(stages) == []
    software = software_versions(stages)
    assert "vapoursynth" not in software and "facexlib" not in software


def test_unreadable_environment_is_recorded_not_fatal(tmp_path):
    entry = vapoursynth.software_entry([{"stage": "denoise", "method_used": "mdegrain"}],
                                       python=str(tmp_path / "missing-python"))
    assert entry["stages"] == [{"stage": "denoise", "method": "mdegrain", "plugins": ["std", "resize", "mv"]}]
    assert "error" in entry


@needs_vs
def test_block_names_release_plugins_and_packages():
    entry = vapoursynth.software_entry([{"stage": "denoise", "method_used": "mdegrain"},
                                        {"stage": "scratches", "method_used": "descratch"}])
    assert entry["core"].startswith("R") and entry["python"].startswith("3.")
    assert set(entry["plugins"]) == {"std", "resize", "mv", "descratch"}
    assert entry["plugins"]["mv"]["version"] and entry["plugins"]["mv"]["id"]
    assert "VapourSynth" in entry["packages"] and "vapoursynth-mvtools" in entry["packages"]


@needs_vs
def test_qtgmc_records_every_installed_plugin():
    entry = vapoursynth.software_entry([{"stage": "deinterlace", "method_used": "qtgmc"}])
    assert {"mv", "znedi3", "std"} <= set(entry["plugins"]) and "vsjetpack" in entry["packages"]


@needs_vs
@pytest.mark.slow
def test_run_through_vapoursynth_records_it(tmp_path, clips):
    pipeline = tmp_path / "mdegrain.yaml"
    pipeline.write_text("name: mdegrain\ndescription: t\nstages:\n  - stage: denoise\n    method: mdegrain\n")
    out = tmp_path / "out.mkv"
    run_cli("run", str(clips["source"]), "-o", str(out), "-p", str(pipeline), "--frames", "3", "--no-sign", "-q",
            check=True)
    record = json.loads(out.with_name(out.name + ".provenance.json").read_text())["record"]
    block = record["software"]["vapoursynth"]
    assert block["stages"] == [{"stage": "denoise", "method": "mdegrain", "plugins": ["std", "resize", "mv"]}]
    assert block["plugins"]["mv"]["version"]
    restore_agent = next(a for a in record["agents"] if a.get("name") == "restore" or "restore" in json.dumps(a))
    assert "VapourSynth R" in json.dumps(restore_agent)
