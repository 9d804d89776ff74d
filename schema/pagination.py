"""Relay-style connections built from ``server.core.pagination.Page``."""

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar, cast

import strawberry

from schema.context import Info
from schema.rendering import RenderedNode
from server.core import pagination
from server.core.pagination import Listing, Page

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    #: Edge objects, or a page rendered from its columns (``schema.rendering``).
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Rows matching the filter, over all pages.")
    async def total_count(self) -> int:
        return await self.count_total()

    @classmethod
    def from_page(
        cls,
        page: Page[RowT],
        convert: Callable[[RowT], NodeT],
        count_total: Callable[[], Awaitable[int]],
    ) -> "Connection[NodeT]":
        return cls(
            edges=[
                Edge(cursor=cursor, node=convert(item))
                for item, cursor in zip(page.items, page.cursors, strict=True)
            ],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            count_total=count_total,
        )


async def connection(
    info: Info,
    listing: Listing[RowT],
    convert: Callable[[RowT], NodeT],
    *,
    first: int | None,
    after: str | None,
    rendered: RenderedNode | None = None,
) -> Connection[NodeT]:
    """One page of a domain's listing, newest first, as a connection; totalCount
    only on demand. With ``rendered``, a page whose selection allows it is rendered
    from its columns (``schema.rendering``)."""
    context = info.context
    request = context.page_request(first, after)

    async def count_total() -> int:
        async with context.session() as session:
            return await pagination.count_rows(session, listing)

    plan = rendered.plan(info.selected_fields, listing.order) if rendered else None
    if plan is not None:
        async with context.session() as session:
            rows = await pagination.paginate_columns(session, listing, request, plan.columns)
        edges = plan.render(rows)
        if edges is not None:
            page_info = PageInfo(has_next_page=rows.has_next_page, end_cursor=rows.end_cursor)
            # The executor passes the rendered page through in place of Edge objects.
            return Connection(
                edges=cast(list[Edge[NodeT]], edges), page_info=page_info, count_total=count_total
            )
    async with context.session() as session:
        page = await pagination.paginate(session, listing, request)
    return Connection.from_page(page, convert, count_total)
