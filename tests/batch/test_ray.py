"""The Ray executor on a local Ray instance (loopback only): same outputs, crashed tasks retried."""

from __future__ import annotations

from pathlib import Path

import pytest

from restore.batch.driver import run_batch
from restore.batch.executors import RayExecutor
from restore.batch.jobfile import load_jobfile
from tests.batch.conftest import PIPELINE_YAML, write_batch
from tests.batch.test_batch import assert_outputs_match

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module (starting one costs seconds); the executor leaves it running."""
    repo = str(Path(__file__).resolve().parents[2])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": repo}})   # workers import tests.batch.crash_stage
    yield
    ray.shutdown()


def test_ray_batch_equals_whole_file_runs(local_ray, clip_dir, reference_outputs, tmp_path):
    jf = load_jobfile(write_batch(tmp_path, clip_dir))
    executor = RayExecutor(workers=2)
    outcome = run_batch(jf, executor)
    executor.close()
    assert not outcome.failed
    assert [j.state for j in outcome.status.jobs.values()] == ["done", "done"]
    assert "ray" in outcome.status.executor
    assert_outputs_match(tmp_path / "out", reference_outputs)


def test_ray_retries_a_task_whose_worker_died(local_ray, clip_dir, reference_outputs, tmp_path):
    import tests.batch.crash_stage  # noqa: F401  (registers the stage in the driver)

    marker = tmp_path / "crashed-once"
    job = write_batch(tmp_path, clip_dir)
    # the crash stage passes frames through untouched, so outputs still equal the deflicker references
    (tmp_path / "pipe.yaml").write_text(PIPELINE_YAML + f"  - stage: test-crash-once\n    marker: {marker}\n"
                                                        "    frame: 7\n")
    jf = load_jobfile(job)
    executor = RayExecutor(workers=2, max_retries=2)
    outcome = run_batch(jf, executor)
    executor.close()
    assert marker.exists()                      # a worker process really died mid-segment
    assert not outcome.failed, [j.error for j in outcome.status.jobs.values()]
    assert_outputs_match(tmp_path / "out", reference_outputs)
