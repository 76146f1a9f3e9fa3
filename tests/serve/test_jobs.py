"""The workbench without a browser: the job store, versioned corrections, the queue (cancel, resume), trims."""

from __future__ import annotations

import base64
import json
import time
import urllib.parse

import cv2
import numpy as np
import pytest

from restore.errors import UserError
from restore.serve.store import JobStore, Presets
from restore.serve.worker import trim_source
from tests.conftest import ffmpeg
from tests.serve.conftest import DENOISE_YAML, H, W, LiveServer, decode_rgb, make_rgb_clip, settings_for


def preset(tmp_path):
    return {"name": "test-denoise", "path": str(tmp_path / "presets" / "test-denoise.yaml")}


def png(mask: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(cv2.imencode(".png", mask)[1].tobytes()).decode()


def test_presets_come_with_their_descriptions(workbench_root):
    found = Presets([workbench_root.parent / "presets"]).all()
    assert found["test-denoise"]["stages"] == ["denoise"]
    assert "geometry" in found["test-denoise"]["description"]
    with pytest.raises(UserError):
        Presets([workbench_root.parent / "presets"]).get("nope")


def test_corrections_are_versioned_and_never_erased(workbench_root, tmp_path):
    store = JobStore(workbench_root, workbench_root / "restore-workbench")
    job = store.create("films/clip.mkv", preset(tmp_path), None)
    mask = np.zeros((H, W), np.uint8)
    mask[:10, :10] = 255
    data = cv2.imencode(".png", mask)[1].tobytes()
    doc = job.add_correction({"kind": "keep_source", "frames": [1, 2], "who": "Ann", "why": "title"}, data)
    first = doc["corrections"][0]
    assert doc["revision"] == 1 and (job.corrections_dir / first["mask"]).read_bytes() == data
    doc = job.add_correction({"kind": "strength", "frames": [0, 3], "who": "Ann", "stage": "denoise",
                              "strength": 0.5}, None)
    doc = job.remove_correction(first["id"], "Bob", "not needed after all")
    assert doc["revision"] == 3 and [c.get("active") for c in doc["corrections"]] == [False, True]
    assert doc["corrections"][0]["withdrawn"]["who"] == "Bob"
    assert [h["action"] for h in doc["history"]] == ["add", "add", "withdraw"]
    revisions = sorted(p.name for p in job.corrections_dir.glob("rev-*.json"))
    assert revisions == ["rev-000001.json", "rev-000002.json", "rev-000003.json"]
    assert len(json.loads((job.corrections_dir / "rev-000001.json").read_text())["corrections"]) == 1
    with pytest.raises(UserError):
        job.remove_correction(first["id"], "Bob")
    # the file list leaves out the workbench's own folder and hidden files
    (workbench_root / ".hidden.mkv").write_bytes(b"")
    assert store.videos() == ["films/clip.mkv"]


def test_corrections_made_at_once_from_several_tabs_are_all_kept(workbench_root, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    store = JobStore(workbench_root, workbench_root / "restore-workbench")
    job_id = store.create("films/clip.mkv", preset(tmp_path), None).id

    def add(n):   # each request gets its own Job object, as the server's handlers do
        store.get(job_id).add_correction({"kind": "strength", "frames": [n, n], "who": f"tab {n}",
                                          "stage": "denoise", "strength": 0.5}, None)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(16)))
    doc = store.get(job_id).corrections()
    assert doc["revision"] == 16 and sorted(c["frames"][0] for c in doc["corrections"]) == list(range(16))


def test_a_rejected_face_track_takes_its_boxes_from_the_frames_log(workbench_root, tmp_path):
    store = JobStore(workbench_root, workbench_root / "restore-workbench")
    job = store.create("films/clip.mkv", preset(tmp_path), None)
    job.output.parent.mkdir(parents=True)
    with open(job.output.with_name(job.output.name + ".frames.jsonl"), "w") as fh:
        for i in range(6):
            faces = [{"track": 1, "box": [10 + i, 20, 30, 40]}, {"track": 2, "box": [90, 10, 20, 20]}]
            fh.write(json.dumps({"index": i, "source_index": i, "notes": {"faces": faces if i != 3 else []}}) + "\n")
    assert job.face_boxes(1, 2, 4) == {"2": [12.0, 20.0, 30.0, 40.0], "4": [14.0, 20.0, 30.0, 40.0]}
    assert job.face_boxes(3, 0, 5) == {}
    assert job.face_tracks() == [{"track": 1, "first": 0, "last": 5, "frames": 5},
                                 {"track": 2, "first": 0, "last": 5, "frames": 5}]


