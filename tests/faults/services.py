"""Private services and the app as production runs it, for the fault tests.

Every test that harms a service gets its own: a `redis-server` on a free port with no persistence,
a PostgreSQL cluster made with `initdb` in a temporary directory — never the machine's shared
services on 6379 / 5432, which other test runs use. The app runs as the README's "Running in
production" says: `connector db upgrade`, gunicorn `webhooks.wsgi:app`, `connector worker`
processes; each a child process whose output goes to a file of the test's work directory.

PostgreSQL refuses to run as root: as root, `initdb` and `pg_ctl` run as the `postgres` system user
(`runuser -u postgres --`), in a directory under /tmp that user owns (pytest's own temporary
directories are private to root).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import redis
from rq import Worker as RqWorker

from bench.servers import HOST, REPO, Gunicorn, GunicornSettings, _children, free_port
from tests.conftest import SECRETS_ENV

CONNECTOR = Path(sys.executable).with_name("connector")
#: the caller's variables that must not reach the children (the same rule as bench.servers.Gunicorn)
_SCRUB = ("DATABASE_URL", "REDIS_URL", "CONNECTOR_")
#: gunicorn access log: worker pid, status, method, path, query (the fault tests tag phases in the query)
ACCESS_FORMAT = "%(p)s %(s)s %(m)s %(U)s %(q)s"


def child_env(env: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB) and not k.endswith("_WEBHOOK_SECRETS")}
    return base | env


def wait_until(predicate: Any, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- Redis --------------------------------------------------------------------------------------


class PrivateRedis:
    """`redis-server` on a free 127.0.0.1 port, no persistence: killed, it restarts empty."""

    def __init__(self, workdir: Path):
        self.dir = workdir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host=HOST, port=self.port, socket_connect_timeout=1, socket_timeout=5)

    def start(self, timeout: float = 15.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        cmd = [binary, "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no"]
        cmd += ["--dir", str(self.dir), "--logfile", str(self.dir / "redis.log"), "--daemonize", "no"]
        with (self.dir / "redis.out").open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=out)
        self.starts += 1
        if not wait_until(self._pings, timeout):
            raise RuntimeError(
                f"redis-server on {self.port} did not answer in {timeout} s:\n{tail(self.dir / 'redis.log')}"
            )

    def _pings(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.proc.returncode}:\n{tail(self.dir / 'redis.log')}")
        try:
            return bool(self.client().ping())
        except redis.exceptions.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing saved."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def close(self) -> None:
        self.kill()


# --- PostgreSQL ---------------------------------------------------------------------------------


def pg_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/<v>/bin with initdb, else initdb on PATH."""

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", p.parent.name)) or (0,)

    found = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    if found:
        return max(found, key=version)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL will not run as root: run its tools as the `postgres` system user then."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *cmd]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(_quote(c) for c in cmd)]


def _quote(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free 127.0.0.1 port (socket in its own directory)."""

    def __init__(self, label: str = "pg"):
        bindir = pg_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bin = bindir
        self.dir = Path(tempfile.mkdtemp(prefix=f"faults-{label}-", dir="/tmp"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.running = False

    def _run(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        cmd = _as_postgres([str(self.bin / args[0]), *args[1:]])
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n{tail(self.log)}"
            )
        return done

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"
        )

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.dir} -c listen_addresses={HOST} -c max_connections=200 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", "60", "start")
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        self.running = False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url(name)

    def version(self) -> str:
        return self._run("postgres", "--version").stdout.strip()

    def close(self) -> None:
        if self.data.exists():
            with contextlib.suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def private_postgres(label: str) -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres(label)
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.close()


# --- the app ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebSettings(GunicornSettings):
    """bench's gunicorn settings plus an access log naming the worker pid of every request."""

    access_log: str = ""

    def args(self) -> list[str]:
        out = super().args()
        if self.access_log:
            out += ["--access-logfile", self.access_log, "--access-logformat", ACCESS_FORMAT]
        return out


class WorkerProcess:
    """One `connector worker` child process, its output in `log`."""

    def __init__(self, env: dict[str, str], log: Path):
        self.env, self.log = env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([str(CONNECTOR), "worker"], env=self.env, cwd=REPO, stdout=out, stderr=out)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)

    def freeze(self) -> None:
        """SIGSTOP, and wait until every thread of the process is stopped where it was (until `thaw()`
        or a SIGKILL)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

        def stopped() -> bool:
            states = []
            for stat in Path(f"/proc/{self.pid}/task").glob("*/stat"):
                with contextlib.suppress(OSError):
                    states.append(stat.read_text().rpartition(")")[2].split()[0])
            return bool(states) and all(st in ("T", "t") for st in states)

        if not wait_until(stopped, 5, 0.001):
            raise RuntimeError(f"connector worker {self.pid} did not stop on SIGSTOP")

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def tail(self, lines: int = 25) -> str:
        return tail(self.log, lines)

    def exit_summary(self) -> str:
        """How the process ended: its exit code, the last exception it printed and where in the
        connector's own code (not the libraries') it passed."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        at = text.rfind("Traceback (most recent call last):")
        if at < 0:
            return f"exit code {self.returncode}; last output: {tail(self.log, 3)}"
        block = text[at:].splitlines()
        ours = [
            line.strip().replace(str(REPO) + "/", "")
            for line in block
            if line.strip().startswith('File "') and "site-packages" not in line
        ]
        last = next((line for line in block[1:] if line and not line.startswith((" ", "\t", "Traceback"))), "")
        return f"exit code {self.returncode}: {last} (through {' → '.join(ours[-3:]) or 'library code only'})"


