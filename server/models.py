"""Every ORM model, imported so that ``Base.metadata`` knows all tables."""

from server.access.models import ApiKey, Workspace
from server.alerts.models import AggregationRule, Alert, AlertGroup, SilenceRule
from server.audit.models import AuditEntry
from server.db import Base
from server.events.models import Event, EventRetention
from server.signals.models import Signal
from server.slo.models import SloEvaluation, SloPolicy, SloRollup
from server.tasks.models import PeriodicJob, Task

__all__ = [
    "AggregationRule",
    "Alert",
    "AlertGroup",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Event",
    "EventRetention",
    "PeriodicJob",
    "Signal",
    "SilenceRule",
    "SloEvaluation",
    "SloPolicy",
    "SloRollup",
    "Task",
    "Workspace",
]
