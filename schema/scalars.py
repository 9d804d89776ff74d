"""Overrides of Strawberry's built-in scalars, for ``StrawberryConfig.scalar_map``."""

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping

from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

_builtin_parse_datetime = DateTimeDefinition.parse_value
#: RFC 3339 date-times, which fromisoformat and dateutil read alike.
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)", re.ASCII)


def parse_datetime(value: object) -> object:
    """``datetime.fromisoformat`` for RFC 3339: ~15x faster than the built-in's dateutil.

    Every other form goes to the built-in parser, so the scalar accepts, and refuses
    with the same messages, exactly what it did before; only the tzinfo of the result
    is the standard library's ``timezone`` rather than dateutil's ``tzutc``/``tzoffset``.
    """
    if isinstance(value, str) and _RFC3339.fullmatch(value):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:  # e.g. 24:00:00, which dateutil reads as the next midnight
            pass
    assert _builtin_parse_datetime is not None
    return _builtin_parse_datetime(value)


#: The built-in DateTime (same name, description and serializer), parsed faster.
DATETIME = dataclasses.replace(DateTimeDefinition, parse_value=parse_datetime)

SCALAR_MAP: Mapping[object, ScalarDefinition] = {dt.datetime: DATETIME}
