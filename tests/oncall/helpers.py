"""Operations and small builders for the on-call tests."""

from datetime import datetime
from typing import Any

from tests.graphql_client import GraphQLClient

SHIFT_FIELDS = "id schedule person contact startsAt endsAt source"
ROTATION_FIELDS = """
  id schedule name participants { person contact } shiftLengthHours handoffTime timeZone
  startsAt endsAt createdAt updatedAt
"""
OVERRIDE_FIELDS = "id schedule person contact startsAt endsAt createdAt"
SCHEDULE_FIELDS = "id name description fallbackContact feedEnabled feedTokenRotatedAt"

CREATE_SHIFT = f"""
mutation($input: OncallShiftInput!) {{ createOncallShift(input: $input) {{ {SHIFT_FIELDS} }} }}"""
UPDATE_SHIFT = f"""
mutation($id: ID!, $input: OncallShiftInput!) {{
  updateOncallShift(id: $id, input: $input) {{ {SHIFT_FIELDS} }}
}}"""
DELETE_SHIFT = f"mutation($id: ID!) {{ deleteOncallShift(id: $id) {{ {SHIFT_FIELDS} }} }}"
SHIFTS = f"""
query($schedule: String!, $from: DateTime!, $to: DateTime!) {{
  shifts(schedule: $schedule, from: $from, to: $to) {{ {SHIFT_FIELDS} }}
}}"""
ONCALL_NOW = f"""
query($schedule: String) {{ oncallNow(schedule: $schedule) {{ {SHIFT_FIELDS} }} }}"""
CREATE_ROTATION = f"""
mutation($input: OncallRotationInput!) {{
  createOncallRotation(input: $input) {{ {ROTATION_FIELDS} }}
}}"""
UPDATE_ROTATION = f"""
mutation($id: ID!, $input: OncallRotationInput!) {{
  updateOncallRotation(id: $id, input: $input) {{ {ROTATION_FIELDS} }}
}}"""
DELETE_ROTATION = f"mutation($id: ID!) {{ deleteOncallRotation(id: $id) {{ {ROTATION_FIELDS} }} }}"
ROTATIONS = f"""
query($schedule: String) {{
  oncallRotations(schedule: $schedule) {{ totalCount edges {{ node {{ {ROTATION_FIELDS} }} }} }}
}}"""
CREATE_OVERRIDE = f"""
mutation($input: OncallOverrideInput!) {{
  createOncallOverride(input: $input) {{ {OVERRIDE_FIELDS} }}
}}"""
DELETE_OVERRIDE = f"mutation($id: ID!) {{ deleteOncallOverride(id: $id) {{ {OVERRIDE_FIELDS} }} }}"
OVERRIDES = f"""
query($schedule: String) {{
  oncallOverrides(schedule: $schedule) {{ totalCount edges {{ node {{ {OVERRIDE_FIELDS} }} }} }}
}}"""
UPSERT_SCHEDULE = f"""
mutation($input: OncallScheduleInput!) {{
  upsertOncallSchedule(input: $input) {{ {SCHEDULE_FIELDS} }}
}}"""
SCHEDULES = f"{{ oncallSchedules {{ totalCount edges {{ node {{ {SCHEDULE_FIELDS} }} }} }} }}"
ROTATE_TOKEN = f"""
mutation($schedule: String!) {{
  rotateScheduleFeedToken(schedule: $schedule) {{ url token schedule {{ {SCHEDULE_FIELDS} }} }}
}}"""
COVERAGE = """
query($schedule: String!, $from: DateTime!, $to: DateTime!) {
  scheduleCoverage(schedule: $schedule, from: $from, to: $to) {
    gaps { from to } people { person hours }
  }
}"""


def iso(moment: datetime) -> str:
    return moment.isoformat()


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def shift_input(
    schedule: str, person: str, starts_at: datetime, ends_at: datetime, contact: str | None = None
) -> dict[str, Any]:
    return {
        "schedule": schedule,
        "person": person,
        "contact": contact or f"{person}@example.com",
        "startsAt": iso(starts_at),
        "endsAt": iso(ends_at),
    }


def rotation_input(
    schedule: str,
    people: list[str],
    *,
    starts_at: datetime,
    time_zone: str = "UTC",
    handoff: str = "09:00",
    hours: int = 24,
    name: str = "primary",
    **more: Any,
) -> dict[str, Any]:
    return {
        "schedule": schedule,
        "name": name,
        "participants": [{"person": p, "contact": f"{p}@example.com"} for p in people],
        "shiftLengthHours": hours,
        "handoffTime": handoff,
        "timeZone": time_zone,
        "startsAt": iso(starts_at),
        **more,
    }


async def create_shift(gql: GraphQLClient, key: str, **fields: Any) -> dict[str, Any]:
    shift: dict[str, Any] = (
        await gql.data(CREATE_SHIFT, {"input": shift_input(**fields)}, key=key)
    )["createOncallShift"]
    return shift


async def create_rotation(gql: GraphQLClient, key: str, fields: dict[str, Any]) -> dict[str, Any]:
    rotation: dict[str, Any] = (await gql.data(CREATE_ROTATION, {"input": fields}, key=key))[
        "createOncallRotation"
    ]
    return rotation


async def create_override(gql: GraphQLClient, key: str, **fields: Any) -> dict[str, Any]:
    override: dict[str, Any] = (
        await gql.data(CREATE_OVERRIDE, {"input": shift_input(**fields)}, key=key)
    )["createOncallOverride"]
    return override


async def shifts(
    gql: GraphQLClient, key: str, schedule: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    variables = {"schedule": schedule, "from": iso(start), "to": iso(end)}
    found: list[dict[str, Any]] = (await gql.data(SHIFTS, variables, key=key))["shifts"]
    return found


def spans(found: list[dict[str, Any]]) -> list[tuple[str, datetime, datetime, str]]:
    """(person, start, end, source) of each shift, as datetimes."""
    return [(s["person"], moment(s["startsAt"]), moment(s["endsAt"]), s["source"]) for s in found]
