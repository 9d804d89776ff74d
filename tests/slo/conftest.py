"""The SLO tests run with the job runner paused.

Its scheduled SLO sweep would otherwise evaluate the tests' policies at
moments of its own choosing (whenever a test moves the clock past its next
run), making their evaluations look backs or raising alerts in between. Tests
run the sweep themselves, through ``runner.run_due_periodic``. The clock is put
back before the runner resumes, so that it never runs jobs at a moved time.
"""

import pytest

from server.core.clock import FrozenClock


@pytest.fixture(autouse=True)
def _runner_paused(paused_runner: FrozenClock) -> FrozenClock:
    return paused_runner
