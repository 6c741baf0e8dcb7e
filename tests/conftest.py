"""Shared fixtures. The suite runs on real PostgreSQL + Redis when DATABASE_URL / REDIS_URL are set
(CI does both), and on the embedded default (SQLite file + in-process queue) otherwise."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import responses
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from connector.config import Settings
from connector.queue import JobQueue, ThreadWorker
from connector.runtime import Runtime, install
from connector.store import Database
from connector.store.tables import Base
from connector.wiring import build_runtime
from tests.vendor_fakes import FakeJira, FakeZendesk

SECRETS_ENV = {
    "ZENDESK_WEBHOOK_SECRETS": "zd-secret-current,zd-secret-previous",
    "ZENDESK_EU_WEBHOOK_SECRETS": "zd-eu-secret",
    "JIRA_WEBHOOK_SECRETS": "jira-secret",
    "PAGERDUTY_WEBHOOK_SECRETS": "pd-secret-new,pd-secret-old",
    "CONNECTOR_ADMIN_TOKEN": "test-admin-token",
}
ADMIN = {"Authorization": "Bearer test-admin-token"}


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'connector.db'}"


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    settings = Settings.from_env({"DATABASE_URL": _database_url(tmp_path_factory)})
    db = Database(settings.database_url)
    if not db.is_sqlite:
        with db.engine.begin() as conn:
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.upgrade()
    yield db
    db.dispose()


def _clean(db: Database) -> None:
    names = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.is_sqlite:
            for name in names:
                conn.execute(text(f"DELETE FROM {name}"))
        else:
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))


def make_settings(db: Database, **env: str) -> Settings:
    base = {**SECRETS_ENV, "DATABASE_URL": str(db.url)}
    if os.environ.get("REDIS_URL"):
        base["REDIS_URL"] = os.environ["REDIS_URL"]
    base.update(env)
    return Settings.from_env(base)


def make_queue(settings: Settings) -> JobQueue:
    if settings.redis_url:
        q = JobQueue.from_url(settings.redis_url, settings.queue_name)
        q.connection.flushdb()
        return q
    return JobQueue.embedded(settings.queue_name)


@contextmanager
def installed_runtime(db: Database, **env: str) -> Iterator[Runtime]:
    """A runtime on the cleaned test database with the test settings and `env`, installed for jobs."""
    _clean(db)
    settings = make_settings(db, **env)
    runtime = build_runtime(settings, db=db, queue=make_queue(settings))
    prev = install(runtime)
    try:
        yield runtime
    finally:
        install(prev)
        runtime.release()


@pytest.fixture
def rt(database: Database) -> Iterator[Runtime]:
    with installed_runtime(database) as runtime:
        yield runtime


@pytest.fixture
def vendors() -> Iterator[tuple[FakeZendesk, FakeJira]]:
    """Zendesk's and Jira's REST APIs at the HTTP edge (`tests.vendor_fakes`), for the sync tests."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rs:
        yield FakeZendesk(rs), FakeJira(rs)


@pytest.fixture
def app(rt: Runtime) -> Flask:
    from webhooks.app import create_app

    return create_app(rt, start_worker=False)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def drain(rt: Runtime) -> int:
    """Run every queued job with a real RQ worker in burst mode; returns how many ran."""
    rt.queue.dispatch(batch=rt.settings.process_batch)
    worker = ThreadWorker(rt.queue.queues, connection=rt.queue.connection)
    before = sum(q.count for q in rt.queue.queues)
    worker.work(burst=True, logging_level="WARNING")
    return before


FIXTURES = Path(__file__).parent / "fixtures"
