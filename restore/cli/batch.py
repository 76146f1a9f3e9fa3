"""Command: batch (a job file of many inputs, resumable, on local processes or Ray)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.argument("job_file", type=click.Path(path_type=Path))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 1024),
              help="Segments computed at once (local: processes sharing the cores; ray: tasks in flight).")
@click.option("--executor", "executor_kind", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="Where segments run: this machine, or Ray (pip install 'restore[ray]').")
@click.option("--ray-address", help="An existing Ray cluster (e.g. ray://head:10001 or auto); "
                                    "default: a local Ray instance.")
@click.option("--cpus-per-task", default=1.0, show_default=True, type=click.FloatRange(0.01, 1024),
              help="Ray: CPUs each segment task asks for.")
@click.option("--gpus-per-task", default=0.0, show_default=True, type=click.FloatRange(0, 64),
              help="Ray: GPUs each segment task asks for (fractions share a GPU).")
@click.option("--check", is_flag=True, help="Validate the job file, list the jobs, restore nothing.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines (the summary table is still printed).")
@click.option("--log-json", is_flag=True, help="Progress and job events as JSON lines on stderr.")
def batch(job_file: Path, workers: int, executor_kind: str, ray_address: str | None, cpus_per_task: float,
          gpus_per_task: float, check: bool, quiet: bool, log_json: bool) -> None:
    """Restore every input of JOB_FILE (YAML); run it again after any crash to resume.

    Each file is restored in segments committed one by one; the final outputs are
    identical to uninterrupted runs. Exit status 1 when any job failed (reasons in the
    summary and in the status file).
    """
    from restore.batch.driver import run_batch
    from restore.batch.executors import make_executor
    from restore.batch.jobfile import load_jobfile
    from restore.batch.status import BatchDisplay, summary_table

    jf = load_jobfile(job_file)
    if check:
        click.echo(f"{jf.path}: {len(jf.jobs)} jobs, pipeline '{jf.spec.name}', "
                   f"segments of {jf.segment_frames} frames, status {jf.status_path}")
        for job in jf.jobs:
            click.echo(f"  {job.job_id}: {job.source} -> {job.output}")
        return
    display = BatchDisplay(None, stream=sys.stderr, quiet=quiet, json_lines=log_json)
    with make_executor(executor_kind, workers=workers, address=ray_address, cpus_per_task=cpus_per_task,
                       gpus_per_task=gpus_per_task) as executor:
        outcome = run_batch(jf, executor, display)
    for line in summary_table(outcome.status):
        click.echo(line)
    if outcome.status.write_error:
        click.echo(f"restore: warning: {outcome.status.write_error}", err=True)
    if outcome.failed:
        click.echo(f"restore: {len(outcome.failed)} of {len(outcome.status.jobs)} jobs failed "
                   f"(reasons above and in {jf.status_path}); run the same command again to retry them", err=True)
        sys.exit(1)


def register(main: click.Group) -> None:
    main.add_command(batch)
