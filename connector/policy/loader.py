"""Load a policy: a shipped preset by name, a YAML/JSON file, YAML text, or a dict.

Every problem is a PolicyError whose message names the source and the path into the document:
`preset 'signx': sla.targets[3].severity: unknown level 'P5'`.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from connector.calendar import BusinessCalendar
from connector.errors import PolicyError
from connector.policy.schema import Policy

_PRESETS = resources.files("connector") / "presets"
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def preset_names() -> list[str]:
    """The shipped presets, one per seed document: nwire, signx, localizevideos, tai, skillancer."""
    return sorted(p.name.removesuffix(".yaml") for p in _PRESETS.iterdir() if p.name.endswith(".yaml"))


def load_policy(ref: str | Path | Mapping[str, Any]) -> Policy:
    """A preset name, a path to a .yaml/.yml/.json file, YAML text (has a newline or starts with `{`), or a dict."""
    if isinstance(ref, Mapping):
        return parse_policy(ref, source="policy")
    if isinstance(ref, str) and ref in preset_names():
        return _preset(ref)
    if isinstance(ref, Path) or ("\n" not in ref and not ref.lstrip().startswith("{")):
        path = Path(ref)
        if not path.is_file():
            raise PolicyError(f"{str(ref)!r} is neither a preset ({', '.join(preset_names())}) nor a policy file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"{path}: cannot read: {exc}") from exc
        return parse_policy(_yaml(text, str(path)), source=str(path))
    return parse_policy(_yaml(ref, "policy text"), source="policy text")


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
        raise PolicyError(f"{source}: {problems}") from exc
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
    try:
        return yaml.load(text, Loader=_YamlLoader)  # a safe loader, C-accelerated when present
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from exc
