"""The README's examples, read from its markup, and the shape of their answers.

In the README's "Examples" section every ``sh`` block is an example and the next
fenced block is its answer: ``json`` (a GraphQL response) or ``text`` (a script's
output). Other blocks (``graphql``, shown for reading) are not run.

Shapes compare everything but the values: the same keys at every level, the
same JSON types (``null`` only where ``null`` is shown), and lists empty where
the shown list is empty and non-empty otherwise. Inside a shown answer ``"…"``
stands for any value, ``"…"`` as a list item for "more items like these", and a
``"…"`` key for "more keys". In a ``text`` answer numbers and times may differ,
and a line ``…`` stands for any further lines.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ELLIPSIS = "…"
SECTION_START = "## Examples"
SECTION_END = "## Subscriptions"
DEFAULT_ADDRESS = "http://127.0.0.1:8000"

_FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^### (?P<title>.+)$", re.MULTILINE)
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_NUMBER = re.compile(r"\d+(\.\d+)?")


@dataclass(frozen=True)
class Example:
    title: str
    line: int
    command: str
    answer_kind: str
    answer: str

    @property
    def name(self) -> str:
        return f"{self.title} (README.md line {self.line})"

    @property
    def changes_state(self) -> bool:
        return "mutation" in self.command or "ingest_and_query.py" in self.command


def examples_section(readme: str) -> tuple[str, int]:
    """The Examples section's text and the line it starts on."""
    lines = readme.splitlines(keepends=True)
    start = lines.index(f"{SECTION_START}\n")
    end = lines.index(f"{SECTION_END}\n", start)
    return "".join(lines[start:end]), start + 1


def read_examples(readme_path: Path) -> list[Example]:
    section, first_line = examples_section(readme_path.read_text(encoding="utf-8"))
    headings = [(match.start(), match["title"]) for match in _HEADING.finditer(section)]
    blocks = list(_FENCE.finditer(section))
    examples = []
    for index, block in enumerate(blocks):
        if block["lang"] != "sh":
            continue
        line = first_line + section.count("\n", 0, block.start())
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        if following is None or following["lang"] not in ("json", "text"):
            raise ValueError(f"README.md line {line}: an sh example without its answer after it")
        title = next((t for start, t in reversed(headings) if start < block.start()), "Examples")
        examples.append(
            Example(title, line, block["body"], following["lang"], following["body"].strip())
        )
    return examples


def shape_mismatches(shown: Any, actual: Any, path: str = "$") -> list[str]:
    """Where ``actual`` does not have the shape of ``shown``; empty when it has."""
    if shown == ELLIPSIS:
        return []
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{path}: an object was shown, got {_kind(actual)}"]
        return _object_mismatches(shown, actual, path)
    if isinstance(shown, list):
        if not isinstance(actual, list):
            return [f"{path}: a list was shown, got {_kind(actual)}"]
        return _list_mismatches(shown, actual, path)
    if _kind(shown) != _kind(actual):
        return [f"{path}: {_kind(shown)} was shown, got {_kind(actual)} ({actual!r:.80})"]
    return []


def _object_mismatches(shown: dict[str, Any], actual: dict[str, Any], path: str) -> list[str]:
    keys = set(shown) - {ELLIPSIS}
    problems = [f"{path}: missing key {key!r}" for key in sorted(keys - set(actual))]
    if ELLIPSIS not in shown:
        problems += [f"{path}: unexpected key {key!r}" for key in sorted(set(actual) - keys)]
    for key in sorted(keys & set(actual)):
        problems += shape_mismatches(shown[key], actual[key], f"{path}.{key}")
    return problems


def _list_mismatches(shown: list[Any], actual: list[Any], path: str) -> list[str]:
    items = [item for item in shown if item != ELLIPSIS]
    if not items:
        if len(items) == len(shown) and actual:
            return [f"{path}: an empty list was shown, got {len(actual)} items"]
        return []
    if not actual:
        return [f"{path}: a non-empty list was shown, got an empty one"]
    problems = []
    for index, item in enumerate(actual):
        problems += shape_mismatches(items[min(index, len(items) - 1)], item, f"{path}[{index}]")
    return problems


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def answer_mismatches(example: Example, output: str) -> list[str]:
    if example.answer_kind == "json":
        try:
            actual = json.loads(output)
        except json.JSONDecodeError:
            return [f"the answer is not JSON: {output!r:.300}"]
        return shape_mismatches(json.loads(example.answer), actual)
    return _text_mismatches(example.answer, output)


def _text_mismatches(shown: str, output: str) -> list[str]:
    shown_lines = [_masked(line) for line in shown.splitlines()]
    actual_lines = [_masked(line) for line in output.strip().splitlines()]
    more = ELLIPSIS in shown_lines
    if more:
        shown_lines = shown_lines[: shown_lines.index(ELLIPSIS)]
    compared = actual_lines[: len(shown_lines)]
    if compared != shown_lines or (not more and len(actual_lines) != len(shown_lines)):
        return [f"the output {output!r:.500} does not read like the one shown"]
    if more and len(actual_lines) == len(shown_lines):
        return ["the output stops where more lines were shown"]
    return []


def _masked(line: str) -> str:
    """A line of output with its times and numbers blanked out."""
    return " ".join(_NUMBER.sub("0", _TIME.sub("<time>", line)).split())
