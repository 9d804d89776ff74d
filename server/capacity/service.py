"""The capacity domain's front door: policies per meter, forecasts on demand (as
tasks run by the job runner) and the forecasts stored.

``policies`` checks and stores policies, ``history`` rolls meters up,
``forecast`` fits them (pure), ``runs`` forecasts policies and ``alerting``
raises their alerts. Services flush and never commit.
"""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.capacity import policies
from server.capacity.models import CapacityForecast, CapacityPolicy
from server.capacity.policies import PolicyDraft, policy_matchers, require_meter_key
from server.capacity.runs import TASK_KIND
from server.core.clock import Clock
from server.core.errors import NotFound
from server.core.pagination import Listing
from server.core.tasks import service as task_service
from server.core.tasks.models import Task

__all__ = [
    "TASK_KIND",
    "CapacityForecast",
    "CapacityPolicy",
    "PolicyDraft",
    "list_forecasts",
    "list_policies",
    "policy_matchers",
    "start_forecast",
    "upsert_policy",
]


async def upsert_policy(
    session: AsyncSession, *, workspace_id: int, draft: PolicyDraft, clock: Clock
) -> CapacityPolicy:
    """Create the policy of ``draft.meter_key``, or replace the existing one's settings."""
    return await policies.upsert(session, workspace_id=workspace_id, draft=draft, now=clock.now())


def list_policies(*, workspace_id: int) -> Listing[CapacityPolicy]:
    query = select(CapacityPolicy).where(CapacityPolicy.workspace_id == workspace_id)
    return Listing(query, order=[CapacityPolicy.id])


def list_forecasts(*, workspace_id: int, meter_key: str | None) -> Listing[CapacityForecast]:
    """The workspace's forecasts, of one meter when given, newest first."""
    query = select(CapacityForecast).where(CapacityForecast.workspace_id == workspace_id)
    if meter_key is not None:
        require_meter_key(meter_key, field="meterKey")
        query = query.where(CapacityForecast.meter_key == meter_key)
    return Listing(query, order=[CapacityForecast.id])


async def start_forecast(
    session: AsyncSession,
    *,
    workspace_id: int,
    meter_key: str,
    created_by_key_id: int | None,
    clock: Clock,
) -> Task:
    """Queue a forecast of the meter's policy; the caller wakes the runner after
    the commit. A meter without a policy is not found, and nothing is queued."""
    require_meter_key(meter_key, field="meterKey")
    policy_id = await session.scalar(
        select(CapacityPolicy.id).where(
            CapacityPolicy.workspace_id == workspace_id, CapacityPolicy.meter_key == meter_key
        )
    )
    if policy_id is None:
        raise NotFound(f"no capacity policy has meterKey {meter_key!r}", field="meterKey")
    return await task_service.enqueue(
        session,
        workspace_id=workspace_id,
        kind=TASK_KIND,
        params={"policyId": policy_id},
        created_by_key_id=created_by_key_id,
        clock=clock,
    )
