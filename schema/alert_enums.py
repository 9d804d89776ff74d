"""The alert enums, shared by the alert types and the alert event filter."""

import strawberry

from server.alerts import drafts

Severity = strawberry.enum(drafts.Severity, name="Severity")
AlertSource = strawberry.enum(drafts.AlertSource, name="AlertSource")
AlertStatus = strawberry.enum(drafts.AlertStatus, name="AlertStatus")
