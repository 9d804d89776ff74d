"""Sweeps running at once (two replicas) never run one step twice, and the job is registered."""

import asyncio
from datetime import timedelta

from server.core.clock import FrozenClock
from server.core.services import Services
from server.escalation import service as escalation
from tests.conftest import START, Workspace
from tests.escalation.helpers import add_shift, create_policy, executions, raise_alert, step
from tests.graphql_client import GraphQLClient

T0 = START + timedelta(days=4)
ALERTS = 40


async def test_concurrent_sweeps_never_execute_the_same_step_twice(
    gql: GraphQLClient, workspace: Workspace, services: Services, paused_runner: FrozenClock
) -> None:
    clock, key = paused_runner, workspace.developer
    clock.set(T0)
    await add_shift(gql, key, "primary", "alice", T0 - timedelta(hours=1), T0 + timedelta(hours=2))
    await create_policy(gql, key, step(60, "oncall://primary"), step(60, "oncall://primary"))
    alert_ids = [(await raise_alert(gql, key, f"alert-{n}"))["id"] for n in range(ALERTS)]

    for steps_run, at in enumerate((60, 120), start=1):
        clock.set(T0 + timedelta(seconds=at))
        # Small batches, so that the two sweeps interleave and compete for rows.
        # (The sweeps serve every workspace: other tests' alerts may escalate too,
        # so the counts are read per alert of this one.)
        await asyncio.gather(
            *(escalation.sweep(services.outbox, now=clock.now(), batch_size=3) for _ in range(2))
        )
        for alert_id in alert_ids:
            found = await executions(gql, workspace.viewer, alert_id)
            expected = [("ACK_TIMEOUT", index) for index in range(steps_run)]
            assert [(e["reason"], e["step"]) for e in found] == expected


def test_the_sweep_runs_periodically_at_its_interval(services: Services) -> None:
    job = services.runner.periodic["escalation_sweep"]
    assert job.interval == services.settings.escalation_sweep_interval == timedelta(seconds=15)
