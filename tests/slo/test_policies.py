"""SLO policies: create, read, change, delete; refused inputs; workspace privacy."""

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import START, Workspace
from tests.graphql_client import GraphQLClient
from tests.slo.helpers import (
    CREATE,
    DELETE,
    POLICY,
    UPDATE,
    create_policy,
    evaluate,
    ingest,
    matcher,
    ratio_policy,
    sample,
    slo_alerts,
    spread,
    threshold_policy,
)

POLICIES = """
query($first: Int, $after: String) {
  sloPolicies(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id name } }
  }
}"""


async def test_create_and_read_back_both_kinds(gql: GraphQLClient, workspace: Workspace) -> None:
    key = workspace.developer
    ratio = await create_policy(
        gql,
        key,
        ratio_policy(
            name="  availability  ",
            good_matchers=[matcher("code", "RE", "2..")],
            objective=99.9,
            window_days=28,
            on_exhausted="FREEZE",
        ),
    )
    assert ratio["name"] == "availability"
    assert ratio["objective"] == 99.9
    assert ratio["errorBudget"] == pytest.approx(0.001)
    assert (ratio["onExhausted"], ratio["budgetPolicyState"]) == ("FREEZE", "ACTIVE")
    assert (ratio["status"], ratio["evaluatedAt"]) == (None, None)
    assert ratio["sli"] == {
        "kind": "RATIO",
        "goodSignal": "requests_good",
        "goodMatchers": [{"label": "code", "op": "RE", "value": "2.."}],
        "totalSignal": "requests_total",
        "totalMatchers": [],
        "signal": None,
        "matchers": None,
        "threshold": None,
        "comparator": None,
    }
    threshold = await create_policy(gql, key, threshold_policy(threshold=250, comparator="LT"))
    read = (await gql.data(POLICY, {"id": threshold["id"]}, key=workspace.viewer))["sloPolicy"]
    assert read["sli"]["kind"] == "THRESHOLD"
    assert (read["sli"]["signal"], read["sli"]["threshold"], read["sli"]["comparator"]) == (
        "latency_ms",
        250.0,
        "LT",
    )
    assert read["latestEvaluation"] is None
    listed = (await gql.data(POLICIES, {"first": 1}, key=workspace.viewer))["sloPolicies"]
    assert listed["totalCount"] == 2
    assert [edge["node"]["id"] for edge in listed["edges"]] == [threshold["id"]]
    assert listed["pageInfo"]["hasNextPage"]


def _with(policy: dict[str, Any], **changes: Any) -> dict[str, Any]:
    sli = {**policy["sli"], **changes.pop("sli", {})}
    return {**policy, **changes, "sli": sli}


THRESHOLD = threshold_policy()
RATIO = ratio_policy()


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (_with(THRESHOLD, objective=100), "input.objective"),
        (_with(THRESHOLD, objective=0), "input.objective"),
        (_with(THRESHOLD, objective=-5), "input.objective"),
        (_with(THRESHOLD, windowDays=0), "input.windowDays"),
        (_with(THRESHOLD, windowDays=91), "input.windowDays"),
        (_with(THRESHOLD, service="no spaces"), "input.service"),
        (_with(THRESHOLD, name="   "), "input.name"),
        (_with(THRESHOLD, sli={"threshold": None}), "input.sli.threshold"),
        (_with(THRESHOLD, sli={"comparator": None}), "input.sli.comparator"),
        (_with(THRESHOLD, sli={"signal": None}), "input.sli.signal"),
        (_with(THRESHOLD, sli={"signal": "bad name!"}), "input.sli.signal"),
        (_with(THRESHOLD, sli={"goodSignal": "x"}), "input.sli.goodSignal"),
        (
            _with(THRESHOLD, sli={"matchers": [matcher("route", "RE", "(")]}),
            "input.sli.matchers[0].value",
        ),
        (_with(RATIO, sli={"goodSignal": None}), "input.sli.goodSignal"),
        (_with(RATIO, sli={"totalSignal": None}), "input.sli.totalSignal"),
        (_with(RATIO, sli={"totalSignal": "requests_good"}), "input.sli.totalSignal"),
        (_with(RATIO, sli={"threshold": 3}), "input.sli.threshold"),
        (
            _with(RATIO, sli={"totalMatchers": [matcher("9bad", "EQ", "x")]}),
            "input.sli.totalMatchers[0].label",
        ),
    ],
)
async def test_invalid_policies_are_refused_with_the_field(
    gql: GraphQLClient, workspace: Workspace, policy: dict[str, Any], field: str
) -> None:
    body = await gql.execute(CREATE, {"input": policy}, key=workspace.developer)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == field


