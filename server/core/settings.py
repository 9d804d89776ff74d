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
    rate_limit_per_minute: int = Field(default=6_000, ge=0)
    key_cache_seconds: float = Field(default=5.0, ge=0)
    db_pool_size: int = Field(default=10, ge=1)
    #: Prefix every SQL statement with ``/* request_id=... */``. Each statement
    #: text is then unique, so PostgreSQL re-plans it every time.
    sql_request_comments: bool = True

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
