"""Persisted operations: production clients held to documents known in advance.

Requests follow Apollo's persisted-query extension
(``extensions: {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}``), with
or without the query text. The allow-list is a file of SHA-256 hashes (one a
line, ``#`` comments), or an Apollo persisted query manifest, which also gives
each document's text. With the mode on, a document whose hash is not listed is
refused; a hash alone is answered from the manifest or from a text this
process has already seen with that hash, else ``PERSISTED_QUERY_NOT_FOUND``, on
which Apollo's clients send the text along.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.core.settings import Settings

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
HASH_MISMATCH = "BAD_USER_INPUT"
MAX_REMEMBERED = 4_096


class PersistedQueryRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


@dataclass
class PersistedOperations:
    allowed: frozenset[str]
    texts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> "PersistedOperations | None":
        """The allow-list when only persisted operations may run, else None."""
        if not settings.persisted_operations_only:
            return None
        if settings.persisted_operations_file is None:
            return cls(frozenset())
        return cls.load(settings.persisted_operations_file)

    @classmethod
    def load(cls, path: Path) -> "PersistedOperations":
        content = path.read_text(encoding="utf-8")
        if content.lstrip().startswith("{"):
            manifest = json.loads(content)
            texts = {op["id"]: op["body"] for op in manifest.get("operations", []) if "body" in op}
            return cls(frozenset(op["id"] for op in manifest.get("operations", [])), texts)
        hashes = (line.split("#", 1)[0].strip().lower() for line in content.splitlines())
        return cls(frozenset(digest for digest in hashes if digest))

    def resolve(self, query: str | None, extensions: dict[str, Any] | None) -> str:
        """The document text to run, or PersistedQueryRefused."""
        requested = _requested_hash(extensions)
        if query:
            digest = sha256_hex(query)
            if requested is not None and requested != digest:
                raise PersistedQueryRefused(
                    HASH_MISMATCH, "persistedQuery.sha256Hash does not match the query's SHA-256"
                )
            if digest not in self.allowed:
                raise PersistedQueryRefused(
                    NOT_ALLOWED, "only persisted operations are accepted; this one is not listed"
                )
            if len(self.texts) < MAX_REMEMBERED:
                self.texts.setdefault(digest, query)
            return query
        if requested is None or requested not in self.allowed:
            raise PersistedQueryRefused(
                NOT_ALLOWED, "only persisted operations are accepted; send a listed sha256Hash"
            )
        text = self.texts.get(requested)
        if text is None:
            raise PersistedQueryRefused(NOT_FOUND, "PersistedQueryNotFound")
        return text


def _requested_hash(extensions: dict[str, Any] | None) -> str | None:
    persisted = (extensions or {}).get("persistedQuery")
    if not isinstance(persisted, dict):
        return None
    digest = persisted.get("sha256Hash")
    return digest.lower() if isinstance(digest, str) else None
