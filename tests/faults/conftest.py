"""The fault suite (issue 8): real processes, private services, every figure written to a results file.

    pytest -m faults tests/faults       # everything: the CI subset and the slow tests (~minutes)
    pytest -m faults_ci tests/faults    # the CI subset only (seconds); also runs in a plain `pytest`
    python -m tests.faults.report       # docs/reliability.md from the results (build/faults/)

Markers (registered in pyproject.toml): every test here is `faults`; the fast ones are also
`faults_ci`. A plain `pytest` runs the `faults_ci` tests and skips the slow ones unless the `-m`
expression names `faults`.

Each test records what it tried and what held on a `FaultResult` (fixture `fault_result`); after the
test the record is written, with the outcome, to build/faults/<fast|full>/<test>.json (or under
$FAULTS_RESULTS).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.servers import GunicornSettings
from tests.faults.results import REPO, RESULTS_DIR, FaultResult, slug, write_environment
from tests.faults.services import AppStack, PrivatePostgres, PrivateRedis, pg_bindir
from tests.faults.targets import Deployed, InProcess, Target

HERE = Path(__file__).parent
_CALL = pytest.StashKey[tuple[str, str | None]]()
_DB_NAMES = itertools.count(1)
#: where a target runs: the fast variant in-process, the full one deployed
TARGETS = ("inprocess-sqlite", "inprocess-postgres", "gunicorn-sqlite", "gunicorn-postgres")


def _selected_by_marker(config: pytest.Config) -> bool:
    return "faults" in re.findall(r"\w+", config.option.markexpr or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _selected_by_marker(config):
        return
    skip = pytest.mark.skip(reason="slow fault test: run with `pytest -m faults tests/faults`")
    for item in items:
        if HERE in Path(str(item.path)).parents and item.get_closest_marker("faults_ci") is None:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if HERE in Path(str(item.path)).parents and (
        report.when == "call" or (report.when == "setup" and not report.passed)
    ):
        error = None
        if call.excinfo is not None:
            error = call.excinfo.exconly()[:4000]
        elif report.skipped:
            error = str(report.longrepr)[:400]
        item.stash[_CALL] = (report.outcome, error)
    return report


_ENVIRONMENT_WRITTEN: set[str] = set()


def environment() -> dict[str, str]:
    """The machine and versions a run used, for the report (read-only commands only)."""

    def out(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=REPO).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "unknown"

    bindir = pg_bindir()
    commit = out("git", "rev-parse", "--short", "HEAD")
    try:  # read-only: no index refresh, nothing written
        dirty = (
            subprocess.run(["git", "--no-optional-locks", "diff", "--quiet", "HEAD"], cwd=REPO, timeout=20).returncode
            != 0
        )
    except (OSError, subprocess.SubprocessError):
        dirty = False
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": f"{commit}{' + uncommitted changes' if dirty else ''}",
        "cpus": str(os.cpu_count()),
        "python": sys.version.split()[0],
        "postgresql": out(str(bindir / "postgres"), "--version") if bindir else "not installed",
        "redis": out("redis-server", "--version").split(" sha=")[0],
        "user": "root (PostgreSQL tools run as `postgres` via runuser)" if os.geteuid() == 0 else "non-root",
    }


@pytest.fixture
def fault_result(request: pytest.FixtureRequest) -> Iterator[FaultResult]:
    variant = "fast" if request.node.get_closest_marker("faults_ci") else "full"
    if variant not in _ENVIRONMENT_WRITTEN:
        write_environment(variant, environment())
        _ENVIRONMENT_WRITTEN.add(variant)
    result = FaultResult(test=request.node.name, variant=variant, about=(request.module.__doc__ or "").strip())
    yield result
    outcome, error = request.node.stash.get(_CALL, ("error", "the test did not run to its end"))
    result.write(outcome, error)


@pytest.fixture
def workdir(request: pytest.FixtureRequest) -> Path:
    """The test's logs and data: build/faults/work/<test>/, emptied first and kept after the test (pytest's
    own temporary directories are rotated away by the next runs on a shared machine)."""
    path = RESULTS_DIR / "work" / slug(request.node.name)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="session")
def shared_postgres() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL cluster for the tests that do not stop it; each takes a database of its own."""
    if pg_bindir() is None:
        pytest.skip("PostgreSQL server binaries (initdb) are not installed")
    pg = PrivatePostgres("shared")
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.close()


@pytest.fixture
def make_target(request: pytest.FixtureRequest, workdir: Path) -> Iterator[Callable[[str], Target]]:
    """`make_target(kind)`: one of TARGETS, on fresh storage, closed after the test."""
    opened: list[Target] = []
    stacks: list[AppStack] = []
    services: list[PrivateRedis] = []

    def make(kind: str) -> Target:
        backend = kind.split("-", 1)[1]
        if backend == "postgres":
            pg: PrivatePostgres = request.getfixturevalue("shared_postgres")
            url = pg.create_database(f"faults_{next(_DB_NAMES)}")
        else:
            url = f"sqlite:///{workdir / f'{kind}.db'}"
        target: Target
        if kind.startswith("inprocess"):
            target = InProcess(kind, url)
        elif backend == "postgres":
            redis_server = PrivateRedis(workdir / kind)
            services.append(redis_server)
            redis_server.start()
            stack = AppStack(workdir / kind, database_url=url, redis_url=redis_server.url)
            stacks.append(stack)
            stack.upgrade()
            stack.start_web()
            stack.start_worker()
            target = Deployed(kind, stack)
        else:  # embedded: the queue and its worker inside the one gunicorn worker (README: SQLite → one process)
            stack = AppStack(
                workdir / kind, database_url=url, redis_url=None, web=GunicornSettings(workers=1, threads=4)
            )
            stacks.append(stack)
            stack.upgrade()
            stack.start_web()
            target = Deployed(kind, stack)
        opened.append(target)
        if "fault_result" in request.fixturenames:
            request.getfixturevalue("fault_result").target = kind
        return target

    yield make
    for target in opened:
        target.close()
    for stack in stacks:
        stack.stop()
    for server in services:
        server.close()
