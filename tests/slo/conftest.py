"""The SLO tests run with the job runner paused.

Its scheduled SLO sweep would otherwise evaluate the tests' policies at
moments of its own choosing (whenever a test moves the clock past its next
run), making their evaluations look backs or raising alerts in between. Tests
run the sweep themselves, through ``runner.run_due_periodic``. The clock is put
back before the runner resumes, so that it never runs jobs at a moved time.
"""

from collections.abc import AsyncIterator

import pytest

from server.clock import FrozenClock
from server.services import Services


@pytest.fixture(autouse=True)
async def paused_runner(
    restore_clock: FrozenClock, services: Services
) -> AsyncIterator[FrozenClock]:
    saved = restore_clock.now()
    await services.runner.stop()
    try:
        yield restore_clock
    finally:
        restore_clock.set(saved)
        if services.settings.run_jobs:
            await services.runner.start()
