"""A process that runs the embedded worker beside its web threads hands the interpreter over more
often (bench/README.md: the acknowledgements' half-rate tails); one without it keeps Python's default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from connector import defaults
from tests.conftest import SECRETS_ENV


def _switch_interval_after(app_call: str, tmp_path: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(SECRETS_ENV, DATABASE_URL=f"sqlite:///{tmp_path / 'connector.db'}")
    probe = f"import sys; from webhooks.app import create_app; {app_call}; print(sys.getswitchinterval())"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return float(out.stdout.split()[-1])


def test_the_embedded_worker_shortens_the_switch_interval(tmp_path: Path) -> None:
    assert _switch_interval_after("create_app()", tmp_path) == defaults.EMBEDDED_SWITCH_INTERVAL_SECONDS


def test_without_the_embedded_worker_the_switch_interval_is_pythons(tmp_path: Path) -> None:
    assert _switch_interval_after("create_app(start_worker=False)", tmp_path) == 0.005
