"""The schema: per-domain roots merged into Query and Mutation."""

from collections.abc import Iterable

from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.access import AccessMutation, AccessQuery
from schema.aggregation import AggregationMutation, AggregationQuery
from schema.alerts import AlertMutation, AlertQuery
from schema.audit import AuditQuery
from schema.backups import BackupMutation, BackupQuery
from schema.capacity import CapacityMutation, CapacityQuery
from schema.engine.execution import OpsGraphExecutionContext
from schema.engine.extensions import ExtensionSpec
from schema.engine.lenient import read_field_leniently
from schema.engine.limits import limit_extensions
from schema.engine.schema import OpsGraphSchema
from schema.escalation import EscalationMutation, EscalationQuery
from schema.events import EventQuery, EventSubscription
from schema.notifications import NotificationMutation, NotificationQuery
from schema.observability import ObservabilityQuery
from schema.oncall import OncallMutation, OncallQuery
from schema.scalars import SCALAR_MAP
from schema.security import SecurityMutation, SecurityQuery
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
        OncallQuery,
        NotificationQuery,
        EscalationQuery,
        SecurityQuery,
        CapacityQuery,
        BackupQuery,
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
        OncallMutation,
        NotificationMutation,
        EscalationMutation,
        SecurityMutation,
        CapacityMutation,
        BackupMutation,
        TaskMutation,
    ),
)
Subscription = merge_types("Subscription", (EventSubscription,))


def build_schema(settings: Settings, *, extensions: Iterable[ExtensionSpec] = ()) -> OpsGraphSchema:
    """The schema with the settings' limits and the given schema extensions, each
    of which the engine runs on every path or refuses here (schema.engine.extensions)."""
    schema = OpsGraphSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[*limit_extensions(settings), *extensions],
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        execution_context_class=OpsGraphExecutionContext,
    )
    # ingestSignals rejects a malformed ts as its item's fault, not the batch's.
    read_field_leniently(schema, "SignalInput", "ts")
    return schema
