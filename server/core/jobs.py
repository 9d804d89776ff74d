"""The job runner: tasks claimed from the database with a lease, and periodic jobs.

Each replica runs one. A task is claimed with ``FOR UPDATE SKIP LOCKED`` (on
PostgreSQL; SQLite has one writer) and leased; the lease is renewed while the
handler runs, and a task whose worker died is taken over once it expires.
Periodic jobs are rows whose ``next_run_at`` one replica advances before it
runs the job, so each period runs once across replicas. A loop runs in every
replica, each in its own task: one pass at once when its wake-up is set, else
after the pause the pass asked for, at most its interval; a loop whose work must
happen once across replicas guards it with row locks of its own.
"""

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from server.core import metrics
from server.core.clock import Clock
from server.core.db import Database
from server.core.events.outbox import Outbox
from server.core.outages import Dependencies
from server.core.tasks import service as tasks
from server.core.tasks.models import PeriodicJob
from server.core.tasks.service import TaskStatus

logger = logging.getLogger(__name__)


class TaskCancelled(Exception):
    pass


class LeaseLost(Exception):
    pass


@dataclass
class TaskRun:
    """What a handler sees of its task; ``progress`` also checks for cancellation."""

    task_id: int
    workspace_id: int
    kind: str
    params: dict[str, Any]
    attempt: int
    runner: "JobRunner"

    async def progress(self, fraction: float) -> None:
        async with self.runner.outbox.transaction() as session:
            task = await tasks.report_progress(
                session,
                task_id=self.task_id,
                owner=self.runner.owner,
                progress=fraction,
                lease=self.runner.lease,
                clock=self.runner.clock,
            )
        if task is None:
            raise LeaseLost(f"task {self.task_id} is no longer ours")
        if task.cancel_requested:
            raise TaskCancelled(f"task {self.task_id} was cancelled")


TaskHandler = Callable[[TaskRun], Awaitable[dict[str, Any]]]
PeriodicJobFunction = Callable[[], Awaitable[None]]
#: One pass of a loop; the seconds until it wants to run again (None: its interval).
LoopPass = Callable[[], Awaitable[float | None]]


@dataclass(frozen=True)
class Periodic:
    name: str
    interval: timedelta
    run: PeriodicJobFunction
    #: Run beside the scheduler rather than in it: a long job (a nightly backup)
    #: must not hold up the other periodic jobs.
    background: bool = False


@dataclass(frozen=True)
class Loop:
    name: str
    interval: timedelta
    run: LoopPass
    wakeup: asyncio.Event
    #: The least time between the starts of two passes: wake-ups that come
    #: sooner are served together by the next pass.
    spacing: float = 0.0


