"""Every example of the README's Examples section, run as a newcomer would.

Each ``sh`` block runs through bash, in order, against a live server on a fresh
database, with ``OPSGRAPH_ADMIN_KEY`` set, the default address replaced by the
server's and ``.venv/bin/python`` by the interpreter running the tests; its
answer must have the shape of the answer shown after it
(``tests/examples/readme_examples.py`` says what a shape is).
"""

import asyncio
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from server.core.migrations import ROOT
from tests.examples.conftest import FreshServer
from tests.examples.readme_examples import (
    DEFAULT_ADDRESS,
    Example,
    answer_mismatches,
    read_examples,
    shape_mismatches,
)

README = ROOT / "README.md"
#: How long a read-only example may be repeated until its answer takes the shape
#: shown (a task finishes in the background).
SETTLE_SECONDS = 20.0


async def _run(example: Example, server: FreshServer) -> tuple[int, str, str]:
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("OPSGRAPH")},
        "OPSGRAPH_ADMIN_KEY": server.admin_key,
        "OPSGRAPH_URL": f"{server.url}/graphql",
    }
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        example.command.replace(DEFAULT_ADDRESS, server.url).replace(
            ".venv/bin/python ", f"{sys.executable} "
        ),
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def _problems(example: Example, server: FreshServer) -> list[str]:
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        status, stdout, stderr = await _run(example, server)
        if status != 0 or stderr:
            return [f"exit status {status}, stderr {stderr!r:.500}"]
        problems = answer_mismatches(example, stdout)
        if not problems or example.changes_state or time.monotonic() > deadline:
            return problems
        await asyncio.sleep(0.5)


def test_every_example_is_a_command_followed_by_its_answer() -> None:
    examples = read_examples(README)
    assert len(examples) >= 20
    assert all(DEFAULT_ADDRESS in e.command or ".py" in e.command for e in examples)


async def test_every_readme_example_answers_in_the_shape_shown(
    fresh_server: FreshServer,
) -> None:
    assert shutil.which("curl"), "the README's examples need curl"
    failures = []
    for example in read_examples(README):
        problems = await _problems(example, fresh_server)
        if problems:
            failures.append(f"{example.name}:\n  " + "\n  ".join(problems))
    assert not failures, "\n".join(failures)


SHOWN: dict[str, Any] = {
    "id": "1",
    "count": 2,
    "silenced": False,
    "error": None,
    "labels": {"route": "/pay"},
    "items": [{"check": "a"}, "…", {"check": "z"}],
    "none": [],
    "any": "…",
    "open": {"kept": 1, "…": "…"},
}

ANSWERED: dict[str, Any] = SHOWN | {
    "id": "42",
    "count": 7.5,
    "silenced": True,
    "labels": {"route": "/cart"},
    "items": [{"check": "b"}],
    "any": None,
    "open": {"kept": 3, "more": "x"},
}


def test_a_shape_ignores_values_and_list_lengths() -> None:
    assert shape_mismatches(SHOWN, ANSWERED) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"id": 1}, "$.id: a string was shown, got a number (1)"),
        ({"count": True}, "$.count: a number was shown, got a boolean (True)"),
        ({"error": "boom"}, "$.error: null was shown, got a string ('boom')"),
        ({"labels": {}}, "$.labels: missing key 'route'"),
        ({"labels": {"route": "/", "x": "y"}}, "$.labels: unexpected key 'x'"),
        ({"items": []}, "$.items: a non-empty list was shown, got an empty one"),
        ({"none": [1]}, "$.none: an empty list was shown, got 1 items"),
        ({"items": [{"check": 1}]}, "$.items[0].check: a string was shown, got a number (1)"),
        ({"open": {}}, "$.open: missing key 'kept'"),
    ],
)
def test_a_shape_keeps_keys_types_and_emptiness(change: dict[str, Any], problem: str) -> None:
    assert shape_mismatches(SHOWN, ANSWERED | change) == [problem]


def test_a_text_answer_may_differ_in_numbers_and_times_only(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "## Examples\n\n```sh\necho\n```\n\n```text\n"
        "ingested 60 samples\n2026-12-06T02:57:00+00:00   306.3   7\n…\n```\n\n"
        "## Subscriptions\n"
    )
    [example] = read_examples(readme)
    same = "ingested 12 samples\n2027-01-01T00:00:00+00:00 1.0 70\nmore\n"
    assert answer_mismatches(example, same) == []
    assert answer_mismatches(example, "ingested 12 samples\n")
    assert answer_mismatches(example, "stored 12 samples\nx\ny\n")
