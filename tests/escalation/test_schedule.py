"""The escalation timing, without a database: which step is due when, repeats, refires."""

from datetime import UTC, datetime, timedelta

import pytest

from server.escalation.schedule import (
    Plan,
    Progress,
    Step,
    TargetKind,
    advance,
    current_step,
    decide,
    due_at,
    handover_step,
    parse_target,
    plan_of,
    start,
)
from server.escalation.service import EscalationReason

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PRIMARY = "oncall://primary"
SECONDARY = "oncall://secondary"
HOOK = "route://ops-hook"


def minutes(count: float) -> timedelta:
    return timedelta(minutes=count)


def make_plan(*delays_and_targets: tuple[int, tuple[str, ...]], repeat: int = 0) -> Plan:
    steps = tuple(Step(minutes(delay), targets) for delay, targets in delays_and_targets)
    return Plan(steps=steps, repeat=repeat, refire_threshold=3)


TWO_STEPS = make_plan((5, (PRIMARY,)), (10, (SECONDARY, HOOK)), repeat=1)


def run_all(plan: Plan, progress: Progress) -> list[tuple[int, int, datetime]]:
    """(step, cycle, when) of every ACK_TIMEOUT, each run the moment it is due."""
    ran = []
    while (when := due_at(plan, progress)) is not None:
        decision = decide(plan, progress, occurrences=1, baseline=1, now=when)
        assert decision is not None
        assert decision.reason is EscalationReason.ACK_TIMEOUT
        ran.append((decision.step, decision.cycle, when))
        progress = advance(plan, progress, when)
    return ran


def test_step_0_counts_from_the_first_firing_and_later_steps_from_the_previous_step() -> None:
    progress = start(T0)
    assert due_at(TWO_STEPS, progress) == T0 + minutes(5)
    assert decide(TWO_STEPS, progress, occurrences=1, baseline=1, now=T0 + minutes(4.9)) is None
    decision = decide(TWO_STEPS, progress, occurrences=1, baseline=1, now=T0 + minutes(5))
    assert decision is not None
    assert (decision.reason, decision.step, decision.targets) == (
        EscalationReason.ACK_TIMEOUT,
        0,
        (PRIMARY,),
    )
    # Run late: the next delay counts from when the step ran, not from when it was due.
    progress = advance(TWO_STEPS, progress, T0 + minutes(6))
    assert due_at(TWO_STEPS, progress) == T0 + minutes(16)


def test_the_list_starts_over_while_repeats_remain_then_stops() -> None:
    assert run_all(TWO_STEPS, start(T0)) == [
        (0, 0, T0 + minutes(5)),
        (1, 0, T0 + minutes(15)),
        (0, 1, T0 + minutes(20)),
        (1, 1, T0 + minutes(30)),
    ]


@pytest.mark.parametrize(("repeat", "runs"), [(0, 1), (2, 3)])
def test_repeat_is_how_many_more_times_the_list_runs(repeat: int, runs: int) -> None:
    plan = make_plan((1, (PRIMARY,)), (1, (SECONDARY,)), repeat=repeat)
    assert len(run_all(plan, start(T0))) == 2 * runs


def test_a_delay_of_zero_is_due_at_once() -> None:
    plan = make_plan((0, (PRIMARY,)), (0, (SECONDARY,)))
    assert [when for _step, _cycle, when in run_all(plan, start(T0))] == [T0, T0]


