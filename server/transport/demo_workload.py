"""The demo's workload: what four services' requests, errors and latency look like.

Pure and deterministic (a seeded random generator, no I/O, no clock): given a
moment and a width it says which samples a service reports for that stretch of
time, so the same code writes the demo's history and, later, its live data.

Each service has an availability-style RATIO SLO: good requests over all
requests. Its bad share is given as a *burn rate*, the multiple of the error
budget being spent: 1 spends the budget exactly over the SLO window. Episodes
raise it for a while; the ongoing ones make the demo's burns:

- checkout burns fast (25x for the last 45 minutes and on): its 1 h and 5 m
  windows fire the page pair (14.4x), and an older incident left it CRITICAL;
- payments burns slowly (4x for the last 22 hours and on): the 1 d and 2 h
  windows fire the ticket pair (3x) while the 6 h window stays under 6x, and
  an older incident left it WARNING;
- search and inventory stay HEALTHY.
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

HISTORY = timedelta(days=28)
#: Older history in coarse buckets, the recent hours in fine ones, as a
#: metrics pipeline would keep them.
RESOLUTIONS = (
    (timedelta(days=2), timedelta(hours=1)),
    (timedelta(hours=6), timedelta(minutes=15)),
    (timedelta(0), timedelta(minutes=1)),
)
TOTAL_SIGNAL = "http_requests_total"
LATENCY_SIGNAL = "latency_ms"
DAILY_SWING = 0.3


@dataclass(frozen=True)
class Episode:
    """A stretch of time, in ages before the demo starts, with another burn rate.

    ``until`` None: still going on when the demo starts, and for as long as it runs.
    """

    since: timedelta
    until: timedelta | None
    burn: float
    latency_factor: float = 1.0

    def covers(self, age: timedelta) -> bool:
        return age <= self.since and (self.until is None or age > self.until)


@dataclass(frozen=True)
class DemoService:
    name: str
    requests_per_minute: float
    latency_ms: float
    objective: float
    slo_name: str
    good_signal: str
    baseline_burn: float
    episodes: tuple[Episode, ...] = ()

    @property
    def error_budget(self) -> float:
        return 1 - self.objective / 100

    def episode_at(self, age: timedelta) -> Episode | None:
        return next((episode for episode in self.episodes if episode.covers(age)), None)

    def burn_at(self, age: timedelta) -> float:
        episode = self.episode_at(age)
        return self.baseline_burn if episode is None else episode.burn


SERVICES = (
    DemoService(
        "checkout",
        requests_per_minute=1200,
        latency_ms=140,
        objective=99.9,
        slo_name="availability",
        good_signal="http_requests_good",
        baseline_burn=0.3,
        episodes=(
            Episode(timedelta(minutes=45), None, burn=25, latency_factor=1.4),
            Episode(timedelta(days=9, hours=4), timedelta(days=9), burn=70, latency_factor=2.0),
        ),
    ),
    DemoService(
        "payments",
        requests_per_minute=400,
        latency_ms=180,
        objective=99.0,
        slo_name="requests under 300 ms",
        good_signal="http_requests_fast",
        baseline_burn=0.3,
        episodes=(
            Episode(timedelta(hours=22), None, burn=4, latency_factor=1.6),
            Episode(timedelta(days=14), timedelta(days=13), burn=5, latency_factor=1.8),
        ),
    ),
    DemoService(
        "search",
        requests_per_minute=3000,
        latency_ms=60,
        objective=99.5,
        slo_name="availability",
        good_signal="http_requests_good",
        baseline_burn=0.2,
    ),
    DemoService(
        "inventory",
        requests_per_minute=250,
        latency_ms=90,
        objective=99.5,
        slo_name="availability",
        good_signal="http_requests_good",
        baseline_burn=0.25,
    ),
)


@dataclass(frozen=True)
class DemoSample:
    """One sample, shaped as the signals domain reads it (``SampleLike``)."""

    service: str
    name: str
    value: float
    ts: datetime
    labels: dict[str, str] = field(default_factory=dict)


def history_buckets(started: datetime) -> Iterator[tuple[datetime, timedelta]]:
    """(end, width) of every history bucket up to ``started``, oldest first."""
    end = started - HISTORY
    for newer_than, width in RESOLUTIONS:
        while end + width <= started - newer_than:
            end += width
            yield end, width


class Workload:
    """The samples of every service, bucket after bucket.

    Bad requests are whole numbers: the fraction a bucket cannot report is
    carried to the next, so that a service's bad share over time is its burn.
    """

    def __init__(self, started: datetime, *, seed: int = 20261206) -> None:
        self.started = started
        self._random = random.Random(seed)
        self._carried_bad = {service.name: 0.0 for service in SERVICES}

    def history(self) -> list[DemoSample]:
        """The samples of the 28 days before the start, oldest first."""
        return [
            sample
            for end, width in history_buckets(self.started)
            for sample in self.samples(end, width)
        ]

    def samples(self, end: datetime, width: timedelta) -> list[DemoSample]:
        """What every service reports for the bucket that ends at ``end``."""
        return [sample for service in SERVICES for sample in self._service(service, end, width)]

    def _service(self, service: DemoService, end: datetime, width: timedelta) -> list[DemoSample]:
        age = self.started - end
        total = round(self._traffic(service, age) * width.total_seconds() / 60)
        wanted_bad = total * service.burn_at(age) * service.error_budget
        wanted_bad += self._carried_bad[service.name]
        bad = min(total, math.floor(wanted_bad))
        self._carried_bad[service.name] = wanted_bad - bad
        episode = service.episode_at(age)
        slowdown = 1.0 if episode is None else episode.latency_factor
        latency = service.latency_ms * slowdown * self._random.uniform(0.85, 1.2)
        labels = {"env": "demo"}
        return [
            DemoSample(service.name, TOTAL_SIGNAL, float(total), end, labels),
            DemoSample(service.name, service.good_signal, float(total - bad), end, labels),
            DemoSample(service.name, LATENCY_SIGNAL, round(latency, 1), end, labels),
        ]

    def _traffic(self, service: DemoService, age: timedelta) -> float:
        """Requests a minute: a daily rhythm and noise.

        The rhythm follows the time before the start rather than the hour of the
        day, so that the demo's statuses do not depend on when it is started.
        """
        hours = age.total_seconds() / 3600
        daily = 1 + DAILY_SWING * math.sin(2 * math.pi * hours / 24)
        return service.requests_per_minute * daily * self._random.uniform(0.95, 1.05)
