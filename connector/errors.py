"""The one exception hierarchy. Each error carries the vendor and event type it concerns."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""

    def __init__(self, message: str, *, vendor: str | None = None, event_type: str | None = None):
        super().__init__(message)
        self.message = message
        self.vendor = vendor
        self.event_type = event_type

    def __str__(self) -> str:
        where = "/".join(p for p in (self.vendor, self.event_type) if p)
        return f"{where}: {self.message}" if where else self.message


class ConfigError(ConnectorError):
    """The environment or a configuration document is wrong."""


class SchemaError(ConnectorError):
    """The database schema is not the one this code needs (`connector db upgrade` fixes it)."""


class StoreUnavailable(ConnectorError):
    """The database cannot take a write right now (down, restarting): answer 503, the vendor retries."""


class SignatureError(ConnectorError):
    """A webhook delivery failed authentication (401)."""


class PayloadError(ConnectorError):
    """A delivery's body is not a shape we understand (400). `path` names the offending field."""

    def __init__(self, message: str, *, path: str = "", vendor: str | None = None, event_type: str | None = None):
        super().__init__(f"{path}: {message}" if path else message, vendor=vendor, event_type=event_type)
        self.path = path


class DocumentError(ConnectorError):
    """An admin-edited document (a field mapping, the policy) is invalid. `problems`: each as (the path
    into the document it names, what is wrong), for an editor that shows them where they are."""

    def __init__(self, message: str, *, problems: tuple[tuple[tuple[str | int, ...], str], ...] = (), **kw: str | None):
        super().__init__(message, **kw)
        self.problems = problems


class MappingError(DocumentError):
    """A field-mapping document is invalid or cannot be applied."""


class PolicyError(DocumentError):
    """A support-policy document is invalid."""


class NotFound(ConnectorError):
    """A requested object does not exist."""


class OutboundError(ConnectorError):
    """A call to a vendor API failed; retryable unless `retryable` is False."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        vendor: str | None = None,
        event_type: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, vendor=vendor, event_type=event_type)
        self.retryable = retryable
        self.retry_after = retry_after


class NotSent(ConnectorError):
    """The connector may not carry out an outbound intent (no credentials or route for it, nothing left
    to do): recorded as not sent, with the reason — neither a failure nor retried."""


def json_kind(value: object) -> str:
    """A JSON value's type as an error message names it ("got a list"): `null`, `a boolean`, `a number`,
    `text`, `a list`, `an object` — never the value, which may be large or private."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"