def test_refires_escalate_to_the_current_step_without_moving_the_steps() -> None:
    progress = start(T0)
    # Before any step ran, the current step is step 0.
    assert decide(TWO_STEPS, progress, occurrences=3, baseline=1, now=T0) is None
    decision = decide(TWO_STEPS, progress, occurrences=4, baseline=1, now=T0 + minutes(1))
    assert decision is not None
    assert (decision.reason, decision.step) == (EscalationReason.REPEAT_TRIGGER, 0)
    # After step 1 ran, re-fires go to step 1's targets.
    progress = advance(TWO_STEPS, advance(TWO_STEPS, progress, T0 + minutes(5)), T0 + minutes(15))
    assert current_step(TWO_STEPS, progress) == 1
    decision = decide(TWO_STEPS, progress, occurrences=9, baseline=6, now=T0 + minutes(16))
    assert decision is not None
    assert (decision.reason, decision.step, decision.targets, decision.cycle) == (
        EscalationReason.REPEAT_TRIGGER,
        1,
        (SECONDARY, HOOK),
        0,
    )


def test_a_due_step_wins_over_refires() -> None:
    decision = decide(TWO_STEPS, start(T0), occurrences=10, baseline=1, now=T0 + minutes(5))
    assert decision is not None
    assert decision.reason is EscalationReason.ACK_TIMEOUT


def test_refires_still_escalate_once_every_run_is_done() -> None:
    plan = make_plan((1, (PRIMARY,)))
    progress = advance(plan, start(T0), T0 + minutes(1))
    assert due_at(plan, progress) is None
    decision = decide(plan, progress, occurrences=4, baseline=1, now=T0 + minutes(2))
    assert decision is not None
    assert (decision.reason, decision.step) == (EscalationReason.REPEAT_TRIGGER, 0)


def test_a_handover_concerns_the_latest_step_run_that_reaches_the_schedule() -> None:
    plan = make_plan((5, (PRIMARY,)), (10, (HOOK,)), (10, ("oncall://active",)))
    progress = start(T0)
    assert handover_step(plan, progress, "primary") is None  # nothing ran yet
    progress = advance(plan, progress, T0 + minutes(5))
    assert handover_step(plan, progress, "primary") == 0
    assert handover_step(plan, progress, "secondary") is None
    progress = advance(plan, progress, T0 + minutes(15))
    assert handover_step(plan, progress, "primary") == 0
    progress = advance(plan, progress, T0 + minutes(25))
    assert handover_step(plan, progress, "primary") == 2  # oncall://active reaches every one
    assert handover_step(plan, progress, "secondary") == 2


def test_a_policy_that_lost_steps_goes_on_with_the_next_run() -> None:
    long_plan = make_plan((1, (PRIMARY,)), (1, (SECONDARY,)), (1, (HOOK,)), repeat=1)
    progress = advance(long_plan, advance(long_plan, start(T0), T0), T0)  # next: step 2
    short_plan = make_plan((1, (PRIMARY,)), (1, (SECONDARY,)), repeat=1)
    decision = decide(short_plan, progress, occurrences=1, baseline=1, now=T0 + minutes(1))
    assert decision is not None
    assert (decision.step, decision.cycle) == (0, 1)


@pytest.mark.parametrize(
    ("text", "kind", "name"),
    [
        ("oncall://active", TargetKind.ONCALL, "active"),
        ("oncall://db-primary.eu", TargetKind.ONCALL, "db-primary.eu"),
        ("route://Ops pager", TargetKind.ROUTE, "Ops pager"),
    ],
)
def test_targets_are_parsed(text: str, kind: TargetKind, name: str) -> None:
    target = parse_target(text)
    assert target is not None
    assert (target.kind, target.name) == (kind, name)


@pytest.mark.parametrize(
    "text",
    ["", "oncall://", "oncall://has space", "route://", "route:// padded", "mailto:x@y", "primary"],
)
def test_anything_else_is_no_target(text: str) -> None:
    assert parse_target(text) is None


def test_a_plan_reads_the_stored_steps() -> None:
    stored = [{"delay_seconds": 300, "targets": [PRIMARY]}, {"delay_seconds": 0, "targets": []}]
    plan = plan_of(stored, repeat=2, refire_threshold=5)
    assert plan.steps == (Step(minutes(5), (PRIMARY,)), Step(timedelta(0), ()))
    assert (plan.repeat, plan.refire_threshold) == (2, 5)
