"""Configuration from environment variables (12-factor). Secrets are held, never printed."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from connector import defaults
from connector.errors import ConfigError

_INSTANCE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class Secrets:
    """Webhook secrets by (vendor, instance). `repr` never shows a secret."""

    def __init__(self, values: Mapping[tuple[str, str], tuple[str, ...]]):
        self._values = dict(values)

    def for_(self, vendor: str, instance: str) -> tuple[str, ...]:
        return self._values.get((vendor, instance), ())

    def configured(self) -> list[tuple[str, str]]:
        return sorted(self._values)

    def __repr__(self) -> str:
        return f"Secrets({', '.join(f'{v}/{i}: {len(s)} active' for (v, i), s in sorted(self._values.items()))})"


@dataclass(frozen=True)
class Account:
    """One Zendesk or Jira site the connector writes to: `ZENDESK_URL`, `ZENDESK_EMAIL`,
    `ZENDESK_API_TOKEN`; `JIRA_URL`, `JIRA_EMAIL` + `JIRA_API_TOKEN` or `JIRA_PAT`, `JIRA_PROJECT`
    (per instance: `ZENDESK_EU_URL`, ...). `repr` never shows a credential."""

    vendor: str
    instance: str
    url: str
    email: str | None = None
    api_token: str | None = field(default=None, repr=False)
    pat: str | None = field(default=None, repr=False)  # Jira Server / Data Center personal access token
    project: str | None = None  # Jira: the default project of linked issues

    @property
    def usable(self) -> bool:
        """Has it credentials to sign in with?"""
        return bool(self.pat or (self.email and self.api_token))

    def missing(self) -> str:
        """What is missing before it can sign in (for the `not sent` reason)."""
        prefix = self.vendor.upper()
        if self.instance != defaults.DEFAULT_INSTANCE:
            prefix += "_" + env_name(self.instance)
        if self.vendor == "jira":
            return f"set {prefix}_EMAIL + {prefix}_API_TOKEN (Cloud) or {prefix}_PAT (Server/Data Center)"
        return f"set {prefix}_EMAIL and {prefix}_API_TOKEN"


def env_name(instance: str) -> str:
    """The instance's part of a variable name: `eu-west` → `EU_WEST`."""
    return instance.upper().replace("-", "_")


