"""What the benchmark runs against: gunicorn processes on 127.0.0.1 and the storage behind them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
import redis
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from bench.load import Connection, Prepare, http_get
from connector.config import normalize_database_url
from connector.queue import JobQueue
from connector.store.tables import Delivery

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
#: variables of the caller's environment that must not leak into the servers
_SCRUB = ("DATABASE_URL", "REDIS_URL", "CONNECTOR_")


@dataclass(frozen=True)
class GunicornSettings:
    workers: int = 2
    worker_class: str = "gthread"
    threads: int = 4
    keep_alive: int = 5

    def args(self) -> list[str]:
        out = [
            "--workers",
            str(self.workers),
            "--worker-class",
            self.worker_class,
            "--keep-alive",
            str(self.keep_alive),
        ]
        return out + (["--threads", str(self.threads)] if self.worker_class == "gthread" else [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Gunicorn:
    """`gunicorn <app>` as a child process; a context manager that waits for /healthz."""

    def __init__(self, app: str, settings: GunicornSettings, env: dict[str, str], log_path: Path):
        self.app, self.settings, self.log_path = app, settings, log_path
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(_SCRUB) and not k.endswith("_WEBHOOK_SECRETS")
        } | env
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gunicorn:
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "--chdir",
            str(REPO),
            "--bind",
            f"{HOST}:{self.port}",
            *self.settings.args(),
            "--log-level",
            "warning",
            "--graceful-timeout",
            "10",
            self.app,
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, cwd=REPO, stdout=log, stderr=log)
        self._wait_healthy(timeout=60.0)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def workers(self) -> list[int]:
        assert self.proc is not None
        return sorted(_children(self.proc.pid))

    def worker_cpu_seconds(self) -> dict[int, float]:
        """User + system CPU of each worker process so far."""
        return {pid: _cpu_of(pid) for pid in self.workers()}

    def connections_by_worker(self) -> list[int]:
        """How many established client connections each worker holds (a keep-alive connection stays
        with the worker that accepted it: an uneven spread loads one process more than the other)."""
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == self.port:
                    inodes.add(f"socket:[{fields[9]}]")
        counts = []
        for pid in self.workers():
            held = 0
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    held += os.readlink(fd) in inodes
                except OSError:
                    continue  # closed meanwhile
            counts.append(held)
        return counts

    def owners(self, client_ports: list[int]) -> list[int | None]:
        """The worker process holding each of this host's client connections, by the client side's
        local port (None: no worker accepted it yet)."""
        by_inode: dict[str, int] = {}
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == self.port:
                    by_inode[f"socket:[{fields[9]}]"] = int(fields[2].rsplit(":", 1)[1], 16)
        owner: dict[int, int] = {}
        for pid in self.workers():
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    port = by_inode.get(os.readlink(fd))
                except OSError:
                    continue  # closed meanwhile
                if port is not None:
                    owner[port] = pid
        return [owner.get(port) for port in client_ports]

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its workers so far."""
        assert self.proc is not None
        return sum(_cpu_of(pid) for pid in [self.proc.pid, *_children(self.proc.pid)])

    def _wait_healthy(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        probe = http_get(HOST, self.port, "/healthz")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn {self.app} exited with {self.proc.returncode}:\n{self.log_tail()}")
            conn = Connection(HOST, self.port, timeout=2.0)
            try:
                if conn.exchange(probe) == 200 and len(_children(self.proc.pid)) >= self.settings.workers:
                    return
            except OSError:
                pass  # not listening yet
            finally:
                conn.close()
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn {self.app} not healthy after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def spreader(server: Gunicorn, moves: list[int], attempts: int = 200) -> Prepare:
    """Spread a phase's connections evenly over the gunicorn workers before it starts. A keep-alive
    connection stays with the worker that accepted it, and which one accepts is luck: with 8
    connections on 2 workers, 8/0 leaves one core idle and halves the rate (the bare app's "slow
    mode"). Each connection sends one `GET /healthz` (to be accepted); while a worker holds more than
    its share, one of its connections is closed and opened again. Appends the reconnections to `moves`."""

    def prepare(conns: list[Connection]) -> None:
        probe = http_get(HOST, server.port, "/healthz")
        for conn in conns:
            conn.exchange(probe)
        fair = -(-len(conns) // max(len(server.workers()), 1))
        moved = 0
        while moved < attempts:
            owners = server.owners([conn.local_port() for conn in conns])
            held = Counter(owners)
            crowded = [conn for conn, owner in zip(conns, owners, strict=True) if owner is None or held[owner] > fair]
            if not crowded:
                break
            crowded[0].close()
            crowded[0].exchange(probe)
            moved += 1
        moves.append(moved)

    return prepare


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        out += [int(c) for c in task.read_text().split()]
    return out


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


# --- storage ---------------------------------------------------------------------------------


class Backend:
    """A fresh database (and queue) for one run; counts what was stored afterwards."""

    name = ""

    def __init__(self, env: dict[str, str]):
        self.env = env

    def setup(self) -> None:
        """`connector db upgrade`, as an operator would run it before starting the web processes."""
        cli = Path(sys.executable).with_name("connector")
        subprocess.run(
            [str(cli), "db", "upgrade"], cwd=REPO, check=True, env={**os.environ, **self.env}, stdout=subprocess.DEVNULL
        )

    def stored(self) -> dict[str, Any]:
        """Deliveries in the database: total, distinct dedupe keys, and by status."""
        engine = create_engine(normalize_database_url(self.env["DATABASE_URL"]))
        try:
            with engine.connect() as conn:
                by_status = dict(conn.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
                distinct = conn.scalar(select(func.count(func.distinct(Delivery.dedupe_key))))
        finally:
            engine.dispose()
        return {"rows": sum(by_status.values()), "distinct_keys": distinct, "by_status": by_status}

    def teardown(self) -> None:
        return None


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, workdir: Path):
        super().__init__({"DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}"})


class PostgresBackend(Backend):
    """A database created for the run (dropped and recreated), Redis db flushed before and after."""

    name = "postgres"

    def __init__(self, admin_url: str, database: str, redis_url: str, keep: bool = False):
        url = make_url(admin_url).set(database=database)
        super().__init__({"DATABASE_URL": url.render_as_string(hide_password=False), "REDIS_URL": redis_url})
        self.admin_url, self.database, self.keep = admin_url, database, keep

    def setup(self) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)', f'CREATE DATABASE "{self.database}"')
        self._redis().flushdb()
        super().setup()

    def stored(self) -> dict[str, Any]:
        out = super().stored()
        out["queued_jobs"] = JobQueue(self._redis()).depth()
        return out

    def teardown(self) -> None:
        self._redis().flushdb()
        if not self.keep:
            self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def _admin(self, *statements: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql.encode())

    def _redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.env["REDIS_URL"], socket_connect_timeout=2)
