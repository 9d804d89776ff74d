"""The dashboard's lists read an index, not the whole table, on PostgreSQL.

Each list is built by its domain's service and paged by ``paginate``, exactly as
a GraphQL request pages it; the statements it runs are captured and explained
(with their parameters) over tables of tens of thousands of rows, analysed so
that the planner chooses as it would in production. A sequential scan of one of
the large tables means a list whose cost grows with the table.

The rows are loaded, into tables emptied first, in a transaction that is rolled
back at the end: the job runner and the other tests never see them.
"""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncSession

from server.alerts import service as alert_service
from server.alerts.service import AlertFilter, AlertStatus, Severity
from server.audit import service as audit_service
from server.audit.service import AuditFilter
from server.core import pagination
from server.core.pagination import Listing, PageRequest
from server.core.services import Services
from server.core.tasks import service as task_service
from server.core.tasks.service import TaskStatus
from server.signals import service as signal_service
from server.signals.service import SignalFilter
from server.slo import service as slo_service
from tests.conftest import make_workspace
from tests.graphql_client import GraphQLClient
from tests.slo.helpers import create_policy

pytestmark = pytest.mark.postgresql_only

ROWS = 40_000
PAGE = 50
NEWEST = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LARGE_TABLES = frozenset({"signals", "alerts", "tasks", "audit_entries", "slo_evaluations"})


@dataclass(frozen=True)
class Loaded:
    session: AsyncSession
    workspace_id: int
    policy_id: int


# The values the lists are narrowed to are rare (1 to 5 % of the rows), as an
# open alert, a failure or one service among many is: a scan that reads the
# newest rows and discards the rest until it has a page reads far more than it
# shows, the more so the older the matching rows are.
# Rows of the dashboard's workspace (7 in 10) and of another one, ids and times
# increasing together as rows arrive: ``:a``/``:b`` are the workspaces,
# ``:newest`` the time of the last row, one second between rows.
WORKSPACE_OF_ROW = "CASE WHEN i % 10 < 7 THEN CAST(:a AS bigint) ELSE CAST(:b AS bigint) END"
TIME_OF_ROW = f"CAST(:newest AS timestamptz) - make_interval(secs => {ROWS} - i)"
LOADS = {
    "signals": f"""
        INSERT INTO signals (workspace_id, service, name, value, labels, ts)
        SELECT {WORKSPACE_OF_ROW}, 'svc-' || (i % 20), 'metric_' || (i / 20 % 10), i,
               '{{"pod": "p"}}', {TIME_OF_ROW}
        FROM generate_series(1, {ROWS}) AS i""",
    "alerts": f"""
        INSERT INTO alerts (workspace_id, fingerprint, source, severity, status, service,
                            summary, labels, occurrence_count, silenced, noise_suppressed,
                            first_fired_at, last_fired_at)
        SELECT {WORKSPACE_OF_ROW}, 'bulk-' || i, 'RULE',
               CASE WHEN i / 13 % 100 = 0 THEN 'PAGE' WHEN i / 13 % 100 < 10 THEN 'CRITICAL'
                    WHEN i / 13 % 100 < 40 THEN 'WARNING' ELSE 'INFO' END,
               CASE WHEN i % 200 = 0 THEN 'FIRING' WHEN i % 200 = 1 THEN 'ACKNOWLEDGED'
                    WHEN i % 200 < 20 THEN 'RESOLVED' ELSE 'CLOSED' END,
               'svc-' || (i / 7 % 100), 'bulk alert', '{{}}', 1, false, false,
               {TIME_OF_ROW}, {TIME_OF_ROW}
        FROM generate_series(1, {ROWS}) AS i""",
    "tasks": f"""
        INSERT INTO tasks (workspace_id, kind, status, params, progress, attempts,
                           cancel_requested, created_at)
        SELECT {WORKSPACE_OF_ROW}, 'bulk',
               CASE WHEN i % 50 = 0 THEN 'FAILED' WHEN i % 50 = 1 THEN 'CANCELLED'
                    ELSE 'SUCCEEDED' END,
               '{{}}', 1.0, 1, false, {TIME_OF_ROW}
        FROM generate_series(1, {ROWS}) AS i""",
    "audit_entries": f"""
        INSERT INTO audit_entries (workspace_id, actor_key_id, actor_name, operation,
                                   outcome, variables, created_at)
        SELECT {WORKSPACE_OF_ROW}, 1000 + i / 10 % 40, 'key-' || (i / 10 % 40),
               'operation' || (i / 3 % 50),
               CASE WHEN i % 100 = 0 THEN 'error' ELSE 'ok' END, '{{}}', {TIME_OF_ROW}
        FROM generate_series(1, {ROWS}) AS i""",
    "slo_evaluations": f"""
        INSERT INTO slo_evaluations (workspace_id, policy_id, evaluated_at, objective,
                                     window_days, good, total, sli, budget_consumed,
                                     budget_remaining, burn_rates, firing_pairs, status,
                                     look_back)
        SELECT CAST(:a AS bigint),
               CASE WHEN i % 10 < 7 THEN CAST(:policy AS bigint)
                    ELSE CAST(:other_policy AS bigint) END,
               {TIME_OF_ROW}, 99.9, 28, 999, 1000, 0.999, 0.5, 0.5, '[]', '[]',
               'HEALTHY', false
        FROM generate_series(1, {ROWS}) AS i""",
}