@dataclass(frozen=True)
class Settings:
    database_url: str = defaults.DATABASE_URL
    redis_url: str | None = None
    admin_token: str | None = field(default=None, repr=False)
    #: a read-only token: the admin pages and every GET of the API, and a 403 for any change
    viewer_token: str | None = field(default=None, repr=False)
    #: signs the admin pages' session cookie (default: derived from the admin token, so rotating the
    #: token signs everyone out)
    secret_key: str | None = field(default=None, repr=False)
    #: the session cookie without `Secure`, for plain-HTTP development only
    insecure_cookies: bool = False
    policy: str = defaults.POLICY
    secrets: Secrets = field(default_factory=lambda: Secrets({}))
    #: vendor or "vendor/instance" entries for which unsigned deliveries are accepted (risky; see README)
    allow_unsigned: frozenset[str] = frozenset()
    max_body_bytes: int = defaults.MAX_BODY_BYTES
    zendesk_timestamp_tolerance: int = defaults.ZENDESK_TIMESTAMP_TOLERANCE_SECONDS
    queue_name: str = defaults.QUEUE_NAME
    reconcile_interval: float = defaults.RECONCILE_INTERVAL_SECONDS
    job_max_attempts: int = defaults.JOB_MAX_ATTEMPTS
    log_level: str = "INFO"
    #: where people reach the connector (links in pages and notifications), e.g. https://connector.example.com
    public_url: str | None = None
    pagerduty_events_url: str = defaults.PAGERDUTY_EVENTS_URL
    #: policy target (owner group or support level id) → Events API v2 routing key (secrets: never shown)
    pagerduty_routing_keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    pagerduty_routing_key: str | None = field(default=None, repr=False)  # for any other target
    #: the most Events API events sent per minute per routing key (PagerDuty: about 120)
    pagerduty_events_per_minute: int = defaults.PAGERDUTY_EVENTS_PER_MINUTE
    #: policy target → notification webhook URL (Slack-compatible); the URLs of Slack webhooks are secrets
    notify_webhooks: Mapping[str, str] = field(default_factory=dict, repr=False)
    notify_secret: str | None = field(default=None, repr=False)
    #: the REST accounts of Zendesk and Jira by (vendor, instance): the site and its credentials
    accounts: Mapping[tuple[str, str], Account] = field(default_factory=dict)
    #: the most ticket updates sent per minute per Zendesk instance (Zendesk: about 100 on lower plans)
    zendesk_updates_per_minute: int = defaults.ZENDESK_UPDATES_PER_MINUTE
    #: the sync reconciliation sweep: every this many seconds (0: only `connector sync reconcile`), for
    #: linked issues not heard of for `sync_stale_seconds`
    sync_reconcile_seconds: int = defaults.SYNC_RECONCILE_SECONDS
    sync_stale_seconds: int = defaults.SYNC_STALE_SECONDS
    #: group commit of acknowledgements: the most deliveries per commit, the leader's wait for more
    ingest_batch_max: int = defaults.INGEST_BATCH_MAX
    ingest_window_ms: float = defaults.INGEST_WINDOW_MS
    #: batches of one process stored at once (PostgreSQL; SQLite has one writer)
    ingest_writers: int = defaults.INGEST_WRITERS
    #: the most deliveries one processing job takes (a backlog is processed in transactions of this many)
    process_batch: int = defaults.PROCESS_BATCH_MAX

    def account(self, vendor: str, instance: str = defaults.DEFAULT_INSTANCE) -> Account | None:
        return self.accounts.get((vendor, instance))

    @property
    def jira_url(self) -> str | None:
        account = self.account("jira")
        return account.url if account else None

    @property
    def jira_project(self) -> str | None:
        account = self.account("jira")
        return account.project if account else None

    @property
    def embedded(self) -> bool:
        """No REDIS_URL: an in-process queue and worker."""
        return not self.redis_url

    def unsigned_allowed(self, vendor: str, instance: str) -> bool:
        return vendor in self.allow_unsigned or f"{vendor}/{instance}" in self.allow_unsigned

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            database_url=normalize_database_url(env.get("DATABASE_URL") or defaults.DATABASE_URL),
            redis_url=env.get("REDIS_URL") or None,
            admin_token=env.get("CONNECTOR_ADMIN_TOKEN") or None,
            viewer_token=env.get("CONNECTOR_VIEWER_TOKEN") or None,
            secret_key=env.get("CONNECTOR_SECRET_KEY") or None,
            insecure_cookies=_flag(env, "CONNECTOR_ALLOW_INSECURE_COOKIES"),
            policy=env.get("CONNECTOR_POLICY") or defaults.POLICY,
            secrets=_secrets_from_env(env),
            allow_unsigned=frozenset(
                s.strip().lower() for s in env.get("CONNECTOR_ALLOW_UNSIGNED", "").split(",") if s.strip()
            ),
            max_body_bytes=_int(env, "CONNECTOR_MAX_BODY_BYTES", defaults.MAX_BODY_BYTES),
            zendesk_timestamp_tolerance=_int(
                env, "ZENDESK_TIMESTAMP_TOLERANCE_SECONDS", defaults.ZENDESK_TIMESTAMP_TOLERANCE_SECONDS
            ),
            queue_name=env.get("CONNECTOR_QUEUE") or defaults.QUEUE_NAME,
            reconcile_interval=float(_int(env, "CONNECTOR_RECONCILE_INTERVAL", defaults.RECONCILE_INTERVAL_SECONDS)),
            job_max_attempts=_int(env, "CONNECTOR_JOB_MAX_ATTEMPTS", defaults.JOB_MAX_ATTEMPTS),
            log_level=(env.get("CONNECTOR_LOG_LEVEL") or "INFO").upper(),
            public_url=_url(env, "CONNECTOR_PUBLIC_URL"),
            pagerduty_events_url=_url(env, "PAGERDUTY_EVENTS_URL") or defaults.PAGERDUTY_EVENTS_URL,
            pagerduty_routing_keys=_pairs(env, "PAGERDUTY_ROUTING_KEYS", "target=routing_key"),
            pagerduty_routing_key=(env.get("PAGERDUTY_ROUTING_KEY") or "").strip() or None,
            pagerduty_events_per_minute=_int(env, "PAGERDUTY_EVENTS_PER_MINUTE", defaults.PAGERDUTY_EVENTS_PER_MINUTE),
            notify_webhooks=_pairs(env, "CONNECTOR_NOTIFY_WEBHOOKS", "target=https://…", urls=True),
            notify_secret=env.get("CONNECTOR_NOTIFY_SECRET") or None,
            accounts=_accounts_from_env(env),
            zendesk_updates_per_minute=_int(env, "ZENDESK_UPDATES_PER_MINUTE", defaults.ZENDESK_UPDATES_PER_MINUTE),
            sync_reconcile_seconds=_int(env, "CONNECTOR_SYNC_RECONCILE_SECONDS", defaults.SYNC_RECONCILE_SECONDS),
            sync_stale_seconds=_int(env, "CONNECTOR_SYNC_STALE_SECONDS", defaults.SYNC_STALE_SECONDS),
            ingest_batch_max=_positive(env, "CONNECTOR_INGEST_BATCH_MAX", defaults.INGEST_BATCH_MAX),
            ingest_window_ms=_milliseconds(env, "CONNECTOR_INGEST_WINDOW_MS", defaults.INGEST_WINDOW_MS),
            ingest_writers=_positive(env, "CONNECTOR_INGEST_WRITERS", defaults.INGEST_WRITERS),
            process_batch=_positive(env, "CONNECTOR_PROCESS_BATCH_MAX", defaults.PROCESS_BATCH_MAX),
        )


