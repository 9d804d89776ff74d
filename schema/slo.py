"""SLOs: policies, evaluations with error budgets and burn rates, and the overview."""

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.dataloader import DataLoader

from schema.audited import audited_mutation
from schema.context import Context, Info
from schema.ids import parse_id, to_id
from schema.matchers import MatcherInput, MatcherType, to_matchers
from schema.pagination import Connection, connection
from schema.permissions import CanRead
from schema.tasks import TaskType, start_task
from server.core.auth import Permission
from server.slo import service as slo

SliKind = strawberry.enum(slo.SliKind, name="SliKind")
Comparator = strawberry.enum(slo.Comparator, name="Comparator")
SloStatus = strawberry.enum(slo.SloStatus, name="SloStatus")
OnExhausted = strawberry.enum(slo.OnExhausted, name="OnExhausted")
BudgetPolicyState = strawberry.enum(slo.BudgetPolicyState, name="BudgetPolicyState")


@strawberry.input(
    description="RATIO: goodSignal and totalSignal; THRESHOLD: signal, "
    "threshold and comparator. Signals are of the policy's service."
)
class SliInput:
    kind: SliKind  # type: ignore[valid-type]
    good_signal: str | None = None
    good_matchers: list[MatcherInput] | None = None
    total_signal: str | None = None
    total_matchers: list[MatcherInput] | None = None
    signal: str | None = None
    matchers: list[MatcherInput] | None = None
    threshold: float | None = None
    comparator: Comparator | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="A good sample has `value <comparator> threshold`."
    )

    def to_draft(self) -> slo.SliDraft:
        return slo.SliDraft(
            kind=slo.SliKind(self.kind),
            good_signal=self.good_signal,
            good_matchers=to_matchers(self.good_matchers),
            total_signal=self.total_signal,
            total_matchers=to_matchers(self.total_matchers),
            signal=self.signal,
            matchers=to_matchers(self.matchers),
            threshold=self.threshold,
            comparator=slo.Comparator(self.comparator) if self.comparator else None,
        )


@strawberry.input
class SloPolicyInput:
    service: str
    name: str
    objective: float = strawberry.field(description="Percent of good events, e.g. 99.9.")
    window_days: int = strawberry.field(description="The rolling window, 1 to 90 days.")
    sli: SliInput
    on_exhausted: OnExhausted = OnExhausted.NONE  # type: ignore[valid-type]

    def to_draft(self) -> slo.PolicyDraft:
        return slo.PolicyDraft(
            service=self.service,
            name=self.name,
            objective=self.objective,
            window_days=self.window_days,
            sli=self.sli.to_draft(),
            on_exhausted=slo.OnExhausted(self.on_exhausted),
        )


def _matchers(selector: slo.Selector | None) -> list[MatcherType] | None:
    return None if selector is None else [MatcherType.from_matcher(m) for m in selector.matchers]


@strawberry.type(name="Sli")
class SliType:
    kind: SliKind  # type: ignore[valid-type]
    good_signal: str | None
    good_matchers: list[MatcherType] | None
    total_signal: str | None
    total_matchers: list[MatcherType] | None
    signal: str | None
    matchers: list[MatcherType] | None
    threshold: float | None
    comparator: Comparator | None  # type: ignore[valid-type]

    @classmethod
    def from_model(cls, row: slo.SloPolicy) -> "SliType":
        sli = slo.policy_sli(row)
        ratio = sli if isinstance(sli, slo.RatioSli) else None
        threshold = None if isinstance(sli, slo.RatioSli) else sli
        return cls(
            kind=sli.kind,
            good_signal=ratio.good.signal if ratio else None,
            good_matchers=_matchers(ratio.good if ratio else None),
            total_signal=ratio.total.signal if ratio else None,
            total_matchers=_matchers(ratio.total if ratio else None),
            signal=threshold.selector.signal if threshold else None,
            matchers=_matchers(threshold.selector if threshold else None),
            threshold=threshold.threshold if threshold else None,
            comparator=threshold.comparator if threshold else None,
        )


@strawberry.type
class BurnRate:
    window: str = strawberry.field(description='e.g. "5m", "1h", "3d".')
    rate: float | None = strawberry.field(
        description="Budget consumed over the window / its share of the SLO window; "
        "1 spends the budget exactly in the SLO window. Null without events."
    )


