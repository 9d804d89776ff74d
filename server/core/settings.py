"""One typed settings object, read from ``OPSGRAPH_*`` environment variables."""

from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Defaults run the embedded mode: a SQLite file and the in-memory bus."""

    model_config = SettingsConfigDict(env_prefix="OPSGRAPH_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/opsgraph.db"
    redis_url: str = "memory://"
    host: str = "127.0.0.1"
    port: int = 8000
    environment: Environment = Environment.DEVELOPMENT
    backup_dir: Path = Path("./var/backups")
    allow_loopback_webhooks: bool = False

    log_level: str = "INFO"
    playground: bool = True
    introspection: bool = True

    max_page_size: int = Field(default=500, ge=1)
    default_page_size: int = Field(default=50, ge=1)
    max_ingest_batch: int = Field(default=10_000, ge=1)
    max_alert_batch: int = Field(default=1_000, ge=1)
    silence_sweep_interval: timedelta = Field(default=timedelta(minutes=1), gt=timedelta(0))
    slo_sweep_interval: timedelta = Field(default=timedelta(minutes=1), gt=timedelta(0))
    slo_evaluation_retention: timedelta = Field(default=timedelta(days=35), ge=timedelta(days=1))
    max_query_depth: int = Field(default=12, ge=1)
    max_aliases: int = Field(default=30, ge=1)
    max_tokens: int = Field(default=5_000, ge=1)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    key_cache_seconds: float = Field(default=5.0, ge=0)
    db_pool_size: int = Field(default=20, ge=1)
    #: Prefix every SQL statement with ``/* request_id=... */``, to find a request's
    #: statements in PostgreSQL's logs and ``pg_stat_activity``. Each statement text
    #: is then unique, so it is prepared and planned afresh every time.
    sql_request_comments: bool = False

    run_jobs: bool = True
    job_concurrency: int = Field(default=2, ge=1)
    job_poll_seconds: float = Field(default=0.5, gt=0)
    task_lease: timedelta = Field(default=timedelta(seconds=30), gt=timedelta(seconds=1))
    event_poll_seconds: float = Field(default=1.0, gt=0)
    event_retention: timedelta = Field(default=timedelta(days=7), gt=timedelta(hours=1))
    max_subscriptions_per_connection: int = Field(default=20, ge=1)
    websocket_init_timeout_seconds: float = Field(default=5.0, gt=0)

    #: Notifications: how often alert events are turned into messages and due
    #: attempts are sent (each a periodic job, once per period across replicas).
    notification_interval: timedelta = Field(default=timedelta(milliseconds=500), gt=timedelta(0))
    notification_timeout_seconds: float = Field(default=5.0, gt=0)
    #: Nine attempts 5 s apart at first, doubling to 10 min: a message is given up
    #: no sooner than ~10 min after its first attempt (``notifications.backoff``).
    notification_max_attempts: int = Field(default=9, ge=1, le=50)
    notification_backoff_base: timedelta = Field(default=timedelta(seconds=5), gt=timedelta(0))
    notification_backoff_cap: timedelta = Field(default=timedelta(minutes=10), gt=timedelta(0))
    notification_send_concurrency: int = Field(default=10, ge=1)
    #: An attempt claimed longer ago than this counts as failed with an unknown outcome.
    notification_claim_lease: timedelta = Field(
        default=timedelta(minutes=2), gt=timedelta(seconds=1)
    )
    #: No SMTP host: EMAIL attempts fail with a clear error (the embedded default).
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "opsgraph@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    #: ``auto`` (STARTTLS when offered), ``starttls`` (required), ``tls`` (implicit), ``none``.
    smtp_tls: str = Field(default="auto", pattern="^(auto|starttls|tls|none)$")

    #: Escalation: how often the sweep runs (once per period across replicas), and
    #: how many due alerts one of its transactions takes on.
    escalation_sweep_interval: timedelta = Field(default=timedelta(seconds=15), gt=timedelta(0))
    escalation_batch_size: int = Field(default=500, ge=1, le=10_000)

    #: Backups (``server.backups``): dumps go to ``backup_dir``. One is due in each
    #: ``backup_interval`` slot (slots start at midnight UTC plus
    #: ``backup_schedule_offset``: nightly at 02:00 UTC by default), caught up at most
    #: a quarter of a slot late; a restore drill of the newest backup is due in each
    #: ``restore_drill_interval`` slot, an hour after the backups' offset. Backups
    #: older than ``backup_retention`` are deleted (their runs become EXPIRED).
    backup_interval: timedelta = Field(default=timedelta(days=1), ge=timedelta(minutes=1))
    backup_schedule_offset: timedelta = Field(default=timedelta(hours=2), ge=timedelta(0))
    backup_retention: timedelta = Field(default=timedelta(days=30), ge=timedelta(hours=1))
    restore_drill_interval: timedelta = Field(default=timedelta(days=30), ge=timedelta(minutes=1))
    #: A backup or drill still running this long after it began was cut short (its
    #: process died): a cleanup removes what it left and marks it FAILED.
    backup_work_lease: timedelta = Field(default=timedelta(hours=6), ge=timedelta(minutes=1))
    #: Where ``pg_dump`` and ``pg_restore`` are; by default the server's major
    #: version's ``/usr/lib/postgresql/<major>/bin``, else the PATH.
    pg_bin_dir: Path | None = None

    #: Hardening. Rate limits: requests per minute (and at once) per API key, reads
    #: (queries, subscriptions, websocket messages) and mutations apart; a workspace
    #: gets ``rate_limit_workspace_factor`` times a key's budget. Shared by every
    #: replica through Redis; ``rate_limit_per_minute = 0`` turns rate limiting off.
    rate_limit_per_minute: int = Field(default=1_200, ge=0)
    rate_limit_mutations_per_minute: int = Field(default=300, ge=1)
    rate_limit_workspace_factor: float = Field(default=4.0, ge=1.0)
    #: Requests per minute (and at once) from one client address without an API
    #: key (or with one that is refused); 0 lets them through unlimited. The
    #: address is the connection's peer, or behind a proxy trusted by
    #: ``trust_forwarded_proto`` the last address of its ``X-Forwarded-For``.
    rate_limit_anonymous_per_minute: int = Field(default=300, ge=0)
    #: How long rate limits and websocket slots wait for a Redis command before
    #: letting the work through (fail open); a new connection gets twice as long.
    redis_limits_timeout_seconds: float = Field(default=0.5, gt=0, le=30)
    #: Query cost: a list field costs its ``first`` (or the default page size)
    #: times its selection; a document over this cost is refused.
    max_query_cost: int = Field(default=10_000, ge=1)
    #: Production clients may be held to persisted operations: only documents whose
    #: SHA-256 is in this file (one hash a line, or an Apollo persisted query manifest).
    persisted_operations_only: bool = False
    persisted_operations_file: Path | None = None
    #: Browsers: origins allowed to call the API cross-origin (none by default), and
    #: whether the app is behind a proxy it trusts: ``X-Forwarded-Proto: https``
    #: then counts as TLS (for HSTS) and ``X-Forwarded-For`` names the client.
    cors_allow_origins: list[str] = Field(default_factory=list)
    trust_forwarded_proto: bool = False
    hsts_max_age_seconds: int = Field(default=31_536_000, ge=0)
    #: Websockets: connections one key may hold across all replicas (each holds a
    #: slot leased for ``websocket_slot_lease_seconds`` and renewed while it lives,
    #: so a replica that dies frees its slots when their leases end), the largest
    #: message a client may send, and when a silent connection is closed.
    max_websocket_connections_per_key: int = Field(default=20, ge=1)
    websocket_slot_lease_seconds: float = Field(default=30.0, ge=0.3)
    max_websocket_message_bytes: int = Field(default=64 * 1024, ge=1024)
    websocket_ping_interval_seconds: float = Field(default=15.0, gt=0)
    websocket_idle_timeout_seconds: float = Field(default=60.0, gt=0)
    #: Outages: the ``Retry-After`` of a SERVICE_UNAVAILABLE answer.
    unavailable_retry_after_seconds: int = Field(default=5, ge=1)

    #: Capacity: how often every policy is forecast (a periodic job, once per period
    #: across replicas), how many days of a meter's history a forecast fits, and how
    #: long forecasts are kept.
    capacity_forecast_interval: timedelta = Field(default=timedelta(hours=1), gt=timedelta(0))
    capacity_history_days: int = Field(default=14, ge=1, le=90)
    capacity_forecast_retention: timedelta = Field(default=timedelta(days=30), ge=timedelta(days=1))

    #: Prometheus and Alertmanager (``/api/v1/write``, ``/api/v2/alerts``,
    #: ``/integrations/alertmanager``): the labels that name a series' or an
    #: alert's service, first present wins (a series' own ``service`` label, else
    #: the ``job`` of its scrape), the service of those with none, the label that
    #: gives an alert's severity (INFO, WARNING, CRITICAL, PAGE and common synonyms;
    #: others and none get the default), and how large a remote-write body may grow
    #: once decompressed.
    prometheus_service_labels: list[str] = Field(
        default_factory=lambda: ["service", "job"], min_length=1
    )
    prometheus_default_service: str = Field(
        default="prometheus", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,99}$"
    )
    prometheus_severity_label: str = "severity"
    prometheus_default_severity: str = Field(
        default="WARNING", pattern="^(INFO|WARNING|CRITICAL|PAGE)$"
    )
    remote_write_max_decoded_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)

    #: Alert expiry: how often open alerts whose ``endsAt`` has passed without a
    #: re-send (Prometheus' alerts) are resolved (a periodic job, once per period
    #: across replicas). An alert ends at most this long after its ``endsAt``.
    alert_expiry_sweep_interval: timedelta = Field(default=timedelta(seconds=30), gt=timedelta(0))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def playground_enabled(self) -> bool:
        return self.playground and not self.is_production

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection and not self.is_production


@lru_cache
def get_settings() -> Settings:
    return Settings()
