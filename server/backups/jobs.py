"""The backups domain's task handlers (backup runs, restore drills) and periodic
jobs: the nightly backup, the monthly drill, retention and the drill cleanup."""

from datetime import timedelta
from typing import Any

from server.backups import schedule, service
from server.backups.drills import drop_leftover_scratches, run_drill
from server.backups.files import no_progress
from server.backups.models import Trigger
from server.backups.retention import expire_backups
from server.backups.runs import BackupPlace, abandon_running_runs, run_backup
from server.backups.service import BACKUP_KIND, DRILL_KIND
from server.core.jobs import TaskHandler, TaskRun
from server.core.services import Services

CLEANUP_INTERVAL = timedelta(minutes=10)
RETENTION_INTERVAL = timedelta(hours=1)
#: Drills start this long after the backups' slot, once the night's backup is done.
DRILL_AFTER_BACKUP = timedelta(hours=1)


def _place(services: Services) -> BackupPlace:
    return BackupPlace(services.settings.backup_dir, services.settings.pg_bin_dir)


def backup_handler(services: Services) -> TaskHandler:
    async def back_up(run: TaskRun) -> dict[str, Any]:
        if run.attempt > 1:
            await abandon_running_runs(
                services.db,
                backup_dir=services.settings.backup_dir,
                now=services.clock.now(),
                task_id=run.task_id,
                older_than=services.clock.now(),
            )
        made = await run_backup(
            services.db,
            _place(services),
            services.clock,
            trigger=Trigger.MANUAL,
            task_id=run.task_id,
            progress=run.progress,
        )
        return {"backupRunId": str(made.id), "sizeBytes": made.size_bytes, "sha256": made.sha256}

    return back_up


def drill_handler(services: Services) -> TaskHandler:
    async def drill(run: TaskRun) -> dict[str, Any]:
        if run.attempt > 1:
            await drop_leftover_scratches(
                services.db,
                backup_dir=services.settings.backup_dir,
                now=services.clock.now(),
                older_than=services.clock.now() - services.settings.backup_work_lease,
                task_id=run.task_id,
            )
        done = await run_drill(
            services.db,
            _place(services),
            services.clock,
            backup_run_id=int(run.params["backup_run_id"]),
            trigger=Trigger.MANUAL,
            task_id=run.task_id,
            progress=run.progress,
        )
        failed = [check["name"] for check in done.checks if not check["passed"]]
        return {
            "restoreDrillId": str(done.id),
            "passed": not failed and bool(done.checks),
            "failedChecks": failed,
        }

    return drill


async def _scheduled_backup(services: Services) -> None:
    settings, now = services.settings, services.clock.now()
    async with services.db.reader() as session:
        last = await service.last_backup_started_at(session)
    offset = settings.backup_schedule_offset
    if schedule.is_due(now, interval=settings.backup_interval, offset=offset, last_started=last):
        await run_backup(
            services.db,
            _place(services),
            services.clock,
            trigger=Trigger.SCHEDULED,
            task_id=None,
            progress=no_progress,
        )


async def _scheduled_drill(services: Services) -> None:
    settings, now = services.settings, services.clock.now()
    async with services.db.reader() as session:
        last = await service.last_drill_started_at(session)
        newest = await service.newest_restorable_run_id(session)
    offset = settings.backup_schedule_offset + DRILL_AFTER_BACKUP
    interval = settings.restore_drill_interval
    if newest is not None and schedule.is_due(
        now, interval=interval, offset=offset, last_started=last
    ):
        await run_drill(
            services.db,
            _place(services),
            services.clock,
            backup_run_id=newest,
            trigger=Trigger.SCHEDULED,
            task_id=None,
            progress=no_progress,
        )


async def expire_old_backups(services: Services) -> list[int]:
    settings = services.settings
    return await expire_backups(
        services.db,
        backup_dir=settings.backup_dir,
        now=services.clock.now(),
        retention=settings.backup_retention,
    )


async def clean_up_after_dead_processes(services: Services) -> None:
    settings, now = services.settings, services.clock.now()
    older_than = now - settings.backup_work_lease
    await drop_leftover_scratches(
        services.db, backup_dir=settings.backup_dir, now=now, older_than=older_than
    )
    await abandon_running_runs(
        services.db, backup_dir=settings.backup_dir, now=now, task_id=None, older_than=older_than
    )


def register(services: Services) -> None:
    runner, settings = services.runner, services.settings
    runner.register(BACKUP_KIND, backup_handler(services))
    runner.register(DRILL_KIND, drill_handler(services))

    async def backup_schedule() -> None:
        await _scheduled_backup(services)

    async def drill_schedule() -> None:
        await _scheduled_drill(services)

    async def retention() -> None:
        await expire_old_backups(services)

    async def cleanup() -> None:
        await clean_up_after_dead_processes(services)

    runner.register_periodic(
        "backup_schedule",
        schedule.check_every(settings.backup_interval),
        backup_schedule,
        background=True,
    )
    runner.register_periodic(
        "restore_drill_schedule",
        schedule.check_every(settings.restore_drill_interval),
        drill_schedule,
        background=True,
    )
    runner.register_periodic("backup_retention", RETENTION_INTERVAL, retention)
    runner.register_periodic("backup_cleanup", CLEANUP_INTERVAL, cleanup)
