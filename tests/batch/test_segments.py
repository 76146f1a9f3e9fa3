"""Segmented, resumable runs: borders invisible, crashes recovered, work never mixed up."""

from __future__ import annotations

import shutil

import pytest

from restore.batch.lock import LockedError, WorkLock
from restore.batch.segments import (SegmentedJob, WorkMismatchError, pipeline_margins, plan_segments,
                                    process_segment, run_resumable)
from restore.job import JobOptions
from restore.pipeline.runner import Pipeline
from restore.pipeline.spec import load_pipeline, parse_pipeline
from tests.conftest import framemd5

OPTS = dict(provenance=False, sign=False)


def test_plan_covers_every_frame_once():
    for total, size in [(1, 5), (24, 5), (25, 5), (250, 250), (251, 250)]:
        segments = plan_segments(total, size)
        frames = [f for s in segments for f in range(s.start, s.end)]
        assert frames == list(range(total))
        assert all(0 < s.count <= size for s in segments)
    with pytest.raises(ValueError):
        plan_segments(10, 0)


def test_margins_add_radii_and_warmup(deflicker_spec):
    from restore.frame import VideoFormat
    from fractions import Fraction

    spec = parse_pipeline("name: t\nstages:\n  - stage: deflicker\n    radius: 2\n  - stage: deflicker\n    radius: 3\n")
    pipeline = Pipeline(spec, VideoFormat(160, 120, Fraction(25)))
    assert pipeline_margins(pipeline) == (5, 5)
    pipeline.stages[1].warmup = 7        # recursive state (e.g. temporal consistency) needs look-behind only
    assert pipeline_margins(pipeline) == (12, 5)


@pytest.mark.slow
def test_segmented_run_equals_whole_file_run(clip_dir, reference_outputs, deflicker_spec, tmp_path):
    shutil.copy2(clip_dir / "reel-a.mkv", tmp_path / "reel-a.mkv")
    result = run_resumable(tmp_path / "reel-a.mkv", tmp_path / "seg.mkv", deflicker_spec, JobOptions(**OPTS),
                           segment_frames=5)
    reference = reference_outputs["reel-a"]
    assert framemd5(result.output) == framemd5(reference)            # 5 borders, none visible
    assert framemd5(result.output, "a:0") == framemd5(reference, "a:0")
    assert framemd5(result.output) != framemd5(tmp_path / "reel-a.mkv")  # deflicker did change the frames
    assert not (tmp_path / ".seg.mkv.work").exists()
    assert result.record["energy"]["kwh_per_minute"] > 0


@pytest.mark.slow
def test_without_overlap_borders_would_show(clip_dir, reference_outputs, deflicker_spec, tmp_path, monkeypatch):
    """The control for the test above: the same segments with no overlap do differ from the whole-file run."""
    from restore.batch import segments

    shutil.copy2(clip_dir / "reel-a.mkv", tmp_path / "reel-a.mkv")
    # the margins are set before the job plans where each segment starts decoding
    monkeypatch.setattr(segments, "pipeline_margins", lambda pipeline: (0, 0))
    job = SegmentedJob(tmp_path / "reel-a.mkv", tmp_path / "cut.mkv", deflicker_spec, JobOptions(**OPTS),
                       segment_frames=5)
    assert job.behind == job.ahead == 0
    for task in job.open():
        job.commit(process_segment(task))
    job.assemble()
    job.close()
    ours, whole = framemd5(tmp_path / "cut.mkv"), framemd5(reference_outputs["reel-a"])
    assert len(ours) == len(whole) and ours != whole


@pytest.mark.slow
def test_resume_keeps_committed_segments_and_cleans_leftovers(clip_dir, reference_outputs, deflicker_spec,
                                                              tmp_path):
    src, out = tmp_path / "reel-a.mkv", tmp_path / "out.mkv"
    shutil.copy2(clip_dir / "reel-a.mkv", src)
    job = SegmentedJob(src, out, deflicker_spec, JobOptions(**OPTS), segment_frames=5)
    tasks = job.open()
    assert len(tasks) == 5
    for task in tasks[:2]:
        job.commit(process_segment(task))
    # a crash after segment 2 was renamed into place but before the journal listed it,
    # with an encoder temp file and a half-written final output lying around
    process_segment(tasks[2])
    (job.work_dir / ".seg-000003.partial-999.mkv").write_bytes(b"half")
    (tmp_path / ".out.partial-999.mkv").write_bytes(b"half")
    committed = {p.name: p.stat().st_mtime_ns for p in job.work_dir.glob("seg-00000[01].mkv")}
    job.close()

    again = SegmentedJob(src, out, deflicker_spec, JobOptions(**OPTS), segment_frames=5)
    todo = again.open()
    assert [t.segment.index for t in todo] == [2, 3, 4]
    assert not (job.work_dir / ".seg-000003.partial-999.mkv").exists()
    assert not (tmp_path / ".out.partial-999.mkv").exists()
    assert not (job.work_dir / "seg-000002.mkv").exists()
    for task in todo:
        again.commit(process_segment(task))
    assert {p: (job.work_dir / p).stat().st_mtime_ns for p in committed} == committed
    again.assemble()
    again.close()
    assert framemd5(out) == framemd5(reference_outputs["reel-a"])


