"""Aggregation rules over GraphQL: at most N notified new alerts per group and window.

The rest are stored with ``noiseSuppressed: true`` and an
``alert.noise_suppressed`` event; ``alertGroups`` shows the counts.
"""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from server.core.clock import FrozenClock
from tests.conftest import Workspace
from tests.graphql_client import GraphQLClient

RULE_FIELDS = """
  id name groupBy windowSeconds maxNotifications matchers { label op value } createdAt updatedAt
"""
CREATE = f"""
mutation($input: AggregationRuleInput!) {{
  createAggregationRule(input: $input) {{ {RULE_FIELDS} }}
}}"""
UPDATE = f"""
mutation($id: ID!, $input: AggregationRuleInput!) {{
  updateAggregationRule(id: $id, input: $input) {{ {RULE_FIELDS} }}
}}"""
DELETE = f"mutation($id: ID!) {{ deleteAggregationRule(id: $id) {{ {RULE_FIELDS} }} }}"
RULES = f"{{ aggregationRules {{ totalCount edges {{ node {{ {RULE_FIELDS} }} }} }} }}"
GROUPS = """
query($ruleId: ID) {
  alertGroups(ruleId: $ruleId) {
    totalCount
    edges { node {
      ruleId groupLabels windowAlerts windowNotified windowSuppressed
      totalAlerts totalSuppressed windowStartedAt windowEndsAt lastAlertAt
    } }
  }
}"""
ALERT_FIELDS = "id fingerprint silenced noiseSuppressed occurrenceCount"
RAISE = f"mutation($input: AlertInput!) {{ raiseAlert(input: $input) {{ {ALERT_FIELDS} }} }}"
RAISE_MANY = f"""
mutation($inputs: [AlertInput!]!) {{ raiseAlerts(inputs: $inputs) {{ {ALERT_FIELDS} }} }}"""
ALERT = "query($id: ID!) { alert(id: $id) { noiseSuppressed events { type payload } } }"
CREATE_SILENCE = "mutation($input: SilenceRuleInput!) { createSilenceRule(input: $input) { id } }"
RESOLVE = "mutation($id: ID!) { resolveAlert(id: $id) { status } }"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def matcher(label: str, op: str, value: str) -> dict[str, str]:
    return {"label": label, "op": op, "value": value}


def rule_input(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "per service and region",
        "groupBy": ["service", "region"],
        "windowSeconds": 600,
        "maxNotifications": 2,
    }
    fields.update(overrides)
    return fields


async def create_rule(gql: GraphQLClient, key: str, **overrides: Any) -> dict[str, Any]:
    rule: dict[str, Any] = (await gql.data(CREATE, {"input": rule_input(**overrides)}, key=key))[
        "createAggregationRule"
    ]
    return rule


def alert_input(fingerprint: str, *, service: str = "checkout", **labels: str) -> dict[str, Any]:
    return {
        "service": service,
        "summary": f"{service} failing ({fingerprint})",
        "severity": "CRITICAL",
        "labels": labels,
        "fingerprint": fingerprint,
    }


async def raise_alert(
    gql: GraphQLClient, key: str, fingerprint: str, *, service: str = "checkout", **labels: str
) -> dict[str, Any]:
    variables = {"input": alert_input(fingerprint, service=service, **labels)}
    alert: dict[str, Any] = (await gql.data(RAISE, variables, key=key))["raiseAlert"]
    return alert


async def suppressed_flags(
    gql: GraphQLClient,
    key: str,
    fingerprints: list[str],
    *,
    service: str = "checkout",
    **labels: str,
) -> list[bool]:
    """Raise one new alert per fingerprint, one after the other; their noiseSuppressed."""
    flags = []
    for fingerprint in fingerprints:
        alert = await raise_alert(gql, key, fingerprint, service=service, **labels)
        flags.append(alert["noiseSuppressed"])
    return flags


