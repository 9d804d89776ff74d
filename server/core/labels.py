"""Label sets (name -> string value), as signals and alerts carry them."""

from typing import Any

from server.core.matchers import LABEL_NAME
from server.core.text import RememberingPattern

MAX_LABELS = 32
MAX_LABEL_VALUE = 256
_LABEL_NAME = RememberingPattern(LABEL_NAME)


class InvalidLabels(ValueError):
    pass


def validate_labels(labels: Any) -> dict[str, str]:
    """The labels as a dict of strings; numbers are turned into text."""
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise InvalidLabels("labels must be an object of label names to string values")
    if len(labels) > MAX_LABELS:
        raise InvalidLabels(f"at most {MAX_LABELS} labels are allowed")
    clean: dict[str, str] = {}
    for key, value in labels.items():
        if not _LABEL_NAME.fullmatch(key):
            raise InvalidLabels(f"label name {key!r} is invalid")
        if type(value) is str:  # nearly always: skip the isinstance checks
            text = value
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidLabels(f"label {key!r} must have a string value")
        else:
            text = str(value)
        if len(text) > MAX_LABEL_VALUE:
            raise InvalidLabels(f"label {key!r} is longer than {MAX_LABEL_VALUE} characters")
        if "\x00" in text:  # PostgreSQL cannot store U+0000 in text or jsonb
            raise InvalidLabels(f"label {key!r} contains a NUL character")
        clean[key] = text
    return clean
