"""Inspections driven through GraphQL, and the apps and databases they inspect."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from server.core.clock import FrozenClock
from server.core.jobs import JobRunner
from server.core.services import Services
from server.core.settings import Settings
from server.transport.app import create_app
from server.transport.cli import bootstrap, migrate
from tests.conftest import Backend, fresh_database_url, make_settings
from tests.graphql_client import GraphQLClient

TIMEOUT = 15.0

START = "mutation { startSecurityInspection { id status kind } }"
TASK = "query($id: ID!) { task(id: $id) { id kind status progress result error } }"
RUN_FIELDS = """
  id taskId startedAt finishedAt passCount warnCount failCount
  items { check status detail remediation }
"""
RUN = f"query($id: ID!) {{ securityInspectionRun(id: $id) {{ {RUN_FIELDS} }} }}"
RUNS = f"""
query($first: Int, $after: String) {{
  securityInspectionRuns(first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }}
    edges {{ cursor node {{ {RUN_FIELDS} }} }}
  }}
}}"""
ME = "{ me { keyId } }"
CREATE_KEY = """
mutation($name: String!, $role: Role!) {
  createApiKey(name: $name, role: $role) { apiKey { id name } secret }
}"""
REVOKE_KEY = "mutation($id: ID!) { revokeApiKey(id: $id) { id } }"
KEYS = "{ apiKeys { edges { node { id name role } } } }"


@dataclass(frozen=True)
class Inspection:
    task: dict[str, Any]
    run: dict[str, Any]

    def item(self, check: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = [item for item in self.run["items"] if item["check"] == check]
        assert len(found) == 1, f"{check} not among {self.run['items']}"
        return found[0]

    def status(self, check: str) -> str:
        status: str = self.item(check)["status"]
        return status

    def detail(self, check: str) -> str:
        detail: str = self.item(check)["detail"]
        return detail


async def _finished_task(
    gql: GraphQLClient, key: str, task_id: str, runner: JobRunner | None
) -> dict[str, Any]:
    while True:
        if runner is not None:
            await runner.run_one()
        task: dict[str, Any] = (await gql.data(TASK, {"id": task_id}, key=key))["task"]
        if task["status"] not in ("QUEUED", "RUNNING"):
            return task
        await asyncio.sleep(0.02)


async def inspect(gql: GraphQLClient, key: str, *, runner: JobRunner | None = None) -> Inspection:
    """Start an inspection and wait for its run: run by ``runner`` when given (a
    paused runner of the session's app), else by the app's own runner."""
    started = (await gql.data(START, key=key))["startSecurityInspection"]
    task = await asyncio.wait_for(_finished_task(gql, key, started["id"], runner), TIMEOUT)
    assert task["status"] == "SUCCEEDED", task
    run = (await gql.data(RUN, {"id": task["result"]["runId"]}, key=key))["securityInspectionRun"]
    assert run is not None
    return Inspection(task=task, run=run)


async def create_key(gql: GraphQLClient, admin: str, name: str, role: str) -> tuple[str, str]:
    """A new key's id and secret."""
    created = (await gql.data(CREATE_KEY, {"name": name, "role": role}, key=admin))["createApiKey"]
    return created["apiKey"]["id"], created["secret"]


async def key_ids(gql: GraphQLClient, admin: str) -> dict[str, str]:
    """The workspace's key ids by name."""
    edges = (await gql.data(KEYS, key=admin))["apiKeys"]["edges"]
    return {edge["node"]["name"]: edge["node"]["id"] for edge in edges}


async def revoke_key(gql: GraphQLClient, admin: str, key_id: str) -> None:
    await gql.data(REVOKE_KEY, {"id": key_id}, key=admin)


@dataclass(frozen=True)
class DrivenApp:
    """An app whose job runner runs only when the test drives it (``run_one``)."""

    gql: GraphQLClient
    services: Services

    async def inspect(self, key: str) -> Inspection:
        return await inspect(self.gql, key, runner=self.services.runner)

    async def run_task(self, started: dict[str, Any], key: str) -> dict[str, Any]:
        finished = _finished_task(self.gql, key, started["id"], self.services.runner)
        task = await asyncio.wait_for(finished, TIMEOUT)
        assert task["status"] == "SUCCEEDED", task
        return task


@asynccontextmanager
async def driven_app(settings: Settings, clock: FrozenClock) -> AsyncIterator[DrivenApp]:
    """An app of these settings that runs no jobs by itself. Its tasks are run by
    ``DrivenApp.run_task``; pause the session's runner too, or it may take them."""
    application = create_app(settings.model_copy(update={"run_jobs": False}), clock=clock)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://driven.test") as http:
            yield DrivenApp(GraphQLClient(http), application.state.services)


@dataclass(frozen=True)
class FreshDeployment:
    """A database of its own, bootstrapped, served by a driven app: no scheduled
    backup or drill runs behind the test's back."""

    app: DrivenApp
    bootstrap_key: str


@asynccontextmanager
async def fresh_deployment(
    backend: Backend, tmp_path: Path, clock: FrozenClock
) -> AsyncIterator[FreshDeployment]:
    """A deployment whose database nothing else writes: its first admin key is the
    bootstrap key, and it has no backups yet."""
    async with fresh_database_url(backend, tmp_path, "opsgraph_fresh") as url:
        settings = make_settings(backend, database_url=url, backup_dir=tmp_path / "backups")
        await migrate(settings)
        secret = await bootstrap(settings)
        assert secret is not None
        async with driven_app(settings, clock) as app:
            yield FreshDeployment(app, secret)
