from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    DEVELOPER = "developer"
    ADMIN = "admin"


class Permission(StrEnum):
    OBSERVABILITY_READ = "observability.read"
    OBSERVABILITY_WRITE = "observability.write"
    ADMIN = "admin"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.OBSERVABILITY_READ}),
    Role.DEVELOPER: frozenset({Permission.OBSERVABILITY_READ, Permission.OBSERVABILITY_WRITE}),
    Role.ADMIN: frozenset(Permission),
}
