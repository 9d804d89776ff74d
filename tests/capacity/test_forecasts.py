"""Forecasts through GraphQL: a task streamed on taskEvents, the forecast stored,
its alert raised, deduplicated and resolved; and the periodic forecast of every policy."""

import asyncio
import math
from datetime import datetime, timedelta
from typing import Any

from server.core.clock import FrozenClock
from server.core.services import Services
from tests.capacity.helpers import (
    CAPACITY_ALERTS,
    FORECAST,
    FORECASTS,
    TASK,
    UPSERT,
    forecasts_due,
    growing_samples,
    ingest,
    policy_input,
)
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient
from tests.ws_client import subscription_client

TASK_EVENTS = "subscription { taskEvents { type payload } }"
FINISHED = ("task.succeeded", "task.failed", "task.cancelled")


async def _finished_task(gql: GraphQLClient, key: str, task_id: str) -> dict[str, Any]:
    for _ in range(200):
        task: dict[str, Any] = (await gql.data(TASK, {"id": task_id}, key=key))["task"]
        if task["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish")


async def _forecast(gql: GraphQLClient, workspace: Workspace, meter_key: str) -> dict[str, Any]:
    started = await gql.data(FORECAST, {"meterKey": meter_key}, key=workspace.developer)
    task = await _finished_task(gql, workspace.viewer, started["forecastCapacity"]["id"])
    assert task["status"] == "SUCCEEDED", task
    listed = await gql.data(FORECASTS, {"meterKey": meter_key}, key=workspace.viewer)
    newest: dict[str, Any] = listed["capacityForecasts"]["edges"][0]["node"]
    assert newest["id"] == task["result"]["forecastId"]
    return newest


def _days_until(moment: str, now: datetime) -> float:
    return (datetime.fromisoformat(moment) - now) / timedelta(days=1)


async def _capacity_alerts(gql: GraphQLClient, workspace: Workspace) -> list[dict[str, Any]]:
    edges = (await gql.data(CAPACITY_ALERTS, key=workspace.viewer))["alerts"]["edges"]
    return [edge["node"] for edge in edges]


async def test_a_forecast_task_streams_its_events_and_stores_the_forecast(
    gql: GraphQLClient, live_server: str, workspace: Workspace, clock: FrozenClock
) -> None:
    """500 now, growing 20 a day: the warning level (800) in 15 days, the capacity
    (1000) in 25. Tolerance: 2 % of each (the samples wobble by 1)."""
    now = clock.now()
    await ingest(gql, workspace.developer, growing_samples(now))
    await gql.data(UPSERT, {"input": policy_input()}, key=workspace.developer)
    async with subscription_client(live_server, workspace.viewer) as client:
        await client.subscribe(TASK_EVENTS)
        await client.expect_silence(0.3)  # the subscription is live
        started = await gql.data(
            FORECAST, {"meterKey": "checkout/disk_used"}, key=workspace.developer
        )
        task_id = started["forecastCapacity"]["id"]
        assert started["forecastCapacity"]["kind"] == "capacity_forecast"
        types: list[str] = []
        while not types or types[-1] not in FINISHED:
            event = (await client.next_data(wait=10))["taskEvents"]
            if event["payload"]["taskId"] == task_id:
                types.append(event["type"])
                result = event["payload"]["result"]
    assert types == ["task.queued", "task.started", "task.progress", "task.succeeded"]
    listed = await gql.data(FORECASTS, {"meterKey": "checkout/disk_used"}, key=workspace.viewer)
    # The task's forecast (the hourly job may have made one of the meter too).
    by_id = {edge["node"]["id"]: edge["node"] for edge in listed["capacityForecasts"]["edges"]}
    forecast = by_id[result["forecastId"]]
    assert result["timeToExhaustion"] == forecast["timeToExhaustion"]
    assert forecast["method"] == "linear"
    assert abs(_days_until(forecast["timeToWarning"], now) - 15) <= 0.3
    assert abs(_days_until(forecast["timeToExhaustion"], now) - 25) <= 0.5
    assert abs(forecast["trendPerDay"] - 20) <= 0.4
    assert abs(forecast["predictedValue"] - 900) <= 10
    assert forecast["lower"] < forecast["predictedValue"] < forecast["upper"]
    assert forecast["points"] == 3 * 24 * 6
    assert forecast["buckets"] == 3 * 24
    assert (forecast["capacity"], forecast["horizonDays"]) == (1000.0, 20)


