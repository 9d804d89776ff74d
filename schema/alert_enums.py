"""The alert enums, shared by the alert types and the alert event filter."""

import strawberry

from server.alerts import service as alerts

Severity = strawberry.enum(alerts.Severity, name="Severity")
AlertSource = strawberry.enum(alerts.AlertSource, name="AlertSource")
AlertStatus = strawberry.enum(alerts.AlertStatus, name="AlertStatus")