def test_damaged_committed_segment_is_recomputed(clip_dir, deflicker_spec, tmp_path):
    src = tmp_path / "reel-b.mkv"
    shutil.copy2(clip_dir / "reel-b.mkv", src)
    job = SegmentedJob(src, tmp_path / "o.mkv", deflicker_spec, JobOptions(**OPTS), segment_frames=7)
    first = job.open()[0]
    job.commit(process_segment(first))
    seg = job.work_dir / "seg-000000.mkv"
    data = bytearray(seg.read_bytes())
    data[-100] ^= 0xFF
    seg.write_bytes(bytes(data))
    job.close()
    again = SegmentedJob(src, tmp_path / "o.mkv", deflicker_spec, JobOptions(**OPTS), segment_frames=7)
    assert [t.segment.index for t in again.open()] == [0, 1]
    again.close()


def test_changed_pipeline_refuses_old_work(clip_dir, deflicker_spec, tmp_path):
    src = tmp_path / "reel-b.mkv"
    shutil.copy2(clip_dir / "reel-b.mkv", src)
    job = SegmentedJob(src, tmp_path / "o.mkv", deflicker_spec, JobOptions(**OPTS), segment_frames=7)
    job.open()
    job.close()
    other = parse_pipeline("name: t\nstages:\n  - stage: deflicker\n    radius: 3\n")
    with pytest.raises(WorkMismatchError, match="pipeline_sha256"):
        SegmentedJob(src, tmp_path / "o.mkv", other, JobOptions(**OPTS), segment_frames=7).open()


def test_second_writer_is_refused(clip_dir, deflicker_spec, tmp_path):
    src = tmp_path / "reel-b.mkv"
    shutil.copy2(clip_dir / "reel-b.mkv", src)
    job = SegmentedJob(src, tmp_path / "o.mkv", deflicker_spec, JobOptions(**OPTS), segment_frames=7)
    with WorkLock(job.work_dir / "lock", "test holder"):
        with pytest.raises(LockedError, match="another restore process"):
            job.open()


def test_passthrough_segments_are_bit_exact(clip_dir, tmp_path):
    src = tmp_path / "reel-b.mkv"
    shutil.copy2(clip_dir / "reel-b.mkv", src)
    out = run_resumable(src, tmp_path / "copy.mkv", load_pipeline("passthrough"), JobOptions(**OPTS),
                        segment_frames=4).output
    assert framemd5(out) == framemd5(src)
    assert framemd5(out, "a:0") == framemd5(src, "a:0")


def test_frames_log_matches_whole_file_run(clip_dir, reference_outputs, deflicker_spec, tmp_path):
    import json

    src = tmp_path / "reel-b.mkv"
    shutil.copy2(clip_dir / "reel-b.mkv", src)
    result = run_resumable(src, tmp_path / "o.mkv", deflicker_spec, JobOptions(**OPTS), segment_frames=4)
    ours = [json.loads(line) for line in (tmp_path / "o.mkv.frames.jsonl").read_text().splitlines()]
    whole = [json.loads(line) for line in
             reference_outputs["reel-b"].with_name("reel-b.restored.mkv.frames.jsonl").read_text().splitlines()]
    assert [(f["index"], f["pts"]) for f in ours] == [(f["index"], f["pts"]) for f in whole]
    assert result.record["frames_log"] == str(tmp_path / "o.mkv.frames.jsonl")


