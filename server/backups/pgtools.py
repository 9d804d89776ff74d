"""PostgreSQL's client tools: which binary to run, whether it fits the server, and
the connection it gets.

``pg_dump`` refuses a server of a newer major version, and an archive written by
a newer ``pg_dump`` may not load with the server's own ``pg_restore``: the tool's
major version must equal the server's. The password goes to the tool through
``PGPASSWORD`` in its environment, never on a command line where ``ps`` shows it.
"""

import asyncio
import contextlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection

#: Debian and Ubuntu keep each major version's tools apart.
DEBIAN_BIN = "/usr/lib/postgresql/{major}/bin"
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_LIBPQ_QUERY_PARAMETERS = {
    "sslmode": "PGSSLMODE",
    "ssl": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "host": "PGHOST",
    "port": "PGPORT",
}


class ToolError(Exception):
    """The tool is missing or does not fit the server; the message says what to do."""


@dataclass(frozen=True)
class PgTool:
    path: Path
    #: The first line of ``--version``, e.g. ``pg_dump (PostgreSQL) 15.4``.
    version: str
    major: int


def libpq_environment(database_url: str, *, database: str | None = None) -> dict[str, str]:
    """The environment that connects a libpq tool where ``database_url`` points."""
    url = make_url(database_url)
    environment = {"PGAPPNAME": "opsgraph-backups", "PGCONNECT_TIMEOUT": "15", "LC_ALL": "C"}
    for key, value in url.query.items():
        name = _LIBPQ_QUERY_PARAMETERS.get(key)
        if name is not None:
            environment[name] = value if isinstance(value, str) else value[0]
    given = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password if isinstance(url.password, str) else None,
        "PGDATABASE": database or url.database,
    }
    environment.update({name: value for name, value in given.items() if value})
    return environment


def parse_major(version_line: str) -> int:
    """The major version in ``pg_dump (PostgreSQL) 15.4 (Debian ...)``: 15 (9.6 gives 9)."""
    found = _VERSION.search(version_line)
    if found is None:
        raise ToolError(f"cannot read a PostgreSQL version from {version_line!r}")
    return int(found.group(1))


def version_mismatch(tool: str, tool_major: int, server_major: int) -> str | None:
    """Why a tool of this major version cannot be used with the server, or None."""
    if tool_major == server_major:
        return None
    return (
        f"{tool} is PostgreSQL {tool_major} but the server is PostgreSQL {server_major}: "
        f"install the server's client tools (postgresql-client-{server_major}) or point "
        "OPSGRAPH_PG_BIN_DIR at them"
    )


async def server_major_version(connection: AsyncConnection) -> int:
    number = await connection.scalar(text("SELECT current_setting('server_version_num')::int"))
    return int(number or 0) // 10_000


def _locate(name: str, *, bin_dir: Path | None, server_major: int) -> Path:
    if bin_dir is not None:
        configured = bin_dir / name
        if not configured.is_file():
            raise ToolError(f"{name} not found at {configured} (OPSGRAPH_PG_BIN_DIR)")
        return configured
    matching = Path(DEBIAN_BIN.format(major=server_major)) / name
    if matching.is_file():
        return matching
    found = shutil.which(name)
    if found is None:
        raise ToolError(
            f"{name} not found: install postgresql-client-{server_major} or set OPSGRAPH_PG_BIN_DIR"
        )
    return Path(found)


async def find_tool(name: str, *, bin_dir: Path | None, server_major: int) -> PgTool:
    """The tool to run against a server of ``server_major``; ToolError when there is
    none, or when it is of another major version."""
    path = _locate(name, bin_dir=bin_dir, server_major=server_major)
    try:
        process = await asyncio.create_subprocess_exec(
            str(path),
            "--version",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={"LC_ALL": "C"},
        )
        stdout, stderr = await process.communicate()
    except OSError as error:
        raise ToolError(f"cannot run {path}: {error}") from error
    if process.returncode != 0:
        raise ToolError(f"{path} --version failed: {stderr.decode(errors='replace').strip()}")
    version = stdout.decode(errors="replace").strip().splitlines()[0]
    mismatch = version_mismatch(f"{path} ({version})", parse_major(version), server_major)
    if mismatch is not None:
        raise ToolError(mismatch)
    return PgTool(path=path, version=version, major=server_major)


def last_lines(output: bytes, count: int = 5) -> str:
    """The tail of a tool's stderr, for a failure's reason."""
    lines = [line for line in output.decode(errors="replace").strip().splitlines() if line]
    return " | ".join(lines[-count:]) or "no error output"


async def stop_process(process: asyncio.subprocess.Process, *tasks: "asyncio.Task[Any]") -> None:
    """End what a dump or restore left running when it stops early."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await asyncio.shield(process.wait())
    for task in tasks:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
