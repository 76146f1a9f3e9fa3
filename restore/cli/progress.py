"""Progress on a terminal (one updating line), plain lines otherwise, or JSON lines."""

from __future__ import annotations

import json
import sys
import time

from restore.clock import hms


class Progress:
    def __init__(self, label: str, *, quiet: bool = False, json_lines: bool = False, stream=None,
                 interval: float = 5.0):
        self.label = label
        self.quiet = quiet
        self.json_lines = json_lines
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = 0.2 if self.tty else interval
        self._last = 0.0

    def __call__(self, state: dict) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        done, total = state["done"], state.get("total")
        final = total is not None and done >= total
        if now - self._last < self.interval and not final:
            return
        self._last = now
        fps = state.get("fps") or 0.0
        eta = (total - done) / fps if total and fps > 0 else None
        if self.json_lines:
            self.stream.write(json.dumps({"event": "progress", "job": self.label, "frames": done, "total": total,
                                          "fps": round(fps, 3), "eta_s": round(eta, 1) if eta is not None else None})
                              + "\n")
        else:
            pct = f"{100 * done / total:5.1f}% " if total else ""
            bar = ""
            if total and self.tty:
                filled = int(24 * done / total)
                bar = "[" + "#" * filled + "." * (24 - filled) + "] "
            eta_txt = f" ETA {_clock(eta)}" if eta is not None else ""
            line = f"{self.label}: {bar}{pct}{done}/{total or '?'} frames {fps:.2f} fps{eta_txt}"
            self.stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        self.stream.flush()

    def event(self, event: dict) -> None:
        if self.quiet:
            return
        if self.json_lines:
            self.stream.write(json.dumps({"event": "stage", "job": self.label, **event}, default=str) + "\n")
        elif event.get("message"):
            # a stage's warning (e.g. a face left unrestored) is a line of its own even
            # without --log-json: on a terminal it replaces the progress line, which comes back
            line = f"{self.label}: {event.get('stage', '')}: {event['message']}"
            self.stream.write(("\r" + line + "\x1b[K\n") if self.tty else line + "\n")
        else:
            return
        self.stream.flush()

    def done(self) -> None:
        if self.tty and not self.quiet and not self.json_lines:
            self.stream.write("\n")
            self.stream.flush()


_clock = hms   # restore.clock