async def test_the_same_signal_with_other_matchers_makes_a_valid_ratio(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    same = ratio_policy(good="http_requests", total="http_requests")
    body = await gql.execute(CREATE, {"input": same}, key=workspace.developer)
    assert body["errors"][0]["extensions"]["field"] == "input.sli.totalSignal"
    split = ratio_policy(
        good="http_requests",
        total="http_requests",
        good_matchers=[matcher("code", "NRE", "5..")],
    )
    assert (await create_policy(gql, workspace.developer, split))["sli"]["kind"] == "RATIO"


async def test_unknown_enum_values_are_bad_input_naming_the_field(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    for sli, field in (
        ({"comparator": "ABOUT"}, "input.sli.comparator"),
        ({"kind": "AVERAGE"}, "input.sli.kind"),
    ):
        body = await gql.execute(
            CREATE, {"input": _with(THRESHOLD, sli=sli)}, key=workspace.developer
        )
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == field


async def test_names_are_unique_per_service_and_roles_apply(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    await create_policy(gql, workspace.developer, THRESHOLD)
    assert await gql.error_code(CREATE, {"input": THRESHOLD}, key=workspace.developer) == "CONFLICT"
    other_service = {**THRESHOLD, "service": "search"}
    assert (await create_policy(gql, workspace.developer, other_service))["service"] == "search"
    assert await gql.error_code(CREATE, {"input": RATIO}, key=workspace.viewer) == "FORBIDDEN"
    assert await gql.error_code(POLICIES, {}) == "UNAUTHENTICATED"


async def test_an_update_replaces_the_settings_and_counts_afresh(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    policy = await create_policy(gql, key, threshold_policy(threshold=300, window_days=1))
    at = START - timedelta(hours=1)
    await ingest(gql, key, [sample(value, at - timedelta(hours=5)) for value in (100, 250, 400)])
    assert (await evaluate(gql, key, policy["id"], at))["good"] == 2.0
    changed = threshold_policy(threshold=200, window_days=2, on_exhausted="FREEZE")
    updated = (await gql.data(UPDATE, {"id": policy["id"], "input": changed}, key=key))[
        "updateSloPolicy"
    ]
    assert (updated["windowDays"], updated["sli"]["threshold"]) == (2, 200.0)
    assert updated["onExhausted"] == "FREEZE"
    # The roll-ups counted against the old bound are gone: the same hours count anew.
    assert (await evaluate(gql, key, policy["id"], at))["good"] == 1.0
    missing = await gql.error_code(UPDATE, {"id": "999999", "input": changed}, key=key)
    assert missing == "NOT_FOUND"


async def test_deleting_a_policy_resolves_its_alerts(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    policy = await create_policy(gql, key, threshold_policy(window_days=1))
    at = START - timedelta(hours=1)
    await ingest(gql, key, spread(10, 500, newest=at, every=timedelta(seconds=20)))
    assert (await evaluate(gql, key, policy["id"], at))["firingPairs"]
    deleted = (await gql.data(DELETE, {"id": policy["id"]}, key=key))["deleteSloPolicy"]
    assert deleted["id"] == policy["id"]
    assert (await gql.data(POLICY, {"id": policy["id"]}, key=key))["sloPolicy"] is None
    alerts = await slo_alerts(gql, key)
    assert alerts
    assert {alert["status"] for alert in alerts.values()} == {"RESOLVED"}
    assert {alert["resolvedBy"] for alert in alerts.values()} == {"developer"}
    assert await gql.error_code(DELETE, {"id": policy["id"]}, key=key) == "NOT_FOUND"


async def test_workspaces_see_only_their_own_policies(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    mine = await create_policy(gql, workspace.developer, THRESHOLD)
    theirs = other_workspace.developer
    assert (await gql.data(POLICY, {"id": mine["id"]}, key=theirs))["sloPolicy"] is None
    listed = (await gql.data(POLICIES, {}, key=theirs))["sloPolicies"]
    assert listed["totalCount"] == 0
    update = {"id": mine["id"], "input": THRESHOLD}
    assert await gql.error_code(UPDATE, update, key=theirs) == "NOT_FOUND"
    assert await gql.error_code(DELETE, {"id": mine["id"]}, key=theirs) == "NOT_FOUND"
    evaluations = "query($id: ID!) { sloEvaluations(policyId: $id) { totalCount } }"
    assert await gql.error_code(evaluations, {"id": mine["id"]}, key=theirs) == "NOT_FOUND"
    overview = (await gql.data("{ sloOverview { policies { policy { id } } } }", key=theirs))[
        "sloOverview"
    ]
    assert overview["policies"] == []
