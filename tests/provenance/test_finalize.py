"""finalize_output: the record, PREMIS, frame checksums, Matroska embedding and C2PA signing."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from restore.provenance import framemd5, matroska
from restore.provenance.c2pa_sign import PROVENANCE_ASSERTION, TRAINED_ALGORITHMIC_MEDIA, read_manifest
from restore.provenance.record import record_digest, sha256_file
from restore.provenance.verify import verify_output
from tests.provenance.conftest import CARD_SHA256, CORPUS_SHA256, WEIGHTS_SHA256


def _document(result) -> dict:
    return json.loads(result["provenance"].read_text())


def test_mkv_gets_sidecar_manifest_and_verifies(signed):
    result = signed["results"]["master"]
    assert result["signed"] and result["c2pa"] == signed["master"].with_suffix(".c2pa")
    assert result["c2pa"].stat().st_size > 1000
    report = verify_output(signed["master"], [signed["ca"]])
    assert report.status == "valid", [c.as_dict() for c in report.checks]
    assert {c.name for c in report.checks if c.ok} >= {
        "c2pa signature and hash binding", "c2pa trust chain", "record bound to signature",
        "file sha256", "decoded frames", "embedded record"}


def test_mp4_manifest_is_embedded_and_describes_the_run(signed):
    result = signed["results"]["access"]
    assert result["signed"] and result["c2pa"] is None
    read = read_manifest(signed["access"], None, [signed["ca"].read_bytes()])
    assert read["state"] == "Trusted" and read["failures"] == []
    manifest = read["manifest"]
    assert [i["relationship"] for i in manifest["ingredients"]] == ["parentOf"]
    assertions = {a["label"]: a["data"] for a in manifest["assertions"]}
    actions = assertions["c2pa.actions.v2"]["actions"]
    assert [a["action"] for a in actions] == ["c2pa.opened", "c2pa.filtered", "c2pa.edited", "c2pa.transcoded"]
    edited = actions[2]
    assert edited["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert edited["parameters"]["models"][0]["sha256"] == WEIGHTS_SHA256
    assert edited["parameters"]["models"][0]["corpus_manifest_sha256"] == [CORPUS_SHA256]
    assert set(assertions["c2pa.training-mining"]["entries"]) >= {"c2pa.ai_training", "c2pa.data_mining"}
    document = _document(result)
    assert assertions[PROVENANCE_ASSERTION]["record_sha256"] == document["record_sha256"]
    assert verify_output(signed["access"], [signed["ca"]]).status == "valid"


def test_record_names_models_corpus_and_hashes(signed, clips):
    document = _document(signed["results"]["master"])
    record = document["record"]
    assert record_digest(record) == document["record_sha256"]
    model = record["models"][0]
    assert model["sha256"] == WEIGHTS_SHA256 and model["card_sha256"] == CARD_SHA256
    assert model["corpora"] == [{"name": "general", "manifest_sha256": CORPUS_SHA256,
                                 "licences": {"CC0-1.0": 12, "CC-BY-4.0": 3}}]
    assert model["architecture"] == "SRVGGNetCompact" and model["origin"] == "trained"
    assert record["source"]["sha256"] == sha256_file(clips["source"])
    assert document["sealed"]["output"]["sha256"] == sha256_file(signed["master"])
    assert record["pipeline"]["yaml"].startswith("stages:")
    assert record["software"]["ffmpeg"] and record["software"]["torch"]
    assert record["energy"]["kwh"] == 1.2e-6 and record["metrics"]["psnr_db"] == 38.2
    # video and audio are both checksummed: 6 frames at 25 fps, and audio packets on stream 1
    streams = record["output"]["framemd5"]["frames_per_stream"]
    assert streams["0"] == 6 and streams["1"] >= 1


def test_embedding_keeps_every_decoded_frame(signed, tmp_path):
    before = signed["master_framemd5_before"].read_text()
    framemd5.write_framemd5(signed["master"], tmp_path / "after.framemd5")   # the final, remuxed file
    assert framemd5.first_difference(before, (tmp_path / "after.framemd5").read_text()) is None
    assert framemd5.frame_lines(before)
    embedded = matroska.extract_record(signed["master"])
    assert embedded["record_sha256"] == _document(signed["results"]["master"])["record_sha256"]
    tags = {k.upper(): v for k, v in matroska.global_tags(signed["master"]).items()}
    assert tags["RESTORE_PROVENANCE_SHA256"] == embedded["record_sha256"]


def test_premis_events_in_json_and_xml(signed):
    result = signed["results"]["master"]
    document = _document(result)
    types = [e["eventType"] for e in document["record"]["events"] + document["sealed"]["events"]]
    assert types.count("modification") == 2            # one per stage
    assert {"normalization", "message digest calculation", "digital signature generation"} <= set(types)
    ns = {"premis": "http://www.loc.gov/premis/v3"}
    root = ET.parse(result["premis"]).getroot()
    assert root.tag == "{http://www.loc.gov/premis/v3}premis" and root.get("version") == "3.0"
    xml_types = [e.text for e in root.findall("premis:event/premis:eventType", ns)]
    assert xml_types == types
    digests = {o.findtext("premis:objectIdentifier/premis:objectIdentifierValue", namespaces=ns):
               o.findtext("premis:objectCharacteristics/premis:fixity/premis:messageDigest", namespaces=ns)
               for o in root.findall("premis:object", ns)}
    assert digests[signed["master"].name] == document["sealed"]["output"]["sha256"]
    agents = [a.findtext("premis:agentName", namespaces=ns) for a in root.findall("premis:agent", ns)]
    assert "sr-test" in agents


def test_access_copy_is_a_migration(signed):
    events = _document(signed["results"]["access"])["record"]["events"]
    assert "migration" in [e["eventType"] for e in events]
    assert "normalization" not in [e["eventType"] for e in events]


def test_unsigned_output_has_record_but_no_manifest(clips, tmp_path, config_dir):
    from restore.provenance import finalize_output

    output = tmp_path / clips["access"].name
    output.write_bytes(clips["access"].read_bytes())
    result = finalize_output(output, clips["source"], {"stages": []}, sign=False)
    assert result == {**result, "signed": False, "c2pa": None}
    assert not (config_dir / "identity").exists()      # no key made when nothing is signed
    report = verify_output(output)
    assert report.status == "missing" and report.exit_code == 2
    assert [c.name for c in report.checks if c.ok is None] == ["c2pa manifest"]


def test_record_without_its_json_sidecar_is_read_from_the_mkv(signed, tmp_path):
    from restore.provenance.record import sidecar_paths
    from tests.provenance.conftest import copy_with_sidecars

    output = copy_with_sidecars(signed["master"], tmp_path)
    sidecar_paths(output)["provenance"].unlink()
    report = verify_output(output, [signed["ca"]], decode=False)
    assert report.exit_code == 0
    assert report.record["models"][0]["sha256"] == WEIGHTS_SHA256
    assert {c.name: c.ok for c in report.checks}["record bound to signature"] is True


def test_runner_values_that_json_cannot_hold(clips, tmp_path):
    from fractions import Fraction

    import numpy as np

    from restore.provenance import finalize_output

    output = tmp_path / clips["access"].name
    output.write_bytes(clips["access"].read_bytes())
    record = {"stages": [{"stage": "superres", "params": {"fps": Fraction(30000, 1001), "gain": np.float32(0.5)},
                          "models": []}],
              "metrics": {"psnr_db": float("inf")}, "started": "not a date"}
    result = finalize_output(output, clips["source"], record)
    stored = json.loads(result["provenance"].read_text())["record"]
    assert stored["stages"][0]["params"] == {"fps": "30000/1001", "gain": 0.5}
    assert stored["metrics"]["psnr_db"] == "inf"
    assert verify_output(output, decode=False).exit_code == 0


def test_cards_name_corpora_in_either_form():
    from restore.provenance.record import card_corpora

    listed = {"corpora": [{"name": "faces", "manifest_sha256": "aa", "licence_counts": {"CC-BY-4.0": 5}}]}
    single = {"corpus": {"manifest_sha256": "bb", "licences": {"CC0-1.0": 1}}}
    assert card_corpora(listed) == [{"name": "faces", "manifest_sha256": "aa", "licences": {"CC-BY-4.0": 5}}]
    assert card_corpora(single) == [{"name": None, "manifest_sha256": "bb", "licences": {"CC0-1.0": 1}}]
    assert card_corpora({"origin": "imported", "source": "Real-ESRGAN release"}) == []
    assert card_corpora(None) == []


def test_finalizing_again_replaces_the_attached_record(signed, clips, tmp_path):
    from restore.provenance import finalize_output
    from tests.provenance.conftest import copy_with_sidecars, runner_record

    output = copy_with_sidecars(signed["master"], tmp_path)
    record = runner_record()
    record["device"] = "cuda:0"
    result = finalize_output(output, clips["source"], record)
    assert matroska._attachment_count(output) == 1
    assert matroska.extract_record(output)["record"]["device"] == "cuda:0"
    assert verify_output(output, decode=False).exit_code == 0 and result["signed"]
