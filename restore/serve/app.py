"""The workbench's pages and their small JSON API (Starlette, server-rendered with Jinja2, no build step).

Pages: ``/`` jobs (choose a file, a preset, a trim; the queue with live progress), ``/jobs/{id}``
review and correct (the static review report, reused as it is, beside the correction tools),
``/jobs/{id}/approve`` approve and package. The routes only read and write the job store and the
queue: they know nothing of stages.
"""

from __future__ import annotations

import base64
import binascii
import json
import subprocess
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from restore import __version__
from restore import corrections as corr
from restore.clock import hms
from restore.errors import UserError
from restore.pipeline.spec import PIPELINES_DIR
from restore.serve.queue import Runner
from restore.serve.security import Gate, PathRefused, safe_path
from restore.serve.store import Job, JobStore, Presets, now, read_json

HERE = Path(__file__).resolve().parent
MAX_MASK_BYTES = 16 << 20


@dataclass
class Settings:
    root: Path
    workspace: Path
    token: str | None = None          # required on every request when set (non-loopback binds)
    loopback: bool = True
    presets: tuple[Path, ...] = ()    # extra preset folders, after pipelines/
    segment_frames: int = 250
    start_queue: bool = True


def create_app(settings: Settings) -> Gate:
    """The ASGI app: the Starlette routes behind the Gate (token, Host and Origin checks)."""
    root = Path(settings.root).resolve()
    store = JobStore(root, settings.workspace)
    presets = Presets([PIPELINES_DIR, *settings.presets])
    runner = Runner(store, segment_frames=settings.segment_frames)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(version=__version__)
    templates.env.filters["clock"] = _clock

    def page(request: Request, name: str, **context) -> Response:
        return templates.TemplateResponse(request, name, context)

    def job_of(request: Request) -> Job:
        try:
            return store.get(request.path_params["job"])
        except UserError as exc:
            raise HTTPException(404, str(exc)) from None

    # --- jobs --------------------------------------------------------------------------
    def jobs_page(request: Request):
        return page(request, "jobs.html", videos=store.videos(), presets=presets.all(),
                    jobs=[j.summary() for j in store.all()], root=str(root))

    def api_jobs(request: Request):
        return JSONResponse({"jobs": [j.summary() for j in store.all()]})

    def api_job(request: Request):
        job = job_of(request)
        return JSONResponse({**job.summary(), "corrections": job.corrections()})

    def api_probe(request: Request):
        try:
            path = safe_path(root, request.query_params.get("path", ""))
        except PathRefused as exc:
            return JSONResponse({"error": str(exc)}, status_code=403)
        if not path.is_file():
            return JSONResponse({"error": "not a file"}, status_code=404)
        from restore.media.probe import probe

        try:
            facts = probe(path, count=True)
        except UserError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return JSONResponse(json.loads(json.dumps(facts, default=str)))

    async def create_job(request: Request):
        form = await request.form()
        try:
            source = safe_path(root, str(form.get("source", "")))
            if not source.is_file():
                raise PathRefused("choose a file")
            if source == store.workspace or store.workspace in source.parents:
                raise PathRefused("choose a source file, not one of the workbench's own outputs")
            preset = presets.get(str(form.get("preset", "")))
            trim = _trim(form.get("trim_first"), form.get("trim_count"))
        except PathRefused as exc:
            return Response(str(exc), status_code=403, media_type="text/plain")
        except UserError as exc:
            return Response(str(exc), status_code=422, media_type="text/plain")
        job = store.create(str(source.relative_to(root)), preset, trim, who=str(form.get("who") or "") or None)
        runner.submit(job)
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(job.summary())
        return RedirectResponse("/", status_code=303)

    def cancel(request: Request):
        runner.cancel(job_of(request))
        return _back(request)

    def resume(request: Request):
        job = job_of(request)
        runner.submit(job, "restore")
        return _back(request)

    # --- review and correct ---------------------------------------------------------------
    def review_page(request: Request):
        job = job_of(request)
        summary = read_json(job.report_dir / "summary.json", {}) or {}
        inventions = ((summary.get("inventions") or {}).get("list") or [])[:12]
        before = ((summary.get("alignment") or {}).get("before") or {})
        return page(request, "review.html", job=job.summary(), kinds=corr.DESCRIPTIONS, inventions=inventions,
                    source_size=[before.get("width"), before.get("height")],
                    corrections=job.corrections(), tracks=job.face_tracks() if job.output_exists() else [],
                    stages=_strength_stages(job),
                    frames=_frames_out(job))

    def report_file(request: Request):
        job = job_of(request)
        try:
            path = safe_path(job.report_dir, request.path_params["path"])
        except PathRefused:
            raise HTTPException(404) from None
        if not path.is_file():
            raise HTTPException(404)
        return FileResponse(path)

    def frame_image(request: Request):
        job = job_of(request)
        which = request.query_params.get("of", "output")
        index = int(request.path_params["index"])
        path = job.output if which == "output" else job.source_path(root)
        if not path.is_file():
            raise HTTPException(404, "no such file yet")
        cache = job.folder / "cache" / f"{which}-{index:06d}-{path.stat().st_mtime_ns}.png"
        if not cache.is_file():
            if which == "source" and _ratio(job) > 1:
                index //= _ratio(job)
            if not _extract_frame(path, index, cache):
                raise HTTPException(404, f"no frame {index}")
        return FileResponse(cache, media_type="image/png", headers={"Cache-Control": "no-store"})

    async def add_correction(request: Request):
        job = job_of(request)
        try:
            body = await request.json()
            item, mask = _correction(body, job, _frames_out(job))
        except (ValueError, UserError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        doc = await run_in_threadpool(job.add_correction, item, mask)
        return JSONResponse(doc)

    async def withdraw_correction(request: Request):
        job = job_of(request)
        body = await request.json()
        who = str(body.get("who") or "").strip()
        if not who:
            return JSONResponse({"error": "say who withdraws it"}, status_code=422)
        try:
            doc = job.remove_correction(request.path_params["cid"], who, str(body.get("why") or ""))
        except UserError as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return JSONResponse(doc)

    def rerun(request: Request):
        job = job_of(request)
        summary = job.summary()
        if summary["state"] == "done" and summary["corrections_revision"] == (summary["applied_revision"] or 0):
            return JSONResponse({"error": "the output already has every correction"}, status_code=409)
        runner.submit(job, "restore")
        return _back(request)

    def provenance(request: Request):
        job = job_of(request)
        path = job.output.with_name(job.output.name + ".provenance.json")
        if not path.is_file():
            raise HTTPException(404, "no provenance yet")
        return FileResponse(path, media_type="application/json")

    # --- approve and package ----------------------------------------------------------------
    def approve_page(request: Request):
        job = job_of(request)
        record = (read_json(job.output.with_name(job.output.name + ".provenance.json"), {}) or {}) \
            if job.output_exists() else {}
        return page(request, "approve.html", job=job.summary(), record=record.get("record") or {},
                    record_sha256=record.get("record_sha256"), corrections=job.corrections(),
                    package_report=read_json(job.folder / "package-report.json") if job.data.get("package") else None)

    async def approve(request: Request):
        job = job_of(request)
        form = await request.form()
        who = " ".join(str(form.get("who") or "").split())
        note = str(form.get("note") or "").strip()
        if not who:
            return Response("Approval needs the approver's name.", status_code=422, media_type="text/plain")
        state, task = job.data.get("state"), job.data.get("task")
        if not job.output_exists() or state in ("queued", "running") or (task != "package" and state != "done"):
            return Response("Only a finished restoration can be approved.", status_code=409, media_type="text/plain")
        summary = job.summary()
        if summary["corrections_revision"] != (summary["applied_revision"] or 0):
            return Response("Re-run the restoration first: some corrections are not in the output yet.",
                            status_code=409, media_type="text/plain")
        from restore.provenance.record import sha256_file

        record = read_json(job.output.with_name(job.output.name + ".provenance.json"), {}) or {}
        approval = {"format": "restore-approval", "version": 1, "who": who, "note": note, "when": now(),
                    "output": job.output.name, "output_sha256": await run_in_threadpool(sha256_file, job.output),
                    "record_sha256": record.get("record_sha256"),
                    "corrections_revision": summary["corrections_revision"], "job": job.id}
        from restore.batch.durable import write_json_durably

        write_json_durably(job.folder / "approval.json", approval)
        runner.submit(job, "package")
        return RedirectResponse(f"/jobs/{job.id}/approve", status_code=303)

    @asynccontextmanager
    async def lifespan(app):
        if settings.start_queue:
            runner.start()
        try:
            yield
        finally:
            if settings.start_queue:
                await run_in_threadpool(runner.stop)

    routes = [
        Route("/", jobs_page),
        Route("/api/jobs", api_jobs),
        Route("/api/probe", api_probe),
        Route("/api/jobs/{job}", api_job),
        Route("/jobs", create_job, methods=["POST"]),
        Route("/jobs/{job}", review_page),
        Route("/jobs/{job}/cancel", cancel, methods=["POST"]),
        Route("/jobs/{job}/resume", resume, methods=["POST"]),
        Route("/jobs/{job}/rerun", rerun, methods=["POST"]),
        Route("/jobs/{job}/report/{path:path}", report_file),
        Route("/jobs/{job}/frames/{index:int}.png", frame_image),
        Route("/jobs/{job}/corrections", add_correction, methods=["POST"]),
        Route("/jobs/{job}/corrections/{cid}/withdraw", withdraw_correction, methods=["POST"]),
        Route("/jobs/{job}/provenance.json", provenance),
        Route("/jobs/{job}/approve", approve_page),
        Route("/jobs/{job}/approve", approve, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.store, app.state.runner, app.state.settings = store, runner, settings
    return Gate(app, token=settings.token, loopback=settings.loopback)


# --- helpers ---------------------------------------------------------------------------------
def _back(request: Request):
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"ok": True})
    return RedirectResponse(request.headers.get("referer") or "/", status_code=303)


def _clock(seconds: float | None) -> str:
    return "–" if seconds is None else hms(seconds)


def _trim(first, count) -> dict | None:
    first = str(first or "").strip()
    count = str(count or "").strip()
    if not first and not count:
        return None
    try:
        a, n = int(first or 0), int(count)
    except ValueError:
        raise UserError("the trim is a first frame and a number of frames (whole numbers)") from None
    if a < 0 or n < 1:
        raise UserError("the trim's first frame must be 0 or more, and its length at least 1 frame")
    return {"first": a, "count": n}


def _frames_out(job: Job) -> int:
    status = read_json(job.folder / "output" / "restore-status.json", {}) or {}
    for entry in status.get("jobs") or []:
        if entry.get("frames_total"):
            return int(entry["frames_total"])
    return int(job.progress.get("frames_total") or 0)


def _ratio(job: Job) -> int:
    record = read_json(job.output.with_name(job.output.name + ".provenance.json"), {}) or {}
    frames = (record.get("record") or {}).get("frames") or {}
    return max(1, int(frames.get("out") or 1) // max(1, int(frames.get("in") or 1)))


def _extract_frame(path: Path, index: int, target: Path) -> bool:
    """One decoded frame as an 8-bit RGB PNG (for the painter: the output's own pixels, at its size)."""
    from restore.media.decode import sws_flags

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp.png")
    proc = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(path), "-map", "0:v:0",
                           "-sws_flags", sws_flags(), "-vf", f"select=eq(n\\,{index})", "-frames:v", "1",
                           "-pix_fmt", "rgb24", str(tmp)], capture_output=True)
    if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        return False
    tmp.replace(target)
    return True


