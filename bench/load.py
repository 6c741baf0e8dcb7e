"""A small HTTP/1.1 load generator: pre-built request bytes over raw keep-alive sockets, in threads.

Raw sockets rather than `requests` so the generator, which shares the machine's cores with the
server, spends as little CPU per request as possible: it sends bytes built before the timed phase
and reads the status line, the headers and exactly Content-Length bytes of body.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: i-th request of a phase → its bytes, or None when the pre-built pool is used up
RequestSource = Callable[[int], bytes | None]


class ServerClosed(ConnectionError):
    """The server closed the connection; `received` says how many response bytes came first."""

    def __init__(self, received: int):
        super().__init__(f"connection closed after {received} response bytes")
        self.received = received


def http_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def http_get(host: str, port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("latin-1")


class Connection:
    """One keep-alive connection; reconnects when the server says `Connection: close`."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock: socket.socket | None = None
        self.buf = b""
        self.reconnects = 0

    def exchange(self, request: bytes) -> int:
        """Send one request, read the whole response, return its status code."""
        reused = self.sock is not None
        if self.sock is None:
            self._connect()
        try:
            assert self.sock is not None
            self.sock.sendall(request)
            status, close = self._read_response()
        except (ServerClosed, ConnectionResetError, BrokenPipeError) as exc:
            self.close()
            # A reused connection the server closed while idle, before answering: safe to resend.
            if reused and (not isinstance(exc, ServerClosed) or exc.received == 0):
                self.reconnects += 1
                return self.exchange(request)
            raise
        if close:
            self.close()
        return status

    def local_port(self) -> int:
        """This end's port (0 when not connected)."""
        return int(self.sock.getsockname()[1]) if self.sock is not None else 0

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buf = b""

    def _connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _recv(self, have: int) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ServerClosed(have)
        return chunk

    def _read_response(self) -> tuple[int, bool]:
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            buf += self._recv(len(buf))
        head = buf[:end].lower()
        status = int(head[9:12])
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise ValueError(f"response without Content-Length: {head[:200]!r}")
        line_end = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : line_end if line_end > 0 else len(head)])
        rest = buf[end + 4 :]
        while len(rest) < length:
            rest += self._recv(end + 4 + len(rest))
        self.buf = rest[length:]
        return status, b"\r\nconnection: close" in head


@dataclass
class Sample:
    due: float  # when the request should have been sent (open loop) or was sent (closed loop)
    start: float
    end: float
    status: int  # 0: the exchange failed


