"""Supervised background loops: every long-running loop of a process survives any exception.

A `Loop` runs one step after another in a daemon thread. A step that raises is logged in one line
(its error type and where it was raised — never its message, which may quote a payload), the loop
backs off (exponentially, capped) and goes on; a step that succeeds resets the backoff. Each loop
reports its liveness (`LoopStatus`), which `/readyz` shows, and `run_supervised` gives the same
discipline to a loop that owns the main thread (`connector worker`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from connector.logs import where

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopStatus:
    name: str
    running: bool  # the thread is alive (or, for the main-thread loop, inside its run)
    failing: int  # consecutive failed steps (0: the last step succeeded)
    last_error: str | None  # the error type of the last failure
    last_ok_age: float | None  # seconds since a step last succeeded (None: none has yet)

    @property
    def healthy(self) -> bool:
        return self.running and self.failing == 0


class Backoff:
    """1 s, 2 s, 4 s … up to `cap`, back to `first` after a success."""

    def __init__(self, first: float = 1.0, cap: float = 30.0):
        self.first, self.cap = first, cap
        self.current = first

    def next(self) -> float:
        wait, self.current = self.current, min(self.current * 2, self.cap)
        return wait

    def reset(self) -> None:
        self.current = self.first


class Loop:
    """`step()` again and again in a daemon thread until `stop()`; a step returns how long to wait
    before the next one (0: at once)."""

    def __init__(self, name: str, step: Callable[[], float], *, backoff: Backoff | None = None):
        self.name = name
        self.step = step
        self.backoff = backoff or Backoff()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = 0
        self._last_error: str | None = None
        self._last_ok: float | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name=f"connector-{self.name}", daemon=True)
            self._thread.start()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        while not self._stop.is_set():
            wait = self.once()
            if wait > 0:
                self._stop.wait(wait)

    def once(self) -> float:
        """One step, supervised: the seconds to wait before the next."""
        try:
            wait = self.step()
        except Exception as exc:  # survive anything a step does: log one line, back off, go on
            self._failing += 1
            self._last_error = type(exc).__name__
            wait = self.backoff.next()
            log.error(
                "%s failed; retrying in %.1f s",
                self.name,
                wait,
                extra={"loop": self.name, "error": type(exc).__name__, "where": where(exc), "failing": self._failing},
            )
            return wait
        if self._failing:
            log.info("%s recovered", self.name, extra={"loop": self.name, "after_failures": self._failing})
        self._failing = 0
        self._last_ok = time.monotonic()
        self.backoff.reset()
        return wait

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def status(self) -> LoopStatus:
        running = self._thread is not None and self._thread.is_alive() and not self._stop.is_set()
        age = None if self._last_ok is None else round(time.monotonic() - self._last_ok, 3)
        return LoopStatus(self.name, running, self._failing, self._last_error, age)