@strawberry.type(name="SloEvaluation")
class SloEvaluationType:
    id: strawberry.ID
    policy_id: strawberry.ID
    evaluated_at: datetime
    objective: float
    window_days: int
    sli: float | None = strawberry.field(description="good / total; null without events.")
    good: float
    total: float
    error_budget_remaining: float | None = strawberry.field(
        description="1 - budgetConsumed; negative once overspent."
    )
    budget_consumed: float | None = strawberry.field(
        description="(1 - sli) / (1 - objective/100); 1 is the whole budget."
    )
    burn_rates: list[BurnRate]
    firing_pairs: list[str] = strawberry.field(description='e.g. ["1h/5m"], fastest first.')
    status: SloStatus  # type: ignore[valid-type]
    look_back: bool = strawberry.field(
        description="Evaluated at a moment before the policy's newest evaluation: "
        "it changed no alerts and no budget policy state."
    )

    @classmethod
    def from_model(cls, row: slo.SloEvaluation) -> "SloEvaluationType":
        return cls(
            id=to_id(row.id),
            policy_id=to_id(row.policy_id),
            evaluated_at=row.evaluated_at,
            objective=row.objective,
            window_days=row.window_days,
            sli=row.sli,
            good=row.good,
            total=row.total,
            error_budget_remaining=row.budget_remaining,
            budget_consumed=row.budget_consumed,
            burn_rates=[BurnRate(window=r["window"], rate=r["rate"]) for r in row.burn_rates],
            firing_pairs=list(row.firing_pairs),
            status=slo.SloStatus(row.status),
            look_back=row.look_back,
        )


async def _load_evaluations(context: Context, ids: list[int]) -> list[slo.SloEvaluation | None]:
    async with context.session() as session:
        found = await slo.evaluations_by_id(
            session, workspace_id=context.principal.workspace_id, ids=ids
        )
    return [found.get(evaluation_id) for evaluation_id in ids]


@strawberry.type(name="SloPolicy")
class SloPolicyType:
    id: strawberry.ID
    service: str
    name: str
    objective: float
    window_days: int
    error_budget: float = strawberry.field(description="1 - objective/100.")
    sli: SliType
    on_exhausted: OnExhausted  # type: ignore[valid-type]
    budget_policy_state: BudgetPolicyState = strawberry.field(  # type: ignore[valid-type]
        description="FROZEN while a FREEZE policy's budget is exhausted."
    )
    status: SloStatus | None = strawberry.field(  # type: ignore[valid-type]
        description="The newest evaluation's status; null before the first."
    )
    evaluated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    latest_evaluation_id: strawberry.Private[int | None]

    @strawberry.field(description="The newest evaluation.")
    async def latest_evaluation(self, info: Info) -> SloEvaluationType | None:
        if self.latest_evaluation_id is None:
            return None
        context = info.context
        loader: DataLoader[int, slo.SloEvaluation | None] = context.loader(
            "slo_evaluations", lambda ids: _load_evaluations(context, ids)
        )
        row = await loader.load(self.latest_evaluation_id)
        return SloEvaluationType.from_model(row) if row else None

    @classmethod
    def from_model(cls, row: slo.SloPolicy) -> "SloPolicyType":
        return cls(
            id=to_id(row.id),
            service=row.service,
            name=row.name,
            objective=row.objective,
            window_days=row.window_days,
            error_budget=float(slo.error_budget(row.objective)),
            sli=SliType.from_model(row),
            on_exhausted=slo.OnExhausted(row.on_exhausted),
            budget_policy_state=slo.BudgetPolicyState(row.budget_policy_state),
            status=slo.SloStatus(row.latest_status) if row.latest_status else None,
            evaluated_at=row.latest_evaluated_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            latest_evaluation_id=row.latest_evaluation_id,
        )


@strawberry.type
class SloPolicySummary:
    policy: SloPolicyType
    status: SloStatus | None  # type: ignore[valid-type]
    error_budget_remaining: float | None
    fastest_burn: BurnRate | None = strawberry.field(
        description="The window with the highest burn rate in the newest evaluation."
    )
    evaluated_at: datetime | None

    @classmethod
    def from_summary(cls, summary: slo.PolicySummary) -> "SloPolicySummary":
        latest, fastest = summary.latest, summary.fastest_burn
        return cls(
            policy=SloPolicyType.from_model(summary.policy),
            status=summary.status,
            error_budget_remaining=latest.budget_remaining if latest else None,
            fastest_burn=BurnRate(window=fastest[0], rate=fastest[1]) if fastest else None,
            evaluated_at=latest.evaluated_at if latest else None,
        )


@strawberry.type
class SloStatusCount:
    status: SloStatus  # type: ignore[valid-type]
    count: int


