"""Operator corrections (restore.corrections): the data model, the final apply step, segment re-runs, provenance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from restore import corrections as corr
from restore.batch import segments
from restore.job import JobOptions, run_job
from restore.pipeline.spec import load_pipeline
from tests.serve.conftest import H, W, decode_rgb, write_corrections, write_mask

WHEN = "2025-03-01T10:00:00+00:00"


def keep(folder, cid, frames, box, why="the hand-painted title card must stay as filmed"):
    mask, sha = write_mask(folder, box)
    return {"id": cid, "kind": "keep_source", "frames": frames, "mask": mask, "mask_sha256": sha, "who": "A. Conservator",
            "when": WHEN, "why": why}


# --- data model -----------------------------------------------------------------------------
def test_document_checks_name_the_entry(tmp_path):
    good = keep(tmp_path, "c1", [0, 2], (0, 0, 4, 4))
    corr.check_document(json.loads(write_corrections(tmp_path, [good]).read_text()))
    for bad, message in [({**good, "kind": "blur"}, "kind"), ({**good, "frames": [3, 1]}, "frames"),
                         ({**good, "who": ""}, "who"), ({**good, "mask": None}, "mask"),
                         ({"id": "s", "kind": "strength", "frames": [0, 1], "who": "x", "when": WHEN}, "stage")]:
        doc = json.loads(write_corrections(tmp_path, [bad]).read_text())
        with pytest.raises(corr.CorrectionError, match=message):
            corr.check_document(doc)
    with pytest.raises(corr.CorrectionError, match="repeated"):
        corr.check_document(json.loads(write_corrections(tmp_path, [good, good]).read_text()))


def test_digest_changes_with_pixels_not_with_words(tmp_path):
    a = keep(tmp_path, "c1", [0, 2], (0, 0, 4, 4))
    assert corr.digest([]) is None
    assert corr.digest([a]) == corr.digest([{**a, "why": "another reason"}])
    assert corr.digest([a]) != corr.digest([{**a, "frames": [0, 3]}])
    strength = {"id": "s1", "kind": "strength", "frames": [0, 1], "stage": "denoise", "strength": 0.5}
    assert corr.digest([strength]) != corr.digest([{**strength, "strength": 0.6}])


def test_strength_is_checked_against_the_stage(denoise_pipeline):
    spec = load_pipeline(str(denoise_pipeline))
    assert corr.strength_bounds(spec, "denoise") == (0.1, 4.0)
    changed = corr.with_strength(spec, "denoise", 2.5)
    assert changed.stages[0].params.strength == 2.5 and spec.stages[0].params.strength == 1.0
    with pytest.raises(corr.CorrectionError, match="outside"):
        corr.with_strength(spec, "denoise", 9)
    with pytest.raises(corr.CorrectionError, match="no stage"):
        corr.with_strength(spec, "superres", 0.5)


def test_mask_must_match_its_hash(tmp_path):
    item = keep(tmp_path, "c1", [0, 0], (0, 0, 4, 4))
    (tmp_path / item["mask"]).write_bytes((tmp_path / item["mask"]).read_bytes() + b"x")
    with pytest.raises(corr.CorrectionError, match="sha256"):
        corr.Applier([item], tmp_path, W, H)


def test_applier_keeps_source_rejects_faces_and_inpaints_dust(tmp_path):
    from restore.frame import Frame

    rng = np.random.default_rng(0)
    source = rng.random((H, W, 3), dtype=np.float32)
    restored = np.full((H, W, 3), 0.5, np.float32)
    mask, sha = write_mask(tmp_path, (100, 80, 6, 6))
    items = [keep(tmp_path, "k", [0, 0], (10, 10, 20, 20)),
             {"id": "f", "kind": "reject_face", "frames": [0, 0], "track": 1, "boxes": {"0": [60, 20, 30, 40]},
              "who": "x", "when": WHEN},
             {"id": "d", "kind": "dust", "frames": [0, 0], "mask": mask, "mask_sha256": sha, "who": "x", "when": WHEN}]
    restored[82:84, 102:104] = 1.0      # a white speck the automatic pass missed
    fixer = corr.Applier(items, tmp_path, W, H)
    for frame in fixer.tap(iter([Frame(0, 0, image=source)])):
        pass
    out = fixer.apply(Frame(0, 0, image=restored)).image
    assert np.array_equal(out[10:30, 10:30], source[10:30, 10:30])            # exact, not approximately
    assert np.array_equal(out[35:45, 70:80], source[35:45, 70:80])            # the face's core
    assert np.allclose(out[82:84, 102:104], 0.5, atol=1e-3)                   # the speck is gone
    untouched = np.ones((H, W), bool)
    untouched[5:35, 5:35] = untouched[10:70, 50:100] = untouched[78:90, 98:110] = False
    assert np.array_equal(out[untouched], restored[untouched])
    assert fixer.applied == {"keep_source": 1, "reject_face": 1, "dust": 1}


# --- in a run ---------------------------------------------------------------------------------
def test_whole_file_run_keeps_the_source_exactly(tmp_path, rgb_clip, denoise_pipeline):
    box = (30, 20, 60, 40)
    path = write_corrections(tmp_path, [keep(tmp_path, "c1", [3, 5], box)])
    out = tmp_path / "out.mkv"
    run_job(rgb_clip, out, load_pipeline(str(denoise_pipeline)),
            JobOptions(corrections=path, provenance=False))
    src, res = decode_rgb(rgb_clip), decode_rgb(out)
    x, y, w, h = box
    for i in range(3, 6):
        assert np.array_equal(res[i, y:y + h, x:x + w], src[i, y:y + h, x:x + w])
    assert not np.array_equal(res[2, y:y + h, x:x + w], src[2, y:y + h, x:x + w])   # the denoiser did change it


@pytest.mark.slow
def test_segmented_rerun_redoes_only_the_touched_segments_and_records_who_when_why(
        tmp_path, rgb_clip, denoise_pipeline, monkeypatch):
    from restore.provenance import verify_output

    spec = load_pipeline(str(denoise_pipeline))
    box = (30, 20, 60, 40)
    path = write_corrections(tmp_path, [keep(tmp_path, "c1", [3, 5], box)])
    out = tmp_path / "out.mkv"
    options = JobOptions(corrections=path, keep_work=True, overwrite=False)
    segments.run_resumable(rgb_clip, out, spec, options, segment_frames=4)
    journal = json.loads((tmp_path / ".out.mkv.work" / "journal.json").read_text())
    first = {k: v["sha256"] for k, v in journal["segments"].items()}
    assert [bool(journal["segments"][k].get("corrections")) for k in "012"] == [True, True, False]

    # a second correction on frame 9: only segment 2 (frames 8–11) is restored again
    done = []
    real = segments.process_segment
    monkeypatch.setattr(segments, "process_segment", lambda task, progress=None: done.append(task.segment.index)
                        or real(task, progress))
    write_corrections(tmp_path, [keep(tmp_path, "c1", [3, 5], box),
                                 keep(tmp_path, "c2", [9, 9], (0, 0, 20, 20), why="splice: keep the original")])
    result = segments.run_resumable(rgb_clip, out, spec, options, segment_frames=4)
    assert done == [2]
    journal = json.loads((tmp_path / ".out.mkv.work" / "journal.json").read_text())
    assert {k: v["sha256"] for k, v in journal["segments"].items() if k != "2"} == {k: first[k] for k in "01"}

    src, res = decode_rgb(rgb_clip), decode_rgb(out)
    x, y, w, h = box
    for i in (3, 4, 5):
        assert np.array_equal(res[i, y:y + h, x:x + w], src[i, y:y + h, x:x + w])
    assert np.array_equal(res[9, :20, :20], src[9, :20, :20])
    assert not np.array_equal(res[8, :20, :20], src[8, :20, :20])

    # provenance: the record, PREMIS and C2PA name each correction with who, when and why
    assert [c["id"] for c in result.record["corrections"]] == ["c1", "c2"]
    document = json.loads(out.with_name("out.mkv.provenance.json").read_text())
    events = [e for e in document["record"]["events"] if "operator correction" in e["eventDetail"]]
    assert len(events) == 2 and "A. Conservator" in events[1]["eventDetail"] and "splice" in events[1]["eventDetail"]
    assert "person:A. Conservator" in events[0]["linkingAgentIdentifiers"]
    premis = out.with_name("out.mkv.premis.xml").read_text()
    assert premis.count("operator correction") == 2 and "<premis:agentType>person</premis:agentType>" in premis
    report = verify_output(out)
    assert report.exit_code == 0, [(c.name, c.detail) for c in report.checks if c.ok is False]
    actions = [c for c in report.checks if c.name == "c2pa actions"][0].detail
    assert actions.count("edited") == 2
    from restore.provenance.verify import render_text

    text = render_text(report)
    assert "correction c2: source kept under a painted region, frame 9, by A. Conservator" in text
    assert "splice: keep the original" in text


@pytest.mark.slow
def test_a_stage_strength_changed_for_a_shot(tmp_path, rgb_clip, denoise_pipeline, monkeypatch):
    """Frames 8–9 at denoise strength 4: exactly what a whole run at strength 4 gives there; the rest untouched."""
    spec = load_pipeline(str(denoise_pipeline))
    plain, strong = tmp_path / "plain.mkv", tmp_path / "strong.mkv"
    run_job(rgb_clip, plain, spec, JobOptions(provenance=False))
    run_job(rgb_clip, strong, corr.with_strength(spec, "denoise", 4.0), JobOptions(provenance=False))
    path = write_corrections(tmp_path, [{"id": "s1", "kind": "strength", "frames": [8, 9], "stage": "denoise",
                                         "strength": 4.0, "who": "A. Conservator", "when": WHEN,
                                         "why": "heavy grain in the night shot"}])
    done = []
    real = segments.process_segment
    monkeypatch.setattr(segments, "process_segment", lambda task, progress=None: done.append(
        (task.segment.index, bool(task.corrections))) or real(task, progress))
    out = tmp_path / "out.mkv"
    result = segments.run_resumable(rgb_clip, out, spec, JobOptions(corrections=path, keep_work=True),
                                    segment_frames=4)
    assert done == [(0, False), (1, False), (2, True)]
    res, a, b = decode_rgb(out), decode_rgb(plain), decode_rgb(strong)
    assert np.array_equal(res[:8], a[:8]) and np.array_equal(res[10:], a[10:])
    assert np.array_equal(res[8:10], b[8:10]) and not np.array_equal(a[8:10], b[8:10])
    listed = result.record["corrections"][0]
    assert listed["applied"] and "strength 4.0" in listed["description"]


def test_restore_run_applies_a_corrections_file(tmp_path, rgb_clip, denoise_pipeline):
    from tests.conftest import run_cli

    box = (0, 0, 40, 30)
    path = write_corrections(tmp_path, [keep(tmp_path, "c1", [0, 11], box)])
    out = tmp_path / "cli.mkv"
    run_cli("run", str(rgb_clip), "-o", str(out), "-p", str(denoise_pipeline), "--corrections", str(path),
            "--no-sign", "-q", check=True)
    assert np.array_equal(decode_rgb(out)[:, :30, :40], decode_rgb(rgb_clip)[:, :30, :40])
    record = json.loads(out.with_name("cli.mkv.provenance.json").read_text())["record"]
    assert record["corrections"][0]["who"] == "A. Conservator"
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "restore-corrections", "version": 7}')
    res = run_cli("run", str(rgb_clip), "-o", str(tmp_path / "x.mkv"), "-p", str(denoise_pipeline),
                  "--corrections", str(bad), "-q")
    assert res.returncode == 2 and "version" in res.stderr
