"""Every ORM model, imported so that ``Base.metadata`` knows all tables."""

from server.access.models import ApiKey, Workspace
from server.audit.models import AuditEntry
from server.db import Base
from server.signals.models import Signal

__all__ = ["ApiKey", "AuditEntry", "Base", "Signal", "Workspace"]
