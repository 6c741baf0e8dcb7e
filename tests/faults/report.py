"""Render docs/reliability.md from the fault suite's own results (build/faults/<variant>/*.json).

    python -m tests.faults.report [--results build/faults] [--out docs/reliability.md]

Every figure in the document comes from a record a test wrote; nothing is typed in by hand. Run the
suite first (`pytest -m faults tests/faults`); a variant that has not run is reported as such.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from tests.faults.results import REPO, RESULTS_DIR, load_all, load_environment

#: the tests in the order of issue 8
ORDER = (
    "test_redis_killed_and_restarted_empty_under_load",
    "test_worker_killed_mid_job_then_replaced_processes_everything_once",
    "test_postgres_stopped_and_started_under_load",
    "test_mutated_fixtures_never_5xx_and_are_all_stored",
    "test_forged_requests_are_all_401_and_store_nothing",
    "test_fifty_identical_deliveries_in_parallel_store_one_and_apply_once",
    "test_out_of_order_and_late_deliveries_roll_nothing_back",
)
VARIANTS = {
    "fast": "CI subset (`faults_ci`): in-process app and burst worker, SQLite and a private PostgreSQL",
    "full": "full suite: the app as production runs it (gunicorn, `connector worker`, private Redis and PostgreSQL)",
}

HEAD = """# Reliability: the fault suite

Issue 8. Repeatable fault tests with real processes: each test that harms a service starts its own
`redis-server` and/or PostgreSQL cluster (never the machine's shared ones on 6379 / 5432), runs the
connector as production does (`connector db upgrade`, gunicorn `webhooks.wsgi:app`, `connector
worker` processes), injects the fault, and judges the result from the database. Every test is bounded
in time and in count and talks to 127.0.0.1 only.

**This page is generated** by `python -m tests.faults.report` from the JSON records the tests write
(`build/faults/<fast|full>/`); every figure below is the suite's own output. Do not edit it by hand:
run the suite and regenerate it.

## Running it

```bash
pytest -m faults tests/faults          # everything: the CI subset and the slow tests (minutes; totals below)
pytest -m faults_ci tests/faults       # the CI subset only (seconds); a plain `pytest` runs it too
pytest -m "faults and not faults_ci" tests/faults   # only the slow, real-process tests
python -m tests.faults.report          # regenerate this page from build/faults/
```

Markers (registered in `pyproject.toml`): every test is `faults`; the fast subset is also
`faults_ci` — tests 4 to 7 run in-process (the Flask test client and a burst RQ worker) on SQLite and
on a private PostgreSQL. Tests 1 to 3 (processes killed or stopped) and the gunicorn variants of 4 to
7 are the slow part. A plain `pytest` runs the `faults_ci` tests and skips the slow ones (their skip reason
names the command above) unless the `-m` expression names `faults`. Records go to `build/faults/`
(or `$FAULTS_RESULTS`); each test's logs (gunicorn's output, its access log with the worker pid of
every request, each `connector worker`'s output, Redis's log) and SQLite files stay in
`build/faults/work/<test>/` until the test runs again.

What a run needs: `redis-server` and the PostgreSQL server binaries (`initdb`, `pg_ctl`; found in
`/usr/lib/postgresql/<version>/bin/` or on `PATH`). PostgreSQL refuses to run as root: as root the
suite runs `initdb` and `pg_ctl` as the `postgres` system user (`runuser -u postgres --`) in a
directory under `/tmp` that it hands to that user (pytest's own temporary directories are private to
root). The clusters run with `fsync=off` (throw-away data). Each test's `connector worker` and
gunicorn get `CONNECTOR_RECONCILE_INTERVAL=2` (production default 30 s) so that recovery shows within
the test's time bound; nothing else differs from the README's production setup.

