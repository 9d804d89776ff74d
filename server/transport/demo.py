"""A living demo: a seeded workspace and a stream of fresh data (``opsgraph demo``).

``seed`` creates a workspace through the domain services, as the mutations
would: four services with 28 days of request counts and latency
(``demo_workload``), one SLO per service (one burning fast, one slowly), a few
external alerts beside those the SLOs raise, on-call shifts in two schedules,
an in-app notification route and an escalation policy. ``LiveData`` then
reports every service's newest requests every few seconds and raises and
resolves an alert now and then, so the dashboard moves; the server's own SLO
sweep re-evaluates the policies every minute.
"""

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.access import service as access
from server.alerts import service as alerts
from server.core.errors import Conflict, OpsGraphError
from server.core.matchers import Matcher, MatchOp
from server.core.roles import Role
from server.core.services import Services
from server.escalation import service as escalation
from server.notifications import service as notifications
from server.oncall import service as oncall
from server.signals import service as signals
from server.slo import service as slo
from server.transport.demo_workload import SERVICES, TOTAL_SIGNAL, DemoSample, Workload

logger = logging.getLogger("opsgraph.demo")

AUTHOR = "demo"
INGEST_BATCH = 5_000
LIVE_INTERVAL = timedelta(seconds=5)
#: Every this many live ticks an external alert is raised (or raised again).
ALERT_EVERY_TICKS = 9
#: Every this many live ticks the oldest alert the demo raised is resolved.
RESOLVE_EVERY_TICKS = 31


@dataclass(frozen=True)
class DemoAlert:
    """An external alert, shaped as the alerts domain reads one (``AlertInputLike``)."""

    service: str
    summary: str
    severity: alerts.Severity
    labels: dict[str, str]
    fingerprint: str | None = None
    source: alerts.AlertSource | None = alerts.AlertSource.EXTERNAL


EXTERNAL_ALERTS = (
    DemoAlert(
        "search",
        "index shard search-7 has no replica",
        alerts.Severity.WARNING,
        {"alertname": "ShardUnassigned", "cluster": "search-eu"},
    ),
    DemoAlert(
        "inventory",
        "disk 85 % full on db-inventory-2",
        alerts.Severity.CRITICAL,
        {"alertname": "DiskFilling", "instance": "db-inventory-2"},
    ),
    DemoAlert(
        "checkout",
        "TLS certificate of checkout.example.com expires in 9 days",
        alerts.Severity.INFO,
        {"alertname": "CertificateExpiry", "domain": "checkout.example.com"},
    ),
    DemoAlert(
        "payments",
        "card processor answers 502 to 3 % of calls",
        alerts.Severity.PAGE,
        {"alertname": "UpstreamErrors", "upstream": "card-processor"},
    ),
)


@dataclass(frozen=True)
class DemoWorkspace:
    workspace_id: int
    name: str
    admin_key: str
    developer_key: str
    viewer_key: str


async def seed(services: Services, *, name: str = "demo") -> DemoWorkspace:
    """Create and fill the demo workspace; its alerts and evaluations are announced."""
    now = services.clock.now()
    async with services.outbox.transaction() as session:
        demo = await _create_workspace(session, services, name)
        await _ingest(session, services, demo.workspace_id, Workload(now).history())
        await _create_slos(session, demo.workspace_id, now)
        await _raise(session, services, demo.workspace_id, EXTERNAL_ALERTS[:3], now)
        await _create_oncall(session, demo.workspace_id, now)
        await _create_routing(session, services, demo.workspace_id, now)
    return demo


async def _create_workspace(session: AsyncSession, services: Services, name: str) -> DemoWorkspace:
    for suffix in itertools.count(1):
        candidate = name if suffix == 1 else f"{name}-{suffix}"
        try:
            workspace, admin = await access.create_workspace(
                session, name=candidate, created_by_key_id=None, clock=services.clock
            )
        except Conflict:
            continue
        keys = {
            role: await access.create_api_key(
                session,
                workspace_id=workspace.id,
                name=f"demo {role.value}",
                role=role,
                created_by_key_id=admin.api_key.id,
                clock=services.clock,
            )
            for role in (Role.DEVELOPER, Role.VIEWER)
        }
        return DemoWorkspace(
            workspace.id,
            workspace.name,
            admin.secret,
            keys[Role.DEVELOPER].secret,
            keys[Role.VIEWER].secret,
        )
    raise AssertionError("unreachable")


async def _ingest(
    session: AsyncSession,
    services: Services,
    workspace_id: int,
    samples: Sequence[DemoSample],
) -> None:
    for start in range(0, len(samples), INGEST_BATCH):
        outcome = await signals.ingest(
            session,
            workspace_id=workspace_id,
            items=samples[start : start + INGEST_BATCH],
            clock=services.clock,
            max_batch=INGEST_BATCH,
        )
        if outcome.rejected:
            raise AssertionError(f"demo samples rejected: {outcome.rejected[:3]}")