def test_trim_cuts_frames_and_sound_together(tmp_path):
    source = tmp_path / "with-sound.mkv"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25", "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000",
           "-frames:v", "20", "-t", "0.8", "-c:v", "ffv1", "-pix_fmt", "gbrp", "-c:a", "pcm_s16le", str(source))
    target = trim_source(source, tmp_path / "job" / "input" / "trim.mkv", 5, 8)
    frames = decode_rgb(target)
    assert len(frames) == 8 and np.array_equal(frames, decode_rgb(source)[5:13])   # lossless, frame-exact
    from restore.media.probe import probe

    audio = [s for s in probe(target, count=False)["streams"] if s["type"] == "audio"][0]
    assert audio["codec"] == "flac" and abs(audio["duration"] - 8 / 25) < 0.03
    with pytest.raises(UserError, match="not found"):
        trim_source(tmp_path / "missing.mkv", tmp_path / "x.mkv", 0, 1)


def wait_state(server, job, states, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = json.loads(server.request(f"/api/jobs/{job}")[2])
        if data["state"] in states:
            return data
        time.sleep(0.2)
    raise AssertionError(f"job {job} never reached {states}: {data}")


@pytest.mark.slow
def test_cancel_keeps_the_work_and_resume_finishes_it(tmp_path):
    root = tmp_path / "archive"
    (root / "films").mkdir(parents=True)
    make_rgb_clip(root / "films" / "long.mkv", frames=60)
    (tmp_path / "presets").mkdir()
    # nlmeans is slow enough on these frames for a segment to be under way when the cancel arrives
    (tmp_path / "presets" / "test-slow.yaml").write_text(
        "name: test-slow\ndescription: slower test preset\nstages:\n  - stage: denoise\n    method: nlmeans\n")
    with LiveServer(settings_for(root)) as server:
        body = urllib.parse.urlencode({"source": "films/long.mkv", "preset": "test-slow", "trim_first": "0",
                                       "trim_count": "40"}).encode()
        status, _, raw = server.request("/jobs", data=body, headers={"Accept": "application/json"})
        job = json.loads(raw)["id"]
        deadline = time.monotonic() + 120
        while (live := json.loads(server.request(f"/api/jobs/{job}")[2]))["segments_done"] in (None, 0):
            assert time.monotonic() < deadline, "no segment was committed"
            time.sleep(0.1)
        # live progress: frames, fps, ETA, the phase and the stages at work
        assert live["state"] == "running" and live["phase"] == "restoring" and live["stage"] == "denoise"
        assert live["frames_total"] == 40 and 0 < live["frames_done"] < 40 and 0 < live["percent"] < 100
        assert live["fps"] > 0 and live["eta_s"] > 0
        assert server.request(f"/jobs/{job}/cancel", data=b"", headers={"Accept": "application/json"})[0] == 200
        cancelled = wait_state(server, job, {"cancelled"})
        assert 0 < cancelled["segments_done"] < cancelled["segments_total"] == 10
        journal = root / "restore-workbench" / "jobs" / job / "output" / ".long.restored.mkv.work" / "journal.json"
        kept = set(json.loads(journal.read_text())["segments"])
        assert server.request(f"/jobs/{job}/resume", data=b"", headers={"Accept": "application/json"})[0] == 200
        done = wait_state(server, job, {"done", "failed"}, timeout=300)
        assert done["state"] == "done" and done["percent"] == 100.0 and done["frames_total"] == 40
        log = (root / "restore-workbench" / "jobs" / job / "output" / "long.restored.mkv.provenance.json")
        assert log.is_file() and kept                              # resumed from the committed segments
        assert len(decode_rgb(root / "restore-workbench" / "jobs" / job / "output" / "long.restored.mkv")) == 40


@pytest.mark.slow
def test_corrections_api_checks_what_it_is_given(workbench_root):
    with LiveServer(settings_for(workbench_root, start_queue=False)) as server:
        status, _, raw = server.request("/jobs", data=b"source=films/clip.mkv&preset=test-denoise",
                                        headers={"Accept": "application/json"})
        job = json.loads(raw)["id"]
        mask = np.zeros((H, W), np.uint8)
        mask[5:9, 5:9] = 255

        def post(body):
            status, _, raw = server.request(f"/jobs/{job}/corrections", data=json.dumps(body).encode(),
                                            headers={"Content-Type": "application/json"})
            return status, json.loads(raw)

        base = {"kind": "keep_source", "first": 0, "last": 0, "who": "Ann", "mask": png(mask)}
        for bad, message in [({"who": ""}, "who"), ({"kind": "smear"}, "kind"), ({"first": 3, "last": 1}, "frames"),
                             ({"mask": "data:text/plain;base64,AAAA"}, "paint"),
                             ({"mask": png(np.zeros((H, W), np.uint8))}, "nothing"),
                             ({"kind": "reject_face", "track": 1}, "face track"),
                             ({"kind": "strength", "stage": "denoise", "strength": 9}, "strength")]:
            status, data = post({**base, **bad})
            assert status == 422 and message in data["error"], (bad, data)
        status, data = post(base)
        assert status == 200 and data["revision"] == 1
        stored = cv2.imread(str(workbench_root / "restore-workbench" / "jobs" / job / "corrections" /
                                data["corrections"][0]["mask"]), cv2.IMREAD_UNCHANGED)
        assert set(np.unique(stored)) == {0, 255} and (stored > 0).sum() == 16
        status, data = post({"kind": "strength", "first": 0, "last": 5, "who": "Ann", "stage": "denoise",
                             "strength": 0.5, "why": "the grain is part of the shot"})
        assert status == 200 and data["corrections"][1]["strength"] == 0.5
        cid = data["corrections"][0]["id"]
        status, _, raw = server.request(f"/jobs/{job}/corrections/{cid}/withdraw", data=b'{"who": "Bob"}',
                                        headers={"Content-Type": "application/json"})
        assert status == 200 and json.loads(raw)["corrections"][0]["active"] is False
        # before the output exists the review page says so, and frames are served only for what exists
        assert b"Corrections can be made once the restoration has finished" in server.request(f"/jobs/{job}")[2]
        assert server.request(f"/jobs/{job}/frames/0.png?of=output")[0] == 404
        assert server.request(f"/jobs/{job}/frames/0.png?of=source")[0] == 200
        assert server.request(f"/jobs/{job}/frames/99.png?of=source")[0] == 404


@pytest.mark.slow
def test_the_worker_restores_a_trimmed_preview_of_an_oddly_named_film(tmp_path):
    """What the queue's worker process does, in this process: trim, restore in segments, review."""
    from restore.serve.worker import restore

    root = tmp_path / "archive"
    (root / "films").mkdir(parents=True)
    make_rgb_clip(root / "films" / "reel [1] *final*.mkv", frames=16)
    (root / "films" / "reel 1 final.mkv").write_bytes(b"not this one")
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "test-denoise.yaml").write_text(DENOISE_YAML)
    store = JobStore(root, root / "restore-workbench")
    whole = store.create("films/reel [1] *final*.mkv", preset(tmp_path), None)
    restore(whole, root, segment_frames=8)
    assert len(decode_rgb(whole.output)) == 16 and whole.data["applied_revision"] == 0
    assert (whole.report_dir / "index.html").is_file() and whole.progress["phase"] == "done"
    preview = store.create("films/reel [1] *final*.mkv", preset(tmp_path), {"first": 4, "count": 6})
    restore(preview, root, segment_frames=4)
    assert len(decode_rgb(preview.output)) == 6
    record = json.loads(preview.output.with_name(preview.output.name + ".provenance.json").read_text())["record"]
    assert record["source"]["name"] == "trim.mkv" and record["frames"] == {"in": 6, "out": 6}
