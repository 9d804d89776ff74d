"""The README lists every event type each subscription carries, and no other."""

import re
from pathlib import Path

import pytest

from schema.events import ALERT_STREAM_TYPES, TASK_STREAM_TYPES

README = Path(__file__).resolve().parents[2] / "README.md"


def _bullet(subscription: str) -> str:
    section = README.read_text().split("## Subscriptions", 1)[1]
    start = section.index(f"- `{subscription}(")
    end = section.find("\n- ", start + 1)
    bullet_end = section.find("\n\n", start)
    return section[start : min(i for i in (end, bullet_end) if i != -1)]


@pytest.mark.parametrize(
    ("subscription", "types"),
    [("taskEvents", TASK_STREAM_TYPES), ("alertEvents", ALERT_STREAM_TYPES)],
)
def test_the_readme_lists_exactly_the_types_of_each_stream(
    subscription: str, types: frozenset[str]
) -> None:
    listed = set(re.findall(r"`((?:task|alert|slo)\.[a-z_]+)`", _bullet(subscription)))
    assert listed == types
