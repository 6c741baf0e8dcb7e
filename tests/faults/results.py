"""What each fault test tried and what held, written as JSON for `tests/faults/report.py`.

A test records its figures and its checks on a `FaultResult` (the `fault_result` fixture), then calls
`verify()`, which fails with every check that did not hold — so one run says everything that broke,
not only the first thing. The fixture writes the record after the test with its outcome, including
when the test stopped on an unexpected error, so the report always shows what a run observed.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
#: where the records go: one directory per variant ("fast", "full"), one JSON file per test; each
#: test's logs and data under work/<test>/ (kept until the test runs again)
RESULTS_DIR = Path(os.environ.get("FAULTS_RESULTS") or REPO / "build" / "faults")


@dataclass
class Check:
    """One promise: `tried` cases, of which `held` kept it. It holds when every case did."""

    name: str
    tried: int
    held: int
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.held == self.tried


@dataclass
class FaultResult:
    test: str  # the test function (and its parameter): the report's row
    variant: str  # "fast" (the CI subset) or "full"
    title: str = ""
    target: str = ""  # what ran the app: "gunicorn-postgres", "inprocess-sqlite", ...
    about: str = ""  # what the test promises (its module's docstring)
    scenario: str = ""  # what was done, in one or two sentences, with the numbers of this run
    figures: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def check(self, name: str, tried: int, held: int, detail: str = "") -> bool:
        self.checks.append(Check(name, tried, held, detail if held != tried else ""))
        return held == tried

    def expect(self, name: str, ok: bool, detail: str = "") -> bool:
        """A single yes/no promise (tried 1, held 1 or 0)."""
        return self.check(name, 1, int(ok), detail)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def verify(self) -> None:
        """Fail with every check that did not hold (each with its counts and what was seen)."""
        failed = [c for c in self.checks if not c.ok]
        if failed:
            lines = [f"{len(failed)} of {len(self.checks)} checks failed:"]
            lines += [f"- {c.name}: held {c.held} of {c.tried}. {c.detail}".rstrip() for c in failed]
            raise AssertionError("\n".join(lines))

    def write(self, outcome: str, error: str | None) -> Path:
        out = RESULTS_DIR / self.variant / f"{slug(self.test)}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "test": self.test,
            "variant": self.variant,
            "title": self.title,
            "target": self.target,
            "about": self.about,
            "scenario": self.scenario,
            "outcome": outcome,
            "error": error,
            "seconds": round(time.monotonic() - self.started, 1),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "figures": self.figures,
            "checks": [asdict(c) | {"ok": c.ok} for c in self.checks],
            "notes": self.notes,
        }
        out.write_text(json.dumps(record, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
        return out


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def load_all(root: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """Every record under `root`, fast before full, by file name."""
    paths = [p for variant in ("fast", "full") for p in sorted((root / variant).glob("*.json")) if p.name[0] != "_"]
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def write_environment(variant: str, facts: dict[str, Any]) -> None:
    out = RESULTS_DIR / variant / "_environment.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")


def load_environment(variant: str, root: Path = RESULTS_DIR) -> dict[str, Any]:
    path = root / variant / "_environment.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
