"""`connector outbox`: list and replay outbound intents (pages, notifications, linked issues)."""

from __future__ import annotations

import json
import sys

import click

from connector.cli import _runtime, main
from connector.errors import ConnectorError


@main.group()
def outbox() -> None:
    """Outbound intents (pages, notifications, linked issues): list, replay."""


@outbox.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "sending", "sent", "failed", "dead", "not_sent"]),
    help="Only this status.",
)
@click.option("--ticket", "ticket_id", type=int, help="Only this ticket's.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
def outbox_list(status: str | None, ticket_id: int | None, limit: int, as_json: bool) -> None:
    """List outbox items, newest first."""
    from connector.outbox import list_items

    filters = {k: v for k, v in (("status", status), ("ticket_id", str(ticket_id) if ticket_id else None)) if v}
    rt = _runtime()
    try:
        with rt.db.session() as s:
            page = list_items(s, filters=filters, limit=limit, offset=0)
    finally:
        rt.close()
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    click.echo(f"{page['total']} item(s)" + (f" {status}" if status else ""))
    for item in page["items"]:
        reason = f"  {item['reason']}" if item["reason"] else ""
        click.echo(
            f"#{item['id']:<6} ticket {item['ticket_id'] or '-':<6} {item['channel']:<10} {item['intent']:<20} "
            f"{item['target'] or '-':<18} {item['status']:<9} attempts {item['attempts']}{reason}"
        )


@outbox.command("replay")
@click.argument("item_ids", type=int, nargs=-1)
@click.option("--status", type=click.Choice(["dead", "failed", "not_sent"]), help="Replay every item in this status.")
def outbox_replay(item_ids: tuple[int, ...], status: str | None) -> None:
    """Send dead, failed or not-sent intents again (after fixing what stopped them). A sent one is never
    sent twice."""
    from connector.outbox import list_items, replay_item

    if not item_ids and status is None:
        raise click.UsageError("name outbox item ids or --status")
    rt = _runtime()
    failed = 0
    try:
        ids = list(item_ids)
        if status:
            with rt.db.session() as s:
                ids += [i["id"] for i in list_items(s, filters={"status": status}, limit=500, offset=0)["items"]]
        if not ids:
            click.echo(f"no {status} outbox items to replay", err=True)
            return
        with click.progressbar(ids, label="replaying", file=sys.stderr) as bar:
            for item_id in bar:
                try:
                    with rt.db.session() as s:
                        answer = replay_item(s, item_id)
                    click.echo(json.dumps(answer))
                except ConnectorError as exc:
                    click.echo(f"outbox item {item_id}: {exc}", err=True)
                    failed += 1
        if rt.settings.embedded:
            click.echo("embedded mode: the replayed items are sent when `connector serve` next runs", err=True)
    finally:
        rt.close()
    if failed:
        sys.exit(1)
