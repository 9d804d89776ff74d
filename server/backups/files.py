"""Backup files on disk: names, durable renames, hashing, and manifests beside dumps."""

import hashlib
import json
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

#: Reports a task's progress (0..1); raises when the task was cancelled.
Progress = Callable[[float], Awaitable[None]]
CHUNK = 1024 * 1024
PARTIAL_SUFFIX = ".partial"
MANIFEST_SUFFIX = ".manifest.json"
SUFFIXES = {"postgresql": ".dump", "sqlite": ".sqlite3"}


async def no_progress(_fraction: float) -> None:
    return None


def dump_name(run_id: int, created_at: datetime, kind: str) -> str:
    return f"opsgraph-{created_at:%Y%m%dT%H%M%SZ}-run{run_id}{SUFFIXES[kind]}"


def partial_path(final: Path) -> Path:
    """Where a dump is written until complete: hidden, beside its final name."""
    return final.with_name(f".{final.name}{PARTIAL_SUFFIX}")


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + MANIFEST_SUFFIX)


def remove_quietly(path: Path) -> None:
    path.unlink(missing_ok=True)


def fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_file(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def publish(partial: Path, final: Path) -> None:
    """Give a complete, synced file its final name, durably."""
    os.replace(partial, final)
    fsync_directory(final.parent)


def sha256_of(path: Path) -> tuple[str, int]:
    """The file's SHA-256 (hex) and size; blocking, run it in a thread."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def write_manifest(dump: Path, document: dict[str, Any]) -> None:
    """The manifest beside the dump, so that it restores without the database too."""
    target = manifest_path(dump)
    partial = partial_path(target)
    partial.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    fsync_file(partial)
    publish(partial, target)
