"""When an alert's escalation acts, and on which step. No I/O.

A policy's steps run in order, each notifying its targets. Step 0 is due its
delay after the alert first fired; every later step is due its delay after the
previous step ran (not after it was due: a late sweep shifts what follows).
After the last step the list starts over at step 0, its delay counted from the
last step, while repeats remain: ``repeat`` is how many more times the list
runs after its first run (PagerDuty's "repeat N times"), so a policy with
``repeat=0`` runs each step once. Then no step is due any more.

Besides the steps (ACK_TIMEOUT), an alert that fires again ``refire_threshold``
times since its last escalation (its occurrence count minus the count then)
escalates at once to the current step's targets (REPEAT_TRIGGER): the step that
ran last, or step 0 while none has. That neither advances nor delays the steps.
A shift handover re-notifies (SHIFT_HANDOVER) when a step that already ran
targets the schedule (``oncall://<schedule>`` or ``oncall://active``).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from server.alerts.escalation import EscalationReason

ONCALL_SCHEME = "oncall://"
ROUTE_SCHEME = "route://"
ACTIVE = "active"
#: A schedule's name, as the on-call domain accepts it.
SCHEDULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
MAX_ROUTE_NAME = 200


class TargetKind(StrEnum):
    ONCALL = "oncall"
    ROUTE = "route"


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    #: The schedule (``active`` for every schedule) or the route's name.
    name: str

    def reaches_schedule(self, schedule: str) -> bool:
        return self.kind is TargetKind.ONCALL and self.name in (ACTIVE, schedule)


def parse_target(text: str) -> Target | None:
    """``oncall://active``, ``oncall://<schedule>`` or ``route://<route name>``; else None."""
    if text.startswith(ONCALL_SCHEME):
        name = text.removeprefix(ONCALL_SCHEME)
        return Target(TargetKind.ONCALL, name) if SCHEDULE_NAME.fullmatch(name) else None
    if text.startswith(ROUTE_SCHEME):
        name = text.removeprefix(ROUTE_SCHEME)
        valid = 0 < len(name) <= MAX_ROUTE_NAME and name == name.strip() and "\x00" not in name
        return Target(TargetKind.ROUTE, name) if valid else None
    return None


@dataclass(frozen=True)
class Step:
    delay: timedelta
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    repeat: int
    refire_threshold: int


@dataclass(frozen=True)
class Progress:
    """Where one alert's escalation stands."""

    #: The step that runs next (may lie past the last step after a policy lost steps).
    next_step: int
    #: The run of the step list under way, from 0.
    cycle: int
    #: When the next step's delay started: the first firing, then the last step run.
    anchor_at: datetime
    #: Steps run so far, over all cycles.
    executed: int = 0


def start(anchor_at: datetime) -> Progress:
    return Progress(next_step=0, cycle=0, anchor_at=anchor_at)


def normalized(plan: Plan, progress: Progress) -> Progress:
    """A progress past the last step (the policy lost steps) moves on to the next run."""
    if plan.steps and progress.next_step >= len(plan.steps):
        return replace(progress, next_step=0, cycle=progress.cycle + 1)
    return progress


def due_at(plan: Plan, progress: Progress) -> datetime | None:
    """When the next step is due; None once every run of the list is done."""
    progress = normalized(plan, progress)
    if not plan.steps or progress.cycle > plan.repeat:
        return None
    return progress.anchor_at + plan.steps[progress.next_step].delay


def advance(plan: Plan, progress: Progress, now: datetime) -> Progress:
    """The progress after the next step ran at ``now``."""
    progress = normalized(plan, progress)
    following = progress.next_step + 1
    cycle = progress.cycle
    if following >= len(plan.steps):
        following, cycle = 0, cycle + 1
    return Progress(following, cycle, now, progress.executed + 1)


def current_step(plan: Plan, progress: Progress) -> int:
    """The step that ran last, or step 0 while none has."""
    if progress.executed == 0 or not plan.steps:
        return 0
    return (progress.next_step - 1) % len(plan.steps)


def steps_run(plan: Plan, progress: Progress) -> list[int]:
    """The steps that have run at least once, in order."""
    if progress.cycle > 0 or progress.executed >= len(plan.steps):
        return list(range(len(plan.steps)))
    return list(range(min(progress.next_step, len(plan.steps))))


def handover_step(plan: Plan, progress: Progress, schedule: str) -> int | None:
    """The latest step run so far that targets ``schedule``; None if none did."""
    reached = [
        index
        for index in steps_run(plan, progress)
        if any(_reaches(target, schedule) for target in plan.steps[index].targets)
    ]
    if not reached:
        return None
    last = current_step(plan, progress)
    # The most recent is the last step run or, before it, the nearest one.
    return max(reached, key=lambda index: (index <= last, index))


def _reaches(target: str, schedule: str) -> bool:
    parsed = parse_target(target)
    return parsed is not None and parsed.reaches_schedule(schedule)


def refire_due(plan: Plan, *, occurrences: int, baseline: int) -> bool:
    return occurrences - baseline >= plan.refire_threshold


@dataclass(frozen=True)
class Decision:
    reason: EscalationReason
    step: int
    targets: tuple[str, ...]
    #: The cycle the step belongs to.
    cycle: int


def decide(
    plan: Plan, progress: Progress, *, occurrences: int, baseline: int, now: datetime
) -> Decision | None:
    """What escalation is due at ``now``, if any: the next step once its delay
    passed (ACK_TIMEOUT), else the current step's targets again after enough
    re-fires (REPEAT_TRIGGER)."""
    if not plan.steps:
        return None
    due = due_at(plan, progress)
    if due is not None and due <= now:
        at = normalized(plan, progress)
        step = plan.steps[at.next_step]
        return Decision(EscalationReason.ACK_TIMEOUT, at.next_step, step.targets, at.cycle)
    if refire_due(plan, occurrences=occurrences, baseline=baseline):
        index = current_step(plan, progress)
        cycle = progress.cycle if progress.next_step != 0 else max(progress.cycle - 1, 0)
        return Decision(EscalationReason.REPEAT_TRIGGER, index, plan.steps[index].targets, cycle)
    return None


def plan_of(steps: Sequence[Mapping[str, Any]], *, repeat: int, refire_threshold: int) -> Plan:
    """A plan from a policy's stored steps (``[{"delay_seconds", "targets"}]``)."""
    return Plan(
        steps=tuple(
            Step(timedelta(seconds=int(step["delay_seconds"])), tuple(step["targets"]))
            for step in steps
        ),
        repeat=repeat,
        refire_threshold=refire_threshold,
    )
