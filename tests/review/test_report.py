"""The report folder: what a conservator and a player get from one pass."""

from __future__ import annotations

import csv
import json
import subprocess

import pytest

from restore.errors import OutputError
from tests.review.conftest import INVENTED_BOX_AFTER, INVENTED_FRAMES


@pytest.fixture(scope="module")
def report(built_report):
    folder = built_report.parent
    return folder, json.loads((folder / "summary.json").read_text())


def test_every_file_of_the_report_is_written(report):
    folder, summary = report
    for name in ("index.html", "review.js", "review.css", "data.js", "metrics.csv", "summary.json",
                 "side_by_side.mp4"):
        assert (folder / name).stat().st_size > 0, name
    assert not list(folder.parent.glob(".report.*")), "no temporary folder left behind"
    assert summary["frames"] == 12 and summary["alignment"]["after_resized_to_before"]


def test_metrics_csv_has_one_row_per_frame_with_stage_timings(report):
    folder, _ = report
    rows = list(csv.DictReader(open(folder / "metrics.csv", encoding="utf-8")))
    assert [int(r["frame"]) for r in rows] == list(range(12))
    assert rows[3]["seconds_denoise"] == "0.013" and rows[3]["seconds_superres"] == "0.2"
    assert [r["niqe_after"] != "" for r in rows] == [k % 4 == 0 for k in range(12)]
    invented = [int(r["frame"]) for r in rows if int(r["regions"]) > 0]
    assert invented == list(INVENTED_FRAMES)
    assert all(float(r["fidelity"]) > 0.95 for r in rows if int(r["frame"]) not in INVENTED_FRAMES)


def test_inventions_are_listed_where_they_were_painted(report):
    _, summary = report
    listed = summary["inventions"]["list"]
    assert sorted(e["frame"] for e in listed) == list(INVENTED_FRAMES)
    x, y, w, h = (v / 2 for v in INVENTED_BOX_AFTER)   # AFTER is BEFORE × 2
    for entry in listed:
        bx, by, bw, bh = entry["regions"][0]["box"]
        # the listed region overlaps the painted block in BEFORE's pixels
        assert bx < x + w and bx + bw > x and by < y + h and by + bh > y


def test_stored_pictures_cover_samples_and_the_worst_invention(built_report):
    data = (built_report.parent / "data.js").read_text()
    payload = json.loads(data[len("window.REVIEW = "):].rstrip().rstrip(";"))
    frames = [s["frame"] for s in payload["stored"]]
    assert frames == sorted(frames)
    assert {0, 4, 8} <= set(frames)
    assert set(frames) - {0, 4, 8} and (set(frames) - {0, 4, 8}) <= set(INVENTED_FRAMES)
    for shot in payload["stored"]:
        for key in ("before", "after", "map"):
            assert (built_report.parent / shot[key]).stat().st_size > 0


def test_side_by_side_video_has_every_frame_at_display_aspect(report):
    folder, _ = report
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height,nb_read_frames,codec_name", "-of", "json",
                          str(folder / "side_by_side.mp4")], capture_output=True, text=True, check=True)
    stream = json.loads(out.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 512, 192)
    assert int(stream["nb_read_frames"]) == 12


def test_chosen_frames_are_exported_as_png_pairs_and_missing_ones_named(report):
    folder, summary = report
    for frame in (2, 6):
        for side, size in (("before", (256, 192)), ("after", (512, 384))):
            import cv2

            image = cv2.imread(str(folder / "pairs" / f"frame_{frame:06d}_{side}.png"))
            assert image is not None and image.shape[1::-1] == size
    assert any("99" in w for w in summary["warnings"])


def test_face_panel_from_the_sidecar_highlights_the_track_that_lost_identity(report):
    folder, summary = report
    tracks = {t["track"]: t for t in summary["faces"]["tracks"]}
    assert summary["faces"]["source"] == "sidecar"
    assert tracks[0]["identity_min"] == 0.8 and not tracks[0]["below_threshold"]
    assert tracks[1]["below_threshold"] and tracks[1]["frames_below"] == 6
    assert len(list((folder / "faces").glob("t1_*_res.jpg"))) == len(list((folder / "faces").glob("t1_*_sou.jpg"))) > 0


def test_an_existing_folder_that_is_not_a_report_is_never_replaced(tmp_path, built_report):
    from restore.review.report import build_report

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    before = built_report.parent.parent / "before.mkv"
    after = built_report.parent.parent / "after.mkv"
    with pytest.raises(OutputError, match="not a review report"):
        build_report(before, after, folder)
    assert (folder / "precious.txt").read_text() == "keep me"


def test_provenance_summary_comes_from_the_sealed_record_beside_after(report):
    _, summary = report
    prov = summary["provenance"]
    assert prov["tool"] == "restore 0.1.0"
    assert prov["models"][0]["sha256"] == "ab" * 32
    assert prov["models"][0]["corpora"][0]["manifest_sha256"] == "cd" * 32
    assert prov["energy"]["kwh"] == 0.0012
    assert summary["timings"]["restore_seconds"] == 150.0


def test_niqe_samples_a_short_clip_more_than_once(tmp_path):
    """4 × every would be one NIQE frame (the first) on a 2-second clip: the default takes at least 12 of a short
    clip, spread over it, so the summary's before/after is a mean over the clip, not one warm-up frame."""
    from restore.review.report import ReviewOptions, build_report
    from tests.review.conftest import make_pair

    before, after = make_pair(tmp_path, frames=48)
    build_report(before, after, tmp_path / "report",
                 options=ReviewOptions(every=25, video=False, detect_faces=False))
    rows = list(csv.DictReader(open(tmp_path / "report" / "metrics.csv", encoding="utf-8")))
    sampled = [int(r["frame"]) for r in rows if r["niqe_after"] != ""]
    assert sampled == list(range(0, 48, 4))
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["niqe"]["every"] == 4 and summary["niqe"]["computed"]
