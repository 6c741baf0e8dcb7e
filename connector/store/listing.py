"""Lists behind the admin API: query-string filters turned into checked conditions, and one page of rows
newest first with the total. A bad filter value is a ConnectorError naming the filter."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from connector.errors import ConnectorError
from connector.store.limits import is_id


def _numeric(column: Any) -> bool:
    try:
        return column.type.python_type is int
    except NotImplementedError:
        return False


def conditions(
    model: Any,
    names: Sequence[str],
    filters: Mapping[str, str],
    *,
    choices: Mapping[str, Collection[str]] | None = None,
) -> list[ColumnElement[bool]]:
    """`column == value` for each of `names` given in `filters`. A filter of a whole-number column (an id)
    must be one; a filter in `choices` one of its values."""
    out: list[ColumnElement[bool]] = []
    for name in names:
        value = filters.get(name)
        if value is None:
            continue
        allowed = (choices or {}).get(name)
        if allowed is not None and value not in allowed:
            raise ConnectorError(f"{name}: one of {', '.join(sorted(allowed))}; got {value[:40]!r}")
        if _numeric(getattr(model, name)):  # a ticket_id; not a trigger_id, which is a rule's name
            if not value.isdigit() or not is_id(int(value)):
                raise ConnectorError(f"{name}: an id, a whole number; got {value[:40]!r}")
            out.append(getattr(model, name) == int(value))
        else:
            out.append(getattr(model, name) == value)
    return out


def newest_first(
    s: Session,
    model: Any,
    where: Sequence[ColumnElement[bool]],
    *,
    limit: int,
    offset: int,
    before: int | None = None,
) -> tuple[int, list[Any]]:
    """(how many rows match, the page of them by id, newest first); `before`: only rows older than that
    id (keyset paging)."""
    total = s.scalar(select(func.count()).select_from(model).where(*where)) or 0
    page = [*where, model.id < before] if before is not None else list(where)
    q = select(model).where(*page).order_by(model.id.desc()).limit(limit).offset(0 if before is not None else offset)
    return int(total), list(s.scalars(q))