class AppStack:
    """The connector as production runs it, on the given database and Redis, all output under `workdir`."""

    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str,
        redis_url: str | None,
        web: GunicornSettings | None = None,
        env: dict[str, str] | None = None,
    ):
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.database_url, self.redis_url = database_url, redis_url
        self.env: dict[str, str] = {
            **SECRETS_ENV,
            "DATABASE_URL": database_url,
            # the reconciler every 2 s (production: 30 s) keeps the tests short; nothing else changes
            "CONNECTOR_RECONCILE_INTERVAL": "2",
            "CONNECTOR_LOG_LEVEL": "INFO",
        }
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.env.update(env or {})
        self.access_log = self.logs / "access.log"
        base = web or GunicornSettings(workers=2, threads=4)
        self.web_settings = WebSettings(
            workers=base.workers,
            worker_class=base.worker_class,
            threads=base.threads,
            keep_alive=base.keep_alive,
            access_log=str(self.access_log),
        )
        self.web: Gunicorn | None = None
        self.workers: list[WorkerProcess] = []

    def upgrade(self) -> None:
        """`connector db upgrade`, as the operator runs it before starting the web processes."""
        with (self.logs / "upgrade.log").open("ab") as out:
            done = subprocess.run(
                [str(CONNECTOR), "db", "upgrade"],
                env=child_env(self.env),
                cwd=REPO,
                stdout=out,
                stderr=out,
                timeout=120,
            )
        if done.returncode != 0:
            raise RuntimeError(f"connector db upgrade failed ({done.returncode}):\n{tail(self.logs / 'upgrade.log')}")

    def start_web(self) -> Gunicorn:
        self.web = Gunicorn("webhooks.wsgi:app", self.web_settings, self.env, self.logs / "gunicorn.log")
        self.web.__enter__()
        return self.web

    @property
    def port(self) -> int:
        assert self.web is not None
        return self.web.port

    def web_pids(self) -> list[int]:
        assert self.web is not None and self.web.proc is not None
        return sorted(_children(self.web.proc.pid))

    def start_worker(self, timeout: float = 30.0) -> WorkerProcess:
        """A `connector worker`, once it has registered with Redis (so it takes jobs)."""
        assert self.redis_url, "workers need REDIS_URL"
        n = len(self.workers) + 1
        worker = WorkerProcess(child_env(self.env), self.logs / f"worker-{n}.log").start()
        self.workers.append(worker)
        conn = redis.Redis.from_url(self.redis_url, socket_connect_timeout=1)

        def registered() -> bool:
            if not worker.alive():
                raise RuntimeError(f"connector worker exited with {worker.returncode}:\n{worker.tail()}")
            try:
                return any(w.pid == worker.pid for w in RqWorker.all(connection=conn))
            except redis.exceptions.RedisError:
                return False

        if not wait_until(registered, timeout, 0.2):
            raise RuntimeError(f"connector worker not registered after {timeout} s:\n{worker.tail()}")
        return worker

    def worker_logs(self) -> list[Path]:
        return [w.log for w in self.workers]

    def stop(self, grace: float = 10.0) -> dict[str, str]:
        """SIGTERM to every process at once, then wait for each; SIGKILL what is still running after
        `grace` seconds (docker's default). Returns how each one ended."""
        procs: dict[str, subprocess.Popen[bytes]] = {
            f"connector worker {i + 1}": w.proc for i, w in enumerate(self.workers) if w.proc and w.alive()
        }
        if self.web is not None and self.web.proc is not None and self.web.proc.poll() is None:
            procs["gunicorn"] = self.web.proc
        began = time.monotonic()
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        ended: dict[str, str] = {}
        while len(ended) < len(procs) and time.monotonic() < began + grace:
            for name, proc in procs.items():
                if name not in ended and proc.poll() is not None:
                    ended[name] = f"exited {proc.returncode} {time.monotonic() - began:.1f} s after SIGTERM"
            time.sleep(0.05)
        for name, proc in procs.items():
            if name not in ended:
                proc.kill()
                proc.wait(timeout=10)
                ended[name] = f"still running {grace:.0f} s after SIGTERM: SIGKILLed"
        return ended

    # --- reading the logs ---

    def access_entries(self) -> list[tuple[int, int, str, str, str]]:
        """(worker pid, status, method, path, query) of every request gunicorn answered, in log order."""
        out = []
        if not self.access_log.exists():
            return out
        for line in self.access_log.read_text(errors="replace").splitlines():
            parts = line.split(" ", 4)
            if len(parts) < 4 or not parts[0].startswith("<"):
                continue
            pid = int(parts[0].strip("<>"))
            out.append((pid, int(parts[1]), parts[2], parts[3], parts[4] if len(parts) > 4 else ""))
        return out

    def error_summary(self, limit: int = 8) -> list[str]:
        """The app's error log lines (JSON) from gunicorn's output, counted by message and exception."""
        return summarize_errors(self.logs / "gunicorn.log", limit)


def summarize_errors(path: Path, limit: int = 8) -> list[str]:
    import json

    seen: Counter[str] = Counter()
    if not path.exists():
        return []
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("level") not in ("error", "critical"):
            continue
        exc = (rec.get("exc") or "").strip().splitlines()
        what = " ".join(str(rec.get(k)) for k in ("error", "where") if rec.get(k))
        seen[f"{rec.get('msg')} {what} {exc[-1] if exc else ''}".strip()[:240]] += 1
    return [f"{n}× {text}" for text, n in seen.most_common(limit)]


def processed_log_counts(logs: list[Path]) -> Counter[int]:
    """How many times each delivery's processing was logged ("processed delivery") across worker logs."""
    import json

    counts: Counter[int] = Counter()
    for path in logs:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if '"processed delivery"' not in line:
                continue
            with contextlib.suppress(ValueError, KeyError, TypeError):
                counts[int(json.loads(line)["delivery_id"])] += 1
    return counts
