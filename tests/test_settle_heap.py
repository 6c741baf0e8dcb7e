"""A process that has started moves its startup heap out of the garbage collector's walks (full
collections under a Monday burst paused the SLA sweeper by 0.4-0.6 s, bench/README.md); an app a
test builds around its own runtime leaves the test process alone."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import SECRETS_ENV


def test_the_app_of_a_process_of_its_own_freezes_its_startup_heap(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(SECRETS_ENV, DATABASE_URL=f"sqlite:///{tmp_path / 'connector.db'}")
    probe = (
        "import gc; from webhooks.app import create_app; before = gc.get_freeze_count(); "
        "create_app(start_worker=False); print(before, gc.get_freeze_count())"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    before, after = (int(x) for x in out.stdout.split())
    assert before == 0 and after > 50_000, out.stdout  # every module, the runtime, the policy


def test_an_app_around_a_tests_runtime_does_not_freeze_the_test_process(rt: Any) -> None:
    from webhooks.app import create_app

    before = gc.get_freeze_count()
    create_app(rt, start_worker=False)
    assert gc.get_freeze_count() == before
