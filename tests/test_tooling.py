"""The guards of the set-up: the lock must agree with pyproject.toml, the
import-linter contracts must catch an arrow that points the wrong way, and the
schema must reach every domain through its front door."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UV = ROOT / ".tools" / "bin" / "uv"


def _uv() -> str:
    found = str(UV) if UV.exists() else shutil.which("uv")
    assert found, "uv is missing: `make test` installs it into .tools/"
    return found


def _lock_check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_uv(), "lock", "--check"],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never"},
        timeout=120,
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_the_lock_agrees_with_pyproject(project_copy: Path) -> None:
    checked = _lock_check(project_copy)
    assert checked.returncode == 0, checked.stderr


def test_a_dependency_added_without_refreshing_the_lock_fails_the_check(
    project_copy: Path,
) -> None:
    pyproject = project_copy / "pyproject.toml"
    text = pyproject.read_text()
    assert '    "orjson' in text
    # A package nothing here depends on, directly or not.
    assert "pyfiglet" not in (project_copy / "uv.lock").read_text()
    pyproject.write_text(text.replace('    "orjson', '    "pyfiglet>=1.0",\n    "orjson', 1))
    checked = _lock_check(project_copy)
    assert checked.returncode != 0
    assert "needs to be updated" in checked.stderr


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tree)},
        timeout=300,
    )


@pytest.fixture
def source_copy(tmp_path: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__")
    for package in ("server", "schema"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(module: Path, line: str) -> None:
    module.write_text(module.read_text() + f"\n{line}\n")


@pytest.mark.parametrize(
    ("module", "imported", "contract"),
    [
        ("server/core/clock.py", "schema.root", "Layers: transport -> schema"),
        ("server/core/clock.py", "server.alerts.models", "Layers: transport -> schema"),
        ("schema/scalars.py", "server.transport.app", "Layers: transport -> schema"),
        ("server/signals/service.py", "server.slo.models", "Layers: transport -> schema"),
        ("server/alerts/models.py", "strawberry", "know nothing of the web"),
        ("server/slo/budget.py", "fastapi", "know nothing of the web"),
        ("schema/slo.py", "sqlalchemy", "runs no query of its own"),
    ],
)
def test_import_linter_catches_an_arrow_that_points_the_wrong_way(
    source_copy: Path, module: str, imported: str, contract: str
) -> None:
    _append(source_copy / module, f"import {imported}")
    linted = _lint_imports(source_copy)
    assert linted.returncode != 0, linted.stdout
    importer = module.removesuffix(".py").replace("/", ".")
    broken = [line for line in linted.stdout.splitlines() if "BROKEN" in line]
    assert any(contract in line for line in broken), linted.stdout
    assert f"{importer} -> {imported} " in linted.stdout


def test_the_contracts_hold_on_the_tree_as_it_is(source_copy: Path) -> None:
    linted = _lint_imports(source_copy)
    assert linted.returncode == 0, linted.stdout


DOMAINS = sorted(
    path.parent.name
    for path in (ROOT / "server").glob("*/__init__.py")
    if path.parent.name not in {"core", "transport"}
)


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


@pytest.mark.parametrize("module", sorted((ROOT / "schema").rglob("*.py")), ids=str)
def test_the_schema_reaches_each_domain_through_its_service_alone(module: Path) -> None:
    imported = _imported_modules(module)
    for domain in DOMAINS:
        reached = {name for name in imported if name.startswith(f"server.{domain}.")}
        assert reached <= {f"server.{domain}.service"}, (module, reached)


def test_every_domain_has_a_front_door() -> None:
    assert {"access", "alerts", "signals", "slo"} <= set(DOMAINS)
    for domain in DOMAINS:
        assert (ROOT / "server" / domain / "service.py").exists(), domain


def _calls_wait_for(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "wait_for"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "asyncio"
    ]


def test_the_server_never_waits_with_asyncio_wait_for() -> None:
    """On Python 3.11 ``asyncio.wait_for`` loses a cancellation that arrives as
    its inner wait finishes, so a loop cancelled at shutdown can run on forever;
    ``asyncio.timeout`` does not."""
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "server").rglob("*.py"))
        if (lines := _calls_wait_for(path))
    }
    assert found == {}