async def _load(session: AsyncSession, values: dict[str, Any]) -> None:
    # The rows other tests left would make the statistics, hence the plans, depend
    # on which tests ran before; emptied in this transaction, the tables hold just
    # the rows below (the rollback brings the others back).
    await session.execute(text(f"TRUNCATE {', '.join(LOADS)} CASCADE"))
    for statement in LOADS.values():
        await session.execute(text(statement), values)
    for table in LOADS:
        await session.execute(text(f"ANALYZE {table}"))


async def _slo_policy(gql: GraphQLClient, key: str, name: str) -> int:
    sli = {"kind": "RATIO", "goodSignal": f"{name}_good", "totalSignal": f"{name}_total"}
    policy = {"service": "svc-0", "name": name, "objective": 99.9, "windowDays": 28, "sli": sli}
    return int((await create_policy(gql, key, policy))["id"])


@pytest.fixture(scope="module")
async def loaded(services: Services, gql: GraphQLClient, root_key: str) -> AsyncIterator[Loaded]:
    dashboard = await make_workspace(gql, root_key)
    other = await make_workspace(gql, root_key)
    policy = await _slo_policy(gql, dashboard.admin, "availability")
    other_policy = await _slo_policy(gql, dashboard.admin, "checkout_latency")
    async with services.db.sessions() as session:
        transaction = await session.begin()
        try:
            await _load(
                session,
                {
                    "a": int(dashboard.id),
                    "b": int(other.id),
                    "newest": NEWEST,
                    "policy": policy,
                    "other_policy": other_policy,
                },
            )
            yield Loaded(session, int(dashboard.id), policy)
        finally:
            await transaction.rollback()


Statement = tuple[str, tuple[Any, ...]]


async def _statements_of_pages(session: AsyncSession, listing: Listing[Any]) -> list[Statement]:
    """What ``paginate`` runs for the first page and for the page after it, if any."""
    connection = (await session.connection()).sync_connection
    captured: list[Statement] = []

    def capture(
        conn: Connection, _cursor: Any, statement: str, parameters: Any, _c: Any, _m: bool
    ) -> None:
        if conn is connection:
            captured.append((statement, tuple(parameters or ())))

    engine = session.bind
    assert engine is not None
    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        first = await pagination.paginate(session, listing, PageRequest(PAGE, None))
        if first.has_next_page:
            await pagination.paginate(session, listing, PageRequest(PAGE, first.end_cursor))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    assert len(captured) == (2 if first.has_next_page else 1), captured
    return captured


