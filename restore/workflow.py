"""What ``restore run`` and ``make demo`` do around a job: report, package, summary lines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from restore import resources
from restore.errors import UserError
from restore.job import JobOptions, JobResult, run_job
from restore.pipeline.spec import PipelineSpec, load_pipeline

SAMPLE = resources.sample()


@dataclass
class Outcome:
    result: JobResult
    report: Path | None = None
    package: Path | None = None

    def summary(self) -> dict:
        r = self.result
        return {"output": str(r.output), "frames_in": r.frames_in, "frames_out": r.frames_out,
                "seconds": round(r.seconds, 2), "fps": round(r.fps, 3), "notes": r.notes, "warnings": r.warnings,
                "stages": r.stage_timings, "provenance": r.provenance,
                "report": str(self.report) if self.report else None,
                "package": str(self.package) if self.package else None}

    def lines(self) -> list[str]:
        r = self.result
        f = r.output_format
        lines = [f"wrote {r.output} ({r.frames_out} frames from {r.frames_in}, {f.width}x{f.height} "
                 f"@ {f.fps} fps, {r.seconds:.1f} s, {r.fps:.2f} fps)"]
        for t in r.stage_timings:
            if t["seconds_per_frame"] is not None:
                lines.append(f"  stage {t['stage']}: {t['seconds_per_frame']:.3f} s/frame")
        lines += [f"  note: {n}" for n in r.notes]
        if r.provenance:
            for key in ("provenance", "premis", "c2pa"):
                if r.provenance.get(key):
                    lines.append(f"  {key}: {r.provenance[key]}")
        energy = (r.record or {}).get("energy")
        if energy:
            lines.append(f"  energy: {energy.get('kwh', 0):.6f} kWh, {energy.get('gco2e', 0):.3f} gCO2e "
                         f"({energy.get('method')})")
        if self.report:
            lines.append(f"  report: {self.report}")
        if self.package:
            lines.append(f"  package: {self.package}")
        return lines


def restore_file(source: Path, output: Path, spec: PipelineSpec, options: JobOptions, *,
                 report_dir: Path | None = None, package_dir: Path | None = None, resume: bool = False) -> Outcome:
    if resume:
        from restore.batch.segments import run_resumable

        result = run_resumable(source, output, spec, options)
    else:
        result = run_job(source, output, spec, options)
    outcome = Outcome(result)
    if report_dir is not None:
        from restore.review import write_report

        outcome.report = write_report(source, result.output, report_dir, record=result.record,
                                      provenance=result.provenance)
    if package_dir is not None:
        from restore.provenance import build_package

        outcome.package = build_package(master=result.output, access=None, dir=package_dir)
    return outcome


def run_demo(output_dir: Path, progress=None) -> list[str]:
    """``make demo``: the bundled sample through the default pipeline, plus its review report."""
    if not SAMPLE.exists():
        raise UserError(f"the bundled sample is missing: {SAMPLE} (make sample rebuilds it)")
    output_dir.mkdir(parents=True, exist_ok=True)
    spec = load_pipeline("default")
    options = JobOptions(overwrite=True, progress=progress)
    outcome = restore_file(SAMPLE, output_dir / "speech-pal-sample.restored.mkv", spec, options,
                           report_dir=output_dir / "report")
    if progress is not None:
        progress.done()
    lines = outcome.lines()
    access = output_dir / "speech-pal-sample.restored.mp4"
    access_outcome = restore_file(outcome.result.output, access, load_pipeline("passthrough"),
                                  JobOptions(overwrite=True))
    lines.append(f"wrote {access} (H.264 access copy of the master, plays in any browser)")
    del access_outcome
    return lines
