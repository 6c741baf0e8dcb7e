"""The import rules, read from the source with `ast` (every import: module level, in a function, or
under TYPE_CHECKING), so they hold after us:

- `webhooks/` → `connector/` ← `adapters/`, `mappings/`: the core never imports `adapters/`,
  `mappings/` or `webhooks/`; only the composition roots do (`COMPOSITION_ROOTS`), and no core module
  imports a composition root.
- `adapters/` imports only the adapter contract (`connector.inbound`), the canonical model and the
  errors; `mappings/` only the model and the errors; `webhooks/` no adapter and no mapping.
- Inside the core, each package has a layer (`LAYERS`) and imports only its own package and lower
  layers: a cycle between packages cannot come back.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGES = ("connector", "adapters", "mappings", "webhooks")
COMPOSITION_ROOTS = ("connector.wiring", "connector.cli", "connector.demo")
#: the core's packages (and top-level modules), lowest first; one layer may hold several
LAYERS: tuple[tuple[str, ...], ...] = (
    ("connector", "connector.defaults", "connector.errors", "connector.calendar"),
    ("connector.model", "connector.config", "connector.logs", "connector.metrics"),
    ("connector.inbound", "connector.outbound", "connector.policy", "connector.loops"),
    ("connector.store",),
    ("connector.tickets", "connector.queue"),
    ("connector.outbox",),
    ("connector.sla",),
    ("connector.escalation",),
    ("connector.sync",),
    ("connector.runtime",),
    ("connector.inbox", "connector.outbox.delivery"),
)
ADAPTERS_MAY_IMPORT = ("connector.inbound", "connector.outbound", "connector.model", "connector.errors")
MAPPINGS_MAY_IMPORT = ("connector.model", "connector.errors")


@dataclass(frozen=True)
class Edge:
    source: str  # importing module
    target: str  # imported module (as written)
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: third-party roots whose imports are rules too (webhooks/ builds no query)
WATCHED = (*PACKAGES, "sqlalchemy")


def _imported(node: ast.ImportFrom) -> list[str]:
    """What `from m import a, b` imports: `m.a` where `a` is a module or package of ours, else `m`
    (so `from connector import wiring` is an edge to `connector.wiring`, not to the package)."""
    assert node.module is not None
    out = []
    for alias in node.names:
        sub = ROOT.joinpath(*node.module.split("."), alias.name)
        out.append(f"{node.module}.{alias.name}" if sub.is_dir() or sub.with_suffix(".py").is_file() else node.module)
    return out


def sources() -> list[tuple[str, ast.Module]]:
    out = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                out.append((module_name(path), ast.parse(path.read_text(encoding="utf-8"))))
    return out


SOURCES = sources()


def edges() -> list[Edge]:
    out = []
    for source, tree in SOURCES:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = _imported(node)
            else:
                continue
            out += [Edge(source, t, node.lineno) for t in targets if t.split(".")[0] in WATCHED]
    return out


EDGES = edges()


def within(name: str, prefixes: tuple[str, ...] | str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in ([prefixes] if isinstance(prefixes, str) else prefixes))


def layer_of(name: str) -> tuple[int, str]:
    """(layer, package) of a core module: the longest declared package that contains it."""
    best: tuple[int, str] | None = None
    for rank, members in enumerate(LAYERS):
        for member in members:
            if within(name, member) and (best is None or len(member) > len(best[1])):
                best = (rank, member)
    if best is None:
        raise AssertionError(f"{name} is in no layer: add its package to LAYERS")
    return best


def core(name: str) -> bool:
    return within(name, "connector") and not within(name, COMPOSITION_ROOTS)


def core_reaches_outside(edges: list[Edge]) -> list[str]:
    return [
        str(e)
        for e in edges
        if core(e.source)
        and (within(e.target, ("adapters", "mappings", "webhooks")) or within(e.target, COMPOSITION_ROOTS))
    ]


def adapters_reach_beyond_the_contract(edges: list[Edge]) -> list[str]:
    return [
        str(e)
        for e in edges
        if within(e.source, "adapters")
        and (
            (within(e.target, "connector") and not within(e.target, ADAPTERS_MAY_IMPORT))
            or within(e.target, ("mappings", "webhooks"))
        )
    ]


def mappings_reach_beyond_the_model(edges: list[Edge]) -> list[str]:
    return [
        str(e)
        for e in edges
        if within(e.source, "mappings")
        and not within(e.target, "mappings")
        and not within(e.target, MAPPINGS_MAY_IMPORT)
    ]


def webhooks_reach_around_the_core(edges: list[Edge]) -> list[str]:
    return [str(e) for e in edges if within(e.source, "webhooks") and within(e.target, ("adapters", "mappings"))]


def webhooks_build_queries(edges: list[Edge]) -> list[str]:
    """Views call service functions: webhooks/ imports neither SQLAlchemy (but its exceptions) nor tables."""
    return [
        str(e)
        for e in edges
        if within(e.source, "webhooks")
        and (
            (within(e.target, "sqlalchemy") and not within(e.target, "sqlalchemy.exc"))
            or within(e.target, "connector.store.tables")
        )
    ]


def layers_broken(edges: list[Edge]) -> list[str]:
    bad = []
    for e in edges:
        if not (core(e.source) and core(e.target)):
            continue
        (src_rank, src_pkg), (dst_rank, dst_pkg) = layer_of(e.source), layer_of(e.target)
        if src_pkg != dst_pkg and dst_rank >= src_rank:
            bad.append(f"{e} (layer {src_rank} {src_pkg} → layer {dst_rank} {dst_pkg})")
    return bad


Rule = Callable[[list[Edge]], list[str]]
RULES: tuple[Rule, ...] = (
    core_reaches_outside,
    adapters_reach_beyond_the_contract,
    mappings_reach_beyond_the_model,
    webhooks_reach_around_the_core,
    webhooks_build_queries,
    layers_broken,
)


def test_the_walk_sees_the_tree() -> None:
    sources = {e.source for e in EDGES}
    assert {"connector.inbox.sink", "adapters.zendesk.inbound", "mappings.engine", "webhooks.api"} <= sources


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_rule_holds(rule: Rule) -> None:
    assert rule(EDGES) == []


@pytest.mark.parametrize(
    ("edge", "rule"),
    [
        (Edge("connector.tickets.apply", "mappings.engine", 1), core_reaches_outside),
        (Edge("connector.inbox.sink", "webhooks.app", 1), core_reaches_outside),
        (Edge("connector.sla.live", "connector.wiring", 1), core_reaches_outside),
        (Edge("adapters.zendesk.inbound", "connector.defaults", 1), adapters_reach_beyond_the_contract),
        (Edge("mappings.engine", "connector.store", 1), mappings_reach_beyond_the_model),
        (Edge("webhooks.api", "adapters.zendesk", 1), webhooks_reach_around_the_core),
        (Edge("connector.store.tables", "connector.tickets.timeline", 1), layers_broken),
        (Edge("connector.tickets.apply", "connector.queue", 1), layers_broken),
        (Edge("connector.sla.live", "connector.inbox", 1), layers_broken),
        (Edge("webhooks.api", "sqlalchemy", 1), webhooks_build_queries),
        (Edge("webhooks.api", "connector.store.tables", 1), webhooks_build_queries),
    ],
    ids=lambda x: str(x) if isinstance(x, Edge) else "",
)
def test_each_rule_catches_the_edge_it_forbids(edge: Edge, rule: Rule) -> None:
    """A rule that cannot fail proves nothing: each one reports a forbidden edge added to the tree."""
    found = rule([*EDGES, edge])
    assert len(found) == 1 and found[0].startswith(str(edge))


def test_from_package_import_module_is_an_edge_to_the_module() -> None:
    """`from connector import wiring` inside the core is caught like `import connector.wiring`."""
    node = ast.parse("from connector import wiring, defaults").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert _imported(node) == ["connector.wiring", "connector.defaults"]


def test_no_relative_imports() -> None:
    """Every import names its module in full, so the rules above see it."""
    relative = [
        f"{source}:{node.lineno}"
        for source, tree in SOURCES
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level > 0
    ]
    assert relative == []


def test_every_core_package_states_what_it_may_import() -> None:
    """Each package of the core opens with a docstring saying what lives there."""
    for init in sorted((ROOT / "connector").glob("*/__init__.py")):
        if "migrations" in init.parts:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc, f"{init.relative_to(ROOT)} has no docstring"