def _scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (node type, relation) of a plan tree that reads a relation."""
    found = []
    if "Relation Name" in plan:
        found.append((plan["Node Type"], plan["Relation Name"]))
    for child in plan.get("Plans", []):
        found.extend(_scans(child))
    return found


async def _explain(session: AsyncSession, statement: Statement) -> dict[str, Any]:
    connection = await session.connection()
    sql, parameters = statement
    result = await connection.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", parameters)
    document = result.scalar_one()
    plan: dict[str, Any] = (json.loads(document) if isinstance(document, str) else document)[0]
    return plan["Plan"]  # type: ignore[no-any-return]


ListingOf = Callable[[Loaded], Awaitable[Listing[Any]]]


async def _signals(loaded: Loaded, filter_: SignalFilter) -> Listing[Any]:
    return await signal_service.list_signals(
        loaded.session, workspace_id=loaded.workspace_id, filter_=filter_
    )


async def _alerts(loaded: Loaded, filter_: AlertFilter) -> Listing[Any]:
    return await alert_service.list_alerts(
        loaded.session, workspace_id=loaded.workspace_id, filter_=filter_
    )


async def _audit(loaded: Loaded, filter_: AuditFilter | None) -> Listing[Any]:
    return audit_service.list_audit_log(workspace_id=loaded.workspace_id, filter=filter_)


async def _tasks(loaded: Loaded, status: TaskStatus | None) -> Listing[Any]:
    return task_service.list_tasks(workspace_id=loaded.workspace_id, status=status)


async def _evaluations(loaded: Loaded, from_: datetime | None, to: datetime | None) -> Listing[Any]:
    return await slo_service.list_evaluations(
        loaded.session,
        workspace_id=loaded.workspace_id,
        policy_id=loaded.policy_id,
        from_=from_,
        to=to,
    )


HOUR_AGO = NEWEST - timedelta(hours=1)
HOURS_AGO = NEWEST - timedelta(hours=6)
OPEN = [AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED]

#: Lists whose filter columns an index leads with: they read the rows they show
#: (and, on the next page, the rows of the page before), not rows they discard.
NARROWED: dict[str, ListingOf] = {
    "signals newest first": lambda d: _signals(d, SignalFilter()),
    "signals of a service": lambda d: _signals(d, SignalFilter(service="svc-3")),
    "signals of a series": lambda d: _signals(d, SignalFilter(service="svc-3", name="metric_4")),
    "alerts newest first": lambda d: _alerts(d, AlertFilter()),
    "open alerts": lambda d: _alerts(d, AlertFilter(statuses=OPEN)),
    "firing alerts": lambda d: _alerts(d, AlertFilter(statuses=[AlertStatus.FIRING])),
    "closed alerts": lambda d: _alerts(d, AlertFilter(statuses=[AlertStatus.CLOSED])),
    "alerts of a service": lambda d: _alerts(d, AlertFilter(service="svc-3")),
    "page alerts": lambda d: _alerts(d, AlertFilter(severities=[Severity.PAGE])),
    "tasks newest first": lambda d: _tasks(d, None),
    "succeeded tasks": lambda d: _tasks(d, TaskStatus.SUCCEEDED),
    "failed tasks": lambda d: _tasks(d, TaskStatus.FAILED),
    "audit log newest first": lambda d: _audit(d, None),
    "audit log of an actor key": lambda d: _audit(d, AuditFilter(actor_key_id=1007)),
    "audit log of an actor name": lambda d: _audit(d, AuditFilter(actor_name="key-7")),
    "audit log of an operation": lambda d: _audit(d, AuditFilter(operation="operation7")),
    "audit log of failures": lambda d: _audit(d, AuditFilter(outcome="error")),
    "audit log of successes": lambda d: _audit(d, AuditFilter(outcome="ok")),
    "slo evaluations newest first": lambda d: _evaluations(d, None, None),
}
#: Lists narrowed by a time range or by several filters at once: an index serves
#: them, though it may pass over rows outside the range on the way.
RANGED: dict[str, ListingOf] = {
    "signals of a series in a time range": lambda d: _signals(
        d, SignalFilter(service="svc-3", name="metric_4", from_=HOURS_AGO, to=HOUR_AGO)
    ),
    "signals of a time range": lambda d: _signals(d, SignalFilter(from_=HOURS_AGO, to=HOUR_AGO)),
    "open page alerts of a service": lambda d: _alerts(
        d, AlertFilter(service="svc-0", statuses=OPEN, severities=[Severity.PAGE])
    ),
    "audit log of a time range": lambda d: _audit(d, AuditFilter(from_=HOURS_AGO, to=HOUR_AGO)),
    "audit log of failures in the last hour": lambda d: _audit(
        d, AuditFilter(outcome="error", from_=HOUR_AGO)
    ),
    "slo evaluations of a time range": lambda d: _evaluations(d, HOURS_AGO, HOUR_AGO),
}

#: Rows a scan may discard: those of the page before (on the next page) and a few
#: of another workspace interleaved with them.
DISCARDED_AT_MOST = 2 * (PAGE + 1)


def _discarded(plan: dict[str, Any]) -> list[tuple[str, int]]:
    """(index or relation, rows read and thrown away) of every scan of a plan tree."""
    found = []
    if plan["Node Type"].endswith("Scan"):
        thrown = plan.get("Rows Removed by Filter", 0) + plan.get(
            "Rows Removed by Index Recheck", 0
        )
        found.append((plan.get("Index Name") or plan.get("Relation Name", "?"), thrown))
    for child in plan.get("Plans", []):
        found.extend(_discarded(child))
    return found


async def _plans(loaded: Loaded, listing_of: ListingOf) -> list[tuple[str, dict[str, Any]]]:
    listing = await listing_of(loaded)
    statements = await _statements_of_pages(loaded.session, listing)
    return [
        (page, await _explain(loaded.session, statement))
        for page, statement in zip(("first", "next"), statements, strict=False)
    ]


def _sequential_scans(plan: dict[str, Any]) -> list[str]:
    return [
        relation
        for node, relation in _scans(plan)
        if node == "Seq Scan" and relation in LARGE_TABLES
    ]


@pytest.mark.parametrize("name", [*NARROWED, *RANGED])
async def test_a_dashboard_list_scans_no_large_table(loaded: Loaded, name: str) -> None:
    for page, plan in await _plans(loaded, {**NARROWED, **RANGED}[name]):
        assert _sequential_scans(plan) == [], f"{name}, {page} page:\n{json.dumps(plan, indent=1)}"


@pytest.mark.parametrize("name", list(NARROWED))
async def test_a_narrowed_list_reads_the_rows_it_shows(loaded: Loaded, name: str) -> None:
    plans = await _plans(loaded, NARROWED[name])
    assert [page for page, _ in plans] == ["first", "next"], "the list must have a next page"
    for page, plan in plans:
        wasteful = [(scan, rows) for scan, rows in _discarded(plan) if rows > DISCARDED_AT_MOST]
        assert wasteful == [], f"{name}, {page} page:\n{json.dumps(plan, indent=1)}"


async def test_the_lists_are_explained_over_the_loaded_rows(loaded: Loaded) -> None:
    """The planner's estimates rest on the loaded rows, so a sequential scan would
    be a real option for it, not a case it never weighs."""
    estimates = await loaded.session.execute(
        text("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(:tables)"),
        {"tables": sorted(LARGE_TABLES)},
    )
    assert {name: tuples >= ROWS for name, tuples in estimates.all()} == dict.fromkeys(
        LARGE_TABLES, True
    )
