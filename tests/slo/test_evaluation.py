"""Evaluations over synthetic signal histories, each answer worked out by hand."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.core.services import Services
from server.slo import sweep
from tests.conftest import START, Workspace
from tests.graphql_client import GraphQLClient
from tests.slo.helpers import (
    EVALUATION_FIELDS,
    create_policy,
    evaluate,
    ingest,
    matcher,
    rates,
    ratio_policy,
    sample,
    threshold_policy,
)

#: Evaluations run at this moment (the clock stands at START, an hour later).
AT = START - timedelta(hours=1)
WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]


def ago(**delta: float) -> datetime:
    return AT - timedelta(**delta)


def latency(value: float, ts: datetime, count: int = 1, **kwargs: Any) -> list[dict[str, Any]]:
    return [sample(value, ts, **kwargs) for _ in range(count)]


GOOD, BAD = 100.0, 500.0  # against a bound of 300 ms


def burning_history() -> list[dict[str, Any]]:
    """Latency samples at known ages; the comments count them into each window."""
    return [
        *latency(BAD, ago(minutes=1)),
        *latency(GOOD, ago(minutes=1)),  # 5m: 2 samples, 1 bad
        *latency(GOOD, ago(minutes=10), 2),  # 30m: 4, 1 bad
        *latency(BAD, ago(minutes=45)),  # 1h: 5, 2 bad
        *latency(GOOD, ago(minutes=90), 4),  # 2h: 9, 2 bad
        *latency(BAD, ago(hours=3)),
        *latency(GOOD, ago(hours=3), 9),  # 6h: 19, 3 bad
        *latency(GOOD, ago(hours=12), 10),  # 1d: 29, 3 bad
        *latency(GOOD, ago(days=2), 20),  # 3d: 49, 3 bad
        *latency(GOOD, ago(days=5), 48),
        *latency(BAD, ago(days=5), 2),  # 7d: 99, 5 bad
        *latency(BAD, ago(days=7), 5),  # exactly at the window's start: outside
        *latency(BAD, ago(days=8), 100),  # long before the window
        # Not the policy's: another signal name, another service.
        *latency(BAD, ago(minutes=1), 50, name="other_ms"),
        *latency(BAD, ago(minutes=1), 50, service="search"),
    ]


async def test_threshold_sli_budget_and_every_burn_rate(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    policy = await create_policy(gql, key, threshold_policy(objective=99.0, window_days=7))
    await ingest(gql, key, burning_history())
    evaluation = await evaluate(gql, key, policy["id"], AT)
    # 7 days: 99 samples, 94 at or under 300 ms.
    assert (evaluation["good"], evaluation["total"]) == (94.0, 99.0)
    assert evaluation["sli"] == pytest.approx(94 / 99)
    # A 1 % budget: 5 bad of 99 spend 5/99 / 0.01 of it.
    assert evaluation["budgetConsumed"] == pytest.approx(500 / 99)
    assert evaluation["errorBudgetRemaining"] == pytest.approx(1 - 500 / 99)
    assert evaluation["status"] == "EXHAUSTED"
    # Burn rate = bad share / 0.01.
    expected = {
        "5m": 50.0,  # 1 of 2
        "30m": 25.0,  # 1 of 4
        "1h": 40.0,  # 2 of 5
        "2h": 200 / 9,
        "6h": 300 / 19,
        "1d": 300 / 29,
        "3d": 300 / 49,
    }
    assert list(rates(evaluation)) == WINDOWS
    assert rates(evaluation) == pytest.approx(expected)
    assert evaluation["firingPairs"] == ["1h/5m", "6h/30m", "1d/2h", "3d/6h"]
    assert evaluation["evaluatedAt"] == AT.isoformat()
    assert evaluation["lookBack"] is False


async def test_a_pair_whose_short_window_stays_under_the_factor_does_not_fire(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    policy = await create_policy(gql, key, threshold_policy(objective=99.0, window_days=1))
    await ingest(
        gql,
        key,
        [
            *latency(BAD, ago(minutes=2)),
            *latency(GOOD, ago(minutes=2), 9),  # 5m: 1 bad of 10 -> 10x
            *latency(GOOD, ago(minutes=20), 10),  # 30m: 1 of 20 -> 5x
            *latency(BAD, ago(minutes=40), 10),  # 1h and longer: 11 of 30 -> 36.7x
        ],
    )
    evaluation = await evaluate(gql, key, policy["id"], AT)
    long = 1100 / 30
    assert rates(evaluation) == pytest.approx(
        {"5m": 10.0, "30m": 5.0, "1h": long, "2h": long, "6h": long, "1d": long, "3d": long}
    )
    # 1h/5m: 36.7x and 10x (not above 14.4); 6h/30m: 36.7x and 5x (not above 6).
    assert evaluation["firingPairs"] == ["1d/2h", "3d/6h"]


async def test_a_ratio_sli_sums_values_of_the_samples_its_matchers_select(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    pay = [matcher("route", "EQ", "/pay")]
    policy = await create_policy(
        gql,
        key,
        ratio_policy(
            good="http_requests",
            total="http_requests",
            good_matchers=[*pay, matcher("code", "RE", "2..|3..")],
            total_matchers=pay,
            objective=99.5,
            window_days=1,
        ),
    )

    def requests(value: float, code: str, route: str, **age: float) -> dict[str, Any]:
        labels = {"route": route, "code": code}
        return sample(value, ago(**age), name="http_requests", labels=labels)

    await ingest(
        gql,
        key,
        [
            requests(990, "200", "/pay", hours=3),
            requests(4, "302", "/pay", hours=3),
            requests(6, "503", "/pay", hours=3),
            requests(500, "500", "/cart", hours=3),  # another route
            requests(1000, "200", "/pay", days=2),  # outside the day
        ],
    )
    evaluation = await evaluate(gql, key, policy["id"], AT)
    # good 994 of 1000; a 0.5 % budget: 0.6 % bad spends 1.2 of it.
    assert (evaluation["good"], evaluation["total"]) == (994.0, 1000.0)
    assert evaluation["sli"] == pytest.approx(0.994)
    assert evaluation["budgetConsumed"] == pytest.approx(1.2)
    assert evaluation["status"] == "EXHAUSTED"
    assert rates(evaluation)["6h"] == pytest.approx(1.2)
    assert rates(evaluation)["2h"] is None


@pytest.mark.parametrize(
    ("good", "consumed", "status"),
    [
        (96, 0.4, "HEALTHY"),
        (95, 0.5, "WARNING"),
        (93, 0.7, "WARNING"),
        (92, 0.8, "CRITICAL"),
        (91, 0.9, "CRITICAL"),
        (90, 1.0, "EXHAUSTED"),
        (80, 2.0, "EXHAUSTED"),
    ],
)
async def test_status_for_each_band(
    gql: GraphQLClient, workspace: Workspace, good: float, consumed: float, status: str
) -> None:
    key = workspace.developer
    policy = await create_policy(gql, key, ratio_policy(objective=90.0, window_days=1))
    await ingest(
        gql,
        key,
        [
            sample(good, ago(hours=2), name="requests_good"),
            sample(100, ago(hours=2), name="requests_total"),
        ],
    )
    evaluation = await evaluate(gql, key, policy["id"], AT)
    # A 10 % budget: (100 - good) % bad spends (100 - good) / 10 of it.
    assert evaluation["budgetConsumed"] == pytest.approx(consumed)
    assert evaluation["errorBudgetRemaining"] == pytest.approx(1 - consumed)
    assert evaluation["status"] == status


async def test_no_samples_in_the_window_is_no_data(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    policy = await create_policy(gql, key, threshold_policy(window_days=1))
    await ingest(gql, key, latency(BAD, ago(days=2), 10))  # only before the window
    evaluation = await evaluate(gql, key, policy["id"], AT)
    assert evaluation["status"] == "NO_DATA"
    assert (evaluation["good"], evaluation["total"]) == (0.0, 0.0)
    assert evaluation["sli"] is None
    assert evaluation["budgetConsumed"] is None
    assert evaluation["errorBudgetRemaining"] is None
    assert rates(evaluation) == {"5m": None, "30m": None, "1h": None, "2h": None, "6h": None,
                                 "1d": None, "3d": 100.0}  # fmt: skip
    assert evaluation["firingPairs"] == []


@pytest.mark.parametrize(
    "offset", [timedelta(0), timedelta(minutes=17, seconds=30, microseconds=7)]
)
async def test_window_edges(gql: GraphQLClient, workspace: Workspace, offset: timedelta) -> None:
    """``at - w < ts <= at``: a sample exactly at a window's start is outside it."""
    key = workspace.developer
    at = AT + offset
    policy = await create_policy(gql, key, threshold_policy(objective=99.0, window_days=1))
    await ingest(
        gql,
        key,
        [
            sample(GOOD, at),  # inside every window
            sample(BAD, at - timedelta(minutes=5)),  # outside 5m, inside 30m
            sample(BAD, at - timedelta(hours=1)),  # outside 1h, inside 2h
            sample(BAD, at - timedelta(days=1)),  # outside the day, inside 3d
            sample(GOOD, at - timedelta(days=1) + timedelta(microseconds=1)),  # inside the day
            sample(GOOD, at + timedelta(microseconds=1)),  # after ``at``
            # On whole hours, where roll-ups meet raw samples: each counted once.
            sample(GOOD, datetime(2026, 3, 1, 20, tzinfo=UTC)),
            sample(GOOD, datetime(2026, 3, 2, 10, tzinfo=UTC)),
        ],
    )
    evaluation = await evaluate(gql, key, policy["id"], at)
    assert rates(evaluation) == pytest.approx(
        {
            "5m": 0.0,  # at: 1 good
            "30m": 50.0,  # + at-5m: 1 bad of 2
            "1h": 50.0,  # the same: at-1h is outside
            "2h": 50.0,  # + at-1h, 10:00: 2 bad of 4
            "6h": 50.0,
            "1d": 100 * 2 / 6,  # + at-1d+1µs, March 1 20:00: 2 bad of 6
            "3d": 100 * 3 / 7,  # + at-1d
        }
    )
    assert (evaluation["good"], evaluation["total"]) == (4.0, 6.0)