async def test_a_forecast_over_the_warning_level_raises_one_alert_until_it_is_calm(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    await ingest(gql, workspace.developer, growing_samples(clock.now()))
    await gql.data(UPSERT, {"input": policy_input(horizon_days=20)}, key=workspace.developer)
    await _forecast(gql, workspace, "checkout/disk_used")
    [alert] = await _capacity_alerts(gql, workspace)
    assert (alert["severity"], alert["status"], alert["source"]) == ("WARNING", "FIRING", "RULE")
    assert alert["labels"]["meter_key"] == "checkout/disk_used"
    assert "80%" in alert["summary"]
    await gql.data(UPSERT, {"input": policy_input(horizon_days=30)}, key=workspace.developer)
    await _forecast(gql, workspace, "checkout/disk_used")
    [alert] = await _capacity_alerts(gql, workspace)
    assert (alert["severity"], alert["occurrenceCount"]) == ("CRITICAL", 2)
    await gql.data(UPSERT, {"input": policy_input(capacity=5000)}, key=workspace.developer)
    calm = await _forecast(gql, workspace, "checkout/disk_used")
    assert calm["timeToWarning"] is None
    [alert] = await _capacity_alerts(gql, workspace)
    assert (alert["status"], alert["resolvedBy"]) == ("RESOLVED", "capacity-forecaster")


async def test_a_daily_cycle_is_fitted_and_its_peak_reaches_the_capacity_first(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    """A cycle of +-100 on the trend: the capacity is reached at a daily peak about
    5 days (100 / 20 a day) before the trend line would. Tolerance: 1 day."""
    now = clock.now()
    samples = growing_samples(now, days=4)
    for sample in samples:
        moment = datetime.fromisoformat(sample["ts"])
        phase = (moment.hour * 60 + moment.minute) / 1440
        sample["value"] += 100 * math.sin(2 * math.pi * phase)
    await ingest(gql, workspace.developer, samples)
    await gql.data(UPSERT, {"input": policy_input(horizon_days=30)}, key=workspace.developer)
    forecast = await _forecast(gql, workspace, "checkout/disk_used")
    assert forecast["seasonality"] == ["daily"]
    assert "daily" in forecast["method"]
    assert 18.5 <= _days_until(forecast["timeToExhaustion"], now) <= 21.5


async def test_a_meter_without_enough_history_fails_its_task_and_stores_nothing(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    await gql.data(UPSERT, {"input": policy_input()}, key=workspace.developer)
    started = await gql.data(FORECAST, {"meterKey": "checkout/disk_used"}, key=workspace.developer)
    task = await _finished_task(gql, workspace.viewer, started["forecastCapacity"]["id"])
    assert task["status"] == "FAILED"
    assert "NotEnoughHistory" in task["error"]
    listed = await gql.data(FORECASTS, {"meterKey": None}, key=workspace.viewer)
    assert listed["capacityForecasts"]["totalCount"] == 0


async def test_the_periodic_job_forecasts_every_policy_once_per_interval(
    gql: GraphQLClient, services: Services, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    now = paused_runner.now()
    await ingest(gql, workspace.developer, growing_samples(now))
    await ingest(gql, workspace.developer, growing_samples(now, labels={"mount": "/logs"}))
    for meter, mount in (("disk/data", "/data"), ("disk/logs", "/logs")):
        labels = [{"label": "mount", "op": "EQ", "value": mount}]
        policy = policy_input(meter_key=meter, labels=labels)
        await gql.data(UPSERT, {"input": policy}, key=workspace.developer)
    paused_runner.advance(services.settings.capacity_forecast_interval)
    await forecasts_due(services, paused_runner.now())
    while await services.runner.run_due_periodic():
        pass
    listed = await gql.data(FORECASTS, {"meterKey": None}, key=workspace.viewer)
    meters = sorted(e["node"]["meterKey"] for e in listed["capacityForecasts"]["edges"])
    assert meters == ["disk/data", "disk/logs"]
    assert not await services.runner.run_due_periodic()
    again = await gql.data(FORECASTS, {"meterKey": "disk/logs"}, key=workspace.viewer)
    assert again["capacityForecasts"]["totalCount"] == 1


async def _newest_forecasts(gql: GraphQLClient, workspace: Workspace) -> dict[str, dict[str, Any]]:
    listed = await gql.data(FORECASTS, {"meterKey": None}, key=workspace.viewer)
    newest: dict[str, dict[str, Any]] = {}
    for edge in listed["capacityForecasts"]["edges"]:
        node = edge["node"]
        if int(node["id"]) > int(newest.get(node["meterKey"], {"id": "0"})["id"]):
            newest[node["meterKey"]] = node
    return newest


async def test_roll_ups_kept_between_runs_give_the_forecast_of_a_fresh_build(
    gql: GraphQLClient, services: Services, workspace: Workspace, paused_runner: FrozenClock
) -> None:
    """Meters rolled up by one periodic run and brought up to date by the next
    (after an hour of new samples, some late) forecast exactly as the same meters
    rolled up from scratch by that next run."""
    start = paused_runner.now()
    await ingest(gql, workspace.developer, growing_samples(start))
    await ingest(gql, workspace.developer, growing_samples(start, labels={"mount": "/logs"}))
    data = [{"label": "mount", "op": "EQ", "value": "/data"}]
    kept = {"kept/all": None, "kept/data": data}
    for meter, labels in kept.items():
        await gql.data(
            UPSERT, {"input": policy_input(meter_key=meter, labels=labels)}, key=workspace.developer
        )
    paused_runner.advance(services.settings.capacity_forecast_interval)
    await forecasts_due(services, paused_runner.now())
    while await services.runner.run_due_periodic():
        pass
    later = paused_runner.now()
    late_and_new = [
        sample
        for sample in growing_samples(later, days=1)
        if datetime.fromisoformat(sample["ts"]) >= start - timedelta(minutes=50)
    ]
    await ingest(gql, workspace.developer, late_and_new)
    for meter, labels in kept.items():
        fresh = meter.replace("kept/", "fresh/")
        await gql.data(
            UPSERT, {"input": policy_input(meter_key=fresh, labels=labels)}, key=workspace.developer
        )
    paused_runner.advance(services.settings.capacity_forecast_interval)
    await forecasts_due(services, paused_runner.now())
    while await services.runner.run_due_periodic():
        pass
    newest = await _newest_forecasts(gql, workspace)
    compared = ("points", "buckets", "currentValue", "timeToExhaustion", "trendPerDay", "method")
    for meter in kept:
        ours, theirs = newest[meter], newest[meter.replace("kept/", "fresh/")]
        assert {name: ours[name] for name in compared} == {name: theirs[name] for name in compared}
    assert newest["kept/all"]["points"] > newest["kept/data"]["points"] > 3 * 24 * 6
