"""`connector worker` as a process: it stops when asked (SIGTERM, SIGINT), whether busy or idle."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.faults.services import CONNECTOR, REPO, PrivateRedis, child_env, wait_until

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_idle_worker_stops_when_asked(tmp_path: Path, sig: signal.Signals) -> None:
    """RQ stops an idle worker by raising out of its blocking dequeue; that is a stop, not a lost
    connection to start again from (a deploy's SIGTERM must not need a SIGKILL)."""
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        env = child_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}", "REDIS_URL": server.url})
        subprocess.run([str(CONNECTOR), "db", "upgrade"], env=env, cwd=REPO, check=True, capture_output=True)
        log = tmp_path / "worker.log"
        with log.open("ab") as out:
            proc = subprocess.Popen([str(CONNECTOR), "worker"], env=env, cwd=REPO, stdout=out, stderr=out)
        client = redis.Redis.from_url(server.url)
        assert wait_until(lambda: client.scard("rq:workers") > 0, 20), log.read_text()
        time.sleep(1.0)  # idle, blocked in its dequeue
        proc.send_signal(sig)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"the worker did not stop within 20 s of {sig.name}:\n{log.read_text()[-2000:]}")
        assert code == 0, log.read_text()[-2000:]
        assert "starting again" not in log.read_text()
    finally:
        server.close()