async def groups(
    gql: GraphQLClient, key: str, rule_id: str | None = None
) -> dict[tuple[tuple[str, str], ...], dict[str, Any]]:
    """The alert groups by their sorted label values."""
    found = (await gql.data(GROUPS, {"ruleId": rule_id}, key=key))["alertGroups"]
    by_labels = {
        tuple(sorted(edge["node"]["groupLabels"].items())): edge["node"] for edge in found["edges"]
    }
    assert found["totalCount"] == len(by_labels) == len(found["edges"])
    return by_labels


def counts(group: dict[str, Any]) -> tuple[int, int, int, int, int]:
    return (
        group["windowAlerts"],
        group["windowNotified"],
        group["windowSuppressed"],
        group["totalAlerts"],
        group["totalSuppressed"],
    )


async def events_of(gql: GraphQLClient, key: str, alert_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = (await gql.data(ALERT, {"id": alert_id}, key=key))["alert"][
        "events"
    ]
    return events


async def rules_listed(gql: GraphQLClient, key: str) -> list[dict[str, Any]]:
    found = (await gql.data(RULES, key=key))["aggregationRules"]
    rules: list[dict[str, Any]] = [edge["node"] for edge in found["edges"]]
    assert found["totalCount"] == len(rules)
    return rules


CHECKOUT_EU = (("region", "eu"), ("service", "checkout"))
CHECKOUT_US = (("region", "us"), ("service", "checkout"))
PAYMENTS_EU = (("region", "eu"), ("service", "payments"))


# --- managing rules ----------------------------------------------------------


async def test_create_list_update_and_delete_an_aggregation_rule(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace, clock: FrozenClock
) -> None:
    key = workspace.developer
    rule = await create_rule(gql, key, matchers=[matcher("env", "RE", "prod|stag.*")])
    assert rule["name"] == "per service and region"
    assert rule["groupBy"] == ["service", "region"]
    assert (rule["windowSeconds"], rule["maxNotifications"]) == (600, 2)
    assert rule["matchers"] == [matcher("env", "RE", "prod|stag.*")]
    assert datetime.fromisoformat(rule["createdAt"]) == clock.now()
    assert await rules_listed(gql, workspace.viewer) == [rule]
    assert await rules_listed(gql, other_workspace.viewer) == []

    # Left out, the matchers are empty: the rule groups every alert.
    second = await create_rule(gql, key, name="  everything  ", groupBy=[], maxNotifications=0)
    assert second["name"] == "everything"
    assert second["matchers"] == []
    assert [r["id"] for r in await rules_listed(gql, workspace.viewer)] == [
        second["id"],
        rule["id"],
    ]

    changes = rule_input(
        name="per service",
        groupBy=["service"],
        windowSeconds=7 * 24 * 3600,
        maxNotifications=5,
        matchers=[matcher("team", "NEQ", "db")],
    )
    updated = (await gql.data(UPDATE, {"id": rule["id"], "input": changes}, key=key))[
        "updateAggregationRule"
    ]
    assert updated["id"] == rule["id"]
    assert updated["name"] == "per service"
    assert updated["groupBy"] == ["service"]
    assert (updated["windowSeconds"], updated["maxNotifications"]) == (604800, 5)
    assert updated["matchers"] == [matcher("team", "NEQ", "db")]
    assert updated["createdAt"] == rule["createdAt"]
    assert updated in await rules_listed(gql, workspace.viewer)

    for query, variables in (
        (UPDATE, {"id": rule["id"], "input": changes}),
        (DELETE, {"id": rule["id"]}),
    ):
        assert await gql.error_code(query, variables, key=other_workspace.admin) == "NOT_FOUND"
        assert await gql.error_code(query, variables, key=workspace.viewer) == "FORBIDDEN"
    assert await gql.error_code(CREATE, {"input": changes}, key=workspace.viewer) == "FORBIDDEN"

    deleted = (await gql.data(DELETE, {"id": rule["id"]}, key=key))["deleteAggregationRule"]
    assert deleted == updated
    assert [r["id"] for r in await rules_listed(gql, workspace.viewer)] == [second["id"]]
    assert await gql.error_code(DELETE, {"id": rule["id"]}, key=key) == "NOT_FOUND"
    variables = {"id": rule["id"], "input": changes}
    assert await gql.error_code(UPDATE, variables, key=key) == "NOT_FOUND"


INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "empty name": ({"name": "   "}, "input.name"),
    "bad label name": ({"groupBy": ["service", "bad-label"]}, "input.groupBy[1]"),
    "label starting with a digit": ({"groupBy": ["1region"]}, "input.groupBy[0]"),
    "duplicate label": ({"groupBy": ["region", "service", "region"]}, "input.groupBy"),
    "too many labels": ({"groupBy": [f"l{index}" for index in range(11)]}, "input.groupBy"),
    "window 0": ({"windowSeconds": 0}, "input.windowSeconds"),
    "negative window": ({"windowSeconds": -60}, "input.windowSeconds"),
    "window over 7 days": ({"windowSeconds": 7 * 24 * 3600 + 1}, "input.windowSeconds"),
    "negative max": ({"maxNotifications": -1}, "input.maxNotifications"),
    "max over 10,000": ({"maxNotifications": 10_001}, "input.maxNotifications"),
    "invalid regex": ({"matchers": [matcher("env", "RE", "a(")]}, "input.matchers[0].value"),
    "bad matcher label": ({"matchers": [matcher("a b", "EQ", "x")]}, "input.matchers[0].label"),
}


