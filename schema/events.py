"""Event envelopes and the live, resumable subscriptions."""

import dataclasses
from collections.abc import AsyncGenerator, Hashable
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

import strawberry
from strawberry.scalars import JSON

from schema.alert_enums import Severity
from schema.context import Info
from schema.ids import parse_id
from schema.permissions import CanRead
from server.alerts import service as alert_service
from server.core.errors import InvalidInput
from server.core.events import service as events
from server.core.events.feed import EventFeed
from server.core.events.service import EventRecord, Stream
from server.core.events.stream import Scope, follow
from server.core.tasks import service as task_service
from server.slo import service as slo_service

#: Every event type of the alert stream, for checking a subscriber's filter.
#: Every event type, by the subscription that carries it: the one list that the
#: README and the clients' docs follow (tests/events/test_event_types.py).
ALERT_STREAM_TYPES = frozenset(
    [
        *(type_.value for type_ in alert_service.AlertEventType),
        *(type_.value for type_ in slo_service.SloEventType),
    ]
)
TASK_STREAM_TYPES = frozenset(type_.value for type_ in task_service.TaskEventType)


@strawberry.type
class EventEnvelope:
    schema: str
    cursor: str
    type: str
    occurred_at: datetime
    workspace: strawberry.ID
    payload: JSON
    #: The renders of this event for its subscribers' selections (schema.engine.execution).
    renders: strawberry.Private[dict[Hashable, Any]] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_record(cls, record: EventRecord) -> "EventEnvelope":
        return cls(
            schema=record.schema,
            cursor=record.cursor,
            type=record.type,
            occurred_at=record.occurred_at,
            workspace=strawberry.ID(str(record.workspace_id)),
            payload=JSON(record.payload),
        )


@strawberry.input
class AlertEventFilter:
    services: list[str] | None = None
    severities: list[Severity] | None = None  # type: ignore[valid-type]
    types: list[str] | None = None

    def check(self) -> None:
        for index, type_ in enumerate(self.types or []):
            if type_ not in ALERT_STREAM_TYPES:
                raise InvalidInput(
                    f"unknown event type {type_!r}; the alert stream carries "
                    + ", ".join(sorted(ALERT_STREAM_TYPES)),
                    field=f"filter.types[{index}]",
                )

    def accepts(self, record: EventRecord) -> bool:
        return (
            (not self.services or record.service in self.services)
            and (not self.severities or record.severity in self.severities)
            and (not self.types or record.type in self.types)
        )


class SharedEnvelopes:
    """One envelope per event, shared by all its subscribers in this process, so that
    it is rendered once per selection rather than once per subscriber."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._envelopes: dict[tuple[Stream, int], EventEnvelope] = {}

    def of(self, record: EventRecord) -> EventEnvelope:
        key = (record.stream, record.seq)
        envelope = self._envelopes.get(key)
        if envelope is None:
            envelope = self._envelopes[key] = EventEnvelope.from_record(record)
            if len(self._envelopes) > self._capacity:  # the oldest goes first
                del self._envelopes[next(iter(self._envelopes))]
        return envelope


#: Recent events kept shared; one still on its way to a subscriber that lags
#: further behind is built again for it.
ENVELOPES_KEPT = 1_024
#: One cache per event feed, that is per app: cursors are numbered per database,
#: so two apps in one process (replicas in a test) must not share envelopes.
_shared_envelopes: WeakKeyDictionary[EventFeed, SharedEnvelopes] = WeakKeyDictionary()


def _envelopes_of(feed: EventFeed) -> SharedEnvelopes:
    found = _shared_envelopes.get(feed)
    if found is None:
        found = _shared_envelopes[feed] = SharedEnvelopes(capacity=ENVELOPES_KEPT)
    return found


async def _stream(info: Info, scope: Scope, after: str | None) -> AsyncGenerator[EventEnvelope]:
    services = info.context.services
    start = events.parse_cursor(after)
    envelopes = _envelopes_of(services.feed)
    async for record in follow(services.db, services.feed, services.clock, scope, after=start):
        yield envelopes.of(record)


@strawberry.type
class EventQuery:
    @strawberry.field(
        permission_classes=[CanRead],
        description="The newest event cursor: load the current state, then subscribe "
        "with this as `after` and miss nothing in between.",
    )
    async def latest_event_cursor(self, info: Info) -> str:
        async with info.context.session() as session:
            return str(await events.latest_seq(session))


@strawberry.type
class EventSubscription:
    @strawberry.subscription(permission_classes=[CanRead])
    async def alert_events(
        self, info: Info, filter: AlertEventFilter | None = None, after: str | None = None
    ) -> AsyncGenerator[EventEnvelope]:
        chosen = filter or AlertEventFilter()
        chosen.check()
        scope = Scope(Stream.ALERT, info.context.principal.workspace_id, chosen.accepts)
        async for envelope in _stream(info, scope, after):
            yield envelope

    @strawberry.subscription(permission_classes=[CanRead])
    async def task_events(
        self, info: Info, task_id: strawberry.ID | None = None, after: str | None = None
    ) -> AsyncGenerator[EventEnvelope]:
        context = info.context
        wanted = parse_id(task_id, field="taskId") if task_id is not None else None
        if wanted is not None:
            async with context.session() as session:
                await task_service.get_task(
                    session, workspace_id=context.principal.workspace_id, task_id=wanted
                )
        scope = Scope(
            Stream.TASK,
            info.context.principal.workspace_id,
            lambda record: wanted is None or record.subject_id == wanted,
        )
        async for envelope in _stream(info, scope, after):
            yield envelope
