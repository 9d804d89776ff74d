"""API key secrets: generated once, shown once, stored only as a digest."""

import hashlib
import secrets

SECRET_PREFIX = "og_"


def generate_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    # The secret holds 256 random bits, so a plain SHA-256 digest cannot be
    # brute-forced; a slow password hash would only cost every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    return secret[: len(SECRET_PREFIX) + 6]
