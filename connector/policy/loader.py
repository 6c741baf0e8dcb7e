"""Load a policy: a shipped preset by name, a YAML/JSON file, YAML text, or a dict.

`load_policy` reads files (the operator's choice); `load_policy_document` never does (what a request names).

Every problem is a PolicyError whose message names the source and the path into the document:
`preset 'signx': sla.targets[3].severity: unknown level 'P5'`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from connector.calendar import BusinessCalendar
from connector.errors import PolicyError, json_kind
from connector.policy.schema import Policy

_PRESETS = resources.files("connector") / "presets"
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: the deepest `[...]` / `{...}` nesting a policy's YAML text may have (a real policy has a few levels)
MAX_NESTING = 100
_BRACKETS = re.compile(r"[\[\]{}]")


def preset_names() -> list[str]:
    """The shipped presets, one per seed document: nwire, signx, localizevideos, tai, skillancer."""
    return sorted(p.name.removesuffix(".yaml") for p in _PRESETS.iterdir() if p.name.endswith(".yaml"))


def load_policy(ref: str | Path | Mapping[str, Any]) -> Policy:
    """A preset name, a path to a .yaml/.yml/.json file, YAML text (has a newline or starts with `{`), or a dict.

    Reads the file a string names: for what the operator chose (CONNECTOR_POLICY, the CLI). What a
    request over HTTP names goes through `load_policy_document`, which reads no file."""
    if isinstance(ref, Path) or (
        isinstance(ref, str) and ref not in preset_names() and "\n" not in ref and not ref.lstrip().startswith("{")
    ):
        path = Path(ref)
        if not path.is_file():
            raise PolicyError(f"{str(ref)!r} is neither a preset ({', '.join(preset_names())}) nor a policy file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{path}: cannot read: {exc}") from exc
        return parse_policy(_yaml(text, str(path)), source=str(path))
    return load_policy_document(ref)


def load_policy_document(ref: object) -> Policy:
    """A preset name, YAML text or a dict — never a file. What a request over HTTP may name: this
    touches no file (but the shipped presets), so its answer is the same whatever exists on the server.

    Anything else is a PolicyError naming the presets: a number, a list, or a string that is neither
    a preset nor the YAML text of a mapping (a file path, a misspelt preset)."""
    if isinstance(ref, Mapping):
        return parse_policy(ref, source="policy")
    presets = ", ".join(preset_names())
    if not isinstance(ref, str):
        raise PolicyError(
            f"policy: a preset name ({presets}), YAML text or a policy document (an object), got {json_kind(ref)}"
        )
    if ref in preset_names():
        return _preset(ref)
    looks_like_yaml = "\n" in ref or ref.lstrip().startswith("{")
    try:
        data = _yaml(ref, "policy text")
    except PolicyError:
        if looks_like_yaml:
            raise
        data = None  # one line that is not even YAML: a misspelt preset or a path
    if not looks_like_yaml and not isinstance(data, Mapping):
        raise PolicyError(
            f"policy: {_quote(ref)} is neither a preset ({presets}) nor a policy document "
            "(YAML text of a mapping, or an object)"
        )
    return parse_policy(data, source="policy text")


def _preset(name: str) -> Policy:
    text = (_PRESETS / f"{name}.yaml").read_text(encoding="utf-8")
    return parse_policy(_yaml(text, f"preset {name!r}"), source=f"preset {name!r}")


def parse_policy(data: Any, *, source: str = "policy") -> Policy:
    """Validate parsed data as a policy document; PolicyError pointing into it on any problem."""
    if not isinstance(data, Mapping):
        raise PolicyError(f"{source}: a policy document is a mapping with at least 'name' and 'severity'")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{error_path(e['loc'], data)}: {_message(e)}" for e in exc.errors())
        found = tuple((tuple(p for p in e["loc"] if isinstance(p, str | int)), _message(e)) for e in exc.errors())
        raise PolicyError(f"{source}: {problems}", problems=found) from exc
    except PolicyError as exc:
        raise PolicyError(f"{source}: {exc.message}") from exc


def policy_calendar(policy: Policy, name: str | None = None) -> BusinessCalendar:
    """The BusinessCalendar of one of the policy's calendars (`24x7` for calendar time)."""
    return policy.calendar(name)


def error_path(loc: tuple[int | str, ...], data: Any) -> str:
    """pydantic's loc as a path into the document: `sla.targets[3].severity`.

    Walks the input alongside the loc to drop the tag pydantic inserts after a tagged-union item
    (`triggers.0.breach.metric` is `triggers[0].metric`): the tag equals that item's `event` or `do`.
    """
    out = ""
    node = data
    for step in loc:
        if isinstance(node, Mapping) and step in (node.get("event"), node.get("do")):
            node = dict(node) | {"event": None, "do": None}  # a tag is skipped once
            continue
        if isinstance(step, int):
            out += f"[{step}]"
            node = node[step] if isinstance(node, list) and step < len(node) else None
        else:
            out += f".{step}" if out else str(step)
            node = node.get(step) if isinstance(node, Mapping) else None
    return out or "(document)"


def _message(error: Mapping[str, Any]) -> str:
    msg = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    return msg


def _yaml(text: str, source: str) -> Any:
    if _flow_depth(text) > MAX_NESTING:
        raise PolicyError(f"{source}: nested deeper than {MAX_NESTING} levels")
    try:
        return yaml.load(text, Loader=_YamlLoader)  # a safe loader, C-accelerated when present
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from exc
    except RecursionError as exc:  # the pure-Python loader, on block nesting
        raise PolicyError(f"{source}: not valid YAML we can read: nested too deeply") from exc


def _flow_depth(text: str) -> int:
    """At least the deepest nesting of `[...]` and `{...}` in YAML text (brackets in quoted text count too).

    libyaml takes time quadratic in it and overflows the C stack on a document of `[` a megabyte long
    (a crash of the process, not an exception); the pure-Python loader raises RecursionError."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return 0
    depth = deepest = 0
    for bracket in _BRACKETS.findall(text):
        depth = depth + 1 if bracket in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


def _quote(value: str, limit: int = 64) -> str:
    text = repr(value[: limit + 1])
    return text if len(text) <= limit else f"{text[:limit]}…"
