"""Every ORM model, imported so that ``Base.metadata`` knows all tables."""

from server.access.models import ApiKey, Workspace
from server.alerts.models import AggregationRule, Alert, AlertGroup, SilenceRule
from server.audit.models import AuditEntry
from server.backups.models import BackupRun, RestoreDrill
from server.capacity.models import CapacityForecast, CapacityPolicy, CapacityRollup
from server.core.db import Base
from server.core.events.models import Event, EventRetention
from server.core.tasks.models import PeriodicJob, Task
from server.escalation.models import (
    EscalationExecution,
    EscalationHandoverMark,
    EscalationPolicy,
    EscalationState,
)
from server.notifications.models import (
    Notification,
    NotificationCheckpoint,
    NotificationDelivery,
    NotificationMessage,
    NotificationRoute,
)
from server.oncall.models import OncallOverride, OncallRotation, OncallSchedule, OncallShift
from server.security.models import SecurityInspectionItem, SecurityInspectionRun
from server.signals.models import SeriesSummary, Signal
from server.slo.models import SloEvaluation, SloPolicy, SloRollup

__all__ = [
    "AggregationRule",
    "Alert",
    "AlertGroup",
    "ApiKey",
    "AuditEntry",
    "BackupRun",
    "Base",
    "CapacityForecast",
    "CapacityPolicy",
    "CapacityRollup",
    "EscalationExecution",
    "EscalationHandoverMark",
    "EscalationPolicy",
    "EscalationState",
    "Event",
    "EventRetention",
    "Notification",
    "NotificationCheckpoint",
    "NotificationDelivery",
    "NotificationMessage",
    "NotificationRoute",
    "OncallOverride",
    "OncallRotation",
    "OncallSchedule",
    "OncallShift",
    "PeriodicJob",
    "RestoreDrill",
    "SecurityInspectionItem",
    "SecurityInspectionRun",
    "SeriesSummary",
    "Signal",
    "SilenceRule",
    "SloEvaluation",
    "SloPolicy",
    "SloRollup",
    "Task",
    "Workspace",
]
