"""`connector sync reconcile`: fetch linked Jira issues not heard from for a while and repair what a
missed webhook left stale (see `connector.inbox.resync`)."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from connector.cli import _runtime, main


@main.group()
def sync() -> None:
    """Sync back to Zendesk and Jira: the reconciliation sweep."""


@sync.command("reconcile")
@click.option(
    "--stale-after",
    type=click.IntRange(0),
    default=None,
    help="Seconds a linked issue may go unheard of before it is fetched [default: CONNECTOR_SYNC_STALE_SECONDS].",
)
@click.option(
    "--limit", default=100, show_default=True, type=click.IntRange(1, 10000), help="At most this many issues."
)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of lines.")
def sync_reconcile(stale_after: int | None, limit: int, as_json: bool) -> None:
    """Fetch stale linked issues from Jira and repair what missed webhooks left stale, through the same
    rules (the repairs are deliveries; a worker processes them). Exit status 1 if Jira could not answer
    for some of them."""
    from connector.inbox.resync import reconcile_links

    rt = _runtime()
    try:
        seconds = rt.settings.sync_stale_seconds if stale_after is None else stale_after
        done = reconcile_links(rt, stale_after=timedelta(seconds=seconds), limit=limit)
    finally:
        rt.close()
    if as_json:
        click.echo(
            json.dumps({"checked": done.checked, "repaired": done.repaired, "failed": done.failed, "lines": done.lines})
        )
    else:
        for line in done.lines:
            click.echo(line)
        click.echo(f"checked {done.checked} linked issues; {done.repaired} repairs queued; {done.failed} failed")
    if done.failed:
        raise SystemExit(1)