Reading the tables: a check is one promise; *tried* counts the cases it was put to (requests,
deliveries, gunicorn workers, ...), *held* those that kept it. A check holds when held = tried.
"""


def _flat(value: Any, limit: int = 220) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _base(test: str) -> str:
    return test.split("[", 1)[0]


def _param(test: str) -> str:
    m = re.search(r"\[(.*)\]$", test)
    return m.group(1) if m else "-"


def _about(record: dict[str, Any]) -> str:
    text = re.sub(r"^Test \d+: ", "", record.get("about") or "")
    return " ".join(line.strip() for line in text.splitlines())


def _target(record: dict[str, Any]) -> str:
    return record.get("target") or _param(record["test"])


def render(records: list[dict[str, Any]], root: Path) -> str:
    out = [HEAD]
    by_base: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_base.setdefault(_base(r["test"]), []).append(r)
    names = [n for n in ORDER if n in by_base] + sorted(n for n in by_base if n not in ORDER)

    out.append("## Summary\n")
    for variant, label in VARIANTS.items():
        rows = [r for n in names for r in by_base[n] if r["variant"] == variant]
        env = load_environment(variant, root)
        out.append(f"### {variant}: {label}\n")
        if not rows:
            out.append("_Not run yet._\n")
            continue
        if env:
            out.append(
                f"Run {env.get('date')} at commit {env.get('commit')}; {env.get('cpus')} CPUs, Python "
                f"{env.get('python')}, {env.get('postgresql')}, {env.get('redis')}; {env.get('user')}.\n"
            )
        total = sum(r["seconds"] for r in rows)
        failing = sum(1 for r in rows if r["outcome"] != "passed")
        out.append(
            f"{len(rows)} runs, {len(rows) - failing} passing, {failing} failing; {total:.0f} s of test time "
            "(setup and teardown not counted).\n"
        )
        out.append("| # | Test | Target | Outcome | Checks held | Seconds |")
        out.append("|---|---|---|---|---|---|")
        for r in rows:
            n = ORDER.index(_base(r["test"])) + 1 if _base(r["test"]) in ORDER else "-"
            held = sum(1 for c in r["checks"] if c["ok"])
            outcome = {"passed": "passes", "failed": "**FAILS**"}.get(r["outcome"], r["outcome"])
            out.append(
                f"| {n} | {r['title'] or _base(r['test'])} | {_target(r)} | {outcome} | "
                f"{held} of {len(r['checks'])} | {r['seconds']} |"
            )
        out.append("")

    out.append("## What broke\n")
    broken = [(r, c) for n in names for r in by_base[n] for c in r["checks"] if not c["ok"]]
    stopped = [
        r for n in names for r in by_base[n] if r["outcome"] != "passed" and not any(not c["ok"] for c in r["checks"])
    ]
    if not broken and not stopped:
        out.append("Nothing: every check of every recorded run held.\n")
    for r, c in broken:
        out.append(
            f"- **{r['title']}** ({r['variant']}, {_target(r)}): {c['name']} — held {c['held']} of {c['tried']}. "
            f"{_flat(c['detail'], 300)}"
        )
    for r in stopped:
        out.append(
            f"- **{r['title']}** ({r['variant']}, {_target(r)}): {r['outcome']}: {_flat(r.get('error') or '', 300)}"
        )
    out.append("")

    out.append("## Per test\n")
    for i, name in enumerate(names, start=1):
        group = by_base[name]
        first = group[0]
        number = ORDER.index(name) + 1 if name in ORDER else i
        out.append(f"### {number}. {first['title'] or name}\n")
        out.append(f"`{name}` — {_about(first)}\n")
        for r in group:
            outcome = {"passed": "passes", "failed": "**fails**"}.get(r["outcome"], r["outcome"])
            out.append(f"#### {r['variant']}, {_target(r)}: {outcome}\n")
            if r.get("scenario"):
                out.append(f"{r['scenario']}\n")
            if r["checks"]:
                out.append("| Check | Tried | Held | |")
                out.append("|---|---:|---:|---|")
                for c in r["checks"]:
                    mark = "held" if c["ok"] else f"**broken**: {_flat(c['detail'], 400)}"
                    out.append(f"| {_flat(c['name'])} | {c['tried']} | {c['held']} | {mark} |")
                out.append("")
            if r["outcome"] not in ("passed",) and r.get("error") and not r["checks"]:
                out.append(f"Stopped: `{_flat(r['error'], 600)}`\n")
            if r.get("figures"):
                out.append("<details><summary>Figures</summary>\n")
                for key, value in r["figures"].items():
                    out.append(f"- {key}: {_flat(value, 600)}")
                out.append("\n</details>\n")
            for note in r.get("notes", []):
                out.append(f"> Note: {note}\n")
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "reliability.md")
    args = parser.parse_args()
    records = load_all(args.results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(records, args.results), encoding="utf-8")
    print(f"{args.out}: {len(records)} records from {args.results}")


if __name__ == "__main__":
    main()
