"""Structured logs: one JSON object per line, with delivery and ticket ids as fields.

Never log a secret or a payload value; log ids, vendors, event types, outcomes and error *types*. An
exception attached to a record is written as its type and stack, never its message.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime

_STD = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool | type(None)) else str(value)
        if record.exc_info and record.exc_info[1] is not None:
            out["exc"] = safe_traceback(record.exc_info[1])
        return json.dumps(out, ensure_ascii=False)


def safe_traceback(exc: BaseException) -> str:
    """An exception's type and stack, without its message: a message may quote a payload value (a
    library's error about a field, a database's "failing row contains ..."), and logs carry none."""
    te = traceback.TracebackException.from_exception(exc, capture_locals=False)
    return "".join(te.stack.format()) + f"{te.exc_type.__name__ if te.exc_type else 'Exception'}"


def where(exc: BaseException) -> str:
    """Where an exception was raised (`module.py:123 in function`), for a log line that must not carry
    the exception's message (it may quote a payload value)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name}"


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("rq").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
