"""API key secrets resolved to principals, with a short in-process cache."""

import asyncio
import time
from datetime import timedelta

from server.access import secrets as key_secrets
from server.access import service as access_service
from server.core.auth import Principal
from server.core.clock import Clock
from server.core.db import Database
from server.core.errors import Unauthenticated
from server.core.roles import Role

LAST_USED_RESOLUTION = timedelta(minutes=1)


class KeyAuthenticator:
    """Resolves API key secrets to principals, with a short in-process cache.

    A revocation made through this process takes effect at once; one made on
    another replica within ``cache_seconds``.
    """

    def __init__(self, db: Database, clock: Clock, *, cache_seconds: float) -> None:
        self._db = db
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._loading: dict[str, asyncio.Future[Principal]] = {}

    async def authenticate(self, secret: str) -> Principal:
        secret_digest = key_secrets.digest(secret)
        cached = self._cache.get(secret_digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        # One load per key at a time: when an entry expires under load, every
        # request in flight would otherwise query the key, and all but the
        # first would queue on the row lock of touch_key's UPDATE.
        loading = self._loading.get(secret_digest)
        if loading is None:
            loading = asyncio.ensure_future(self._load_and_cache(secret_digest))
            self._loading[secret_digest] = loading
            loading.add_done_callback(lambda _: self._loading.pop(secret_digest, None))
        return await asyncio.shield(loading)

    async def _load_and_cache(self, secret_digest: str) -> Principal:
        principal = await self._load(secret_digest)
        self._cache[secret_digest] = (time.monotonic() + self._cache_seconds, principal)
        return principal

    async def _load(self, secret_digest: str) -> Principal:
        async with self._db.reader() as session:
            key = await access_service.find_active_key(session, secret_digest=secret_digest)
        if key is None:
            raise Unauthenticated("invalid or revoked API key")
        now = self._clock.now()
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            async with self._db.transaction() as session:
                await access_service.touch_key(session, key_id=key.id, now=now)
        return Principal(
            key_id=key.id, key_name=key.name, workspace_id=key.workspace_id, role=Role(key.role)
        )

    def forget_key(self, key_id: int) -> None:
        for digest_, (_, principal) in list(self._cache.items()):
            if principal.key_id == key_id:
                del self._cache[digest_]
