"""The Prometheus ecosystem's endpoints: remote write, Alertmanager's alert
intake and Alertmanager's webhook receiver.

Each request is one transaction with its audit record: everything it stores
is committed together, or nothing is (the sender then gets a 5xx and retries
the whole request). What opsgraph refuses inside a request that it otherwise
took (a series or an alert whose labels it cannot store) is answered with 400
once the rest is committed, as Alertmanager and Prometheus-compatible stores
do: the sender logs it and does not retry what would be refused again.
"""

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.alerts import prometheus as prometheus_alerts
from server.audit import service as audit
from server.core.auth import Principal
from server.core.errors import ErrorCode, InvalidInput
from server.core.request_context import current_request_id
from server.core.services import Services
from server.signals import remote_write
from server.transport.guards import error_response
from server.transport.prometheus import wire
from server.transport.prometheus.access import admit, answered, media_type, refusal

REMOTE_WRITE_PATH = "/api/v1/write"
ALERTS_PATH = "/api/v2/alerts"
WEBHOOK_PATH = "/integrations/alertmanager"


def _audit_record(
    principal: Principal, operation: str, target: str, variables: dict[str, Any]
) -> audit.AuditRecord:
    return audit.AuditRecord(
        workspace_id=principal.workspace_id,
        actor_key_id=principal.key_id,
        actor_name=principal.key_name,
        operation=operation,
        target=target,
        outcome="ok",
        error_code=None,
        request_id=current_request_id(),
        variables=variables,
    )


def _partly_refused(message: str, headers: dict[str, str], **extensions: Any) -> Response:
    return error_response(
        message, ErrorCode.BAD_USER_INPUT.value, status=400, headers=headers, **extensions
    )


class PrometheusEndpoints:
    def __init__(self, services: Services) -> None:
        settings = services.settings
        self._services = services
        self._max_decoded = settings.remote_write_max_decoded_bytes
        self._max_batch = settings.max_ingest_batch
        self._max_alerts = settings.max_alert_batch
        self._series_mapping = remote_write.SeriesMapping(
            service_labels=tuple(settings.prometheus_service_labels),
            default_service=settings.prometheus_default_service,
        )
        self._alert_mapping = prometheus_alerts.AlertMapping(
            service_labels=tuple(settings.prometheus_service_labels),
            default_service=settings.prometheus_default_service,
            severity_label=settings.prometheus_severity_label,
            default_severity=prometheus_alerts.Severity(settings.prometheus_default_severity),
        )

    def routes(self) -> list[Route]:
        services = self._services
        return [
            Route(REMOTE_WRITE_PATH, answered(services, self.remote_write), methods=["POST"]),
            Route(ALERTS_PATH, answered(services, self.alerts), methods=["POST"]),
            Route(WEBHOOK_PATH, answered(services, self.webhook), methods=["POST"]),
        ]

    async def remote_write(self, request: Request) -> Response:
        admitted = await admit(self._services, request)
        _check_remote_write_headers(request)
        try:
            decoded = wire.decode_write_request(
                await request.body(), max_decoded_bytes=self._max_decoded
            )
        except wire.BodyTooLargeDecoded as error:
            raise refusal(413, ErrorCode.BAD_USER_INPUT, str(error)) from error
        except wire.UndecodableBody as error:
            raise InvalidInput(str(error)) from error
        principal, services = admitted.principal, self._services
        async with services.outbox.transaction() as session:
            outcome = await remote_write.ingest_series(
                session,
                workspace_id=principal.workspace_id,
                series=decoded.timeseries,
                mapping=self._series_mapping,
                clock=services.clock,
                max_batch=self._max_batch,
            )
            target = f"signals:accepted={outcome.stored},rejected={outcome.rejected_samples}"
            variables = {"series": len(decoded.timeseries), "dropped": outcome.dropped}
            record = _audit_record(principal, "prometheusRemoteWrite", target, variables)
            await audit.record(session, record, now=services.clock.now())
        if outcome.rejected:
            return _partly_refused(
                f"{len(outcome.rejected)} series refused, the rest stored: "
                + outcome.describe_rejections(),
                admitted.headers,
                rejectedSeries=len(outcome.rejected),
            )
        return Response(status_code=204, headers=admitted.headers)

    async def alerts(self, request: Request) -> Response:
        admitted = await admit(self._services, request)
        data = await _json_body(request)
        parsed = prometheus_alerts.parse_postable_alerts(data, max_alerts=self._max_alerts)
        outcome = await self._receive(admitted.principal, parsed, "prometheusAlerts")
        if outcome.rejected:
            return _partly_refused(
                f"{len(outcome.rejected)} alerts refused, the rest taken: "
                + outcome.describe_rejections(),
                admitted.headers,
            )
        return Response(status_code=200, headers=admitted.headers)

    async def webhook(self, request: Request) -> Response:
        admitted = await admit(self._services, request)
        data = await _json_body(request)
        parsed = prometheus_alerts.parse_webhook(data, max_alerts=self._max_alerts)
        outcome = await self._receive(admitted.principal, parsed, "alertmanagerWebhook")
        if outcome.rejected:
            return _partly_refused(
                f"{len(outcome.rejected)} alerts refused, the rest taken: "
                + outcome.describe_rejections(),
                admitted.headers,
            )
        answer = {"firing": outcome.firing, "resolved": outcome.resolved}
        return JSONResponse(answer, headers=admitted.headers)

    async def _receive(
        self, principal: Principal, parsed: prometheus_alerts.ParsedAlerts, operation: str
    ) -> prometheus_alerts.IntakeOutcome:
        services = self._services
        now = services.clock.now()
        async with services.outbox.transaction() as session:
            outcome = await prometheus_alerts.receive(
                session,
                workspace_id=principal.workspace_id,
                parsed=parsed,
                mapping=self._alert_mapping,
                actor=principal.key_name,
                now=now,
            )
            target = (
                f"alerts:firing={outcome.firing},resolved={outcome.resolved},"
                f"rejected={len(outcome.rejected)}"
            )
            variables = {"alerts": len(parsed.alerts) + len(parsed.rejected)}
            await audit.record(
                session, _audit_record(principal, operation, target, variables), now=now
            )
        return outcome


def _check_remote_write_headers(request: Request) -> None:
    """Remote write 1.0 only: a snappy-compressed protobuf ``WriteRequest``.
    Remote write 2.0 senders, told 415, fall back to 1.0."""
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding != "snappy":
        raise refusal(
            415, ErrorCode.BAD_USER_INPUT, "remote write bodies must have Content-Encoding: snappy"
        )
    _, _, parameters = request.headers.get("content-type", "").partition(";")
    proto = parameters.replace(" ", "").partition("proto=")[2]
    version = request.headers.get("x-prometheus-remote-write-version", wire.REMOTE_WRITE_VERSION)
    if (
        media_type(request) not in ("", wire.PROTOBUF_MEDIA_TYPE)
        or proto not in ("", "prometheus.WriteRequest")
        or not version.strip().startswith("0.")
    ):
        raise refusal(
            415,
            ErrorCode.BAD_USER_INPUT,
            "only remote write 1.0 is accepted (Content-Type: application/x-protobuf, "
            f"X-Prometheus-Remote-Write-Version: {wire.REMOTE_WRITE_VERSION})",
        )


async def _json_body(request: Request) -> Any:
    if media_type(request) not in ("", "application/json"):
        raise refusal(415, ErrorCode.BAD_USER_INPUT, "the body must be application/json")
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise InvalidInput("the body is not valid JSON") from error
