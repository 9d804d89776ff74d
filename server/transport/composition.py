"""The composition root: core services with every domain's jobs and the key authenticator."""

from server.access.authentication import KeyAuthenticator
from server.alerts import jobs as alert_jobs
from server.backups import jobs as backup_jobs
from server.capacity import jobs as capacity_jobs
from server.core.clock import Clock
from server.core.db import Database
from server.core.services import Services
from server.core.settings import Settings
from server.escalation import jobs as escalation_jobs
from server.notifications import jobs as notification_jobs
from server.security import jobs as security_jobs
from server.slo import jobs as slo_jobs

DOMAIN_JOBS = (
    alert_jobs.register,
    slo_jobs.register,
    security_jobs.register,
    notification_jobs.register,
    escalation_jobs.register,
    backup_jobs.register,
    capacity_jobs.register,
)


def build_services(settings: Settings, clock: Clock) -> Services:
    def authenticator(db: Database) -> KeyAuthenticator:
        return KeyAuthenticator(db, clock, cache_seconds=settings.key_cache_seconds)

    services = Services.build(settings, clock, authenticator=authenticator)
    for register in DOMAIN_JOBS:
        register(services)
    return services
