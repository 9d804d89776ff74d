"""A drill's checks as pure comparisons of what the manifest says with what was found."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Tables a restored opsgraph must answer a plain read from, where the dump has them.
KEY_TABLES = ("workspaces", "api_keys", "signals", "alerts", "events", "tasks", "audit_entries")
SAMPLE_ROWS = 5
_LISTED = 8


@dataclass(frozen=True)
class DrillCheck:
    name: str
    passed: bool
    detail: str


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def checksum(
    *, expected_sha256: str, expected_size: int, actual_sha256: str, actual_size: int
) -> DrillCheck:
    if (actual_sha256, actual_size) == (expected_sha256, expected_size):
        return DrillCheck("checksum", True, f"sha256 {actual_sha256} over {actual_size} bytes")
    return DrillCheck(
        "checksum",
        False,
        f"the file's sha256 is {actual_sha256} over {actual_size} bytes; the run recorded "
        f"{expected_sha256} over {expected_size} bytes",
    )


def alembic_revision(*, expected: str | None, actual: str | None) -> DrillCheck:
    if expected == actual:
        return DrillCheck("alembic_revision", True, f"revision {actual}")
    return DrillCheck(
        "alembic_revision", False, f"restored revision {actual}, manifest says {expected}"
    )


def expected_tables(*, expected: Sequence[str], actual: Sequence[str]) -> DrillCheck:
    missing = sorted(set(expected) - set(actual))
    if missing:
        return DrillCheck("expected_tables", False, f"missing: {_listed(missing)}")
    return DrillCheck("expected_tables", True, f"all {len(expected)} tables present")


def row_counts(*, expected: Mapping[str, int], actual: Mapping[str, int]) -> DrillCheck:
    differing = [
        f"{table} {actual.get(table)} (manifest {count})"
        for table, count in sorted(expected.items())
        if actual.get(table) != count
    ]
    if differing:
        return DrillCheck("row_counts", False, f"differ: {_listed(differing)}")
    return DrillCheck(
        "row_counts",
        True,
        f"{sum(expected.values())} rows in {len(expected)} tables, as in the manifest",
    )


def sample_queries(*, expected: Mapping[str, int], returned: Mapping[str, int]) -> DrillCheck:
    """``returned``: rows a ``LIMIT SAMPLE_ROWS`` read of each key table gave."""
    if not returned:
        return DrillCheck("sample_queries", False, "the manifest holds none of the key tables")
    wrong = [
        f"{table} gave {rows} (expected {min(expected.get(table, 0), SAMPLE_ROWS)})"
        for table, rows in sorted(returned.items())
        if rows != min(expected.get(table, 0), SAMPLE_ROWS)
    ]
    if wrong:
        return DrillCheck("sample_queries", False, _listed(wrong))
    return DrillCheck("sample_queries", True, f"answered: {', '.join(sorted(returned))}")


def all_passed(checks: Sequence[DrillCheck]) -> bool:
    return bool(checks) and all(check.passed for check in checks)
