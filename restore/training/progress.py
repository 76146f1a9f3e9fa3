"""A one-line training progress display: iteration, phase, losses, it/s and ETA.

On a terminal the line is redrawn in place; in a log (not a TTY) a line is printed every
``interval`` seconds so that batch jobs still show progress without flooding the file.
"""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    def __init__(self, total: int, label: str, enabled: bool = True, stream=None, interval: float = 30.0):
        self.total = max(1, total)
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = interval if not self.tty else 0.2
        self.start = time.monotonic()
        self.last_draw = 0.0
        self.line = ""

    def update(self, done: int, losses: dict[str, float], phase: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last_draw < self.interval and done < self.total:
            return
        self.last_draw = now
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else 0.0
        loss_text = " ".join(f"{k} {v:.4f}" for k, v in losses.items())
        self.line = (f"{self.label} [{phase}] {done}/{self.total} {100 * done / self.total:3.0f}% | {loss_text} | "
                     f"{rate:.2f} it/s | ETA {_clock(eta)}")
        self.stream.write(("\r\033[K" + self.line) if self.tty else self.line + "\n")
        self.stream.flush()

    def note(self, message: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r\033[K" + message + "\n" + self.line)
        else:
            self.stream.write(message + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
