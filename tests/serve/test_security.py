"""The workbench refuses paths outside its root, and requests without the token on a non-local bind (no browser)."""

from __future__ import annotations

import json
import os
import urllib.parse

import pytest

from restore.errors import UserError
from restore.serve import security
from restore.serve.security import PathRefused, safe_path
from tests.serve.conftest import LiveServer, settings_for


# --- paths ------------------------------------------------------------------------------------
def test_safe_path_keeps_to_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "films").mkdir(parents=True)
    (root / "films" / "a.mkv").write_bytes(b"x")
    (tmp_path / "secret.mkv").write_bytes(b"x")
    os.symlink(tmp_path / "secret.mkv", root / "films" / "link.mkv")
    os.symlink(tmp_path, root / "films" / "up")
    assert safe_path(root, "films/a.mkv") == (root / "films" / "a.mkv").resolve()
    for bad in ["../secret.mkv", "films/../../secret.mkv", str(tmp_path / "secret.mkv"), "/etc/passwd",
                "films/link.mkv", "films/up/secret.mkv", "films/a.mkv\0", "..", "films\\..\\..\\secret.mkv",
                "C:/Windows/win.ini", "films/missing.mkv"]:
        with pytest.raises(PathRefused):
            safe_path(root, bad)


def test_loopback_names():
    assert all(security.is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "127.0.0.2"))
    assert not any(security.is_loopback(h) for h in ("0.0.0.0", "192.168.1.10", "::", "archive.example"))


def test_serve_prints_a_token_url_for_any_other_host(monkeypatch, tmp_path):
    import uvicorn

    from restore.serve import serve

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    lines = []
    serve(host="0.0.0.0", port=9999, root=tmp_path, echo=lines.append)
    url = [line for line in lines if "http://" in line][0]
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(url.split()[-1]).query)["token"][0]
    assert len(token) >= 24 and seen["app"].token == token and seen["host"] == "0.0.0.0"
    lines.clear()
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UserError, match="--workspace"):
        serve(host="127.0.0.1", port=9999, root=tmp_path, workspace=tmp_path / "a-file" / "ws", echo=lines.append)
    serve(host="127.0.0.1", port=9999, root=tmp_path, echo=lines.append)
    assert "?token=" not in " ".join(lines) and seen["app"].token is None and seen["app"].loopback


# --- a live server ------------------------------------------------------------------------------
def form(**fields) -> bytes:
    return urllib.parse.urlencode(fields).encode()


@pytest.mark.slow
def test_requests_for_paths_outside_the_root_are_refused(workbench_root, tmp_path):
    (tmp_path / "outside.mkv").write_bytes((workbench_root / "films" / "clip.mkv").read_bytes())
    os.symlink(tmp_path / "outside.mkv", workbench_root / "films" / "escape.mkv")
    with LiveServer(settings_for(workbench_root, start_queue=False)) as server:
        status, _, body = server.request("/api/probe?path=films/clip.mkv")
        assert status == 200 and json.loads(body)["streams"][0]["width"] == 160
        for path in ["../outside.mkv", str(tmp_path / "outside.mkv"), "films/escape.mkv", "films/%2e%2e/../outside.mkv"]:
            status, _, body = server.request("/api/probe?path=" + urllib.parse.quote(path))
            assert status == 403, (path, body)
        # the file list never offers what lies outside
        status, _, body = server.request("/")
        assert b"films/clip.mkv" in body and b"escape.mkv" not in body and b"outside" not in body
        # a job cannot be started on a file outside the root, nor on the workbench's own outputs
        for source in ["../outside.mkv", str(tmp_path / "outside.mkv"), "films/escape.mkv",
                       "restore-workbench/jobs/x/output/a.mkv"]:
            status, _, body = server.request("/jobs", data=form(source=source, preset="test-denoise"))
            assert status == 403, (source, body)
        assert not any((workbench_root / "restore-workbench" / "jobs").iterdir())
        # nothing of a job's folder is served outside its report
        status, _, body = server.request("/jobs", data=form(source="films/clip.mkv", preset="test-denoise"),
                                         headers={"Accept": "application/json"})
        job = json.loads(body)["id"]
        (workbench_root / "restore-workbench" / "jobs" / job / "report").mkdir()
        for path in [f"/jobs/{job}/report/%2e%2e/job.json", f"/jobs/{job}/report/..%2fjob.json",
                     f"/jobs/{job}/report/%2e%2e%2f%2e%2e%2f%2e%2e%2fprsets", "/jobs/..%2f..%2fetc/report/passwd",
                     f"/api/jobs/{urllib.parse.quote('../../x')}"]:
            status, _, body = server.request(path)
            assert status in (403, 404), (path, status, body)
            assert b'"source"' not in body


@pytest.mark.slow
def test_a_non_local_bind_needs_the_token(workbench_root):
    with LiveServer(settings_for(workbench_root, start_queue=False, token="s3cret-token-for-tests",
                                 loopback=False)) as server:
        for path in ["/", "/api/jobs", "/api/probe?path=films/clip.mkv", "/static/workbench.css", "/?token=wrong"]:
            status, _, body = server.request(path)
            assert status == 403 and b"token" in body, path
        status, _, _ = server.request("/jobs", data=form(source="films/clip.mkv", preset="test-denoise"))
        assert status == 403
        assert not any((workbench_root / "restore-workbench" / "jobs").iterdir())

        status, headers, body = server.request("/?token=s3cret-token-for-tests")
        assert status == 200 and b"New restoration" in body
        cookie = headers["set-cookie"].split(";")[0]
        assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
        assert server.request("/api/jobs", headers={"Cookie": cookie})[0] == 200
        assert server.request("/api/jobs", headers={"X-Restore-Token": "s3cret-token-for-tests"})[0] == 200
        assert server.request("/api/jobs", headers={"Cookie": "restore_token=nope"})[0] == 403


@pytest.mark.slow
def test_loopback_refuses_foreign_hosts_and_cross_site_posts(workbench_root):
    with LiveServer(settings_for(workbench_root, start_queue=False)) as server:
        assert server.request("/", headers={"Host": "evil.example"})[0] == 403          # DNS rebinding
        assert server.request("/", headers={"Host": f"localhost:{server.port}"})[0] == 200
        status, _, _ = server.request("/jobs", data=form(source="films/clip.mkv", preset="test-denoise"),
                                      headers={"Origin": "http://evil.example"})
        assert status == 403
        assert not any((workbench_root / "restore-workbench" / "jobs").iterdir())
        status, _, _ = server.request("/jobs", data=form(source="films/clip.mkv", preset="test-denoise"),
                                      headers={"Origin": server.url})
        assert status == 303 or status == 200