@pytest.mark.slow
@pytest.mark.parametrize("source, output", [("p10-tff.mkv", "out.mp4"), ("h264.mp4", "out.mkv")])
def test_deep_interlaced_and_long_gop_sources(source, output, deflicker_spec, tmp_path):
    """10-bit interlaced (16-bit RGB segments) and H.264 with B-frames (segments start by seeking)."""
    from restore.job import run_job
    from tests.conftest import make_clip

    kw = dict(pix_fmt="yuv422p10le", field="tff") if source.startswith("p10") else \
        dict(pix_fmt="yuv420p", field="prog", codec="libx264")
    src = make_clip(tmp_path / source, size="160x120", seconds=0.6, audio_tracks=1,
                    extra_vf="eq=eval=frame:brightness=0.12*sin(n*1.7)", **kw)
    whole = run_job(src, tmp_path / f"whole-{output}", deflicker_spec, JobOptions(**OPTS)).output
    seg = run_resumable(src, tmp_path / output, deflicker_spec, JobOptions(**OPTS), segment_frames=4).output
    assert framemd5(seg) == framemd5(whole) and len(framemd5(seg)) == 15


@pytest.mark.slow
@pytest.mark.parametrize("stage_yaml", [
    "  - stage: deinterlace\n    method: bwdif\n    rate: field\n",
    "  - stage: denoise\n    method: atadenoise\n    radius: 2\n",
])
def test_filter_process_stages_declare_their_reach(stage_yaml, tmp_path):
    """ffmpeg-backed temporal stages: segment borders are invisible once each declares its radius."""
    from restore.job import run_job
    from tests.conftest import make_clip

    src = make_clip(tmp_path / "i.mkv", size="160x128", seconds=0.6, audio_tracks=0)  # 15 frames, TFF
    spec = parse_pipeline("name: t\nstages:\n" + stage_yaml)
    whole = run_job(src, tmp_path / "whole.mkv", spec, JobOptions(**OPTS)).output
    segmented = run_resumable(src, tmp_path / "seg.mkv", spec, JobOptions(**OPTS), segment_frames=4).output
    assert framemd5(segmented) == framemd5(whole)


@pytest.mark.slow
@pytest.mark.parametrize("warmup", ["declared", 0])
def test_recursive_stages_converge_within_their_warmup(warmup, tmp_path, monkeypatch):
    """Stages with recursive state (levels, hqdn3d, temporal) cannot give a whole-file run's bits after a
    border: each segment starts their state ``warmup`` frames early, and what is left of the difference
    is a few levels on a small share of the pixels (README, "Resume after any crash"). Without the
    warmup the border shows: the control."""
    from tests.conftest import REPO, decode_rgb, ffmpeg

    src = tmp_path / "speech.mkv"
    ffmpeg("-i", str(REPO / "samples" / "speech-pal-sample.mkv"), "-frames:v", "90", "-vf",
           "bwdif=mode=send_frame,scale=360:288,setfield=prog", "-an", "-c:v", "ffv1", str(src))
    spec = parse_pipeline("name: recursive\nstages:\n  - stage: levels\n  - stage: denoise\n    method: hqdn3d\n"
                          "  - stage: temporal\n", source="<test>")
    from restore.batch import segments
    from restore.job import run_job

    whole = run_job(src, tmp_path / "whole.mkv", spec, JobOptions(**OPTS)).output
    shutil.copy2(src, tmp_path / "again.mkv")
    if warmup == 0:                      # the stages' radii only, no warmup
        margins = segments.pipeline_margins
        monkeypatch.setattr(segments, "pipeline_margins", lambda pipeline: (margins(pipeline)[1],) * 2)
    job = SegmentedJob(tmp_path / "again.mkv", tmp_path / "seg.mkv", spec, JobOptions(**OPTS), segment_frames=30)
    for task in job.open():
        job.commit(process_segment(task))
    job.assemble()
    job.close()
    a, b = (decode_rgb(p, 360, 288).astype(int) for p in (whole, tmp_path / "seg.mkv"))
    assert a.shape == b.shape and (a[:30] == b[:30]).all()          # the first segment is the whole run's
    diff = abs(a[60:] - b[60:])                         # the third: its state started anew, at frame 60 − 47
    worst, share = int(diff.max()), float((diff > 0).mean())
    print(f"warmup {warmup}: max {worst} levels, {share:.2%} of samples differ")
    if warmup == "declared":
        assert worst <= 8 and share < 0.04          # measured: 5 levels, 1.96 %
    else:
        assert worst > 8 or share > 0.1             # measured: 45 levels, 24.5 %