def normalize_database_url(url: str) -> str:
    """Accept the usual `postgres://` / `postgresql://` spellings and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redact_url(url: str) -> str:
    """A service URL as it may be printed: any password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def valid_instance(name: str) -> bool:
    return bool(_INSTANCE_RE.match(name))


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def _milliseconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number of milliseconds, got {raw!r}") from exc
    if not 0 <= value <= 1000:
        raise ConfigError(f"{name} must be between 0 and 1000 milliseconds, got {raw!r}")
    return value


def _url(env: Mapping[str, str], name: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {raw[:80]!r}")
    return raw.rstrip("/")


def _pairs(env: Mapping[str, str], name: str, shape: str, *, urls: bool = False) -> dict[str, str]:
    """`a=x,b=y` → {a: x, b: y}; a malformed entry names the variable (never the value: it may be a secret)."""
    out: dict[str, str] = {}
    for i, entry in enumerate(_split(env.get(name, ""))):
        target, sep, value = entry.partition("=")
        target, value = target.strip(), value.strip()
        if not sep or not target or not value:
            raise ConfigError(f"{name}: entry {i + 1} is not {shape}")
        if urls and urlsplit(value).scheme not in ("http", "https"):
            raise ConfigError(f"{name}: the URL of {target!r} must start with http:// or https://")
        out[target] = value
    return out


def _split(raw: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in raw.split(",") if s.strip())


#: vendors with REST accounts (`<VENDOR>[_<INSTANCE>]_URL` and its credentials)
ACCOUNT_VENDORS = ("zendesk", "jira")
_ACCOUNT_PARTS = ("URL", "EMAIL", "API_TOKEN", "PAT", "PROJECT")


def _accounts_from_env(env: Mapping[str, str]) -> dict[tuple[str, str], Account]:
    """`ZENDESK_URL` (+ `_EMAIL`, `_API_TOKEN`) → (zendesk, default); `JIRA_EU_URL` → (jira, eu)."""
    out: dict[tuple[str, str], Account] = {}
    for key in sorted(env):
        for vendor in ACCOUNT_VENDORS:
            prefix = vendor.upper()
            if not (key.startswith(prefix + "_") and key.endswith("_URL")) or key.endswith("_WEBHOOK_URL"):
                continue
            head = key[: -len("_URL")]
            if head == prefix:
                instance = defaults.DEFAULT_INSTANCE
            else:
                instance = head[len(prefix) + 1 :].lower().replace("_", "-")
                if not valid_instance(instance):
                    raise ConfigError(f"{key}: {instance!r} is not an instance name (a-z, 0-9, '-')")
            url = _url(env, key)
            if url is None:
                continue
            if vendor == "zendesk" and "." not in (urlsplit(url).hostname or ""):
                raise ConfigError(f"{key} must name the host with a dot (127.0.0.1, not localhost): zenpy needs one")

            def part(name: str, head: str = head) -> str | None:
                return (env.get(f"{head}_{name}") or "").strip() or None

            out[(vendor, instance)] = Account(
                vendor=vendor,
                instance=instance,
                url=url,
                email=part("EMAIL"),
                api_token=part("API_TOKEN"),
                pat=part("PAT") if vendor == "jira" else None,
                project=part("PROJECT") if vendor == "jira" else None,
            )
    return out


def _secrets_from_env(env: Mapping[str, str]) -> Secrets:
    """`ZENDESK_WEBHOOK_SECRETS` → (zendesk, default); `ZENDESK_EU_WEBHOOK_SECRETS` → (zendesk, eu)."""
    values: dict[tuple[str, str], tuple[str, ...]] = {}
    for key, raw in env.items():
        if not key.endswith("_WEBHOOK_SECRETS"):
            continue
        head = key[: -len("_WEBHOOK_SECRETS")]
        for vendor in defaults.VENDORS:
            prefix = vendor.upper()
            if head == prefix:
                instance = defaults.DEFAULT_INSTANCE
            elif head.startswith(prefix + "_"):
                instance = head[len(prefix) + 1 :].lower().replace("_", "-")
            else:
                continue
            secrets = _split(raw)
            if secrets:
                values[(vendor, instance)] = secrets
    return Secrets(values)


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ConfigError(f"{name} must be 1/true/yes or 0/false/no, got {raw[:20]!r}")
