"""Notification routes: where alerts that match go (in-app, a webhook or an email).

A route's matchers see the alert's labels, and ``service`` and ``severity`` as
labels of their own (they win over labels of the same name); no matchers match
every alert. Names are unique in a workspace. A WEBHOOK route has an https URL
(plain http only to loopback, when allowed) and a Standard Webhooks secret
(``whsec_<base64>`` of 24-64 bytes), generated when none is given and shown only
in the answer of the mutation that set it; an EMAIL route has an address.
"""

import base64
import binascii
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import get_in_workspace
from server.core.errors import Conflict, InvalidInput
from server.core.matchers import Matcher, check_patterns_in_database, matches_all, validate_matchers
from server.notifications import targets
from server.notifications.models import NotificationRoute

SECRET_PREFIX = "whsec_"
SECRET_BYTES = (24, 64)
MAX_NAME = 200


class Channel(StrEnum):
    IN_APP = "IN_APP"
    WEBHOOK = "WEBHOOK"
    EMAIL = "EMAIL"


@dataclass(frozen=True)
class RouteDraft:
    name: str
    channel: Channel
    url: str | None = None
    email: str | None = None
    secret: str | None = None
    matchers: list[Matcher] = field(default_factory=list)
    #: None: enabled on create, unchanged on update.
    enabled: bool | None = None


@dataclass(frozen=True)
class WrittenRoute:
    """A route as written, with the secret to show once (given or generated now)."""

    route: NotificationRoute
    shown_secret: str | None


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(secret: str, *, field: str) -> str:
    problem = f"a secret is {SECRET_PREFIX}<base64 of {SECRET_BYTES[0]}-{SECRET_BYTES[1]} bytes>"
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidInput(problem, field=field)
    try:
        raw = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidInput(problem, field=field) from error
    if not SECRET_BYTES[0] <= len(raw) <= SECRET_BYTES[1]:
        raise InvalidInput(problem, field=field)
    return secret


def route_matchers(route: NotificationRoute) -> list[Matcher]:
    return [Matcher.from_dict(stored) for stored in route.matchers]


def match_labels(alert: Mapping[str, Any]) -> dict[str, str]:
    """What a route's matchers see of an alert (an alert event payload)."""
    labels = {str(key): str(value) for key, value in (alert.get("labels") or {}).items()}
    labels["service"] = str(alert.get("service") or "")
    labels["severity"] = str(alert.get("severity") or "")
    return labels


def matches(route: NotificationRoute, alert: Mapping[str, Any]) -> bool:
    return matches_all(route_matchers(route), match_labels(alert))


def _refuse_extra(draft: RouteDraft, allowed: set[str]) -> None:
    for name in ("url", "email", "secret"):
        if name not in allowed and getattr(draft, name) is not None:
            raise InvalidInput(
                f"a {draft.channel.value} route takes no {name}", field=f"input.{name}"
            )


async def _check(session: AsyncSession, draft: RouteDraft, *, allow_loopback: bool) -> RouteDraft:
    name = draft.name.strip()
    if not 1 <= len(name) <= MAX_NAME or "\x00" in name:
        raise InvalidInput(f"name must be 1-{MAX_NAME} characters, without NUL", field="input.name")
    matchers = validate_matchers(draft.matchers, field="input.matchers")
    await check_patterns_in_database(session, matchers, field="input.matchers")
    if draft.channel is Channel.WEBHOOK:
        _refuse_extra(draft, {"url", "secret"})
        if not draft.url:
            raise InvalidInput("a WEBHOOK route needs a url", field="input.url")
        await targets.check_webhook_input(
            draft.url, allow_loopback=allow_loopback, field="input.url"
        )
        if draft.secret is not None:
            check_secret(draft.secret, field="input.secret")
    elif draft.channel is Channel.EMAIL:
        _refuse_extra(draft, {"email"})
        if not draft.email:
            raise InvalidInput("an EMAIL route needs an email address", field="input.email")
        await targets.check_email_input(
            draft.email, allow_loopback=allow_loopback, field="input.email"
        )
    else:
        _refuse_extra(draft, set())
    return RouteDraft(
        name, draft.channel, draft.url, draft.email, draft.secret, matchers, draft.enabled
    )


async def _refuse_taken_name(
    session: AsyncSession, *, workspace_id: int, name: str, route_id: int | None
) -> None:
    taken = await session.scalar(
        select(NotificationRoute.id).where(
            NotificationRoute.workspace_id == workspace_id, NotificationRoute.name == name
        )
    )
    if taken is not None and taken != route_id:
        raise Conflict(f"a notification route named {name!r} exists already")


