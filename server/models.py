"""Every ORM model, imported so that ``Base.metadata`` knows all tables."""

from server.access.models import ApiKey, Workspace
from server.audit.models import AuditEntry
from server.db import Base
from server.events.models import Event, EventRetention
from server.signals.models import Signal
from server.tasks.models import PeriodicJob, Task

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Base",
    "Event",
    "EventRetention",
    "PeriodicJob",
    "Signal",
    "Task",
    "Workspace",
]