@dataclass
class JobRunner:
    db: Database
    outbox: Outbox
    clock: Clock
    lease: timedelta = timedelta(seconds=30)
    poll_seconds: float = 0.5
    concurrency: int = 2
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    )
    dependencies: Dependencies = field(default_factory=Dependencies)
    handlers: dict[str, TaskHandler] = field(default_factory=dict)
    periodic: dict[str, Periodic] = field(default_factory=dict)
    loops: dict[str, Loop] = field(default_factory=dict)
    #: Called when the runner stops, after its loops: e.g. to finish sends in flight.
    stop_hooks: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _loops: list[asyncio.Task[None]] = field(default_factory=list)
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def register(self, kind: str, handler: TaskHandler) -> None:
        self.handlers[kind] = handler

    def register_periodic(
        self,
        name: str,
        interval: timedelta,
        run: PeriodicJobFunction,
        *,
        background: bool = False,
    ) -> None:
        self.periodic[name] = Periodic(name, interval, run, background)

    def register_loop(
        self,
        name: str,
        interval: timedelta,
        run: LoopPass,
        *,
        wakeup: asyncio.Event,
        spacing: float = 0.0,
    ) -> None:
        """Run ``run`` in every replica while the runner runs: again as soon as
        ``wakeup`` is set (during a pass too) but no sooner than ``spacing``
        seconds after the last pass started, else after the pause it returns,
        bounded by ``interval``."""
        self.loops[name] = Loop(name, interval, run, wakeup, spacing)

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        """Started and not stopped since."""
        return bool(self._loops)

    async def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._work(), name=f"job-worker-{index}")
            for index in range(self.concurrency)
        ]
        if self.periodic:
            self._loops.append(asyncio.create_task(self._schedule(), name="job-scheduler"))
        self._loops.extend(
            asyncio.create_task(self._keep_looping(loop), name=f"job-loop-{loop.name}")
            for loop in self.loops.values()
        )

    async def stop(self) -> None:
        running = [*self._loops, *self._background]
        for loop in running:
            loop.cancel()
        for loop in running:
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        self._loops = []
        for hook in self.stop_hooks:
            await hook()

    def _pause(self, interval: float | None = None) -> float:
        """The poll interval; longer and longer while the database is unreachable."""
        base = self.poll_seconds if interval is None else interval
        return self.dependencies.database.backoff_seconds(base, cap=max(base, 5.0))

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._pause()):
                await self._wake.wait()
        self._wake.clear()

    async def _work(self) -> None:
        while True:
            try:
                ran = await self.run_one()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.dependencies.log_failure(logger, error, "job worker failed to claim a task")
                ran = False
            else:
                self.dependencies.database.succeeded()
            if not ran:
                await self._idle()

    async def run_one(self) -> bool:
        """Claim and run one task; False when none is due."""
        async with self.outbox.transaction() as session:
            task = await tasks.claim_next(
                session,
                owner=self.owner,
                lease=self.lease,
                clock=self.clock,
                kinds=frozenset(self.handlers),
            )
            run = (
                TaskRun(task.id, task.workspace_id, task.kind, task.params, task.attempts, self)
                if task
                else None
            )
        if run is None:
            return False
        await self._execute(run)
        return True

    async def _execute(self, run: TaskRun) -> None:
        renewer = asyncio.create_task(self._keep_lease(run.task_id))
        status, result, error = TaskStatus.SUCCEEDED, None, None
        try:
            result = await self.handlers[run.kind](run)
        except TaskCancelled:
            status = TaskStatus.CANCELLED
        except LeaseLost:
            logger.warning("task %s was taken over; dropping this run", run.task_id)
            return
        except Exception as failure:
            logger.exception("task %s (%s) failed", run.task_id, run.kind)
            status, error = TaskStatus.FAILED, f"{type(failure).__name__}: {failure}"
        finally:
            renewer.cancel()
        async with self.outbox.transaction() as session:
            finished = await tasks.finish(
                session,
                task_id=run.task_id,
                owner=self.owner,
                status=status,
                clock=self.clock,
                result=result,
                error=error,
            )
        outcome = status.value.lower() if finished else "lease_lost"
        metrics.job_runs.labels(kind=run.kind, outcome=outcome).inc()

    async def _keep_lease(self, task_id: int) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            async with self.db.transaction() as session:
                await tasks.renew_lease(
                    session, task_id=task_id, owner=self.owner, lease=self.lease, clock=self.clock
                )

    async def _ensure_periodic_rows(self) -> None:
        if not self.periodic:
            return
        insert = pg_insert if self.db.is_postgresql else sqlite_insert
        now = self.clock.now()
        async with self.db.transaction() as session:
            for name in self.periodic:
                await session.execute(
                    insert(PeriodicJob)
                    .values(name=name, next_run_at=now)
                    .on_conflict_do_nothing(index_elements=["name"])
                )

    async def _schedule(self) -> None:
        while True:
            try:
                await self._ensure_periodic_rows()
                break
            except Exception as error:
                self.dependencies.log_failure(logger, error, "cannot register periodic jobs yet")
                await asyncio.sleep(self._pause())
        while True:
            try:
                while await self.run_due_periodic():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.dependencies.log_failure(logger, error, "periodic job scheduling failed")
            await asyncio.sleep(self._pause())

    async def run_due_periodic(self) -> bool:
        """Claim one due periodic job for this period and run it; False if none is due."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            job = await session.scalar(
                select(PeriodicJob)
                .where(PeriodicJob.name.in_(self.periodic), PeriodicJob.next_run_at <= now)
                .order_by(PeriodicJob.next_run_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if job is None:
                return False
            periodic = self.periodic[job.name]
            job.next_run_at = now + periodic.interval
            job.last_started_at = now
            job.last_owner = self.owner
        if periodic.background:
            running = asyncio.create_task(self._run_periodic(periodic), name=periodic.name)
            self._background.add(running)
            running.add_done_callback(self._background.discard)
        else:
            await self._run_periodic(periodic)
        return True

    async def _run_periodic(self, periodic: Periodic) -> None:
        try:
            await periodic.run()
            metrics.job_runs.labels(kind=periodic.name, outcome="succeeded").inc()
        except Exception as error:
            self.dependencies.log_failure(logger, error, "periodic job %s failed", periodic.name)
            metrics.job_runs.labels(kind=periodic.name, outcome="failed").inc()

    async def _keep_looping(self, loop: Loop) -> None:
        interval = loop.interval.total_seconds()
        started = -math.inf
        while True:
            if (wait := started + loop.spacing - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            started = time.monotonic()
            loop.wakeup.clear()
            pause: float | None = interval
            try:
                pause = await loop.run()
                metrics.job_runs.labels(kind=loop.name, outcome="succeeded").inc()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.dependencies.log_failure(logger, error, "loop %s failed", loop.name)
                metrics.job_runs.labels(kind=loop.name, outcome="failed").inc()
            timeout = interval if pause is None else min(max(pause, 0.0), interval)
            if self.dependencies.database.is_down:  # not woken early: back off instead
                await asyncio.sleep(self._pause(interval))
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await loop.wakeup.wait()
