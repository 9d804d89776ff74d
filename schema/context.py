"""The per-operation GraphQL context: principal, services and database sessions."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext
from strawberry.types import Info as StrawberryInfo

from server.core.auth import Permission, Principal
from server.core.errors import OpsGraphError, Unauthenticated
from server.core.pagination import PageRequest, page_request
from server.core.services import Services

KeyT = TypeVar("KeyT")
ValueT = TypeVar("ValueT")


@dataclass
class _UnitOfWork:
    session: AsyncSession
    after_commit: list[Callable[[], None]] = field(default_factory=list)


# The transaction of the mutation being resolved. A context variable rather
# than a context attribute, because one context serves every operation of a
# websocket connection.
_unit_of_work: ContextVar[_UnitOfWork | None] = ContextVar("opsgraph_unit_of_work", default=None)


class Context(BaseContext):
    def __init__(
        self,
        services: Services,
        *,
        request_id: str | None,
        principal: Principal | None,
        auth_error: OpsGraphError | None = None,
        share_read_session: bool = True,
    ) -> None:
        super().__init__()
        self.services = services
        self.request_id = request_id
        self._principal = principal
        self._auth_error = auth_error
        self._share_read_session = share_read_session
        self._reader: AsyncSession | None = None
        self._reader_lock = asyncio.Lock()
        self._closed = False
        self._loaders: dict[str, DataLoader[Any, Any]] = {}
        #: A session was handed out: an answer without an outage error then shows
        #: the database reachable.
        self.used_database = False

    @property
    def principal(self) -> Principal:
        if self._auth_error is not None:
            raise self._auth_error
        if self._principal is None:
            raise Unauthenticated("an API key is required: send 'Authorization: Bearer <key>'")
        return self._principal

    def require(self, permission: Permission) -> Principal:
        principal = self.principal
        principal.require(permission)
        return principal

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """The mutation's transaction if one is open, else a read session.

        An HTTP request reuses one read session; GraphQL resolves sibling fields
        concurrently, so its use is serialised. A websocket context serves many
        operations over a long time, so it opens a short session each time.
        """
        self.used_database = True
        writer = _unit_of_work.get()
        if writer is not None:
            yield writer.session
            return
        if not self._share_read_session or self._closed:
            async with self.services.db.reader() as session:
                yield session
            return
        async with self._reader_lock:
            if self._reader is None:
                self._reader = self.services.db.read_sessions()
            yield self._reader

    def loader(
        self, name: str, load: Callable[[list[KeyT]], Awaitable[list[ValueT]]]
    ) -> DataLoader[KeyT, ValueT]:
        """A batching loader, one per context and name, that does not cache: a
        websocket context lives long and its data changes meanwhile."""
        found = self._loaders.get(name)
        if found is None:
            found = self._loaders[name] = DataLoader(load_fn=load, cache=False)
        return found

    def page_request(self, first: int | None, after: str | None) -> PageRequest:
        settings = self.services.settings
        return page_request(
            first, after, default_size=settings.default_page_size, max_size=settings.max_page_size
        )

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the current mutation's transaction has committed."""
        writer = _unit_of_work.get()
        if writer is None:
            raise RuntimeError("after_commit needs an open unit of work")
        writer.after_commit.append(callback)

    def authenticate(self, principal: Principal) -> None:
        """Set the principal of a websocket connection after ``connection_init``."""
        self._principal = principal
        self._auth_error = None

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        async with self.services.outbox.transaction() as session:
            work = _UnitOfWork(session)
            token = _unit_of_work.set(work)
            try:
                yield session
            finally:
                _unit_of_work.reset(token)
        for callback in work.after_commit:
            callback()

    async def close(self) -> None:
        """Close the shared read session once no resolver is using it. A resolver
        still running after the answer was made (graphql-core returns as soon as
        a non-null root field fails) then reads in a session of its own."""
        async with self._reader_lock:
            self._closed = True
            if self._reader is not None:
                await self._reader.close()
                self._reader = None


Info = StrawberryInfo[Context, None]
