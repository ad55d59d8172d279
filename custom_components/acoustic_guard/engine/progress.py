"""A tiny ``\\r`` progress bar on stderr (no dependency).

Shown when stderr is a terminal, or once a run has lasted longer than a few seconds (so a
long job in CI still says it is alive); never for quick runs into a pipe.
"""

from __future__ import annotations

import sys
import time
from typing import Final, TextIO

SHOW_AFTER_S: Final = 3.0
MIN_INTERVAL_S: Final = 0.2  # between redraws on a terminal
LOG_INTERVAL_S: Final = 5.0  # between lines when stderr is a pipe or a file
WIDTH: Final = 30


class Progress:
    def __init__(self, label: str, total: float, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(float(total), 1e-9)
        self.stream = stream if stream is not None else sys.stderr
        self._start = time.monotonic()
        self._last = 0.0
        self._shown = False
        isatty = getattr(self.stream, "isatty", None)
        self._tty = bool(isatty()) if callable(isatty) else False

    def update(self, done: float, note: str = "") -> None:
        now = time.monotonic()
        if not self._tty and now - self._start < SHOW_AFTER_S:
            return
        interval = MIN_INTERVAL_S if self._tty else LOG_INTERVAL_S
        if now - self._last < interval and done < self.total:
            return
        self._last = now
        frac = min(1.0, max(0.0, done / self.total))
        filled = round(frac * WIDTH)
        bar = "#" * filled + "-" * (WIDTH - filled)
        end = "\r" if self._tty else "\n"
        self.stream.write(f"{self.label} [{bar}] {frac * 100:5.1f}% {note}{end}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown and self._tty:
            self.stream.write("\n")
            self.stream.flush()
