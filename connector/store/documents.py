"""Versioned documents (field mappings, the policy) as an admin edits them: YAML text, a draft's
problems located at the line of the key they name, and the difference between two versions."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from connector.errors import ConnectorError, DocumentError


def as_yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, width=110)


def locate(text: str, path: Sequence[str | int]) -> int | None:
    """The 1-based line of the deepest key or item of `path` that the YAML text has, or None."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for step in path:
        if isinstance(node, yaml.MappingNode):
            found = next(
                ((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(step)), None
            )
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            break
    return line


def problems(text: str, error: ConnectorError) -> list[dict[str, Any]]:
    """What is wrong with a draft, each with the path it names and the line it is at."""
    if isinstance(error, DocumentError) and error.problems:
        return [
            {"path": ".".join(str(p) for p in loc), "message": message, "line": locate(text, loc)}
            for loc, message in error.problems
        ]
    mark = None
    cause = error.__cause__
    if isinstance(cause, yaml.MarkedYAMLError) and cause.problem_mark is not None:
        mark = cause.problem_mark.line + 1
    return [{"path": None, "message": str(error), "line": mark}]


def diff(old: Mapping[str, Any], new: Mapping[str, Any], *, old_name: str, new_name: str) -> str:
    """A unified diff of two documents' YAML."""
    return "".join(
        difflib.unified_diff(
            as_yaml(old).splitlines(keepends=True),
            as_yaml(new).splitlines(keepends=True),
            fromfile=old_name,
            tofile=new_name,
        )
    )
