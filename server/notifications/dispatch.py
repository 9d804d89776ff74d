"""The named entry point of other domains (escalation) into notifications.

``alert`` is an alert event payload (``alertId``, ``fingerprint``, ``service``,
``severity``, ``status``, ``summary``, ``labels``, ...). Each function adds to
the caller's transaction and flushes; the messages it creates are sent by the
notifications jobs once it commits. Nothing is dropped without a trace: what
cannot be sent is recorded as an UNDELIVERABLE delivery.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.errors import NotFound
from server.notifications import messages, routes, targets
from server.notifications.routes import Channel

__all__ = ["notify_person", "notify_route", "record_undeliverable"]


async def notify_route(
    session: AsyncSession,
    *,
    workspace_id: int,
    route_name: str,
    alert: Mapping[str, Any],
    reason: str,
    now: datetime,
) -> list[int]:
    """One message to the route named ``route_name``, whatever its matchers say (an
    escalation step names its targets); its id. ``NotFound`` if there is no such
    route; a disabled route gets an UNDELIVERABLE delivery instead."""
    route = await routes.find_by_name(session, workspace_id=workspace_id, name=route_name)
    if route is None:
        raise NotFound(f"notification route {route_name!r} not found")
    if not route.enabled:
        delivery = await messages.create_undeliverable(
            session,
            workspace_id=workspace_id,
            alert=alert,
            target=messages.route_target(route),
            reason=reason,
            error=f"route {route.name!r} is disabled: {route.disabled_reason or 'by its owner'}",
            now=now,
            channel=Channel(route.channel),
            route_id=route.id,
        )
        return [delivery.message_id]
    message = await messages.create_for_route(
        session, route=route, alert=alert, reason=reason, now=now
    )
    return [message.id]


def _is_email(contact: str) -> bool:
    try:
        targets.email_domain(contact)
    except targets.TargetRefused:
        return False
    return True


async def notify_person(
    session: AsyncSession,
    *,
    workspace_id: int,
    person: str,
    contact: str,
    alert: Mapping[str, Any],
    reason: str,
    now: datetime,
) -> list[int]:
    """An IN_APP notification to ``person`` (the recipient), and an EMAIL when
    ``contact`` is an email address; the ids of the messages.

    A person is never sent a webhook: a webhook needs a route's secret to be
    signed, so a contact that is a URL (or anything else but an email address)
    is recorded as an UNDELIVERABLE delivery beside the in-app notification.
    """
    created = [
        await messages.create_for_person(
            session,
            workspace_id=workspace_id,
            person=person,
            channel=Channel.IN_APP,
            target=person,
            alert=alert,
            reason=reason,
            now=now,
        )
    ]
    contact = contact.strip()
    if _is_email(contact):
        created.append(
            await messages.create_for_person(
                session,
                workspace_id=workspace_id,
                person=person,
                channel=Channel.EMAIL,
                target=contact,
                alert=alert,
                reason=reason,
                now=now,
            )
        )
    elif contact:
        delivery = await messages.create_undeliverable(
            session,
            workspace_id=workspace_id,
            alert=alert,
            target=contact,
            reason=reason,
            error="a person is reached in-app and by email only; use a route for webhooks",
            now=now,
            person=person,
        )
        return [message.id for message in created] + [delivery.message_id]
    return [message.id for message in created]


async def record_undeliverable(
    session: AsyncSession,
    *,
    workspace_id: int,
    alert: Mapping[str, Any],
    target: str,
    reason: str,
    now: datetime,
) -> int:
    """Record that ``target`` (e.g. ``oncall://active`` with nobody on shift) could
    not be notified of the alert, and why: a delivery with status UNDELIVERABLE; its id."""
    delivery = await messages.create_undeliverable(
        session,
        workspace_id=workspace_id,
        alert=alert,
        target=target,
        reason=reason,
        error=reason,
        now=now,
    )
    return delivery.id
