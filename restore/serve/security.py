"""What keeps the workbench to its operator and its folder.

* **Paths**: every file the browser names is a path *relative to the root*; it is refused when it is
  absolute, contains ``..`` or a NUL, or resolves (symlinks followed) outside the root.
* **Token**: bound to anything but the loopback interface, every request must carry the token
  printed at start (``?token=`` once, then a same-site cookie; or the ``X-Restore-Token`` header),
  as Jupyter does. On loopback no token is needed, but the ``Host`` header must name the loopback
  (a web page elsewhere cannot reach the app through DNS rebinding).
* **Forms**: a state-changing request whose ``Origin`` is not this server's is refused (another
  site open in the same browser cannot start, correct or approve anything).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from restore.errors import UserError

COOKIE = "restore_token"
HEADER = b"x-restore-token"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


class PathRefused(UserError):
    """A path outside the root, or one that does not name what it should."""


def new_token() -> str:
    return secrets.token_urlsafe(24)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def safe_path(root: Path, relative: str, *, must_exist: bool = True) -> Path:
    """``root/relative`` resolved, or PathRefused: never a file outside ``root`` (no ``..``, no symlink escape)."""
    root = Path(root).resolve()
    text = str(relative or "")
    if "\0" in text or text.startswith(("/", "\\")) or (len(text) > 1 and text[1] == ":"):
        raise PathRefused(f"{text!r}: give a path relative to the workbench's folder")
    parts = Path(text).parts
    if ".." in parts or "\\" in text:
        raise PathRefused(f"{text!r}: '..' is not allowed: the workbench only opens files under its folder")
    try:
        resolved = (root / text).resolve(strict=must_exist)
    except (OSError, RuntimeError):
        raise PathRefused(f"{text!r}: no such file under the workbench's folder") from None
    if resolved != root and root not in resolved.parents:
        raise PathRefused(f"{text!r} leads outside the workbench's folder (a link pointing out?)")
    return resolved


def _host_name(host_header: str) -> str:
    host = host_header.strip()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Gate:
    """ASGI middleware: the token, the Host check on loopback, and the Origin check for POSTs."""

    def __init__(self, app, *, token: str | None, loopback: bool):
        self.app, self.token, self.loopback = app, token, loopback

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = headers.get("host", "")
        if self.loopback and _host_name(host) not in LOOPBACK_NAMES and not is_loopback(_host_name(host)):
            return await _refuse(send, 403, "This workbench answers on localhost only.")
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            origin = headers.get("origin")
            if origin and origin != "null" and urlsplit(origin).netloc != host:
                return await _refuse(send, 403, "Refused: the request came from another site.")
        set_cookie = False
        if self.token is not None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = (query.get("token") or [None])[0]
            set_cookie = given is not None and self._ok(given)
            if not (set_cookie or self._ok(headers.get(HEADER.decode())) or self._ok(_cookie(headers, COOKIE))):
                return await _refuse(send, 403, "This workbench needs its token: open the address printed when "
                                                "`restore serve` started (it ends in ?token=…).")
        if not set_cookie:
            return await self.app(scope, receive, send)

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (b"set-cookie", f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode())]
            await send(message)

        return await self.app(scope, receive, send_with_cookie)

    def _ok(self, value: str | None) -> bool:
        return bool(value) and hmac.compare_digest(value.encode(), self.token.encode())


def _cookie(headers: dict, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


async def _refuse(send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