@strawberry.type
class SloOverview:
    generated_at: datetime
    policies: list[SloPolicySummary] = strawberry.field(description="By service and name.")
    counts: list[SloStatusCount] = strawberry.field(
        description="Policies per newest status, every status listed."
    )
    not_evaluated: int = strawberry.field(description="Policies never evaluated yet.")

    @classmethod
    def from_overview(cls, overview: slo.Overview, now: datetime) -> "SloOverview":
        return cls(
            generated_at=now,
            policies=[SloPolicySummary.from_summary(s) for s in overview.policies],
            counts=[
                SloStatusCount(status=status, count=count)
                for status, count in overview.counts.items()
            ],
            not_evaluated=overview.not_evaluated,
        )


def _now(info: Info) -> datetime:
    return info.context.services.clock.now()


@strawberry.type
class SloQuery:
    @strawberry.field(permission_classes=[CanRead], description="Newest first.")
    async def slo_policies(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[SloPolicyType]:
        listing = slo.list_policies(workspace_id=info.context.principal.workspace_id)
        return await connection(info, listing, SloPolicyType.from_model, first=first, after=after)

    @strawberry.field(permission_classes=[CanRead])
    async def slo_policy(self, info: Info, id: strawberry.ID) -> SloPolicyType | None:
        context = info.context
        async with context.session() as session:
            row = await slo.find_policy(
                session, workspace_id=context.principal.workspace_id, policy_id=parse_id(id)
            )
        return SloPolicyType.from_model(row) if row else None

    @strawberry.field(
        permission_classes=[CanRead],
        description="A policy's evaluations with from <= evaluatedAt < to, newest first.",
    )
    async def slo_evaluations(
        self,
        info: Info,
        policy_id: strawberry.ID,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[SloEvaluationType]:
        context = info.context
        async with context.session() as session:
            listing = await slo.list_evaluations(
                session,
                workspace_id=context.principal.workspace_id,
                policy_id=parse_id(policy_id, field="policyId"),
                from_=from_,
                to=to,
            )
        return await connection(
            info, listing, SloEvaluationType.from_model, first=first, after=after
        )

    @strawberry.field(permission_classes=[CanRead], description="Every policy's newest state.")
    async def slo_overview(self, info: Info) -> SloOverview:
        context = info.context
        async with context.session() as session:
            overview = await slo.overview(session, workspace_id=context.principal.workspace_id)
        return SloOverview.from_overview(overview, _now(info))


@strawberry.type
class SloMutation:
    @audited_mutation(Permission.OBSERVABILITY_WRITE, description="Create an SLO policy.")
    async def create_slo_policy(self, info: Info, input: SloPolicyInput) -> SloPolicyType:
        context = info.context
        async with context.session() as session:
            row = await slo.create_policy(
                session,
                workspace_id=context.principal.workspace_id,
                draft=input.to_draft(),
                now=_now(info),
            )
        return SloPolicyType.from_model(row)

    @audited_mutation(Permission.OBSERVABILITY_WRITE, description="Replace a policy's settings.")
    async def update_slo_policy(
        self, info: Info, id: strawberry.ID, input: SloPolicyInput
    ) -> SloPolicyType:
        context = info.context
        async with context.session() as session:
            row = await slo.update_policy(
                session,
                workspace_id=context.principal.workspace_id,
                policy_id=parse_id(id),
                draft=input.to_draft(),
                now=_now(info),
            )
        return SloPolicyType.from_model(row)

    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="Delete a policy and its evaluations; its open alerts are resolved.",
    )
    async def delete_slo_policy(self, info: Info, id: strawberry.ID) -> SloPolicyType:
        context = info.context
        async with context.session() as session:
            row = await slo.delete_policy(
                session,
                workspace_id=context.principal.workspace_id,
                policy_id=parse_id(id),
                actor=context.principal.key_name,
                now=_now(info),
            )
        return SloPolicyType.from_model(row)

    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="Evaluate a policy at `at` (default now) and store the evaluation. "
        "Alerts and the budget state follow the newest evaluation only.",
    )
    async def evaluate_slo(
        self, info: Info, policy_id: strawberry.ID, at: datetime | None = None
    ) -> SloEvaluationType:
        context = info.context
        async with context.session() as session:
            row = await slo.evaluate(
                session,
                workspace_id=context.principal.workspace_id,
                policy_id=parse_id(policy_id, field="policyId"),
                at=at,
                now=_now(info),
            )
        return SloEvaluationType.from_model(row)

    @audited_mutation(
        Permission.OBSERVABILITY_WRITE,
        description="Evaluate every policy of the workspace now, as a task "
        "(the scheduled sweep does so every minute).",
    )
    async def start_slo_sweep(self, info: Info) -> TaskType:
        return await start_task(info, slo.SWEEP_TASK_KIND)
