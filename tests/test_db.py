"""The SQLite writer gate: acknowledgements before background work, re-entrant per thread."""

from __future__ import annotations

import threading

from connector.store import WriterGate


class ObservedCondition(threading.Condition):
    """The gate's condition, telling the test each time a thread starts to wait on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Semaphore(0)

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.release()
        return super().wait(timeout)


def test_urgent_writer_goes_before_waiting_background_work():
    gate = WriterGate()
    cond = gate._cond = ObservedCondition()
    order: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def first_background() -> None:
        with gate.hold(urgent=False):
            holding.set()
            release.wait(5)

    def worker(name: str, urgent: bool) -> None:
        with gate.hold(urgent=urgent):
            order.append(name)

    t0 = threading.Thread(target=first_background)
    t0.start()
    holding.wait(5)
    background = threading.Thread(target=worker, args=("background", False))
    background.start()
    assert cond.waiting.acquire(timeout=5)  # the background thread is waiting first
    urgent = threading.Thread(target=worker, args=("ack", True))
    urgent.start()
    assert cond.waiting.acquire(timeout=5)  # and then the acknowledgement
    release.set()
    for t in (t0, background, urgent):
        t.join(5)
    assert order == ["ack", "background"]


def test_gate_is_reentrant_for_its_holder():
    gate = WriterGate()
    with gate.hold(urgent=False), gate.hold(urgent=True), gate.hold(urgent=False):
        pass
    with gate.hold(urgent=True):  # and free again afterwards
        pass
