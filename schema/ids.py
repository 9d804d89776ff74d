import strawberry

from server.core.errors import InvalidInput
from server.core.pagination import MAX_ID


def parse_id(value: strawberry.ID, *, field: str = "id") -> int:
    """A row id from the client: a positive 64-bit integer, or bad input."""
    try:
        parsed = int(value)
    except ValueError as error:
        raise InvalidInput(f"{field} must be a numeric ID", field=field) from error
    if not 0 < parsed <= MAX_ID:
        raise InvalidInput(f"{field} is out of range", field=field)
    return parsed


def to_id(value: int) -> strawberry.ID:
    return strawberry.ID(str(value))
