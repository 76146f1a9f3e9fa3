"""BagIt packages: master + access copy + provenance, sha256 and sha512 manifests, MediaConch policy."""

from __future__ import annotations

import json
import shutil

import bagit
import pytest

from restore.errors import OutputError
from restore.provenance import build_package
from restore.provenance.bagit_package import mediaconch_check
from restore.provenance.verify import verify_output
from tests.provenance.conftest import copy_with_sidecars, ffmpeg, flip_byte

needs_mediaconch = pytest.mark.skipif(shutil.which("mediaconch") is None, reason="mediaconch CLI not installed")


def test_bag_holds_master_access_and_provenance_and_validates(signed, tmp_path):
    bag_dir = build_package(signed["master"], signed["access"], tmp_path / "bag")
    bag = bagit.Bag(str(bag_dir))
    bag.validate()
    assert set(bag.algorithms) == {"sha256", "sha512"}
    files = set(bag.payload_files())
    assert {"data/master/film.mkv", "data/master/film.c2pa", "data/master/film.mkv.provenance.json",
            "data/master/film.mkv.premis.xml", "data/master/film.mkv.framemd5",
            "data/master/film.mkv.source.framemd5", "data/access/film.mp4",
            "data/access/film.mp4.provenance.json"} <= files
    assert "data/access/film.c2pa" not in files            # the MP4's manifest is inside it
    assert bag.info["Restore-Master-Record-SHA256"]
    # The packed copies still verify on their own.
    assert verify_output(bag_dir / "data" / "master" / "film.mkv", [signed["ca"]]).exit_code == 0
    # And BagIt notices a changed payload byte.
    flip_byte(bag_dir / "data" / "access" / "film.mp4", 100)
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(bag_dir)).validate()


def test_existing_non_empty_folder_is_refused(signed, tmp_path):
    target = tmp_path / "bag"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty"):
        build_package(signed["master"], None, target, make_access=False)
    assert (target / "keep.txt").read_text() == "mine"
    assert not list(tmp_path.glob(".bag.partial-*"))


@needs_mediaconch
def test_mediaconch_policy_passes_our_master_and_rejects_a_long_gop(signed, clips, tmp_path):
    passed, report = mediaconch_check(signed["master"])
    assert passed, report
    bag_dir = build_package(signed["master"], None, tmp_path / "bag", make_access=False)
    assert "pass!" in (bag_dir / "data" / "master" / "film.mkv.mediaconch.txt").read_text()

    long_gop = tmp_path / "gop" / "film.mkv"
    long_gop.parent.mkdir()
    ffmpeg("-i", str(clips["source"]), "-c:v", "ffv1", "-level", "3", "-g", "25", "-c:a", "flac", str(long_gop))
    passed, report = mediaconch_check(long_gop)
    assert not passed and "Intra-only" in report
    with pytest.raises(OutputError, match=r"FFV1 master policy .*: Intra-only \(GOP of one frame\)"):
        build_package(long_gop, None, tmp_path / "bag2", make_access=False)
    assert not (tmp_path / "bag2").exists()


def test_package_without_provenance_files_still_bags_the_media(clips, tmp_path):
    bare = copy_with_sidecars(clips["master"], tmp_path / "bare")
    bag_dir = build_package(bare, None, tmp_path / "bag", check_policy=False, make_access=False)
    bagit.Bag(str(bag_dir)).validate()
    assert "Restore-Master-Record-SHA256" not in bagit.Bag(str(bag_dir)).info


def test_access_copy_is_made_from_the_master_and_signed(signed, tmp_path, config_dir):
    bag_dir = build_package(signed["master"], None, tmp_path / "bag", check_policy=False)
    bagit.Bag(str(bag_dir)).validate()
    access = bag_dir / "data" / "access" / "film.mp4"
    report = verify_output(access)          # signed by this test's own local CA (the autouse config folder)
    assert report.exit_code == 0, [c.as_dict() for c in report.checks]
    record = report.record
    assert record["source"]["name"] == "film.mkv" and record["pipeline"]["name"] == "access copy"
    master_record = json.loads((bag_dir / "data" / "master" / "film.mkv.provenance.json").read_text())
    assert record["derived_from"]["record_sha256"] == master_record["record_sha256"]
    assert "migration" in [e["eventType"] for e in record["events"]]
    assert [i["title"] for i in report.manifest["ingredients"]] == ["film.mkv"]


def test_master_must_be_matroska(signed, tmp_path):
    from restore.errors import InputError

    with pytest.raises(InputError, match="Matroska"):
        build_package(signed["access"], None, tmp_path / "bag")
