"""GraphQL documents and small builders shared by the notification tests."""

from typing import Any

from server.core.services import Services
from server.core.settings import Settings
from server.notifications import jobs
from server.notifications.sending import Sender
from tests.graphql_client import GraphQLClient

ROUTE_FIELDS = """
  id name channel url email secret hasSecret matchers { label op value }
  enabled disabledReason createdBy createdAt updatedAt
"""
CREATE_ROUTE = f"""
mutation($input: NotificationRouteInput!) {{
  createNotificationRoute(input: $input) {{ {ROUTE_FIELDS} }}
}}"""
UPDATE_ROUTE = f"""
mutation($id: ID!, $input: NotificationRouteInput!) {{
  updateNotificationRoute(id: $id, input: $input) {{ {ROUTE_FIELDS} }}
}}"""
DELETE_ROUTE = f"mutation($id: ID!) {{ deleteNotificationRoute(id: $id) {{ {ROUTE_FIELDS} }} }}"
GET_ROUTE = f"query($id: ID!) {{ notificationRoute(id: $id) {{ {ROUTE_FIELDS} }} }}"
LIST_ROUTES = "{ notificationRoutes { totalCount edges { node { id name enabled } } } }"
DELIVERY_FIELDS = """
  id channel status attempt httpStatus error latencyMs createdAt dueAt finishedAt
  confirmedAt webhookId reason target route { id name } alert { id service }
"""
DELIVERIES = f"""
query($filter: DeliveryFilter, $first: Int) {{
  notificationDeliveries(filter: $filter, first: $first) {{
    totalCount edges {{ node {{ {DELIVERY_FIELDS} }} }}
  }}
}}"""
REDELIVER = f"""
mutation($id: ID!) {{ redeliverNotification(deliveryId: $id) {{ {DELIVERY_FIELDS} }} }}"""
CONFIRM = f"mutation($id: ID!) {{ confirmDelivery(deliveryId: $id) {{ {DELIVERY_FIELDS} }} }}"
NOTIFICATIONS = """
query($recipient: String, $unreadOnly: Boolean) {
  notifications(recipient: $recipient, unreadOnly: $unreadOnly) {
    totalCount edges { node { id recipient title body createdAt readAt alert { id } } }
  }
}"""
MARK_READ = "mutation($id: ID!) { markNotificationRead(id: $id) { id readAt } }"
RAISE = """
mutation($input: AlertInput!) { raiseAlert(input: $input) { id silenced noiseSuppressed } }"""
ALERT_EVENTS = "query($id: ID!) { alert(id: $id) { events { type payload } } }"


async def create_route(gql: GraphQLClient, key: str, **fields: Any) -> dict[str, Any]:
    route: dict[str, Any] = (await gql.data(CREATE_ROUTE, {"input": fields}, key=key))[
        "createNotificationRoute"
    ]
    return route


async def raise_alert(
    gql: GraphQLClient,
    key: str,
    *,
    service: str = "checkout",
    severity: str = "PAGE",
    labels: dict[str, str] | None = None,
    summary: str = "error rate above 5 %",
) -> dict[str, Any]:
    item = {"service": service, "summary": summary, "severity": severity, "labels": labels or {}}
    alert: dict[str, Any] = (await gql.data(RAISE, {"input": item}, key=key))["raiseAlert"]
    return alert


async def deliveries(gql: GraphQLClient, key: str, **filter_: Any) -> list[dict[str, Any]]:
    """The workspace's deliveries, oldest first."""
    found = await gql.data(DELIVERIES, {"filter": filter_ or None, "first": 500}, key=key)
    return [edge["node"] for edge in reversed(found["notificationDeliveries"]["edges"])]


async def run_jobs(services: Services, settings: Settings | None = None) -> int:
    """Dispatch the fired alerts, then send what is due (with jitter at its ceiling);
    how many attempts were sent."""
    await jobs.dispatch(services)
    sender = Sender(
        outbox=services.outbox,
        settings=settings or services.settings,
        clock=services.clock,
        owner=services.runner.owner,
        uniform=lambda: 1.0,
    )
    return await sender.run()
