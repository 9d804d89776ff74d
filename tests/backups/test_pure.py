"""The pure parts: schedule slots, drill verdicts, tool versions and connections."""

from datetime import UTC, datetime, timedelta

import pytest

from server.backups import schedule, verdicts
from server.backups.pgtools import (
    ToolError,
    libpq_environment,
    parse_major,
    version_mismatch,
)
from server.backups.report import ReportFacts, render_report

DAY = timedelta(days=1)
TWO_AM = timedelta(hours=2)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_nightly_slot_starts_at_the_offset() -> None:
    assert schedule.slot_start(at("2026-03-02T12:00"), interval=DAY, offset=TWO_AM) == at(
        "2026-03-02T02:00"
    )
    assert schedule.slot_start(at("2026-03-02T01:59"), interval=DAY, offset=TWO_AM) == at(
        "2026-03-01T02:00"
    )


@pytest.mark.parametrize(
    ("now", "last", "due"),
    [
        ("2026-03-02T02:00", None, True),
        ("2026-03-02T02:05", "2026-03-01T02:01", True),
        ("2026-03-02T02:05", "2026-03-02T02:00", False),  # this night's is taken
        ("2026-03-02T07:59", "2026-03-01T02:01", True),  # within a quarter of a slot
        ("2026-03-02T08:01", "2026-03-01T02:01", False),  # too late: wait for the next night
        ("2026-03-02T12:00", None, False),  # a replica started at noon waits too
    ],
)
def test_a_backup_is_due_once_a_slot_and_not_far_into_it(
    now: str, last: str | None, due: bool
) -> None:
    last_started = at(last) if last else None
    assert schedule.is_due(at(now), interval=DAY, offset=TWO_AM, last_started=last_started) is due


def test_schedules_are_checked_often_enough() -> None:
    assert schedule.check_every(DAY) == timedelta(minutes=10)
    assert schedule.check_every(timedelta(minutes=8)) == timedelta(minutes=1)


def test_row_counts_name_each_table_that_differs() -> None:
    check = verdicts.row_counts(expected={"a": 1, "b": 2, "c": 3}, actual={"a": 1, "b": 5})
    assert not check.passed
    assert check.detail == "differ: b 5 (manifest 2), c None (manifest 3)"
    assert verdicts.row_counts(expected={"a": 1}, actual={"a": 1, "extra": 9}).passed


def test_the_checksum_check_compares_hash_and_size() -> None:
    good = verdicts.checksum(
        expected_sha256="ab", expected_size=3, actual_sha256="ab", actual_size=3
    )
    assert good.passed
    truncated = verdicts.checksum(
        expected_sha256="ab", expected_size=3, actual_sha256="ab", actual_size=2
    )
    assert not truncated.passed


def test_missing_tables_and_revisions_fail_their_checks() -> None:
    assert not verdicts.expected_tables(expected=["a", "b"], actual=["a"]).passed
    assert verdicts.expected_tables(expected=["a"], actual=["a", "b"]).passed
    assert not verdicts.alembic_revision(expected="0009", actual="0008").passed
    assert not verdicts.sample_queries(expected={}, returned={}).passed
    assert verdicts.sample_queries(expected={"a": 9, "b": 2}, returned={"a": 5, "b": 2}).passed
    assert not verdicts.sample_queries(expected={"a": 9}, returned={"a": 0}).passed
    assert not verdicts.all_passed([])


def test_a_tool_must_be_of_the_servers_major_version() -> None:
    assert parse_major("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)") == 15
    assert parse_major("pg_dump (PostgreSQL) 9.6.24") == 9
    with pytest.raises(ToolError):
        parse_major("something else")
    assert version_mismatch("pg_dump", 15, 15) is None
    message = version_mismatch("pg_dump", 14, 15)
    assert message is not None
    assert "postgresql-client-15" in message
    assert version_mismatch("pg_dump", 16, 15) is not None


def test_the_password_reaches_the_tool_only_through_its_environment() -> None:
    environment = libpq_environment(
        "postgresql+asyncpg://ops:s3cr%40t@db.internal:6543/opsgraph?ssl=require"
    )
    assert environment["PGPASSWORD"] == "s3cr@t"
    assert environment["PGHOST"] == "db.internal"
    assert environment["PGPORT"] == "6543"
    assert environment["PGUSER"] == "ops"
    assert environment["PGDATABASE"] == "opsgraph"
    assert environment["PGSSLMODE"] == "require"
    scratch = libpq_environment("postgresql+asyncpg://ops@db/opsgraph", database="drill_db")
    assert scratch["PGDATABASE"] == "drill_db"
    assert "PGPASSWORD" not in scratch


def test_the_report_lists_every_check_and_escapes_table_cells() -> None:
    facts = ReportFacts(
        drill_id=7,
        status="FAILED",
        backup_run_id=3,
        database_kind="postgresql",
        backup_taken_at=at("2026-03-02T02:00"),
        size_bytes=1024,
        alembic_revision="0011",
        scratch_name="opsgraph_drill_7_ab",
        scratch_dropped=True,
        duration_seconds=1.5,
        reason=None,
    )
    checks = [
        verdicts.DrillCheck("checksum", True, "ok"),
        verdicts.DrillCheck("row_counts", False, "a|b"),
    ]
    report = render_report(facts, checks)
    assert report.startswith("# Restore drill 7: FAILED\n")
    assert "| checksum | pass | ok |" in report
    assert "| row_counts | **FAIL** | a\\|b |" in report
    assert "dropped afterwards" in report