@pytest.mark.parametrize("case", list(INVALID))
async def test_invalid_aggregation_rule_is_refused_and_nothing_stored(
    gql: GraphQLClient, workspace: Workspace, case: str
) -> None:
    overrides, expected_field = INVALID[case]
    body = await gql.execute(CREATE, {"input": rule_input(**overrides)}, key=workspace.developer)
    errors = body.get("errors") or []
    assert len(errors) == 1, body
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert errors[0]["extensions"]["field"] == expected_field
    assert await rules_listed(gql, workspace.viewer) == []


async def test_a_refused_update_leaves_the_rule_and_its_groups(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    rule = await create_rule(gql, key)
    await raise_alert(gql, key, "fp-1", region="eu")
    body = await gql.execute(
        UPDATE, {"id": rule["id"], "input": rule_input(windowSeconds=0)}, key=key
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await rules_listed(gql, workspace.viewer) == [rule]
    assert counts((await groups(gql, key))[CHECKOUT_EU]) == (1, 1, 0, 1, 0)


# --- what rules do to alerts ---------------------------------------------------


async def test_at_most_max_notifications_per_group_and_window(
    gql: GraphQLClient, workspace: Workspace, restore_clock: FrozenClock
) -> None:
    key = workspace.developer
    rule = await create_rule(gql, key)
    opened = restore_clock.now()

    eu = [await raise_alert(gql, key, f"eu-{index}", region="eu") for index in range(5)]
    assert [alert["noiseSuppressed"] for alert in eu] == [False, False, True, True, True]
    assert not any(alert["silenced"] for alert in eu)
    # Other groups are counted on their own.
    assert await suppressed_flags(gql, key, ["us-0", "us-1"], region="us") == [False, False]
    assert await suppressed_flags(
        gql, key, ["pay-0", "pay-1", "pay-2"], service="payments", region="eu"
    ) == [False, False, True]

    notified_events = await events_of(gql, key, eu[1]["id"])
    assert [event["type"] for event in notified_events] == ["alert.fired"]
    suppressed_events = await events_of(gql, key, eu[2]["id"])
    assert [event["type"] for event in suppressed_events] == [
        "alert.fired",
        "alert.noise_suppressed",
    ]
    payload = suppressed_events[1]["payload"]
    assert payload["aggregationRuleId"] == rule["id"]
    assert payload["groupLabels"] == {"service": "checkout", "region": "eu"}
    assert payload["noiseSuppressed"] is True
    assert (await gql.data(ALERT, {"id": eu[4]["id"]}, key=key))["alert"]["noiseSuppressed"]

    found = await groups(gql, workspace.viewer)
    assert set(found) == {CHECKOUT_EU, CHECKOUT_US, PAYMENTS_EU}
    checkout_eu = found[CHECKOUT_EU]
    assert checkout_eu["ruleId"] == rule["id"]
    assert counts(checkout_eu) == (5, 2, 3, 5, 3)
    assert datetime.fromisoformat(checkout_eu["windowStartedAt"]) == opened
    assert datetime.fromisoformat(checkout_eu["windowEndsAt"]) == opened + timedelta(seconds=600)
    assert counts(found[CHECKOUT_US]) == (2, 2, 0, 2, 0)
    assert counts(found[PAYMENTS_EU]) == (3, 2, 1, 3, 1)

    # Still inside the window.
    restore_clock.advance(timedelta(seconds=599))
    assert await suppressed_flags(gql, key, ["eu-5"], region="eu") == [True]
    # Exactly at its end the window has passed: a new one opens with this alert.
    restore_clock.advance(timedelta(seconds=1))
    flags = await suppressed_flags(gql, key, ["eu-6", "eu-7", "eu-8"], region="eu")
    assert flags == [False, False, True]
    checkout_eu = (await groups(gql, workspace.viewer))[CHECKOUT_EU]
    assert counts(checkout_eu) == (3, 2, 1, 9, 5)
    reopened = opened + timedelta(seconds=600)
    assert datetime.fromisoformat(checkout_eu["windowStartedAt"]) == reopened
    assert datetime.fromisoformat(checkout_eu["windowEndsAt"]) == reopened + timedelta(seconds=600)
    assert datetime.fromisoformat(checkout_eu["lastAlertAt"]) == reopened
    # The group of another region kept its own window and counts.
    assert counts((await groups(gql, workspace.viewer))[CHECKOUT_US]) == (2, 2, 0, 2, 0)


async def test_a_batch_is_limited_like_single_raises(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    await create_rule(gql, key)
    inputs = [alert_input(f"fp-{index}", region="eu") for index in range(4)]
    raised = (await gql.data(RAISE_MANY, {"inputs": inputs}, key=key))["raiseAlerts"]
    assert [alert["fingerprint"] for alert in raised] == [f"fp-{index}" for index in range(4)]
    assert [alert["noiseSuppressed"] for alert in raised] == [False, False, True, True]
    assert counts((await groups(gql, key))[CHECKOUT_EU]) == (4, 2, 2, 4, 2)
    # The answer agrees with what is stored.
    for alert in raised:
        stored = await gql.data(ALERT, {"id": alert["id"]}, key=key)
        assert stored["alert"]["noiseSuppressed"] is alert["noiseSuppressed"]


async def test_concurrent_raises_keep_to_the_limit(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    """Batches raised at once, each into two groups: the limit holds in each group."""
    key = workspace.developer
    await create_rule(gql, key)

    async def raise_pair(index: int) -> list[dict[str, Any]]:
        inputs = [
            alert_input(f"eu-{index}", region="eu"),
            alert_input(f"us-{index}", region="us"),
        ]
        if index % 2:
            inputs.reverse()
        raised: list[dict[str, Any]] = (await gql.data(RAISE_MANY, {"inputs": inputs}, key=key))[
            "raiseAlerts"
        ]
        return raised

    batches = await asyncio.gather(*(raise_pair(index) for index in range(8)))
    raised = [alert for batch in batches for alert in batch]
    for region in ("eu", "us"):
        flags = [a["noiseSuppressed"] for a in raised if a["fingerprint"].startswith(region)]
        assert sorted(flags) == [False] * 2 + [True] * 6, region
    found = await groups(gql, key)
    assert counts(found[CHECKOUT_EU]) == counts(found[CHECKOUT_US]) == (8, 2, 6, 8, 6)


async def test_repeats_and_silenced_alerts_do_not_count(
    gql: GraphQLClient, workspace: Workspace, clock: FrozenClock
) -> None:
    key = workspace.developer
    await create_rule(gql, key)
    first = await raise_alert(gql, key, "first", region="eu")
    for _ in range(3):  # repeats of an open alert: deduplicated, not new
        again = await raise_alert(gql, key, "first", region="eu")
        assert again["id"] == first["id"]
        assert again["noiseSuppressed"] is False
    assert again["occurrenceCount"] == 4
    assert counts((await groups(gql, key))[CHECKOUT_EU]) == (1, 1, 0, 1, 0)

    silence = {
        "matchers": [matcher("muted", "EQ", "yes")],
        "endsAt": iso(clock.now() + timedelta(hours=1)),
    }
    await gql.data(CREATE_SILENCE, {"input": silence}, key=key)
    for fingerprint in ("muted-1", "muted-2", "muted-3"):
        muted = await raise_alert(gql, key, fingerprint, region="eu", muted="yes")
        assert (muted["silenced"], muted["noiseSuppressed"]) == (True, False)
        assert [event["type"] for event in await events_of(gql, key, muted["id"])] == [
            "alert.fired",
            "alert.suppressed",
        ]
    assert counts((await groups(gql, key))[CHECKOUT_EU]) == (1, 1, 0, 1, 0)

    assert await suppressed_flags(gql, key, ["second", "third"], region="eu") == [False, True]
    assert counts((await groups(gql, key))[CHECKOUT_EU]) == (3, 2, 1, 3, 1)

    # Once resolved, the same fingerprint opens a new alert, which counts.
    await gql.data(RESOLVE, {"id": first["id"]}, key=key)
    reopened = await raise_alert(gql, key, "first", region="eu")
    assert reopened["id"] != first["id"]
    assert reopened["noiseSuppressed"] is True
    assert counts((await groups(gql, key))[CHECKOUT_EU]) == (4, 2, 2, 4, 2)


async def test_an_alert_no_rule_matches_is_never_noise_suppressed(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    rule = await create_rule(
        gql, key, groupBy=["service"], maxNotifications=0, matchers=[matcher("team", "EQ", "db")]
    )
    assert await suppressed_flags(gql, key, ["db-1", "db-2"], team="db") == [True, True]
    flags = await suppressed_flags(gql, key, [f"web-{index}" for index in range(4)], team="web")
    assert flags == [False] * 4
    assert await suppressed_flags(gql, key, ["bare-1", "bare-2"]) == [False, False]
    found = await groups(gql, key)
    assert list(found) == [(("service", "checkout"),)]
    group = found[(("service", "checkout"),)]
    assert group["ruleId"] == rule["id"]
    assert counts(group) == (2, 0, 2, 2, 2)


async def test_the_first_matching_rule_wins(gql: GraphQLClient, workspace: Workspace) -> None:
    key = workspace.developer
    prod = await create_rule(
        gql,
        key,
        name="prod",
        groupBy=["service"],
        maxNotifications=1,
        matchers=[matcher("env", "EQ", "prod")],
    )
    fallback = await create_rule(gql, key, name="all", groupBy=["service"], maxNotifications=3)

    flags = await suppressed_flags(gql, key, ["prod-1", "prod-2", "prod-3"], env="prod")
    assert flags == [False, True, True]
    assert await suppressed_flags(gql, key, ["dev-1", "dev-2", "dev-3"], env="dev") == [False] * 3
    service = (("service", "checkout"),)
    assert counts((await groups(gql, key, prod["id"]))[service]) == (3, 1, 2, 3, 2)
    assert counts((await groups(gql, key, fallback["id"]))[service]) == (3, 3, 0, 3, 0)
    every_group = (await gql.data(GROUPS, {"ruleId": None}, key=key))["alertGroups"]
    assert every_group["totalCount"] == 2

    # Without the first rule, its alerts fall to the next one.
    await gql.data(DELETE, {"id": prod["id"]}, key=key)
    assert await suppressed_flags(gql, key, ["prod-4"], env="prod") == [True]
    assert counts((await groups(gql, key, fallback["id"]))[service]) == (4, 3, 1, 4, 1)
    assert await groups(gql, key, prod["id"]) == {}


async def test_updating_a_rule_restarts_its_groups(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    # The first rule takes the team's alerts, the second all the others.
    other = await create_rule(gql, key, maxNotifications=1, matchers=[matcher("team", "EQ", "db")])
    rule = await create_rule(gql, key, maxNotifications=1)
    assert await suppressed_flags(gql, key, ["a-1", "a-2"], region="eu") == [False, True]
    assert await suppressed_flags(gql, key, ["db-1", "db-2"], region="eu", team="db") == [
        False,
        True,
    ]

    await gql.data(UPDATE, {"id": rule["id"], "input": rule_input(maxNotifications=2)}, key=key)
    assert await groups(gql, key, rule["id"]) == {}
    # The other rule's groups go on.
    assert counts((await groups(gql, key, other["id"]))[CHECKOUT_EU]) == (2, 1, 1, 2, 1)

    flags = await suppressed_flags(gql, key, ["a-3", "a-4", "a-5"], region="eu")
    assert flags == [False, False, True]
    assert counts((await groups(gql, key, rule["id"]))[CHECKOUT_EU]) == (3, 2, 1, 3, 1)


async def test_deleting_a_rule_deletes_its_groups_and_stops_suppressing(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    rule = await create_rule(gql, key, maxNotifications=0)
    assert await suppressed_flags(gql, key, ["a-1"], region="eu") == [True]
    assert len(await groups(gql, key)) == 1
    await gql.data(DELETE, {"id": rule["id"]}, key=key)
    assert await groups(gql, key) == {}
    assert await suppressed_flags(gql, key, ["a-2", "a-3"], region="eu") == [False, False]
    assert await rules_listed(gql, key) == []


async def test_group_labels_missing_on_an_alert_read_as_empty(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    await create_rule(gql, key, groupBy=["region"], maxNotifications=1)
    assert await suppressed_flags(gql, key, ["x-1", "x-2"]) == [False, True]
    assert await suppressed_flags(gql, key, ["y-1"], service="payments") == [True]
    assert await suppressed_flags(gql, key, ["z-1"], region="eu") == [False]
    found = await groups(gql, key)
    assert counts(found[(("region", ""),)]) == (3, 1, 2, 3, 2)
    assert counts(found[(("region", "eu"),)]) == (1, 1, 0, 1, 0)


async def test_an_empty_group_by_puts_every_alert_in_one_group(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    await create_rule(gql, key, groupBy=[], maxNotifications=2)
    assert await suppressed_flags(gql, key, ["a"], region="eu") == [False]
    assert await suppressed_flags(gql, key, ["b"], service="payments") == [False]
    assert await suppressed_flags(gql, key, ["c"], service="search", region="us") == [True]
    assert counts((await groups(gql, key))[()]) == (3, 2, 1, 3, 1)


async def test_rules_of_another_workspace_do_not_apply(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    await create_rule(gql, other_workspace.developer, maxNotifications=0)
    flags = await suppressed_flags(gql, workspace.developer, ["a", "b", "c"], region="eu")
    assert flags == [False, False, False]
    assert await groups(gql, workspace.viewer) == {}
    assert await suppressed_flags(gql, other_workspace.developer, ["a"], region="eu") == [True]
    assert len(await groups(gql, other_workspace.viewer)) == 1


OUT_OF_RANGE_ID = str(2**64)


async def test_an_id_beyond_64_bits_is_not_an_internal_error(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    for query, variables in (
        (UPDATE, {"id": OUT_OF_RANGE_ID, "input": rule_input()}),
        (DELETE, {"id": OUT_OF_RANGE_ID}),
    ):
        code = await gql.error_code(query, variables, key=key)
        assert code in ("NOT_FOUND", "BAD_USER_INPUT"), (query, code)
    body = await gql.execute(GROUPS, {"ruleId": OUT_OF_RANGE_ID}, key=key)
    errors = body.get("errors") or []
    if errors:
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", body
    else:
        assert body["data"]["alertGroups"]["totalCount"] == 0