async def test_evaluations_of_each_workspace_read_its_own_signals(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace
) -> None:
    mine = await create_policy(gql, workspace.developer, threshold_policy(window_days=1))
    await ingest(gql, workspace.developer, latency(GOOD, ago(hours=1), 3))
    await ingest(gql, other_workspace.developer, latency(BAD, ago(hours=1), 7))
    evaluation = await evaluate(gql, workspace.developer, mine["id"], AT)
    assert (evaluation["good"], evaluation["total"]) == (3.0, 3.0)
    code = await gql.error_code(
        "mutation($id: ID!) { evaluateSlo(policyId: $id) { id } }",
        {"id": mine["id"]},
        key=other_workspace.developer,
    )
    assert code == "NOT_FOUND"


async def test_at_defaults_to_now_and_may_not_lie_ahead(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    policy = await create_policy(gql, key, threshold_policy())
    evaluation = await evaluate(gql, key, policy["id"])
    assert evaluation["evaluatedAt"] == START.isoformat()
    body = await gql.execute(
        "mutation($id: ID!, $at: DateTime) { evaluateSlo(policyId: $id, at: $at) { id } }",
        {"id": policy["id"], "at": (START + timedelta(seconds=1)).isoformat()},
        key=key,
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "at"
    forbidden = await gql.error_code(
        "mutation($id: ID!) { evaluateSlo(policyId: $id) { id } }",
        {"id": policy["id"]},
        key=workspace.viewer,
    )
    assert forbidden == "FORBIDDEN"


EVALUATIONS = f"""
query($policyId: ID!, $from: DateTime, $to: DateTime, $first: Int, $after: String) {{
  sloEvaluations(policyId: $policyId, from: $from, to: $to, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {EVALUATION_FIELDS} }} }}
  }}
}}"""


async def test_evaluations_are_listed_newest_first_and_a_look_back_changes_nothing(
    gql: GraphQLClient, workspace: Workspace
) -> None:
    key = workspace.developer
    policy = await create_policy(gql, key, threshold_policy(window_days=1))
    await ingest(gql, key, latency(GOOD, ago(hours=3), 4) + latency(BAD, ago(minutes=1), 4))
    moments = [AT - timedelta(hours=2), AT, AT - timedelta(hours=1)]
    for moment in moments:
        await evaluate(gql, key, policy["id"], moment)
    listed = (await gql.data(EVALUATIONS, {"policyId": policy["id"], "first": 2}, key=key))[
        "sloEvaluations"
    ]
    assert listed["totalCount"] == 3
    assert [e["node"]["evaluatedAt"] for e in listed["edges"]] == [
        AT.isoformat(),
        (AT - timedelta(hours=1)).isoformat(),
    ]
    # Evaluated before the newest (AT): a look back, which changed no state.
    assert [e["node"]["lookBack"] for e in listed["edges"]] == [False, True]
    rest = (
        await gql.data(
            EVALUATIONS,
            {"policyId": policy["id"], "after": listed["pageInfo"]["endCursor"]},
            key=key,
        )
    )["sloEvaluations"]
    assert [e["node"]["status"] for e in rest["edges"]] == ["HEALTHY"]
    window = {
        "policyId": policy["id"],
        "from": (AT - timedelta(hours=1)).isoformat(),
        "to": AT.isoformat(),
    }
    ranged = (await gql.data(EVALUATIONS, window, key=key))["sloEvaluations"]
    assert [e["node"]["evaluatedAt"] for e in ranged["edges"]] == [window["from"]]
    read = await gql.data(
        "query($id: ID!) { sloPolicy(id: $id) { status evaluatedAt latestEvaluation { id } } }",
        {"id": policy["id"]},
        key=workspace.viewer,
    )
    assert read["sloPolicy"]["evaluatedAt"] == AT.isoformat()
    assert read["sloPolicy"]["status"] == "EXHAUSTED"


# --- roll-ups against a reference ----------------------------------------------------------


ROUTES = ("/pay", "/cart", "/search")


def random_history(
    rng: random.Random, count: int, *, newest: datetime, span: timedelta = timedelta(days=4)
) -> list[dict[str, Any]]:
    """Latency samples over ``span`` before ``newest``; a third on whole hours or minutes."""
    items = []
    for _ in range(count):
        ts = newest - timedelta(seconds=rng.randrange(int(span.total_seconds())))
        if rng.random() < 0.2:
            ts = ts.replace(minute=0, second=0)
        elif rng.random() < 0.15:
            ts = ts.replace(second=0)
        labels = {"route": rng.choice(ROUTES)}
        items.append(sample(float(rng.randrange(600)), ts, labels=labels))
    return items


def reference(items: list[dict[str, Any]], at: datetime, length: timedelta) -> tuple[int, int]:
    """Good (<= 300 ms) and total samples not of /search, in ``(at - length, at]``."""
    chosen = [
        item
        for item in items
        if at - length < datetime.fromisoformat(item["ts"]) <= at
        and item["labels"]["route"] != "/search"
    ]
    return sum(1 for item in chosen if item["value"] <= 300), len(chosen)


LENGTHS = {
    "5m": timedelta(minutes=5),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
}


def check_against_reference(
    evaluation: dict[str, Any], items: list[dict[str, Any]], at: datetime
) -> None:
    good, total = reference(items, at, timedelta(days=2))
    assert (evaluation["good"], evaluation["total"]) == (good, total)
    for name, length in LENGTHS.items():
        good, total = reference(items, at, length)
        expected = (total - good) / total / 0.02 if total else None
        assert rates(evaluation)[name] == pytest.approx(expected), (name, at)


async def test_roll_ups_agree_with_the_raw_samples_also_after_late_samples(
    gql: GraphQLClient, workspace: Workspace, services: Services
) -> None:
    key = workspace.developer
    rng = random.Random(5)
    not_search = [matcher("route", "NEQ", "/search")]
    policy = await create_policy(
        gql, key, threshold_policy(objective=98.0, window_days=2, matchers=not_search)
    )
    items = random_history(rng, 1500, newest=AT)
    await ingest(gql, key, items)
    moments = [
        AT - timedelta(hours=20, minutes=3, seconds=10),
        AT - timedelta(hours=5),
        AT - timedelta(minutes=2, microseconds=5),
        AT,
    ]
    for at in moments:
        check_against_reference(await evaluate(gql, key, policy["id"], at), items, at)
    # Late samples land in hours rolled up already, 3 hours and 3 days back.
    late = random_history(rng, 300, newest=AT - timedelta(hours=3))
    await ingest(gql, key, late)
    items += late
    check_against_reference(await evaluate(gql, key, policy["id"], AT), items, AT)
    # The sweep sees those of the last day too (it compares the roll-ups of the last
    # 24 hours with the samples each time, older ones every hour or two).
    later = START
    late = random_history(rng, 100, newest=AT - timedelta(hours=2), span=timedelta(hours=20))
    await ingest(gql, key, late)
    items += late
    assert await sweep.sweep(services.outbox, clock=services.clock, workspace_id=int(workspace.id))
    listed = (await gql.data(EVALUATIONS, {"policyId": policy["id"], "first": 1}, key=key))[
        "sloEvaluations"
    ]
    check_against_reference(listed["edges"][0]["node"], items, later)


async def test_a_sweep_of_the_workspace_on_demand_runs_as_a_task(
    gql: GraphQLClient, workspace: Workspace, other_workspace: Workspace, services: Services
) -> None:
    key = workspace.developer
    ids = [
        (await create_policy(gql, key, threshold_policy(name=name)))["id"]
        for name in ("latency", "latency slow")
    ]
    theirs = await create_policy(gql, other_workspace.developer, threshold_policy())
    started = (await gql.data("mutation { startSloSweep { id status kind } }", key=key))[
        "startSloSweep"
    ]
    assert (started["status"], started["kind"]) == ("QUEUED", "slo_sweep")
    assert await services.runner.run_one()  # the runner is paused: run it here
    task = await gql.data(
        "query($id: ID!) { task(id: $id) { status progress result } }",
        {"id": started["id"]},
        key=key,
    )
    assert task["task"] == {
        "status": "SUCCEEDED",
        "progress": 1.0,
        "result": {"evaluated": 2, "policies": 2},
    }
    for policy_id, evaluated in ((ids[0], True), (ids[1], True), (theirs["id"], False)):
        owner = key if evaluated else other_workspace.developer
        read = await gql.data(
            "query($id: ID!) { sloPolicy(id: $id) { evaluatedAt } }", {"id": policy_id}, key=owner
        )
        assert (read["sloPolicy"]["evaluatedAt"] is not None) is evaluated


async def test_old_evaluations_are_pruned(
    gql: GraphQLClient, workspace: Workspace, services: Services
) -> None:
    key = workspace.developer
    policy = await create_policy(gql, key, threshold_policy())
    for at in (AT - timedelta(hours=2), AT):
        await evaluate(gql, key, policy["id"], at)
    await sweep.prune(services.db, now=START, evaluations_older_than=AT - timedelta(hours=1))
    listed = (await gql.data(EVALUATIONS, {"policyId": policy["id"]}, key=key))["sloEvaluations"]
    assert [edge["node"]["evaluatedAt"] for edge in listed["edges"]] == [AT.isoformat()]
