"""The table `python -m bench.ingest` prints of its report (the JSON of `bench.ingest.run`)."""

from __future__ import annotations

from typing import Any

#: issue 12's goals: connector/bare at the maximum, and the p99 acknowledgement at half of it
TARGET_RATIO = 0.6
TARGET_P99_MS = 50.0


def table(report: dict[str, Any]) -> str:
    g = report["gunicorn"]
    lines = [
        f"backend: {report['backend']}   gunicorn: {g['workers']} x {g['worker_class']}"
        + (f" ({g['threads']} threads)" if g["worker_class"] == "gthread" else "")
        + f"   cpus: {report['machine']['cpus']}   load before: {report['machine']['loadavg_before']}",
        f"{'target':<10} {'phase':<7} {'mode':<6} {'offered/s':>9} {'accepted/s':>10} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'server cpu%':>11} {'gen cpu%':>8} {'conns/worker':>12} {'cpu%/worker':>12}  statuses",
    ]
    for name, by_phase in report["targets"].items():
        several = any(phase.startswith("max@") for phase in by_phase)
        for phase, s in by_phase.items():
            if several and phase == "max":
                continue  # the best of the max@N rows, marked *
            if several and phase == f"max@{by_phase['max']['concurrency']}":
                phase += "*"
            cpu = s.get("cpu_percent", {})
            lines.append(
                f"{name:<10} {phase:<7} {s['mode']:<6} {s.get('offered_per_s', '-'):>9} "
                f"{s['accepted_per_s']:>10} {_num(s['ack_ms']['p50']):>8} {_num(s['ack_ms']['p99']):>8} "
                f"{_num(cpu.get('server')):>11} {_num(cpu.get('generator')):>8} "
                f"{'/'.join(f'{n:g}' for n in s.get('per_worker', {}).get('connections', [])):>12} "
                f"{'/'.join(f'{n:g}' for n in s.get('per_worker', {}).get('cpu_percent', [])):>12}  {s['statuses']}"
                + (f" errors={s['errors']}" if s.get("errors") else "")
                + (
                    f" (spread: {s['per_worker']['reconnected'][0]:g} reconnected)"
                    if "reconnected" in s.get("per_worker", {})
                    else ""
                )
            )
    st = report["storage"]
    lines += [
        f"ratio connector/bare at max: {report['ratio']:.2f} (goal >= {TARGET_RATIO})",
        f"connector p99 ack at half max ({report['load']['half_rate_per_s']}/s): "
        f"{report['targets']['connector']['half']['ack_ms']['p99']} ms (goal < {TARGET_P99_MS:g} ms)",
        f"stored: {st['rows']} rows, {st['distinct_keys']} distinct keys for {st['accepted_202']} accepted (202) "
        f"-> {'OK' if st['all_stored'] else 'MISMATCH'}; by status {st['by_status']}"
        + (f"; queued jobs {st['queued_jobs']}" if "queued_jobs" in st else ""),
        "note: the load generator shares the machine's cores with gunicorn; its CPU is the gen cpu% column.",
    ]
    return "\n".join(lines)


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"
