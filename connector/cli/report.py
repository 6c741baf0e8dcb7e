"""`connector report`: reports over the stored tickets."""

from __future__ import annotations

import json

import click

from connector.cli import _runtime, main
from connector.errors import ConnectorError


@main.group()
def report() -> None:
    """Reports over the stored tickets."""


@report.command("sla")
@click.option("--since", help="ISO date or date-time (naive = UTC). Default: 30 days before --until.")
@click.option("--until", help="ISO date (that whole day included) or date-time (exclusive). Default: now.")
@click.option("--severity", help="Only tickets of this severity, as stored (e.g. P1).")
@click.option("--tier", help="Only tickets of this customer tier (e.g. enterprise).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
def report_sla(since: str | None, until: str | None, severity: str | None, tier: str | None, fmt: str) -> None:
    """SLA report: volume, first-response and resolution times, compliance, breaches with reasons."""
    from connector.sla.report import build_report, parse_range, render_text, report_csv

    try:
        start, end = parse_range(since, until)
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from exc
    rt = _runtime()
    try:
        with rt.db.session() as s:
            result = build_report(s, since=start, until=end, severity=severity, tier=tier)
    finally:
        rt.close()
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(report_csv(result) if fmt == "csv" else render_text(result), nl=False)
