"""The processing benchmark runs both workloads end to end on a few deliveries. Not a performance
assertion: the figures of a few deliveries on a shared machine mean nothing; what it checks is that
each workload processes what it says it does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import profile_process


@pytest.mark.parametrize("workload", profile_process.WORKLOADS)
def test_each_workload_processes_its_deliveries(workload: str, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    argv = ["--backend", "sqlite", "--deliveries", "3", "--workload", workload, "--json", str(out)]
    assert profile_process.main([*argv, "--modes", "full,no-sla"]) == 0
    results = {r["mode"]: r for r in json.loads(out.read_text())["results"]}
    assert set(results) == {"full", "no-sla"}
    assert all(r["workload"] == workload and r["commits"] == 1 for r in results.values())
    # the SLA refresh reads and writes the ticket's clocks: a mode without it issues fewer statements
    assert results["full"]["statements"] > results["no-sla"]["statements"]


def test_an_update_finds_its_ticket_and_a_new_p0_creates_one() -> None:
    setup, measured = profile_process.bodies("update", 2, 5_000)
    assert [json.loads(b)["type"] for b in setup] == ["zen:event-type:ticket.created"] * 2
    assert [json.loads(b)["type"] for b in measured] == ["zen:event-type:ticket.status_changed"] * 2
    assert [json.loads(b)["detail"]["id"] for b in measured] == [json.loads(b)["detail"]["id"] for b in setup]
    setup, measured = profile_process.bodies("new-p0", 2, 5_000)
    assert setup == [] and len({json.loads(b)["detail"]["id"] for b in measured}) == 2


def test_batches_are_measured_beside_one_at_a_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.json"
    argv = ["--backend", "sqlite", "--deliveries", "6", "--workload", "update", "--batch", "1,3", "--json", str(out)]
    assert profile_process.main([*argv, "--modes", "full"]) == 0
    results = {r["batch"]: r for r in json.loads(out.read_text())["results"]}
    assert results[1]["commits"] == 1 and results[3]["commits"] == round(1 / 3, 2)  # one transaction per batch
    assert results[3]["statements"] < results[1]["statements"]
    summary = capsys.readouterr().out.splitlines()
    assert any(
        line.split()[:2] == ["3", "full"] and line.endswith("x") for line in summary
    )  # its ratio to one at a time
