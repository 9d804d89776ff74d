"""Outages of the database and of Redis, told once each, and how long to back off.

An unreachable dependency fails every request and every poll; logging each of
those (with a traceback) buried the one line that mattered. A ``Dependency``
logs a warning when an outage starts and a line when it ends, counts failures
in a metric and keeps a gauge of whether it is up. ``unavailable_dependency``
tells an outage (connection refused, reset or timed out) from a fault.
"""

import logging
import time
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from server.core import metrics

logger = logging.getLogger("opsgraph.outages")

DATABASE = "database"
REDIS = "redis"

dependency_up = Gauge(
    "opsgraph_dependency_up",
    "Whether this process last reached the dependency (1) or found it unreachable (0).",
    ["dependency"],
    registry=metrics.registry,
)
dependency_failures = Counter(
    "opsgraph_dependency_unavailable_total",
    "Operations that failed because a dependency could not be reached.",
    ["dependency"],
    registry=metrics.registry,
)
outages_started = Counter(
    "opsgraph_dependency_outages_total",
    "Outages of a dependency seen by this process (each logged once).",
    ["dependency"],
    registry=metrics.registry,
)

#: Error texts of drivers that mean "cannot reach the server" rather than "bad statement".
_UNREACHABLE_HINTS = (
    "connection refused",
    "connection reset",
    "connection is closed",
    "connection was closed",
    "cannot connect",
    "could not connect",
    "server closed the connection",
    "terminating connection",
    "the database system is shutting down",
    "the database system is starting up",
    "timed out",
    "timeout",
    "no route to host",
    "network is unreachable",
    "broken pipe",
)


def unavailable_dependency(error: BaseException) -> str | None:
    """``DATABASE`` or ``REDIS`` when ``error`` (or its cause) means that the
    dependency cannot be reached; None for any other error."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _classify(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _classify(error: BaseException) -> str | None:
    if isinstance(error, RedisConnectionError | RedisTimeoutError):
        return REDIS
    if isinstance(error, DisconnectionError | PoolTimeoutError):
        return DATABASE
    if isinstance(error, DBAPIError):
        if error.connection_invalidated or _mentions_unreachable(str(error.orig)):
            return DATABASE
        return None
    module = type(error).__module__
    if module.startswith("asyncpg") and _asyncpg_unreachable(error):
        return DATABASE
    if isinstance(error, ConnectionError | TimeoutError):
        return DATABASE
    if isinstance(error, OSError) and _mentions_unreachable(str(error)):
        return DATABASE
    return None


def _asyncpg_unreachable(error: BaseException) -> bool:
    name = type(error).__name__
    return name in {
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "ConnectionFailureError",
        "AdminShutdownError",
        "CrashShutdownError",
        "InterfaceError",
    } or _mentions_unreachable(str(error))


def _mentions_unreachable(text: str) -> bool:
    lowered = text.lower()
    return any(hint in lowered for hint in _UNREACHABLE_HINTS)


@dataclass
class Dependency:
    """One dependency's state in this process: up, or down since when."""

    name: str
    down_since: float | None = None
    failures: int = 0
    _gauge_set: bool = field(default=False, repr=False)

    @property
    def is_down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException | str) -> None:
        """Count a failure; log a warning only when this starts an outage."""
        metrics.child(dependency_failures, self.name).inc()
        self.failures += 1
        if self.down_since is not None:
            return
        self.down_since = time.monotonic()
        metrics.child(outages_started, self.name).inc()
        metrics.child(dependency_up, self.name).set(0)
        logger.warning(
            "%s unreachable (%s); answering SERVICE_UNAVAILABLE until it is back",
            self.name,
            _described(error),
            extra={"dependency": self.name},
        )

    def succeeded(self) -> None:
        """Mark the dependency reachable; log once when that ends an outage."""
        if self.down_since is None:
            if not self._gauge_set:
                metrics.child(dependency_up, self.name).set(1)
                self._gauge_set = True
            return
        lasted = time.monotonic() - self.down_since
        failures, self.down_since, self.failures = self.failures, None, 0
        metrics.child(dependency_up, self.name).set(1)
        logger.warning(
            "%s reachable again after %.1fs (%d operations failed meanwhile)",
            self.name,
            lasted,
            failures,
            extra={"dependency": self.name, "outage_seconds": round(lasted, 1)},
        )

    def backoff_seconds(self, base: float, *, cap: float = 5.0) -> float:
        """How long a poller waits before trying again: ``base`` while up,
        doubling with each failure of the outage up to ``cap``."""
        if self.down_since is None:
            return base
        return min(cap, base * (1 << min(self.failures, 10)))


@dataclass
class Dependencies:
    """The process's dependencies, shared by requests, the job runner and the event feed."""

    database: Dependency = field(default_factory=lambda: Dependency(DATABASE))
    redis: Dependency = field(default_factory=lambda: Dependency(REDIS))

    def by_name(self, name: str) -> Dependency:
        return self.redis if name == REDIS else self.database

    def report(self, error: BaseException) -> Dependency | None:
        """The dependency an error shows unreachable (its failure counted), or None."""
        name = unavailable_dependency(error)
        if name is None:
            return None
        dependency = self.by_name(name)
        dependency.failed(error)
        return dependency

    def log_failure(
        self, log: logging.Logger, error: BaseException, message: str, *args: object
    ) -> bool:
        """Log ``message`` with the traceback, unless ``error`` is an outage of a
        dependency (then it is counted, and logged once per outage); True for an outage."""
        if self.report(error) is not None:
            return True
        log.error(message, *args, exc_info=(type(error), error, error.__traceback__))
        return False


def _described(error: BaseException | str) -> str:
    if isinstance(error, str):
        return error
    first_line = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {first_line}"
