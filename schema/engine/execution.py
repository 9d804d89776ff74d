"""graphql-core execution: garbage-free executors, and events rendered once per selection.

graphql-core 3.3 builds each subscription event's executor as a shallow copy of
the subscription's, so every event adds an entry to one shared cache of
sub-fields, which grows with every delivery for as long as the subscription
lives. Entries are never reused across events, so each event starts with its own.

An executor also keeps its resolver helpers, bound methods of itself: a
reference cycle that leaves the executor and everything it holds to the cyclic
garbage collector, whose passes then stalled every request in flight. Built on
access instead, they are freed at once.

An event goes to every subscriber of its stream, most of whom ask for the same
fields. An event payload that is shared (it has ``renders``) is executed once
per distinct selection (operation and the variables its directives read), and
every subscriber of that selection gets the same result, whose data also keeps
its JSON encoding (``RenderedData``): the work per delivery is then the frame.

A list field whose resolver already built its complete value (``Prerendered``,
e.g. a page of rows rendered straight from their columns) is passed through as
it is, instead of being completed item by item and field by field.
"""

import asyncio
from collections.abc import Awaitable, Hashable
from functools import cached_property
from typing import Any, cast

import orjson
from graphql import (
    ExecutableDefinitionNode,
    ExecutionResult,
    GraphQLList,
    GraphQLOutputType,
    GraphQLResolveInfo,
    VariableNode,
    visit,
)
from graphql.execution.executor import Executor
from graphql.language import Visitor
from graphql.pyutils import AwaitableOrValue, Path
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class RenderedData(dict[str, Any]):
    """A result's data shared by subscribers, encoded to JSON at most once."""

    __slots__ = ("_json",)

    def json(self) -> bytes:
        try:
            return self._json
        except AttributeError:
            self._json: bytes = orjson.dumps(self)
            return self._json


class Prerendered:
    """A list field's complete value, as its resolver built it: JSON-ready items for
    exactly the field's selection, which the executor returns without visiting."""

    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        self.items = items


class OpsGraphExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        if type(result) is Prerendered:
            return result.items
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    @property
    def async_helpers(self) -> GraphQLResolveInfoHelpers:
        return GraphQLResolveInfoHelpers(gather=self.gather_async_work, track=self.track_async_work)

    @async_helpers.setter
    def async_helpers(self, _: GraphQLResolveInfoHelpers) -> None:
        """The executor's constructor sets them; they are built on access instead."""

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        renders = getattr(payload, "renders", None)
        if renders is None:
            return self._fresh_executor(payload)
        key = self._render_key
        render = renders.get(key)
        if render is None:
            render = renders[key] = self._render(payload)
        return cast("Executor[Any]", _Rendered(render))

    def _fresh_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor

    def _render(self, payload: Any) -> "ExecutionResult | asyncio.Future[ExecutionResult]":
        result = self._fresh_executor(payload).execute_operation(False)
        if self.is_awaitable(result):
            return asyncio.ensure_future(_shared(cast("Awaitable[ExecutionResult]", result)))
        return _shared_result(cast("ExecutionResult", result))

    @cached_property
    def _render_key(self) -> Hashable:
        """What a render depends on besides the payload: the operation (a prepared
        document is one object per query text) and the variables its directives read."""
        names = _directive_variables([self.operation, *self.fragment_definitions.values()])
        coerced = self.variable_values.coerced
        values = repr([coerced.get(name) for name in names]) if names else ""
        return (id(self.operation), values)


class _Rendered:
    """Stands in for a per-event executor: the event's render for this selection."""

    __slots__ = ("_render",)

    def __init__(self, render: "ExecutionResult | asyncio.Future[ExecutionResult]") -> None:
        self._render = render

    def execute_operation(
        self, serially: bool | None = None
    ) -> "ExecutionResult | asyncio.Future[ExecutionResult]":
        return self._render


async def _shared(result: Awaitable[ExecutionResult]) -> ExecutionResult:
    return _shared_result(await result)


def _shared_result(result: ExecutionResult) -> ExecutionResult:
    data = RenderedData(result.data) if result.data is not None else None
    return ExecutionResult(data, result.errors)


def _directive_variables(definitions: list[ExecutableDefinitionNode]) -> tuple[str, ...]:
    """Variables read by directives (``@include(if: $x)``) of an operation and its fragments."""
    names: list[str] = []

    class Collector(Visitor):
        def enter_directive(self, node: Any, *_: Any) -> None:
            for argument in node.arguments or ():
                if isinstance(argument.value, VariableNode):
                    names.append(argument.value.name.value)

    for definition in definitions:
        visit(definition, Collector())
    return tuple(sorted(set(names)))