def _apply(route: NotificationRoute, draft: RouteDraft, now: datetime) -> str | None:
    """Write the draft onto the route; the secret to show, if one was set now."""
    shown = None
    if draft.channel is Channel.WEBHOOK:
        keep = route.channel == Channel.WEBHOOK.value and route.secret and draft.secret is None
        if not keep:
            shown = draft.secret or new_secret()
            route.secret = shown
    else:
        route.secret = None
    route.name = draft.name
    route.channel = draft.channel.value
    route.url = draft.url
    route.email = draft.email
    route.matchers = [matcher.to_dict() for matcher in draft.matchers]
    if draft.enabled is not None:
        route.enabled = draft.enabled
    if route.enabled:
        route.disabled_reason = None
    route.updated_at = now
    return shown


async def create(
    session: AsyncSession,
    *,
    workspace_id: int,
    draft: RouteDraft,
    author: str,
    now: datetime,
    allow_loopback: bool,
) -> WrittenRoute:
    checked = await _check(session, draft, allow_loopback=allow_loopback)
    await _refuse_taken_name(session, workspace_id=workspace_id, name=checked.name, route_id=None)
    route = NotificationRoute(
        workspace_id=workspace_id, enabled=True, created_by=author, created_at=now
    )
    shown = _apply(route, checked, now)
    session.add(route)
    await session.flush()
    return WrittenRoute(route, shown)


async def get(session: AsyncSession, *, workspace_id: int, route_id: int) -> NotificationRoute:
    return await get_in_workspace(
        session, NotificationRoute, route_id, workspace_id=workspace_id, what="notification route"
    )


async def update(
    session: AsyncSession,
    *,
    workspace_id: int,
    route_id: int,
    draft: RouteDraft,
    now: datetime,
    allow_loopback: bool,
) -> WrittenRoute:
    route = await get(session, workspace_id=workspace_id, route_id=route_id)
    checked = await _check(session, draft, allow_loopback=allow_loopback)
    await _refuse_taken_name(
        session, workspace_id=workspace_id, name=checked.name, route_id=route.id
    )
    shown = _apply(route, checked, now)
    await session.flush()
    return WrittenRoute(route, shown)


async def delete(session: AsyncSession, *, workspace_id: int, route_id: int) -> NotificationRoute:
    """Delete the route; its messages and deliveries stay, without it."""
    route = await get(session, workspace_id=workspace_id, route_id=route_id)
    await session.delete(route)
    await session.flush()
    return route


async def disable(session: AsyncSession, *, route_id: int, reason: str, now: datetime) -> None:
    route = await session.get(NotificationRoute, route_id, with_for_update=True)
    if route is not None and route.enabled:
        route.enabled = False
        route.disabled_reason = reason[:500]
        route.updated_at = now


def routes_query(*, workspace_id: int) -> Select[NotificationRoute]:
    return select(NotificationRoute).where(NotificationRoute.workspace_id == workspace_id)


async def names(session: AsyncSession, *, workspace_id: int) -> set[str]:
    found = await session.scalars(
        select(NotificationRoute.name).where(NotificationRoute.workspace_id == workspace_id)
    )
    return set(found.all())


async def find_by_names(
    session: AsyncSession, *, names: Collection[tuple[int, str]]
) -> dict[tuple[int, str], NotificationRoute]:
    """The routes of these (workspace id, name) pairs that exist."""
    if not names:
        return {}
    rows = await session.scalars(
        select(NotificationRoute).where(
            NotificationRoute.workspace_id.in_({workspace_id for workspace_id, _ in names}),
            NotificationRoute.name.in_({name for _, name in names}),
        )
    )
    found = {(route.workspace_id, route.name): route for route in rows.all()}
    return {key: route for key, route in found.items() if key in names}


def with_enabled_routes() -> Select[int]:
    """The workspaces with at least one enabled route, as a subquery."""
    return select(NotificationRoute.workspace_id).where(NotificationRoute.enabled.is_(True))


async def enabled_routes(
    session: AsyncSession, *, workspace_ids: list[int]
) -> dict[int, list[NotificationRoute]]:
    """The enabled routes of each workspace, oldest first."""
    rows = await session.scalars(
        select(NotificationRoute)
        .where(
            NotificationRoute.workspace_id.in_(workspace_ids),
            NotificationRoute.enabled.is_(True),
        )
        .order_by(NotificationRoute.id)
    )
    found: dict[int, list[NotificationRoute]] = {workspace_id: [] for workspace_id in workspace_ids}
    for route in rows.all():
        found[route.workspace_id].append(route)
    return found
