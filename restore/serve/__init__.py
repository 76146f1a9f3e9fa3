"""restore serve: the conservator's workbench, a local web app to run, review, correct and approve restorations.

``restore serve [--host 127.0.0.1] [--port 8765] [--root DIR]`` serves the files under DIR (the
current folder by default) to a browser on this machine. Bound to anything but the loopback, it
asks for the token printed at start. The package is thin: ``app`` (pages and JSON), ``queue`` (one
worker process at a time), ``worker`` (the batch machinery, then the review report, or the package),
``store`` (job folders, versioned corrections), ``security`` (paths under the root, the token).
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_PORT = 8765


def serve(*, host: str = "127.0.0.1", port: int = DEFAULT_PORT, root: Path = Path("."), workspace: Path | None = None,
          presets: tuple[Path, ...] = (), segment_frames: int = 250, token: str | None = None, echo=print) -> None:
    import uvicorn

    from restore.errors import UserError
    from restore.serve.app import Settings, create_app
    from restore.serve.security import is_loopback, new_token

    root = Path(root).resolve()
    if not root.is_dir():
        raise UserError(f"--root {root}: no such folder")
    loopback = is_loopback(host)
    token = None if loopback else (token or new_token())
    workspace = Path(workspace).resolve() if workspace else root / "restore-workbench"
    try:
        (workspace / "jobs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the workspace {workspace} ({exc.strerror}): a read-only archive needs "
                        "--workspace DIR on a writable disk") from None
    app = create_app(Settings(root=root, workspace=workspace, token=token, loopback=loopback,
                              presets=tuple(Path(p) for p in presets), segment_frames=segment_frames))
    shown = "localhost" if loopback else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    echo(f"restore workbench for {root}")
    echo(f"  jobs and results in {workspace}")
    echo(f"  open http://{shown}:{port}/" + (f"?token={token}" if token else ""))
    if not loopback:
        echo("  (reachable from other machines: anyone with this address and its token can use it)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
