"""graphql-core execution, with per-event executors that do not accumulate state.

graphql-core 3.3 builds each subscription event's executor as a shallow copy of
the subscription's, so every event adds an entry to one shared cache of
sub-fields that lives as long as the subscription (about 1.5 KB per delivery).
Entries are never reused across events, so each event starts with its own.
"""

from typing import Any

from graphql.execution.executor import Executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class OpsGraphExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor
