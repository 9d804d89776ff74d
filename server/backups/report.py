"""A drill's Markdown report: what was restored, each check, and the verdict."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from server.backups.verdicts import DrillCheck


@dataclass(frozen=True)
class ReportFacts:
    drill_id: int
    status: str
    backup_run_id: int
    database_kind: str
    backup_taken_at: datetime
    size_bytes: int | None
    alembic_revision: str | None
    scratch_name: str
    scratch_dropped: bool
    duration_seconds: float
    reason: str | None


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_report(facts: ReportFacts, checks: Sequence[DrillCheck]) -> str:
    lines = [
        f"# Restore drill {facts.drill_id}: {facts.status}",
        "",
        f"- Backup run {facts.backup_run_id} ({facts.database_kind}), taken "
        f"{facts.backup_taken_at.isoformat()}, {facts.size_bytes} bytes, "
        f"Alembic revision `{facts.alembic_revision}`",
        f"- Restored into `{facts.scratch_name}`, "
        + ("dropped afterwards" if facts.scratch_dropped else "**not dropped** (cleanup retries)"),
        f"- Took {facts.duration_seconds:.2f} s",
    ]
    if facts.reason:
        lines.append(f"- Stopped: {facts.reason}")
    lines += ["", "| check | result | detail |", "|---|---|---|"]
    lines += [
        f"| {check.name} | {'pass' if check.passed else '**FAIL**'} | {_cell(check.detail)} |"
        for check in checks
    ]
    return "\n".join(lines) + "\n"
