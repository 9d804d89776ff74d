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

from server.core.errors import InvalidInput, NotFound
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
    """Notifies the targets of one sweep's escalations in its transaction; each
    on-call target is resolved once per workspace."""

    def __init__(self, session: AsyncSession, now: datetime) -> None:
        self._session = session
        self._now = now
        self._resolved: dict[tuple[int, str], oncall.Resolution] = {}

    async def notify_target(
        self, *, workspace_id: int, target: str, alert: Mapping[str, Any], reason: str
    ) -> Reached:
        parsed = schedule.parse_target(target)
        if parsed is None:
            return await self._undeliverable(workspace_id, alert, target, f"{reason}: no target")
        if parsed.kind is schedule.TargetKind.ROUTE:
            try:
                await dispatch.notify_route(
                    self._session,
                    workspace_id=workspace_id,
                    route_name=parsed.name,
                    alert=alert,
                    reason=reason,
                    now=self._now,
                )
            except NotFound:
                missing = f"{reason}: no notification route named {parsed.name!r}"
                return await self._undeliverable(workspace_id, alert, target, missing)
            return Reached([target], undeliverable=False)
        try:
            resolution = await self._resolve(workspace_id, target)
        except InvalidInput:
            return await self._undeliverable(workspace_id, alert, target, f"{reason}: no target")
        return await self.notify_people(
            workspace_id=workspace_id,
            target=target,
            contacts=resolution.contacts,
            fallbacks=resolution.fallback_contacts,
            alert=alert,
            reason=reason,
        )

    async def notify_people(
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
            await self._notify_person(workspace_id, contact.person, contact.contact, alert, reason)
        if contacts:
            return Reached(list(dict.fromkeys(c.person for c in contacts)), undeliverable=False)
        for fallback in fallbacks:
            await self._notify_person(workspace_id, FALLBACK, fallback, alert, reason)
        nobody = f"{reason}: nobody is on call for {target}"
        reached = await self._undeliverable(workspace_id, alert, target, nobody)
        return Reached([FALLBACK] if fallbacks else [], reached.undeliverable)

    async def _resolve(self, workspace_id: int, target: str) -> oncall.Resolution:
        key = (workspace_id, target)
        if key not in self._resolved:
            self._resolved[key] = await oncall.resolve(
                self._session, workspace_id=workspace_id, target=target, at=self._now
            )
        return self._resolved[key]

    async def _notify_person(
        self,
        workspace_id: int,
        person: str,
        contact: str,
        alert: Mapping[str, Any],
        reason: str,
    ) -> None:
        await dispatch.notify_person(
            self._session,
            workspace_id=workspace_id,
            person=person,
            contact=contact,
            alert=alert,
            reason=reason,
            now=self._now,
        )

    async def _undeliverable(
        self, workspace_id: int, alert: Mapping[str, Any], target: str, why: str
    ) -> Reached:
        await dispatch.record_undeliverable(
            self._session,
            workspace_id=workspace_id,
            alert=alert,
            target=target,
            reason=why[:MAX_REASON],
            now=self._now,
        )
        return Reached([], undeliverable=True)
