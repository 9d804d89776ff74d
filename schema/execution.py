"""graphql-core execution, with executors that leave no garbage for the collector.

graphql-core 3.3 builds each subscription event's executor as a shallow copy of
the subscription's, so every event adds an entry to one shared cache of
sub-fields that lives as long as the subscription (about 1.5 KB per delivery).
Entries are never reused across events, so each event starts with its own.

An executor also keeps its resolver helpers, bound methods of itself: a
reference cycle that leaves the executor and all it holds (about 55 objects
for a small query) to the cyclic garbage collector, whose passes then stalled
every request in flight. Built on access instead, they are freed at once.
"""

from typing import Any

from graphql.execution.executor import Executor
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class OpsGraphExecutionContext(StrawberryGraphQLCoreExecutionContext):
    @property
    def async_helpers(self) -> GraphQLResolveInfoHelpers:
        return GraphQLResolveInfoHelpers(gather=self.gather_async_work, track=self.track_async_work)

    @async_helpers.setter
    def async_helpers(self, _: GraphQLResolveInfoHelpers) -> None:
        """The executor's constructor sets them; they are built on access instead."""

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor
