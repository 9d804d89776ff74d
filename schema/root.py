"""The schema: per-domain roots merged into Query and Mutation."""

from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.access import AccessMutation, AccessQuery
from schema.aggregation import AggregationMutation, AggregationQuery
from schema.alerts import AlertMutation, AlertQuery
from schema.audit import AuditQuery
from schema.engine.execution import OpsGraphExecutionContext
from schema.engine.limits import validation_rules
from schema.engine.schema import OpsGraphSchema
from schema.events import EventQuery, EventSubscription
from schema.observability import ObservabilityQuery
from schema.scalars import SCALAR_MAP
from schema.signals import SignalMutation, SignalQuery
from schema.silences import SilenceMutation, SilenceQuery
from schema.slo import SloMutation, SloQuery
from schema.tasks import TaskMutation, TaskQuery
from server.core.settings import Settings

Query = merge_types(
    "Query",
    (
        AccessQuery,
        SignalQuery,
        ObservabilityQuery,
        SloQuery,
        AlertQuery,
        SilenceQuery,
        AggregationQuery,
        TaskQuery,
        EventQuery,
        AuditQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        AccessMutation,
        SignalMutation,
        SloMutation,
        AlertMutation,
        SilenceMutation,
        AggregationMutation,
        TaskMutation,
    ),
)
Subscription = merge_types("Subscription", (EventSubscription,))


def build_schema(settings: Settings) -> OpsGraphSchema:
    return OpsGraphSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        validation_rules=validation_rules(settings),
        max_tokens=settings.max_tokens,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        execution_context_class=OpsGraphExecutionContext,
    )