def _correction(body: dict, job: Job, frames: int) -> tuple[dict, bytes | None]:
    """A correction from the browser, checked (the store adds its id, time and revision)."""
    kind = body.get("kind")
    if kind not in corr.KINDS:
        raise UserError(f"unknown kind of correction {kind!r}")
    who = " ".join(str(body.get("who") or "").split())
    if not who:
        raise UserError("every correction says who made it: fill in your name")
    try:
        first, last = int(body.get("first")), int(body.get("last", body.get("first")))
    except (TypeError, ValueError):
        raise UserError("frames: a first and a last frame number") from None
    if first < 0 or last < first or (frames and last >= frames):
        raise UserError(f"frames {first}–{last} are not within the output's 0–{max(0, frames - 1)}")
    item = {"kind": kind, "frames": [first, last], "who": who, "why": str(body.get("why") or "").strip()}
    mask = None
    if kind in ("keep_source", "dust"):
        data = str(body.get("mask") or "")
        if not data.startswith("data:image/png;base64,"):
            raise UserError("paint the region first (the mask arrives as a PNG)")
        try:
            mask = base64.b64decode(data.split(",", 1)[1], validate=True)
        except (binascii.Error, ValueError):
            raise UserError("the painted mask could not be read") from None
        if len(mask) > MAX_MASK_BYTES or not mask.startswith(b"\x89PNG"):
            raise UserError("the painted mask is not a PNG")
        mask = _binary_mask(mask)
    elif kind == "reject_face":
        try:
            item["track"] = int(body.get("track"))
        except (TypeError, ValueError):
            raise UserError("choose the face track to reject") from None
        item["boxes"] = job.face_boxes(item["track"], first, last)
        if not item["boxes"]:
            raise UserError(f"face track {item['track']} has no face on frames {first}–{last}")
    elif kind == "strength":
        item["stage"] = str(body.get("stage") or "")
        try:
            item["strength"] = float(body.get("strength"))
        except (TypeError, ValueError):
            raise UserError("strength: a number") from None
        from restore.pipeline.spec import load_pipeline

        corr.with_strength(load_pipeline(job.data["preset_path"]), item["stage"], item["strength"])  # or refuse
    return item, mask


def _strength_stages(job: Job) -> list[dict]:
    """The preset's stages whose strength can be changed for a shot, with their ranges."""
    from restore.pipeline.spec import load_pipeline

    try:
        spec = load_pipeline(job.data["preset_path"])
    except UserError:
        return []
    found = []
    for entry in spec.stages:
        try:
            low, high = corr.strength_bounds(spec, entry.name)
        except corr.CorrectionError:
            continue
        if entry.name not in [f["name"] for f in found]:
            found.append({"name": entry.name, "min": low, "max": high, "value": getattr(entry.params, "strength")})
    return found


def _binary_mask(png: bytes) -> bytes:
    """The painted layer as a 0/255 grey PNG: painted (any opacity) is 255, so a kept pixel is the source's exactly."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise UserError("the painted mask could not be decoded")
    if image.ndim == 3:
        image = image[..., 3] if image.shape[2] == 4 else image.max(axis=2)
    binary = np.where(image > 0, 255, 0).astype(np.uint8)
    if not binary.any():
        raise UserError("nothing was painted")
    return cv2.imencode(".png", binary)[1].tobytes()