async def _create_slos(session: AsyncSession, workspace_id: int, now: datetime) -> None:
    for service in SERVICES:
        sli = slo.SliDraft(
            kind=slo.SliKind.RATIO,
            good_signal=service.good_signal,
            total_signal=TOTAL_SIGNAL,
        )
        draft = slo.PolicyDraft(service.name, service.slo_name, service.objective, 28, sli)
        policy = await slo.create_policy(session, workspace_id=workspace_id, draft=draft, now=now)
        await slo.evaluate(
            session, workspace_id=workspace_id, policy_id=policy.id, at=None, now=now
        )


async def _raise(
    session: AsyncSession,
    services: Services,
    workspace_id: int,
    raised: Sequence[DemoAlert],
    now: datetime,
) -> list[int]:
    rows = await alerts.raise_alerts(
        session,
        workspace_id=workspace_id,
        items=raised,
        max_batch=services.settings.max_alert_batch,
        now=now,
    )
    return [row.id for row in rows]


SHIFTS = (
    ("primary", "Ada Lovelace", "ada@example.com", -4, 8),
    ("primary", "Grace Hopper", "grace@example.com", 8, 20),
    ("secondary", "Linus Pauling", "linus@example.com", -10, 14),
)


async def _create_oncall(session: AsyncSession, workspace_id: int, now: datetime) -> None:
    for schedule, person, contact, start_hours, end_hours in SHIFTS:
        draft = oncall.ShiftDraft(
            schedule=schedule,
            person=person,
            contact=contact,
            starts_at=now + timedelta(hours=start_hours),
            ends_at=now + timedelta(hours=end_hours),
        )
        await oncall.create_shift(session, workspace_id=workspace_id, draft=draft, now=now)


async def _create_routing(
    session: AsyncSession, services: Services, workspace_id: int, now: datetime
) -> None:
    urgent = [Matcher("severity", MatchOp.RE, "PAGE|CRITICAL")]
    route = notifications.RouteDraft(
        name="team-inbox", channel=notifications.Channel.IN_APP, matchers=urgent
    )
    await notifications.create_route(
        session,
        workspace_id=workspace_id,
        draft=route,
        author=AUTHOR,
        now=now,
        allow_loopback=services.settings.allow_loopback_webhooks,
    )
    steps = [
        escalation.StepDraft(delay_seconds=300, targets=["oncall://primary"]),
        escalation.StepDraft(delay_seconds=900, targets=["oncall://secondary"]),
    ]
    policy = escalation.PolicyDraft(name="page the on-call", steps=steps, matchers=urgent)
    await escalation.create_policy(
        session, workspace_id=workspace_id, draft=policy, author=AUTHOR, now=now
    )


class LiveData:
    """Keeps the demo workspace moving: fresh samples every tick, alerts now and then."""

    def __init__(self, services: Services, workspace_id: int, *, started: datetime) -> None:
        self.services = services
        self.workspace_id = workspace_id
        self.workload = Workload(started)
        self.last_tick = started
        self.ticks = 0
        self.raised: list[int] = []

    async def tick(self) -> None:
        """Report what happened since the last tick; raise or resolve an alert when due."""
        now = self.services.clock.now()
        self.ticks += 1
        async with self.services.outbox.transaction() as session:
            samples = self.workload.samples(now, now - self.last_tick)
            await _ingest(session, self.services, self.workspace_id, samples)
            if self.ticks % ALERT_EVERY_TICKS == 0:
                chosen = EXTERNAL_ALERTS[(self.ticks // ALERT_EVERY_TICKS) % len(EXTERNAL_ALERTS)]
                ids = await _raise(session, self.services, self.workspace_id, [chosen], now)
                self.raised.extend(alert_id for alert_id in ids if alert_id not in self.raised)
        self.last_tick = now
        if self.ticks % RESOLVE_EVERY_TICKS == 0 and self.raised:
            await self._resolve(self.raised.pop(0), now)

    async def _resolve(self, alert_id: int, now: datetime) -> None:
        """Resolve an alert the demo raised, unless someone resolved it already."""
        with contextlib.suppress(OpsGraphError):
            async with self.services.outbox.transaction() as session:
                await alerts.transition(
                    session,
                    alerts.RESOLVE,
                    workspace_id=self.workspace_id,
                    alert_id=alert_id,
                    actor=AUTHOR,
                    now=now,
                )

    async def run(self) -> None:
        """Tick until cancelled; a failed tick is logged, the next one tried."""
        while True:
            await asyncio.sleep(LIVE_INTERVAL.total_seconds())
            try:
                await self.tick()
            except Exception:
                logger.exception("a demo tick failed")
