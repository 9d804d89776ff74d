"""Webhooks to a real receiver on loopback: signed, retried with backoff, receipts.

The job runner is paused (``paused_runner``); each test runs the notification
jobs by hand and moves the clock itself.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from server.core.clock import FrozenClock
from server.core.services import Services
from server.notifications import jobs
from server.notifications.messages import DeliveryStatus
from server.notifications.sending import UNKNOWN_OUTCOME, Sender
from server.notifications.transports import Outcome
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.notifications.helpers import (
    ALERT_EVENTS,
    CONFIRM,
    GET_ROUTE,
    REDELIVER,
    create_route,
    deliveries,
    raise_alert,
    run_jobs,
)
from tests.notifications.receivers import WebhookReceiver, webhook_receiver

PAGES = [{"label": "severity", "op": "EQ", "value": "PAGE"}]
OTHER_SECRET = "whsec_" + "A" * 32


@pytest.fixture
async def receiver() -> Any:
    async with webhook_receiver() as found:
        yield found


async def webhook_route(gql: GraphQLClient, key: str, receiver: WebhookReceiver) -> dict[str, Any]:
    return await create_route(
        gql, key, name="pager", channel="WEBHOOK", url=receiver.url, matchers=PAGES
    )


async def test_a_page_alert_is_posted_once_signed_with_the_route_s_secret(
    gql: GraphQLClient,
    workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
    receiver: WebhookReceiver,
) -> None:
    key = workspace.developer
    route = await webhook_route(gql, key, receiver)
    alert = await raise_alert(gql, key, labels={"region": "eu-1"})
    await raise_alert(gql, key, severity="WARNING", service="search")  # not matched
    await run_jobs(services)
    await run_jobs(services)

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    document = Webhook(route["secret"]).verify(request.body, request.headers)
    assert document["type"] == "opsgraph.notification.v1"
    data = document["data"]
    assert data["alert"]["alertId"] == alert["id"]
    assert data["alert"]["labels"] == {"region": "eu-1"}
    assert (data["reason"], data["route"]["name"], data["attempt"]) == ("fired", "pager", 1)
    assert request.headers["webhook-signature"].startswith("v1,")
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER_SECRET).verify(request.body, request.headers)

    (delivery,) = await deliveries(gql, workspace.viewer)
    assert delivery["status"] == "SUCCEEDED"
    assert (delivery["attempt"], delivery["httpStatus"], delivery["error"]) == (1, 200, None)
    assert delivery["webhookId"] == request.headers["webhook-id"]
    assert data["deliveryId"] == delivery["id"]
    assert delivery["latencyMs"] >= 0
    assert delivery["route"] == {"id": route["id"], "name": "pager"}
    assert delivery["alert"] == {"id": alert["id"], "service": "checkout"}
    assert (delivery["channel"], delivery["reason"], delivery["target"]) == (
        "WEBHOOK",
        "fired",
        receiver.url,
    )
    events = (await gql.data(ALERT_EVENTS, {"id": alert["id"]}, key=key))["alert"]["events"]
    notified = [event["payload"] for event in events if event["type"] == "alert.notified"]
    assert len(notified) == 1
    assert notified[0]["channel"] == "WEBHOOK"
    assert notified[0]["route"] == "pager"
    assert notified[0]["alertId"] == alert["id"]


async def test_a_receiver_failing_twice_gets_three_attempts_with_backoff_and_one_success(
    gql: GraphQLClient,
    workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
    receiver: WebhookReceiver,
) -> None:
    clock, key = paused_runner, workspace.developer
    base = services.settings.notification_backoff_base
    receiver.answer_with(500, 503)
    await webhook_route(gql, key, receiver)
    await raise_alert(gql, key)

    # Other tests' retries may fall due as the clock moves: count what this receiver got.
    for step, received in (
        (timedelta(0), 1),
        (timedelta(0), 1),  # the retry waits
        (base, 2),
        (base * 2 - timedelta(seconds=1), 2),
        (timedelta(seconds=1), 3),
        (timedelta(hours=1), 3),
    ):
        clock.advance(step)
        await run_jobs(services)
        assert len(receiver.requests) == received, step

    assert len(receiver.requests) == 3
    assert len({request.headers["webhook-id"] for request in receiver.requests}) == 1
    attempts = await deliveries(gql, workspace.viewer)
    assert [(a["attempt"], a["status"], a["httpStatus"]) for a in attempts] == [
        (1, "FAILED", 500),
        (2, "FAILED", 503),
        (3, "SUCCEEDED", 200),
    ]
    assert attempts[0]["error"] == "HTTP 500"
    due = [datetime.fromisoformat(attempt["dueAt"]) for attempt in attempts]
    assert (due[1] - due[0], due[2] - due[1]) == (base, base * 2)
    assert len({attempt["webhookId"] for attempt in attempts}) == 1


async def test_a_backlog_larger_than_a_round_is_sent_in_one_run(
    gql: GraphQLClient,
    workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
    receiver: WebhookReceiver,
) -> None:
    one_at_a_time = services.settings.model_copy(update={"notification_send_concurrency": 1})
    await webhook_route(gql, workspace.developer, receiver)
    alerts = [await raise_alert(gql, workspace.developer, labels={"n": str(n)}) for n in range(10)]
    await run_jobs(services, one_at_a_time)  # rounds of 4

    assert len(receiver.requests) == len(alerts)
    assert len({request.headers["webhook-id"] for request in receiver.requests}) == len(alerts)
    attempts = await deliveries(gql, workspace.viewer)
    assert [a["status"] for a in attempts] == ["SUCCEEDED"] * len(alerts)
    for alert in alerts:
        events = await gql.data(ALERT_EVENTS, {"id": alert["id"]}, key=workspace.developer)
        types = [event["type"] for event in events["alert"]["events"]]
        assert types.count("alert.notified") == 1


async def test_an_attempt_whose_claim_ran_out_fails_unknown_and_is_followed_by_a_new_one(
    gql: GraphQLClient,
    workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
    receiver: WebhookReceiver,
) -> None:
    settings = services.settings
    await webhook_route(gql, workspace.developer, receiver)
    await raise_alert(gql, workspace.developer)
    await jobs.dispatch(services)
    departed = Sender(
        outbox=services.outbox, settings=settings, clock=paused_runner, owner="departed"
    )
    (claimed,) = await departed.claim(paused_runner.now())

    paused_runner.advance(settings.notification_claim_lease + timedelta(seconds=1))
    await run_jobs(services)
    assert receiver.requests == []
    paused_runner.advance(settings.notification_backoff_base)
    await run_jobs(services)
    # The departed sender comes back with an outcome: too late, it is not recorded.
    await departed.record([(claimed, Outcome(DeliveryStatus.SUCCEEDED, http_status=200))])

    (request,) = receiver.requests
    first, second = await deliveries(gql, workspace.viewer)
    assert (first["attempt"], first["status"], first["error"]) == (1, "FAILED", UNKNOWN_OUTCOME)
    assert (second["attempt"], second["status"]) == (2, "SUCCEEDED")
    assert request.headers["webhook-id"] == first["webhookId"] == second["webhookId"]


async def test_the_last_attempt_gives_the_message_up(
    gql: GraphQLClient,
    workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
    receiver: WebhookReceiver,
) -> None:
    settings = services.settings.model_copy(update={"notification_max_attempts": 2})
    receiver.answer_with(500, 500, 500)
    await webhook_route(gql, workspace.developer, receiver)
    await raise_alert(gql, workspace.developer)
    for _ in range(4):
        await run_jobs(services, settings)
        paused_runner.advance(timedelta(hours=1))
    attempts = await deliveries(gql, workspace.viewer)
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "FAILED"), (2, "FAILED")]
    assert len(receiver.requests) == 2


async def test_410_gone_disables_the_route(
    gql: GraphQLClient,
    workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
    receiver: WebhookReceiver,
) -> None:
    key = workspace.developer
    receiver.answer_with(410)
    route = await webhook_route(gql, key, receiver)
    await raise_alert(gql, key)
    await run_jobs(services)
    paused_runner.advance(timedelta(hours=1))
    await raise_alert(gql, key, service="payments")
    await run_jobs(services)

    (attempt,) = await deliveries(gql, workspace.viewer)
    assert (attempt["status"], attempt["httpStatus"]) == ("FAILED", 410)
    stored = (await gql.data(GET_ROUTE, {"id": route["id"]}, key=key))["notificationRoute"]
    assert stored["enabled"] is False
    assert "410" in stored["disabledReason"]
    assert len(receiver.requests) == 1
    assert await gql.error_code(REDELIVER, {"id": attempt["id"]}, key=key) == "CONFLICT"


async def test_redirects_are_not_followed(
    gql: GraphQLClient,
    workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
    receiver: WebhookReceiver,
) -> None:
    async with webhook_receiver() as elsewhere:
        receiver.answer_with(302, location=elsewhere.url)
        await webhook_route(gql, workspace.developer, receiver)
        await raise_alert(gql, workspace.developer)
        await run_jobs(services)
        assert elsewhere.requests == []
    (attempt, retry) = await deliveries(gql, workspace.viewer)
    assert (attempt["status"], attempt["httpStatus"]) == ("FAILED", 302)
    assert "not followed" in attempt["error"]
    assert (retry["attempt"], retry["status"]) == (2, "PENDING")


async def test_a_target_refused_at_send_time_is_a_failed_attempt_without_a_request(
    gql: GraphQLClient,
    workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
    receiver: WebhookReceiver,
) -> None:
    strict = services.settings.model_copy(update={"allow_loopback_webhooks": False})
    await webhook_route(gql, workspace.developer, receiver)
    await raise_alert(gql, workspace.developer)
    await run_jobs(services, strict)
    assert receiver.requests == []
    (attempt, _retry) = await deliveries(gql, workspace.viewer)
    assert attempt["status"] == "FAILED"
    assert attempt["httpStatus"] is None
    assert "target refused" in attempt["error"]
    assert "loopback" in attempt["error"]


async def test_redeliver_sends_a_new_attempt_now_with_the_same_webhook_id(
    gql: GraphQLClient,
    workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
    receiver: WebhookReceiver,
) -> None:
    key = workspace.developer
    await webhook_route(gql, key, receiver)
    await raise_alert(gql, key)
    await run_jobs(services)
    (first,) = await deliveries(gql, workspace.viewer)
    assert await gql.error_code(REDELIVER, {"id": first["id"]}, key=workspace.viewer) == (
        "FORBIDDEN"
    )
    again = (await gql.data(REDELIVER, {"id": first["id"]}, key=key))["redeliverNotification"]
    assert (again["attempt"], again["status"], again["webhookId"]) == (
        2,
        "PENDING",
        first["webhookId"],
    )
    await run_jobs(services)
    assert [request.headers["webhook-id"] for request in receiver.requests] == [
        first["webhookId"]
    ] * 2
    statuses = [(a["attempt"], a["status"]) for a in await deliveries(gql, workspace.viewer)]
    assert statuses == [(1, "SUCCEEDED"), (2, "SUCCEEDED")]


async def test_receipts_confirm_a_delivery_over_graphql_and_signed_over_http(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    workspace: Workspace,
    other_workspace: Workspace,
    services: Services,
    paused_runner: FrozenClock,
    receiver: WebhookReceiver,
) -> None:
    key = workspace.developer
    route = await webhook_route(gql, key, receiver)
    await raise_alert(gql, key)
    await raise_alert(gql, key, service="payments")
    await run_jobs(services)
    first, second = await deliveries(gql, workspace.viewer)

    code = await gql.error_code(CONFIRM, {"id": first["id"]}, key=other_workspace.admin)
    assert code == "NOT_FOUND"
    confirmed = (await gql.data(CONFIRM, {"id": first["id"]}, key=key))["confirmDelivery"]
    assert confirmed["confirmedAt"] == paused_runner.now().isoformat()

    def signed(body: bytes, secret: str) -> dict[str, str]:
        now = datetime.now(UTC)
        return {
            "content-type": "application/json",
            "webhook-id": "receipt-1",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign("receipt-1", now, body),
        }

    body = json.dumps({"deliveryId": second["id"]}).encode()
    refused = await http.post(
        "/notifications/receipts", content=body, headers=signed(body, OTHER_SECRET)
    )
    assert refused.status_code == 401
    malformed = await http.post(
        "/notifications/receipts", content=b"[]", headers=signed(b"[]", route["secret"])
    )
    assert malformed.status_code == 400
    answer = await http.post(
        "/notifications/receipts", content=body, headers=signed(body, route["secret"])
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "deliveryId": second["id"],
        "confirmedAt": paused_runner.now().isoformat(),
    }
    stored = {a["id"]: a["confirmedAt"] for a in await deliveries(gql, workspace.viewer)}
    assert stored[second["id"]] == paused_runner.now().isoformat()