@dataclass
class PhaseResult:
    name: str
    mode: str  # "closed" (fixed concurrency, as fast as possible) or "open" (fixed arrival rate)
    window: tuple[float, float]  # the measured span, perf_counter seconds
    samples: list[Sample]
    errors: Counter[str] = field(default_factory=Counter)
    reconnects: int = 0
    offered_rate: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)  # percent of one core, by process group
    spread: dict[str, list[float]] = field(default_factory=dict)  # per gunicorn worker: connections, cpu %
    pool_exhausted: bool = False

    @property
    def seconds(self) -> float:
        return self.window[1] - self.window[0]

    def summary(self) -> dict[str, Any]:
        ok = [s for s in self.samples if s.status == 202]
        ack = sorted(s.end - s.due for s in ok)
        lag = sorted(s.start - s.due for s in self.samples)
        out: dict[str, Any] = {
            "mode": self.mode,
            "seconds": round(self.seconds, 3),
            "sent": len(self.samples),
            "accepted": len(ok),
            "accepted_per_s": round(len(ok) / self.seconds, 1) if self.seconds > 0 else 0.0,
            "statuses": {str(k): v for k, v in sorted(Counter(s.status for s in self.samples).items())},
            "ack_ms": {
                "p50": _ms(percentile(ack, 50)),
                "p99": _ms(percentile(ack, 99)),
                "max": _ms(ack[-1] if ack else None),
            },
        }
        if self.offered_rate is not None:
            out["offered_per_s"] = round(self.offered_rate, 1)
            out["send_lag_ms_p99"] = _ms(percentile(lag, 99))
        if self.errors:
            out["errors"] = dict(self.errors)
        if self.reconnects:
            out["idle_reconnects"] = self.reconnects
        if self.pool_exhausted:
            out["pool_exhausted"] = True
        if self.cpu:
            out["cpu_percent"] = {k: round(v, 1) for k, v in self.cpu.items()}
        if self.spread:
            out["per_worker"] = self.spread
        return out


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not values:
        return None
    rank = max(1, -(-len(values) * pct // 100))
    return values[int(rank) - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


#: called with a phase's connections before its clock starts (e.g. to spread them over the workers)
Prepare = Callable[[list[Connection]], None]


def closed_loop(
    host: str,
    port: int,
    source: RequestSource,
    *,
    concurrency: int,
    warmup: float,
    duration: float,
    prepare: Prepare | None = None,
) -> tuple[list[Sample], PhaseResult]:
    """`concurrency` connections, each sending its next request as soon as the last is answered.

    Runs warmup + duration seconds (or until the source is used up); returns the warm-up samples
    and the measured phase (samples that finished inside the measured window).
    """
    counter = itertools.count()
    per_thread: list[list[Sample]] = [[] for _ in range(concurrency)]
    errors: Counter[str] = Counter()
    conns = [Connection(host, port) for _ in range(concurrency)]
    if prepare is not None:
        prepare(conns)
    t0 = time.perf_counter()
    measure_from, deadline = t0 + warmup, t0 + warmup + duration
    exhausted = threading.Event()

    def run(conn: Connection, out: list[Sample]) -> None:
        while (now := time.perf_counter()) < deadline:
            request = source(next(counter))
            if request is None:
                exhausted.set()
                return
            out.append(_send(conn, request, now, now, errors))

    _run_threads([threading.Thread(target=run, args=(c, o)) for c, o in zip(conns, per_thread, strict=True)])
    samples = sorted((s for out in per_thread for s in out), key=lambda s: s.end)
    end = samples[-1].end if exhausted.is_set() and samples else deadline
    warm = [s for s in samples if s.end < measure_from]
    measured = [s for s in samples if s.end >= measure_from]
    phase = PhaseResult(
        "max",
        "closed",
        (measure_from, end),
        measured,
        errors,
        sum(c.reconnects for c in conns),
        pool_exhausted=exhausted.is_set(),
    )
    for c in conns:
        c.close()
    return warm, phase


def open_loop(
    host: str,
    port: int,
    source: RequestSource,
    *,
    rate: float,
    duration: float,
    connections: int,
    prepare: Prepare | None = None,
) -> PhaseResult:
    """Requests due at a fixed rate, whatever the server's pace; latency counts from the due time
    (so a stall shows up as latency instead of as fewer requests sent)."""
    total = int(rate * duration)
    counter = itertools.count()
    per_thread: list[list[Sample]] = [[] for _ in range(connections)]
    errors: Counter[str] = Counter()
    conns = [Connection(host, port) for _ in range(connections)]
    if prepare is not None:
        prepare(conns)
    t0 = time.perf_counter() + 0.05

    def run(conn: Connection, out: list[Sample]) -> None:
        while (i := next(counter)) < total:
            due = t0 + i / rate
            if (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            request = source(i)
            if request is None:
                return
            out.append(_send(conn, request, due, time.perf_counter(), errors))

    _run_threads([threading.Thread(target=run, args=(c, o)) for c, o in zip(conns, per_thread, strict=True)])
    samples = sorted((s for out in per_thread for s in out), key=lambda s: s.end)
    end = max(t0 + duration, samples[-1].end if samples else t0)
    phase = PhaseResult("half", "open", (t0, end), samples, errors, sum(c.reconnects for c in conns), offered_rate=rate)
    for c in conns:
        c.close()
    return phase


def _send(conn: Connection, request: bytes, due: float, start: float, errors: Counter[str]) -> Sample:
    try:
        status = conn.exchange(request)
    except (OSError, ValueError) as exc:
        conn.close()
        errors[type(exc).__name__] += 1
        status = 0
    return Sample(due, start, time.perf_counter(), status)


def _run_threads(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join()
