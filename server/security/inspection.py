"""The security inspection task: gathers the facts, runs every check and stores the
run with its items. The task's result names the run and keeps the items in the
shape it had before runs were stored (``verdict`` for the status)."""

from typing import Any

from server.core.clock import Clock
from server.core.db import Database
from server.core.jobs import TaskHandler, TaskRun
from server.core.settings import Settings
from server.security import checks, deployment, facts, service
from server.security.models import SecurityInspectionItem, SecurityInspectionRun


def task_result(run: SecurityInspectionRun, items: list[SecurityInspectionItem]) -> dict[str, Any]:
    return {
        "runId": str(run.id),
        "summary": {"PASS": run.pass_count, "WARN": run.warn_count, "FAIL": run.fail_count},
        "items": [
            {
                "check": item.check,
                "verdict": item.status,
                "detail": item.detail,
                "remediation": item.remediation,
            }
            for item in items
        ],
    }


def inspection_handler(db: Database, settings: Settings, clock: Clock) -> TaskHandler:
    async def inspect(run: TaskRun) -> dict[str, Any]:
        started_at = clock.now()
        async with db.reader() as session:
            done = await service.run_of_task(session, task_id=run.task_id)
            if done is not None:
                [items] = await service.items_of_runs(
                    session, workspace_id=run.workspace_id, run_ids=[done.id]
                )
                return task_result(done, items)
            workspace = await facts.workspace_facts(session, workspace_id=run.workspace_id)
            recovery = await facts.recovery_facts(session, backup_dir=settings.backup_dir)
        await run.progress(0.5)
        now = clock.now()
        found = [
            *checks.workspace_checks(workspace.keys, workspace.webhook_routes, now),
            *deployment.deployment_checks(deployment.deployment_facts(settings), recovery, now),
        ]
        async with db.transaction() as session:
            stored, items = await service.record_run(
                session,
                workspace_id=run.workspace_id,
                task_id=run.task_id,
                started_at=started_at,
                finished_at=clock.now(),
                items=found,
            )
            return task_result(stored, items)

    return inspect
