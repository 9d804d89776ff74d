"""The named entry point of other domains (escalation) into notifications.

Set-based: each function takes a batch of notices, possibly of several
workspaces, and creates all their messages with a few statements
(``messages.create_many``). ``alert`` is an alert event payload (``alertId``,
``fingerprint``, ``service``, ``severity``, ``status``, ``summary``, ``labels``,
...). Each function adds to the caller's transaction; the messages it creates
are sent by the notifications jobs once it commits. Nothing is dropped without
a trace: what cannot be sent is recorded as an UNDELIVERABLE delivery.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.errors import NotFound
from server.notifications import messages, routes, targets
from server.notifications.messages import MessageDraft
from server.notifications.routes import Channel

__all__ = [
    "PersonNotice",
    "RouteNotice",
    "UndeliverableNotice",
    "notify_people",
    "notify_routes",
    "record_undeliverables",
    "route_names",
]

NOT_A_PERSON_CHANNEL = "a person is reached in-app and by email only; use a route for webhooks"


@dataclass(frozen=True, slots=True)
class PersonNotice:
    """Tell ``person`` of the alert in-app, and at ``contact`` when it is an email address."""

    workspace_id: int
    person: str
    contact: str
    alert: Mapping[str, Any]
    reason: str


@dataclass(frozen=True, slots=True)
class RouteNotice:
    """Tell the route named ``route_name`` of the alert, whatever its matchers say."""

    workspace_id: int
    route_name: str
    alert: Mapping[str, Any]
    reason: str


@dataclass(frozen=True, slots=True)
class UndeliverableNotice:
    """``target`` (e.g. ``oncall://active`` with nobody on shift) could not be told
    of the alert; ``reason`` says why."""

    workspace_id: int
    target: str
    alert: Mapping[str, Any]
    reason: str


async def route_names(session: AsyncSession, *, workspace_id: int) -> set[str]:
    """The names of the workspace's routes, enabled or not."""
    return await routes.names(session, workspace_id=workspace_id)


async def notify_routes(
    session: AsyncSession, *, notices: Sequence[RouteNotice], now: datetime
) -> list[int]:
    """One message to the named route per notice; their ids, in order. ``NotFound``
    (and nothing created) if a route does not exist; a disabled route gets an
    UNDELIVERABLE delivery instead."""
    found = await routes.find_by_names(
        session, names={(notice.workspace_id, notice.route_name) for notice in notices}
    )
    drafts: list[MessageDraft] = []
    for notice in notices:
        route = found.get((notice.workspace_id, notice.route_name))
        if route is None:
            raise NotFound(f"notification route {notice.route_name!r} not found")
        disabled = None
        if not route.enabled:
            why = route.disabled_reason or "by its owner"
            disabled = f"route {route.name!r} is disabled: {why}"
        drafts.append(
            MessageDraft(
                workspace_id=route.workspace_id,
                channel=Channel(route.channel),
                target=messages.route_target(route),
                alert=notice.alert,
                reason=notice.reason,
                route_id=route.id,
                route_name=route.name,
                undeliverable=disabled,
            )
        )
    return [created.message_id for created in await messages.create_many(session, drafts, now=now)]


def _is_email(contact: str) -> bool:
    try:
        targets.email_domain(contact)
    except targets.TargetRefused:
        return False
    return True


def _person_drafts(notice: PersonNotice) -> list[MessageDraft]:
    def draft(channel: Channel | None, target: str, why: str | None = None) -> MessageDraft:
        return MessageDraft(
            workspace_id=notice.workspace_id,
            channel=channel,
            target=target,
            alert=notice.alert,
            reason=notice.reason,
            person=notice.person,
            undeliverable=why,
        )

    drafts = [draft(Channel.IN_APP, notice.person)]
    contact = notice.contact.strip()
    if _is_email(contact):
        drafts.append(draft(Channel.EMAIL, contact))
    elif contact:
        drafts.append(draft(None, contact, NOT_A_PERSON_CHANNEL))
    return drafts


async def notify_people(
    session: AsyncSession, *, notices: Sequence[PersonNotice], now: datetime
) -> list[list[int]]:
    """For each notice, an IN_APP notification to the person, and an EMAIL when
    the contact is an email address; the ids of each notice's messages.

    A person is never sent a webhook: a webhook needs a route's secret to be
    signed, so a contact that is a URL (or anything else but an email address)
    is recorded as an UNDELIVERABLE delivery beside the in-app notification.
    """
    per_notice = [_person_drafts(notice) for notice in notices]
    created = await messages.create_many(
        session, [draft for drafts in per_notice for draft in drafts], now=now
    )
    ids = iter(created)
    return [[next(ids).message_id for _ in drafts] for drafts in per_notice]


async def record_undeliverables(
    session: AsyncSession, *, notices: Sequence[UndeliverableNotice], now: datetime
) -> list[int]:
    """Record each notice as a delivery with status UNDELIVERABLE; their ids, in order."""
    drafts = [
        MessageDraft(
            workspace_id=notice.workspace_id,
            channel=None,
            target=notice.target,
            alert=notice.alert,
            reason=notice.reason,
            undeliverable=notice.reason,
        )
        for notice in notices
    ]
    return [created.delivery_id for created in await messages.create_many(session, drafts, now=now)]
