"""The security domain's task handler: inspection runs."""

from server.core.services import Services
from server.security import inspection, service


def register(services: Services) -> None:
    services.runner.register(
        service.KIND,
        inspection.inspection_handler(services.db, services.settings, services.clock),
    )
