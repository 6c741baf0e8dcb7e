"""The ingest benchmark runs end to end on tiny load and every 202 it counted is in the database.
Not a performance assertion: the figures of a one-second run on a shared machine mean nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TINY = [
    "--backend",
    "sqlite",
    "--duration",
    "1",
    "--warmup",
    "0",
    "--workers",
    "1",
    "--threads",
    "2",
    "--concurrency",
    "2",
    "--open-connections",
    "2",
    "--pool-rate",
    "400",
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.ingest", *TINY, "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(out.read_text())


@pytest.mark.timeout(120)
def test_every_accepted_delivery_is_stored(report: dict) -> None:
    storage = report["storage"]
    assert storage["accepted_202"] > 0
    assert storage["rows"] == storage["distinct_keys"] == storage["accepted_202"]


@pytest.mark.timeout(120)
def test_both_targets_are_measured_in_both_phases(report: dict) -> None:
    measured = {(t, p): s["accepted"] for t, phases in report["targets"].items() for p, s in phases.items()}
    assert set(measured) == {("connector", "max"), ("connector", "half"), ("bare", "max"), ("bare", "half")}
    assert all(n > 0 for n in measured.values()), measured
    assert report["ratio"] > 0


def test_the_processing_benchmark_processes_every_delivery_in_each_mode(tmp_path: Path) -> None:
    out = tmp_path / "process.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.profile_process", "--backend", "sqlite", "--deliveries", "3", "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    results = {r["mode"]: r for r in json.loads(out.read_text())["results"]}
    assert set(results) == {"full", "no-escalation", "no-sla"}
    # the modes do less and less: the escalation engine and the SLA refresh really are switched off
    assert results["full"]["statements"] > results["no-escalation"]["statements"] > results["no-sla"]["statements"]
    assert all(r["commits"] == 1.0 for r in results.values())
