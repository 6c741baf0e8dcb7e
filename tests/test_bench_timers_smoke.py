"""The SLA timer benchmark runs end to end on tiny numbers and every warning and breach that came due
in its window was recorded exactly once. Not a performance assertion: the timings of a few seconds
on a shared machine mean nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Next fires spread over 3 s and swept for 2.5 s: most tickets fire inside the window.
TINY = [
    "--backend",
    "sqlite",
    "--sizes",
    "40,120",
    "--window",
    "2.5",
    "--tick",
    "0.2",
    "--spread",
    "3",
    "--idle-ticks",
    "3",
    "--verify",
    "10",
]


def timers(args: list[str], out: Path, timeout: float) -> dict:
    """`python -m bench.timers` with `args`; its JSON report (the run must succeed)."""
    run = subprocess.run(
        [sys.executable, "-m", "bench.timers", *args, "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return timers(TINY, tmp_path_factory.mktemp("bench") / "timers.json", 60)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("size", ["40", "120"])
def test_every_due_fire_is_recorded_exactly_once(report: dict, size: str) -> None:
    check = report["sizes"][size]["exactly_once"]
    assert check["expected"] > 0
    assert check["recorded"] == check["expected"] == check["timeline_entries"]
    assert (check["missing"], check["unexpected"], check["duplicates"], check["timers_left_due"]) == (0, 0, 0, 0)
    assert check["prerecorded_after"] == check["prerecorded_before"]  # nothing fired twice across the start


@pytest.mark.timeout(90)
def test_warnings_and_breaches_both_fire(report: dict) -> None:
    for size in report["sizes"].values():
        assert size["fires"].get("warning", 0) > 0 and size["fires"].get("breach", 0) > 0, size["fires"]


@pytest.mark.timeout(90)
def test_each_size_reports_lateness_and_tick_costs(report: dict) -> None:
    for size in report["sizes"].values():
        recorded = sum(size["fires"].values())
        assert size["lateness_recorded_s"]["n"] == size["lateness_visible_s"]["n"] == recorded
        assert size["verified_with_refresh"] == 10
        assert size["idle_tick"]["ticks"] == 3 and size["idle_tick"]["statements_p50"] > 0
        assert size["window"]["refreshed"] > 0 and size["window"]["per_refresh"]["statements"] > 0
    assert set(report["ratios_largest_to_smallest"]) >= {"idle_tick_wall", "per_refresh_cpu"}
    assert report["ok"] is True


@pytest.mark.timeout(90)
def test_a_fire_is_seen_when_its_chunk_commits_not_later_than_its_tick_ends(report: dict) -> None:
    for size in report["sizes"].values():
        assert size["lateness_visible_s"]["max"] <= size["lateness_at_tick_end_s"]["max"]


@pytest.mark.timeout(120)
def test_with_the_escalation_engine_wired_its_decisions_are_counted_and_nothing_fires_twice(tmp_path: Path) -> None:
    wired = ["--preset", "skillancer", "--severities", "P0,P1", "--escalation", "--history", "300"]
    args = [*TINY[:3], "150", *TINY[4:], *wired]  # a past of 300 solved tickets: none of it counted
    size = timers(args, tmp_path / "timers.json", 90)["sizes"]["150"]
    assert size["exactly_once"]["ok"] and size["exactly_once"]["duplicates"] == 0
    escalation = size["escalation"]
    # skillancer: a resolution past its maximum raises the level (and the level's triggers page)
    assert escalation["decisions"].get("raise_level/applied", 0) > 0, escalation
    assert escalation["decisions_with_two_intents"] == 0 and escalation["ok"]
    assert escalation["decision_lateness_visible_s"]["n"] > 0
