"""The `connector` command line. A composition root: it builds runtimes through `connector.wiring`.

Only `connector db upgrade` changes the schema (and `serve` on the embedded SQLite default, which
migrates itself); every other command that opens the database first checks that its schema is
current and otherwise stops with one line saying to run `connector db upgrade`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from werkzeug.serving import WSGIRequestHandler

from connector import defaults
from connector.config import Settings, redact_url
from connector.errors import ConnectorError
from connector.runtime import Runtime, install
from connector.wiring import build_runtime


def _settings() -> Settings:
    """The environment's settings; a bad value stops the command with one line naming the variable."""
    try:
        return Settings.from_env()
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from exc


def _runtime(*, migrate: bool = False) -> Runtime:
    """The runtime of this command, installed for jobs. `migrate`: the embedded SQLite default (no
    REDIS_URL) may bring its own schema up to date; otherwise a schema that is not current stops the command. A
    database that cannot be reached stops it too, with one line saying which and what to check."""
    settings = _settings()
    rt = build_runtime(settings)
    try:
        if migrate and rt.db.is_sqlite and settings.embedded:
            rt.db.upgrade()
        else:
            rt.db.require_current()
    except ConnectorError as exc:
        rt.close()
        raise click.ClickException(str(exc)) from exc
    except SQLAlchemyError as exc:
        rt.close()
        raise click.ClickException(
            f"cannot reach the database at DATABASE_URL={redact_url(settings.database_url)} "
            f"({type(exc.orig if isinstance(exc, DBAPIError) else exc).__name__}): is it running, and is the URL right?"
        ) from exc
    install(rt)
    return rt


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="helpdesk-connector")
def main() -> None:
    """helpdesk connector: webhooks in from Zendesk, Jira/JSM and PagerDuty; one support model enforced."""
    from connector.logs import configure_logging

    configure_logging(_settings().log_level)


