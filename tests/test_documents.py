"""Versioned documents and their caches: each runtime (so each database) has its own, bounded."""

from __future__ import annotations

from pathlib import Path

from connector.config import Settings
from connector.store import Database
from connector.store.cache import BoundedCache
from connector.wiring import build_runtime


def _runtime(path: Path, policy: str):  # type: ignore[no-untyped-def]
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{path}", "CONNECTOR_POLICY": policy})
    db = Database(settings.database_url)
    db.upgrade()
    return build_runtime(settings, db=db)


def test_two_databases_in_one_process_never_share_a_policy(tmp_path: Path) -> None:
    """Version 1 is row 1 in both databases: a cache keyed by row id alone served the first one's."""
    a, b = _runtime(tmp_path / "a.db", "signx"), _runtime(tmp_path / "b.db", "signx")
    try:
        with a.db.session() as s:
            a.policies.save(s, document="tai")
        with b.db.session() as s:
            b.policies.save(s, document="nwire")
        for rt, name in ((a, "tai"), (b, "nwire"), (a, "tai")):
            with rt.db.session() as s:
                active = rt.policies.active(s)
            assert (active.version, active.policy.name) == (1, name)
    finally:
        a.close()
        b.close()


def test_two_databases_never_share_a_mapping(tmp_path: Path) -> None:
    a, b = _runtime(tmp_path / "a.db", "signx"), _runtime(tmp_path / "b.db", "signx")
    draft = "vendor: jira\nshapes:\n  issue:\n    fields:\n      title: {path: issue.key}\n"
    try:
        with a.db.session() as s:
            a.mappings.save(s, vendor="jira", instance="default", document=draft)
        with b.db.session() as s:
            b.mappings.save(s, vendor="jira", instance="default", document=draft.replace("issue.key", "issue.id"))
        for rt, path in ((a, "issue.key"), (b, "issue.id")):
            with rt.db.session() as s:
                active = rt.mappings.active(s, vendor="jira")
            assert active.document.dump()["shapes"]["issue"]["fields"]["title"] == [{"path": path}]
    finally:
        a.close()
        b.close()


def test_a_new_active_version_is_seen_at_once(tmp_path: Path) -> None:
    rt = _runtime(tmp_path / "c.db", "signx")
    try:
        for name in ("tai", "skillancer", "tai"):
            with rt.db.session() as s:
                rt.policies.save(s, document=name)
            with rt.db.session() as s:
                assert rt.policies.active(s).policy.name == name
    finally:
        rt.close()


def test_the_cache_is_bounded_and_keeps_the_recently_used() -> None:
    cache: BoundedCache[str] = BoundedCache(2)
    built: list[str] = []

    def make(key: str):  # type: ignore[no-untyped-def]
        return lambda: built.append(key) or key.upper()

    assert cache.get("a", make("a")) == "A"
    cache.get("b", make("b"))
    cache.get("a", make("a"))  # a is now the most recent
    cache.get("c", make("c"))  # evicts b
    assert len(cache) == 2
    cache.get("a", make("a"))
    cache.get("b", make("b"))
    assert built == ["a", "b", "c", "b"]


def _title_path(rt, s, vendor: str = "jira", instance: str = "default") -> str:  # type: ignore[no-untyped-def]
    fields = rt.mappings.active(s, vendor=vendor, instance=instance).document.dump()["shapes"]["issue"]["fields"]
    return str(fields["title"][0]["path"])


def test_a_transaction_reads_the_active_mappings_once_and_sees_its_own_save(tmp_path: Path) -> None:
    """Processing asks for several vendors' mappings in one transaction: one statement reads them all.
    A version saved in the same transaction, or one rolled back with its savepoint, is not missed."""
    from sqlalchemy import event

    rt = _runtime(tmp_path / "d.db", "signx")
    draft = "vendor: jira\nshapes:\n  issue:\n    fields:\n      title: {path: issue.key}\n"
    statements: list[str] = []
    event.listen(rt.db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        with rt.db.session() as s:
            rt.mappings.save(s, vendor="jira", instance="default", document=draft)
        with rt.db.session() as s:
            statements.clear()
            rt.mappings.active(s, vendor="zendesk")
            rt.mappings.active(s, vendor="jira", instance="eu")  # inherits default
            rt.mappings.active(s, vendor="pagerduty")
            assert sum("mapping_versions.active" in st for st in statements) == 1
            assert _title_path(rt, s, instance="eu") == "issue.key"
            rt.mappings.save(s, vendor="jira", instance="default", document=draft.replace("issue.key", "issue.id"))
            assert _title_path(rt, s) == "issue.id"
            savepoint = s.begin_nested()
            rt.mappings.save(s, vendor="jira", instance="eu", document=draft.replace("issue.key", "issue.summary"))
            assert _title_path(rt, s, instance="eu") == "issue.summary"
            savepoint.rollback()
            assert _title_path(rt, s, instance="eu") == "issue.id"  # the eu version went with its savepoint
        with rt.db.session() as s:
            assert _title_path(rt, s, instance="eu") == "issue.id"
    finally:
        rt.close()
