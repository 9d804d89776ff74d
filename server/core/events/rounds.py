"""Shared rounds of one action: callers that ask while a round runs share the next."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


class Rounds:
    """Runs ``action`` one round at a time, on request.

    Every caller of ``request`` returns once a round that started after its
    call has finished, so a round sees everything the caller did before
    asking. Callers that ask while a round is under way share the next one:
    however many ask at once, at most two rounds are ever owed.
    """

    def __init__(self, action: Callable[[], Awaitable[None]]) -> None:
        self._action = action
        self._next: asyncio.Future[None] | None = None
        self._running: asyncio.Task[None] | None = None

    async def request(self) -> None:
        """Wait for a round of the action that starts after this call."""
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        owed = self._next
        if self._running is None:
            self._running = asyncio.create_task(self._run(), name="event-sequencing-rounds")
        # A caller that gives up waiting must not cancel the round of the others.
        await asyncio.shield(owed)

    async def _run(self) -> None:
        owed: asyncio.Future[None] | None = None
        try:
            while self._next is not None:
                owed, self._next = self._next, None
                try:
                    await self._action()
                finally:
                    owed.set_result(None)
        finally:
            # Stopped or failed: release the waiters; what is left unsequenced
            # is found by the feeds' polls.
            self._running = None
            for pending in (owed, self._next):
                if pending is not None and not pending.done():
                    pending.set_result(None)
            self._next = None

    async def stop(self) -> None:
        running = self._running
        if running is not None:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