@main.command()
@click.option("--host", default=defaults.SERVE_HOST, show_default=True, help="Interface to listen on.")
@click.option("--port", default=defaults.SERVE_PORT, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Run the web app (development server; use gunicorn in production, see README).

    With no REDIS_URL the queue and its worker run inside this process (embedded mode)."""
    from connector.runtime import settle_heap
    from webhooks.app import create_app

    rt = _runtime(migrate=True)
    app = create_app(rt)  # embedded mode: also starts the worker thread, reconciler and SLA sweeper
    settle_heap()  # started: what lives for the process leaves the collector's walks
    click.echo(
        f"connector listening on http://{host}:{port} "
        f"({'embedded queue' if rt.settings.embedded else 'Redis queue'}, {rt.db.engine.dialect.name})",
        err=True,
    )
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False, request_handler=_PlainRequestHandler)
    finally:
        rt.close()


class _PlainRequestHandler(WSGIRequestHandler):
    """The development server's access log without terminal colour codes (the log lines are JSON)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.log("info", '"%s" %s %s', self.requestline, code, size)


@main.command()
@click.option("--burst", is_flag=True, help="Process what is queued, then exit.")
def worker(burst: bool) -> None:
    """Run an RQ worker on REDIS_URL (scale by starting more). Also runs the reconciler."""

    from connector.inbox.reconciler import reconcile
    from connector.queue import QueueUnavailable, run_worker
    from connector.runtime import settle_heap
    from connector.wiring import start_worker_duties

    settings = _settings()
    if settings.embedded:
        raise click.ClickException("REDIS_URL is not set: in embedded mode `connector serve` runs the worker itself")
    rt = _runtime()
    try:
        _wait_for_queue(rt)
        try:
            n = reconcile(rt, stale_after=0)
            # what the web app acknowledged while no worker ran: all of it for a burst; otherwise the
            # dispatcher moves it at the workers' pace
            while burst and rt.queue.dispatch(batch=rt.settings.process_batch):
                pass
            click.echo(f"reconciler: enqueued {n} stored deliveries on start", err=True)
        except QueueUnavailable as exc:  # Redis went away again: the reconciler duty catches up
            click.echo(
                f"reconciler: queue unavailable on start ({type(exc).__name__}); it runs again shortly", err=True
            )
        if not burst:
            settle_heap()  # started: what lives for the process leaves the collector's walks
            start_worker_duties(rt)  # inbox ids → RQ jobs; reconciler + SLA sweeper beside the worker loop
        run_worker(rt.queue, burst=burst, logging_level=settings.log_level)
    finally:
        rt.close()


def _wait_for_queue(rt: Runtime) -> None:
    """Block until Redis answers, saying once per attempt (one line) what is wrong and what to check."""
    from connector.loops import Backoff
    from connector.queue import QueueUnavailable

    backoff = Backoff(1.0, 15.0)
    while True:
        try:
            rt.queue.ping()
            return
        except QueueUnavailable as exc:
            wait = backoff.next()
            click.echo(
                f"waiting for Redis at REDIS_URL={redact_url(rt.settings.redis_url or '')} ({type(exc).__name__}): "
                f"is it running? trying again in {wait:g} s",
                err=True,
            )
            time.sleep(wait)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the resulting tickets as JSON.")
@click.option(
    "--keep-db",
    type=click.Path(dir_okay=False),
    default=None,
    help="Keep the demo database in this SQLite file (default: a temporary one).",
)
def demo(as_json: bool, keep_db: str | None) -> None:
    """Send the seeds' scenarios as signed webhooks through the real HTTP stack and show the tickets."""
    from connector.demo import run_demo

    run_demo(as_json=as_json, db_path=keep_db, echo=click.echo, progress=lambda line: click.echo(line, err=as_json))


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations to DATABASE_URL (the only command that changes the schema)."""
    from connector.store import Database

    settings = _settings()
    database = Database(settings.database_url)
    try:
        database.upgrade(revision)
    except SQLAlchemyError as exc:
        raise click.ClickException(
            f"cannot upgrade the database at DATABASE_URL={redact_url(settings.database_url)} "
            f"({type(exc.orig if isinstance(exc, DBAPIError) else exc).__name__}): is it running, and is the URL right?"
        ) from exc
    finally:
        database.dispose()
    click.echo(f"database at {revision} ({database.engine.dialect.name})")


@main.group()
def mappings() -> None:
    """Field mappings: validate, show, preview."""


@mappings.command("validate")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def mappings_validate(path: str) -> None:
    """Validate a mapping document (YAML or JSON)."""
    from mappings import load_document

    try:
        doc = load_document(Path(path).read_text(encoding="utf-8"), source=path)
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{path}: valid {doc.vendor} mapping ({', '.join(doc.shape_names())})")


@mappings.command("show")
@click.argument("vendor", type=click.Choice(defaults.VENDORS))
@click.option("--instance", default=defaults.DEFAULT_INSTANCE, show_default=True)
@click.option("--default", "shipped", is_flag=True, help="Show the shipped default, not the active version.")
def mappings_show(vendor: str, instance: str, shipped: bool) -> None:
    """Print the active mapping document of a vendor as YAML."""
    import yaml

    from mappings import default_document

    if shipped:
        document, header = default_document(vendor).dump(), f"# {vendor}: shipped default"
    else:
        rt = _runtime()
        try:
            with rt.db.session() as s:
                m = rt.mappings.active(s, vendor=vendor, instance=instance)
        finally:
            rt.close()
        document, header = m.document.dump(), f"# {vendor}/{m.instance} version {m.version} (0 = shipped default)"
    click.echo(header)
    click.echo(yaml.safe_dump(document, sort_keys=False))


@mappings.command("preview")
@click.argument("vendor", type=click.Choice(defaults.VENDORS))
@click.option("--delivery", "delivery_id", type=int, help="A stored delivery id.")
@click.option("--file", "payload_file", type=click.Path(exists=True, dir_okay=False), help="A payload file.")
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(exists=True, dir_okay=False),
    help="A draft mapping document to try instead of the active one.",
)
@click.option("--instance", default=defaults.DEFAULT_INSTANCE, show_default=True)
def mappings_preview(
    vendor: str, delivery_id: int | None, payload_file: str | None, mapping_file: str | None, instance: str
) -> None:
    """Run a mapping over a stored delivery or a payload file and print the canonical result."""
    from connector.inbox.preview import preview_delivery

    if (delivery_id is None) == (payload_file is None):
        raise click.UsageError("give exactly one of --delivery or --file")
    payload = json.loads(Path(payload_file).read_text(encoding="utf-8")) if payload_file else None
    document = Path(mapping_file).read_text(encoding="utf-8") if mapping_file else None
    rt = _runtime()
    try:
        with rt.db.session() as s:
            result = preview_delivery(
                rt,
                s,
                vendor=vendor,
                instance=instance,
                delivery_id=delivery_id,
                payload=payload,
                headers={},
                document=document,
            )
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        rt.close()
    click.echo(json.dumps(result, indent=2, default=str))


@main.command()
@click.argument("delivery_ids", type=int, nargs=-1)
@click.option(
    "--status",
    type=click.Choice(["dead", "failed", "rejected"]),
    help="Replay every delivery in this status instead of naming ids.",
)
def replay(delivery_ids: tuple[int, ...], status: str | None) -> None:
    """Re-run stored deliveries through processing (dead-letter replay)."""
    from connector.inbox.deliveries import ids_with_status
    from connector.inbox.replay import replay as replay_one
    from connector.store import DeliveryStatus

    if not delivery_ids and status is None:
        raise click.UsageError("name delivery ids or --status")
    rt = _runtime()
    failed = 0
    try:
        ids = list(delivery_ids)
        if status:
            with rt.db.session() as s:
                ids += ids_with_status(s, DeliveryStatus(status))
        if not ids:
            click.echo(f"no {status} deliveries to replay", err=True)
            return
        with click.progressbar(ids, label="replaying", file=sys.stderr) as bar:  # progress on stderr
            for delivery_id in bar:
                try:
                    click.echo(json.dumps(replay_one(rt, delivery_id)))
                except ConnectorError as exc:
                    click.echo(f"delivery {delivery_id}: {exc}", err=True)
                    failed += 1
        if rt.settings.embedded:
            click.echo("embedded mode: the replayed deliveries run when `connector serve` next starts", err=True)
    finally:
        rt.close()
    if failed:
        sys.exit(1)


@main.command()
@click.argument("scenario", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--policy", "policy_ref", help="Preset name or policy file, if the scenario names none.")
def simulate(scenario: str, policy_ref: str | None) -> None:
    """Dry-run a scenario: its SLA clocks and the escalations, pages and notifications they would cause
    (JSON in, JSON out); touches no ticket and sends nothing. See README."""
    from connector.escalation.simulate import simulate as run

    text = sys.stdin.read() if scenario == "-" else Path(scenario).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        result = run(data, default_policy=policy_ref or Settings.from_env().policy)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{scenario}: not valid JSON: {exc}") from exc
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(result, indent=2))


@main.group()
def policy() -> None:
    """Support policy: validate, show."""


@policy.command("validate")
@click.argument("ref")
def policy_validate(ref: str) -> None:
    """Validate a policy file (or a preset name); errors point into the document."""
    from connector.policy import load_policy

    try:
        loaded = load_policy(Path(ref) if Path(ref).exists() else ref)
    except ConnectorError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{ref}: valid policy {loaded.name!r} ({len(loaded.severity.levels)} severities, "
        f"{len(loaded.customer_tiers.tiers)} tiers, {len(loaded.all_targets)} SLA targets)"
    )
    for warning in loaded.warnings():
        click.echo(f"warning: {warning}", err=True)


@policy.command("show")
@click.argument("ref", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON instead of YAML.")
def policy_show(ref: str | None, as_json: bool) -> None:
    """Print a policy: the active one (database, else CONNECTOR_POLICY), or a preset or file."""
    import yaml

    from connector.policy import load_policy, preset_names

    if ref:
        try:
            loaded, header = load_policy(Path(ref) if Path(ref).exists() else ref), f"# {ref}"
        except ConnectorError as exc:
            raise click.ClickException(str(exc)) from exc
    else:
        rt = _runtime()
        try:
            with rt.db.session() as s:
                active = rt.policies.active(s)
        finally:
            rt.close()
        loaded, header = active.policy, f"# active policy, version {active.version} (0 = CONNECTOR_POLICY)"
    if as_json:
        click.echo(json.dumps(loaded.show(), indent=2))
    else:
        click.echo(header + f"\n# presets: {', '.join(preset_names())}")
        click.echo(yaml.safe_dump(loaded.show(), sort_keys=False, allow_unicode=True))


# Command groups in modules of their own register on `main` when imported.
from connector.cli import outbox as _outbox  # noqa: E402,F401
from connector.cli import report as _report  # noqa: E402,F401
from connector.cli import sync as _sync  # noqa: E402,F401
