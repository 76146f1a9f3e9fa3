"""restore verify catches each kind of tampering: flipped video bytes, an edited record, a swapped sidecar."""

from __future__ import annotations

import json

import pytest

from restore.provenance import finalize_output
from restore.provenance.record import record_digest, sidecar_paths
from restore.provenance.verify import verify_output
from tests.provenance.conftest import copy_with_sidecars, flip_byte, fresh_copy, runner_record, video_packet_offset


def _failed(report) -> set[str]:
    return {c.name for c in report.checks if c.ok is False}


@pytest.mark.parametrize("which", ["master", "access"])   # MKV with sidecar, MP4 with embedded manifest
def test_flipped_byte_in_video_data(signed, tmp_path, which):
    output = copy_with_sidecars(signed[which], tmp_path)
    assert verify_output(output, [signed["ca"]]).exit_code == 0
    flip_byte(output, video_packet_offset(output))
    report = verify_output(output, [signed["ca"]])
    assert report.exit_code == 1
    assert {"c2pa signature and hash binding", "file sha256", "decoded frames"} <= _failed(report)


def test_edited_record_is_detected_even_with_a_recomputed_digest(signed, tmp_path):
    output = copy_with_sidecars(signed["master"], tmp_path)
    path = sidecar_paths(output)["provenance"]
    document = json.loads(path.read_text())
    document["record"]["models"][0]["corpus_manifest_sha256"] = "ee" * 32   # claim another corpus
    path.write_text(json.dumps(document))
    report = verify_output(output, [signed["ca"]])
    assert report.exit_code == 1 and "provenance record" in _failed(report)

    document["record_sha256"] = record_digest(document["record"])           # a careful forger
    path.write_text(json.dumps(document))
    report = verify_output(output, [signed["ca"]])
    assert report.exit_code == 1
    assert _failed(report) >= {"record bound to signature", "embedded record"}
    assert "provenance record" not in _failed(report)


def test_replaced_sidecar_is_detected(signed, clips, tmp_path):
    output = copy_with_sidecars(signed["master"], tmp_path / "a")
    # A genuine manifest, by the same trusted signer, for a different file.
    other = fresh_copy(clips["source"], tmp_path / "b")
    other = other.rename(other.with_name("film.mkv"))
    finalize_output(other, clips["master"], runner_record())
    sidecar_paths(output)["c2pa"].write_bytes(sidecar_paths(other)["c2pa"].read_bytes())
    report = verify_output(output, [signed["ca"]])
    assert report.exit_code == 1
    assert {"c2pa signature and hash binding", "c2pa sidecar sha256", "record bound to signature"} <= _failed(report)


def test_signer_outside_the_trusted_anchors_is_invalid(signed, tmp_path):
    # The autouse config folder is empty: the signer's local CA is not trusted here.
    output = copy_with_sidecars(signed["access"], tmp_path)
    report = verify_output(output)
    assert report.exit_code == 1
    assert _failed(report) == {"c2pa trust chain"}


def test_missing_sidecar_or_file_is_exit_2(signed, tmp_path):
    output = copy_with_sidecars(signed["master"], tmp_path)
    sidecar_paths(output)["c2pa"].unlink()
    report = verify_output(output, [signed["ca"]])
    assert report.exit_code == 2 and not _failed(report)
    assert verify_output(tmp_path / "absent.mkv").exit_code == 2


def test_remux_after_signing_is_detected(signed, tmp_path):
    """A remux keeps every frame but drops the embedded manifest: the record still catches it."""
    from tests.provenance.conftest import ffmpeg

    output = copy_with_sidecars(signed["access"], tmp_path)
    remuxed = tmp_path / "remuxed.mp4"
    ffmpeg("-i", str(output), "-map", "0", "-c", "copy", str(remuxed))
    remuxed.replace(output)
    report = verify_output(output, [signed["ca"]])
    assert report.exit_code == 1
    checks = {c.name: c.ok for c in report.checks}
    assert checks["c2pa manifest"] is None and checks["file sha256"] is False
    assert checks["decoded frames"] is True                 # the pictures themselves are unchanged


def test_premis_file_from_another_output_is_detected(signed, clips, tmp_path):
    """D11: verify used to ignore the PREMIS file; one taken from another output of the same source gave VALID."""
    output = copy_with_sidecars(signed["master"], tmp_path / "a")
    other = fresh_copy(clips["source"], tmp_path / "b")
    other = other.rename(other.with_name(output.name))
    finalize_output(other, clips["master"], runner_record())
    sidecar_paths(output)["premis"].write_bytes(sidecar_paths(other)["premis"].read_bytes())
    report = verify_output(output, [signed["ca"]], decode=False)
    assert report.exit_code == 1 and "premis file" in _failed(report)


def test_premis_file_edited_is_detected_even_without_a_sealed_digest(signed, tmp_path):
    """An older record has no sealed PREMIS digest: the objects' sha256s are still checked."""
    output = copy_with_sidecars(signed["master"], tmp_path)
    paths = sidecar_paths(output)
    document = json.loads(paths["provenance"].read_text())
    document["sealed"].pop("premis", None)
    paths["provenance"].write_text(json.dumps(document))
    premis = paths["premis"].read_text()
    sealed_sha = document["sealed"]["output"]["sha256"]
    paths["premis"].write_text(premis.replace(sealed_sha, "0" * 64))
    report = verify_output(output, [signed["ca"]], decode=False)
    assert report.exit_code == 1 and "premis file" in _failed(report)
    checks = {c.name: c.ok for c in verify_output(copy_with_sidecars(signed["master"], tmp_path / "ok"),
                                                  [signed["ca"]], decode=False).checks}
    assert checks["premis file"] is True
