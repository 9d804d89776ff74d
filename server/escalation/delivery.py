"""Reaching an escalation's targets, through the on-call and notifications entry points.

An on-call target resolves at the moment of the escalation to whoever is on
shift; each is notified in-app and by email. When nobody is, the schedules'
fallback contacts are notified (as the person ``fallback``) and an UNDELIVERABLE
delivery records the miss all the same; without a fallback the record alone
remains. A route target notifies the route by name; a route that no longer
exists is recorded as UNDELIVERABLE. Nothing is lost without a trace.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.errors import InvalidInput
from server.escalation import schedule
from server.notifications import dispatch
from server.oncall import targets as oncall
from server.oncall.targets import OnCallContact

FALLBACK = "fallback"
MAX_REASON = 200


@dataclass(frozen=True)
class Reached:
    #: People by name, ``fallback``, or the route target itself.
    recipients: list[str]
    undeliverable: bool


def describe(reason: str, *, policy: str | None, step: int) -> str:
    """The reason a notification gives, e.g. ``ACK_TIMEOUT: step 1 of escalation policy 'web'``."""
    of_policy = f" of escalation policy {policy!r}" if policy else ""
    return f"{reason}: step {step}{of_policy}"[:MAX_REASON]


class Courier:
    """Notifies the targets of one batch of escalations in its transaction, set-based.

    ``notify_target`` and ``notify_people`` decide whom each target reaches and
    queue the notices; ``deliver`` then creates them all with one call of each
    notifications entry point. Each on-call target is resolved, and each
    workspace's route names read, once.
    """

    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self._session = session
        self._now = now
        self._resolved: dict[tuple[int, str], oncall.Resolution] = {}
        self._route_names: dict[int, set[str]] = {}
        self._people: list[dispatch.PersonNotice] = []
        self._routes: list[dispatch.RouteNotice] = []
        self._undeliverable: list[dispatch.UndeliverableNotice] = []

    async def notify_target(
        self, *, workspace_id: int, target: str, alert: Mapping[str, Any], reason: str
    ) -> Reached:
        parsed = schedule.parse_target(target)
        if parsed is None:
            return self._undeliverable_to(workspace_id, alert, target, f"{reason}: no target")
        if parsed.kind is schedule.TargetKind.ROUTE:
            if parsed.name not in await self._routes_of(workspace_id):
                missing = f"{reason}: no notification route named {parsed.name!r}"
                return self._undeliverable_to(workspace_id, alert, target, missing)
            self._routes.append(dispatch.RouteNotice(workspace_id, parsed.name, alert, reason))
            return Reached([target], undeliverable=False)
        try:
            resolution = await self._resolve(workspace_id, target)
        except InvalidInput:
            return self._undeliverable_to(workspace_id, alert, target, f"{reason}: no target")
        return self.notify_people(
            workspace_id=workspace_id,
            target=target,
            contacts=resolution.contacts,
            fallbacks=resolution.fallback_contacts,
            alert=alert,
            reason=reason,
        )

    def notify_people(
        self,
        *,
        workspace_id: int,
        target: str,
        contacts: Sequence[OnCallContact],
        fallbacks: Sequence[str],
        alert: Mapping[str, Any],
        reason: str,
    ) -> Reached:
        for contact in contacts:
            self._people.append(
                dispatch.PersonNotice(workspace_id, contact.person, contact.contact, alert, reason)
            )
        if contacts:
            return Reached(list(dict.fromkeys(c.person for c in contacts)), undeliverable=False)
        for fallback in fallbacks:
            self._people.append(
                dispatch.PersonNotice(workspace_id, FALLBACK, fallback, alert, reason)
            )
        nobody = f"{reason}: nobody is on call for {target}"
        reached = self._undeliverable_to(workspace_id, alert, target, nobody)
        return Reached([FALLBACK] if fallbacks else [], reached.undeliverable)

    async def deliver(self) -> None:
        """Create every queued notification: people, routes, then what is undeliverable."""
        people, routes, undeliverable = self._people, self._routes, self._undeliverable
        self._people, self._routes, self._undeliverable = [], [], []
        await dispatch.notify_people(self._session, notices=people, now=self._now)
        await dispatch.notify_routes(self._session, notices=routes, now=self._now)
        await dispatch.record_undeliverables(self._session, notices=undeliverable, now=self._now)

    async def _resolve(self, workspace_id: int, target: str) -> oncall.Resolution:
        key = (workspace_id, target)
        if key not in self._resolved:
            self._resolved[key] = await oncall.resolve(
                self._session, workspace_id=workspace_id, target=target, at=self._now
            )
        return self._resolved[key]

    async def _routes_of(self, workspace_id: int) -> set[str]:
        if workspace_id not in self._route_names:
            self._route_names[workspace_id] = await dispatch.route_names(
                self._session, workspace_id=workspace_id
            )
        return self._route_names[workspace_id]

    def _undeliverable_to(
        self, workspace_id: int, alert: Mapping[str, Any], target: str, why: str
    ) -> Reached:
        self._undeliverable.append(
            dispatch.UndeliverableNotice(workspace_id, target, alert, why[:MAX_REASON])
        )
        return Reached([], undeliverable=True)
