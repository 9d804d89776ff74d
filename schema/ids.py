import strawberry

from server.errors import InvalidInput


def parse_id(value: strawberry.ID, *, field: str = "id") -> int:
    try:
        return int(value)
    except ValueError as error:
        raise InvalidInput(f"{field} must be a numeric ID", field=field) from error


def to_id(value: int) -> strawberry.ID:
    return strawberry.ID(str(value))
