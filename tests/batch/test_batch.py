"""``restore batch`` end to end: failures isolated, kill -9 at random points, full disks, two runners."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from restore.batch.jobfile import load_jobfile
from restore.batch.lock import WorkLock
from restore.cli import main
from tests.batch.conftest import PIPELINE_YAML, write_batch
from tests.conftest import framemd5

REPO = Path(__file__).resolve().parents[2]


def batch_cli(*args: str):
    return CliRunner().invoke(main, ["batch", *args], catch_exceptions=False)


def status_of(job: Path) -> dict:
    return json.loads(load_jobfile(job).status_path.read_text())


def assert_outputs_match(out: Path, reference_outputs: dict[str, Path]) -> None:
    for stem, ref in reference_outputs.items():
        ours = out / f"{stem}.restored.mkv"
        assert framemd5(ours) == framemd5(ref), stem
        assert framemd5(ours, "a:0") == framemd5(ref, "a:0"), stem


@pytest.mark.slow
def test_corrupt_input_fails_alone(clip_dir, reference_outputs, tmp_path):
    broken = tmp_path / "broken.mkv"
    broken.write_bytes((clip_dir / "reel-b.mkv").read_bytes()[:3000])   # header, then nothing
    job = write_batch(tmp_path / "job", clip_dir, extra_inputs=(broken,))
    result = batch_cli(str(job), "-q")
    assert result.exit_code == 1
    status = status_of(job)
    states = {Path(j["source"]).name: j for j in status["jobs"]}
    assert states["broken.mkv"]["state"] == "failed"
    assert "broken.mkv" in states["broken.mkv"]["error"]
    assert states["reel-a.mkv"]["state"] == states["reel-b.mkv"]["state"] == "done"
    assert states["reel-a.mkv"]["energy"]["kwh_per_minute"] > 0
    assert status["overall"]["jobs"]["done"] == 2 and status["state"] == "finished"
    assert not (tmp_path / "job" / "out" / "broken.restored.mkv").exists()
    assert_outputs_match(tmp_path / "job" / "out", reference_outputs)
    assert "failed" in result.output and "kWh/min" in result.output
    provenance = json.loads((tmp_path / "job" / "out" / "reel-a.restored.mkv.provenance.json").read_text())
    assert "kwh_per_minute" in json.dumps(provenance)
    # a second run skips what is done and retries only the failed job
    again = batch_cli(str(job), "-q")
    assert again.exit_code == 1
    assert [j["state"] for j in status_of(job)["jobs"]] == ["failed", "skipped", "skipped"]


def test_second_batch_on_same_job_file_refuses(clip_dir, tmp_path):
    job = write_batch(tmp_path, clip_dir)
    with WorkLock(load_jobfile(job).lock_path, "test holder"):
        result = CliRunner().invoke(main, ["batch", str(job), "-q"])
    assert result.exit_code == 2
    assert "another restore process" in result.output
    assert not list((tmp_path / "out").glob("*.mkv"))


@pytest.mark.slow
def test_job_locked_by_another_runner_is_not_touched(clip_dir, tmp_path):
    """Another job file (or a `restore run --resume`) holding one output's work folder: that job waits its turn."""
    job = write_batch(tmp_path, clip_dir)
    work = tmp_path / "out" / ".reel-b.restored.mkv.work"
    work.mkdir(parents=True)
    with WorkLock(work / "lock", "test holder"):
        result = batch_cli(str(job), "-q")
    assert result.exit_code == 1
    jobs = {Path(j["source"]).name: j for j in status_of(job)["jobs"]}
    assert jobs["reel-b.mkv"]["state"] == "failed" and "another restore process" in jobs["reel-b.mkv"]["error"]
    assert jobs["reel-a.mkv"]["state"] == "done"
    assert sorted(p.name for p in work.iterdir()) == ["lock"]


def _segments_done(job: Path) -> int:
    try:
        return sum(j.get("segments_done") or 0 for j in status_of(job)["jobs"])
    except (OSError, ValueError, KeyError):
        return 0


def _run_batch_process(job: Path, kill_at: tuple[int, float] | None) -> int | None:
    """Run `restore batch`; with KILL_AT = (segments, seconds), kill -9 it that long after that many commits."""
    cmd = [sys.executable, "-m", "restore.cli", "batch", str(job), "-q"]
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    if kill_at is None:
        return proc.wait(timeout=300)
    segments, delay = kill_at
    deadline = time.monotonic() + 300
    while proc.poll() is None and _segments_done(job) < segments and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        return proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)     # the batch and its ffmpeg children, mid-write
        proc.wait()
        return None


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_at_a_random_point_then_resume(seed, clip_dir, reference_outputs, tmp_path):
    """Killed after a random number of committed segments (8 in all) plus a random delay, twice, then resumed."""
    job = write_batch(tmp_path, clip_dir, options="{segment_frames: 5, sign: false, provenance: false}")
    rng = random.Random(seed)
    first = rng.randint(0, 5)
    points = [(first, rng.uniform(0.0, 1.0)), (rng.randint(first, 7), rng.uniform(0.0, 1.0)), None]
    outcomes = [_run_batch_process(job, point) for point in points]
    assert outcomes[0] is None and outcomes[-1] == 0, outcomes
    assert_outputs_match(tmp_path / "out", reference_outputs)
    leftovers = [p.name for p in (tmp_path / "out").iterdir() if ".partial-" in p.name or p.name.endswith(".work")]
    assert leftovers == []


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


