"""restore verify / restore package through the command line: output and exit codes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from restore.cli import main
from restore.provenance.record import sidecar_paths
from tests.provenance.conftest import copy_with_sidecars


def test_verify_prints_a_summary_and_exits_0(signed, tmp_path):
    output = copy_with_sidecars(signed["master"], tmp_path)
    result = CliRunner().invoke(main, ["verify", str(output), "--trust-anchor", str(signed["ca"])])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("film.mkv: VALID")
    assert "superres (scale=2) — AI: sr-test" in result.output
    assert "trained on general, manifest sha256 c0c0c0c0c0c0c0c0… (CC-BY-4.0: 3, CC0-1.0: 12)" in result.output
    assert "integrity" in result.output and "energy" in result.output


def test_verify_json_and_exit_codes(signed, tmp_path):
    output = copy_with_sidecars(signed["access"], tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["verify", str(output), "--json", "--trust-anchor", str(signed["ca"])])
    data = json.loads(result.output)
    assert result.exit_code == 0 and data["status"] == "valid"
    assert data["summary"]["models"][0]["corpus_manifest_sha256"] == "c0" * 32

    provenance = sidecar_paths(output)["provenance"]
    provenance.write_text(provenance.read_text().replace('"cpu"', '"cuda"'))
    assert runner.invoke(main, ["verify", str(output), "--trust-anchor", str(signed["ca"])]).exit_code == 1
    assert runner.invoke(main, ["verify", str(tmp_path / "nothing.mkv")]).exit_code == 2


def test_package_command(signed, tmp_path):
    result = CliRunner().invoke(main, ["package", str(signed["master"]), "--access", str(signed["access"]),
                                       "-o", str(tmp_path / "bag")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bag" / "bagit.txt").is_file()
    again = CliRunner().invoke(main, ["package", str(signed["master"]), "--no-access", "-o", str(tmp_path / "bag")])
    assert again.exit_code == 2 and "not empty" in again.output


def test_verify_a_whole_package(signed, tmp_path):
    from restore.provenance import build_package
    from tests.provenance.conftest import flip_byte

    bag = build_package(signed["master"], signed["access"], tmp_path / "bag", check_policy=False)
    runner = CliRunner()
    args = ["verify", str(bag), "--no-decode", "--trust-anchor", str(signed["ca"])]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("bag/: BagIt valid")
    assert "film.mkv: VALID" in result.output and "film.mp4: VALID" in result.output
    flip_byte(bag / "data" / "master" / "film.mkv.framemd5", 40)     # a companion file, not a film
    result = runner.invoke(main, args + ["--json"])
    data = json.loads(result.output)
    assert result.exit_code == 1 and data["bag_valid"] is False
    master = next(f for f in data["files"] if f["file"].endswith("film.mkv"))
    assert {c["name"]: c["ok"] for c in master["checks"]}["framemd5 file"] is False