@pytest.mark.slow
def test_full_disk_fails_cleanly_and_resumes(clip_dir, reference_outputs, tmp_path):
    small = tmp_path / "small"
    if os.geteuid() != 0 or not _mount_tmpfs(small, "240k"):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        job = write_batch(tmp_path / "job", clip_dir, out=small,
                          options="{segment_frames: 5, sign: false, provenance: false}")
        result = batch_cli(str(job), "-q")
        assert result.exit_code == 1
        jobs = status_of(job)["jobs"]
        failed = [j for j in jobs if j["state"] == "failed"]
        assert failed and all("space" in j["error"].lower() for j in failed), jobs
        finals = [p.name for p in small.iterdir() if p.suffix == ".mkv"]
        assert not [n for n in finals if ".partial-" in n]                    # no half-written output
        assert not [j for j in failed if Path(j["output"]).exists()]
        # space freed: the same command finishes the job from its committed segments
        subprocess.run(["mount", "-o", "remount,size=64m", str(small)], check=True)
        assert batch_cli(str(job), "-q").exit_code == 0
        assert_outputs_match(small, reference_outputs)
    finally:
        subprocess.run(["umount", "-l", str(small)], capture_output=True)


@pytest.mark.slow
def test_local_worker_processes_give_the_same_outputs(clip_dir, reference_outputs, tmp_path):
    job = write_batch(tmp_path, clip_dir, options="{segment_frames: 5, sign: false, provenance: false}")
    result = batch_cli(str(job), "-q", "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "2 worker processes" in status_of(job)["executor"]
    assert_outputs_match(tmp_path / "out", reference_outputs)


def test_restore_run_resume_uses_segments(clip_dir, reference_outputs, tmp_path):
    (tmp_path / "pipe.yaml").write_text(PIPELINE_YAML)
    out = tmp_path / "reel-b.restored.mkv"
    result = CliRunner().invoke(main, ["run", str(clip_dir / "reel-b.mkv"), "-o", str(out), "-p",
                                       str(tmp_path / "pipe.yaml"), "--resume", "--no-sign", "-q"])
    assert result.exit_code == 0, result.output
    assert framemd5(out) == framemd5(reference_outputs["reel-b"])
    record = json.loads((tmp_path / "reel-b.restored.mkv.provenance.json").read_text())
    assert "segments" in json.dumps(record) and "kwh_per_minute" in json.dumps(record)


@pytest.mark.slow
def test_dead_worker_process_fails_its_job_only_and_resume_finishes(clip_dir, reference_outputs, tmp_path):
    import tests.batch.crash_stage  # noqa: F401  (registers the stage; spawned workers import it by name)
    from restore.batch.driver import run_batch
    from restore.batch.executors import LocalPoolExecutor

    marker = tmp_path / "crashed-once"
    job = write_batch(tmp_path, clip_dir, options="{segment_frames: 5, sign: false, provenance: false}")
    (tmp_path / "pipe.yaml").write_text(PIPELINE_YAML + f"  - stage: test-crash-once\n    marker: {marker}\n"
                                                        "    frame: 7\n")
    with LocalPoolExecutor(2) as executor:
        first = run_batch(load_jobfile(job), executor)
    assert marker.exists()
    states = {Path(j.source).name: j for j in first.status.jobs.values()}
    assert states["reel-a.mkv"].state == "failed" and "terminated abruptly" in states["reel-a.mkv"].error
    assert states["reel-b.mkv"].state == "done"
    with LocalPoolExecutor(2) as executor:
        second = run_batch(load_jobfile(job), executor)
    assert [j.state for j in second.status.jobs.values()] == ["done", "skipped"]
    assert_outputs_match(tmp_path / "out", reference_outputs)


def test_check_lists_jobs_without_restoring(clip_dir, tmp_path):
    job = write_batch(tmp_path, clip_dir)
    result = batch_cli(str(job), "--check")
    assert result.exit_code == 0
    assert "2 jobs" in result.output and "reel-a.mkv -> " in result.output
    assert not list((tmp_path / "out").iterdir())


def test_invalid_job_file_exits_2_with_one_line(tmp_path):
    job = tmp_path / "jobs.yaml"
    job.write_text("inputs: ['*.mkv']\noutput: {folder: .}\n")
    result = CliRunner().invoke(main, ["batch", str(job)])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "matches no file" in result.output
