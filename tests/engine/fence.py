"""Checks that a name of Strawberry or graphql-core still exists as the code uses it.

A name is dotted from its module (``graphql.execution.executor.Executor.execute_operation``);
an attribute that instances get in ``__init__`` counts as present when a class of
the MRO declares it (annotation, dataclass or TypedDict field) or assigns it to
``self`` in its source.
"""

import ast
import importlib
import inspect
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import version
from types import ModuleType
from typing import Any

Importer = Callable[[str], ModuleType]


@dataclass(frozen=True)
class Reliance:
    """One name the code relies on, where, and for what."""

    name: str
    used_in: str
    use: str
    #: The exact parameters, for a method overridden or called positionally.
    parameters: tuple[str, ...] | None = None
    #: Keyword arguments passed to it; "**" when some reach it through ``**kwargs``.
    accepts: tuple[str, ...] = ()

    @property
    def package(self) -> str:
        return "graphql-core" if self.name.startswith("graphql.") else "strawberry-graphql"


@dataclass(frozen=True)
class Behaviour:
    """Something a name must still do; ``probe`` describes the change, or returns None."""

    name: str
    used_in: str
    use: str
    probe: Callable[[], Awaitable[str | None]]

    @property
    def package(self) -> str:
        return "graphql-core" if self.name.startswith("graphql.") else "strawberry-graphql"


class InstanceAttribute:
    """Stands for an attribute that exists on instances only."""


def resolve(name: str, import_module: Importer = importlib.import_module) -> object:
    """The object a dotted name leads to; LookupError if any part of it is gone."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        module_name = ".".join(parts[:split])
        try:
            target: object = import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name is not None and not module_name.startswith(error.name):
                raise
            continue
        break
    else:
        raise LookupError(name)
    for part in parts[split:]:
        target = _attribute(target, part, name)
    return target


def _attribute(owner: object, part: str, name: str) -> object:
    if hasattr(owner, part):
        return getattr(owner, part)
    if isinstance(owner, type) and _instances_have(owner, part):
        return InstanceAttribute()
    raise LookupError(name)


def _instances_have(cls: type, attribute: str) -> bool:
    for klass in cls.__mro__:
        if attribute in vars(klass).get("__annotations__", {}):
            return True
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
                and node.attr == attribute
            ):
                return True
    return False


def problem(reliance: Reliance, import_module: Importer = importlib.import_module) -> str | None:
    """What changed about a relied-on name, as a message naming it and its user; None if nothing."""
    try:
        target = resolve(reliance.name, import_module)
    except LookupError:
        return _message(reliance, ", which {package} {version} no longer has")
    if reliance.parameters is None and not reliance.accepts:
        return None
    try:
        signature = inspect.signature(target)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _message(reliance, ", which is no longer callable in {package} {version}")
    parameters = signature.parameters.values()
    names = tuple(_spelled(parameter) for parameter in parameters)
    if reliance.parameters is not None and names != reliance.parameters:
        expected = ", ".join(reliance.parameters)
        return _message(
            reliance, f" taking ({expected}), but {{package}} {{version}} has ({', '.join(names)})"
        )
    missing = [name for name in reliance.accepts if name not in names]
    if missing:
        accepted = ", ".join(missing)
        return _message(
            reliance, f" accepting {accepted}, but {{package}} {{version}} has ({', '.join(names)})"
        )
    return None


def _spelled(parameter: inspect.Parameter) -> str:
    if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
        return "*" + parameter.name
    if parameter.kind is inspect.Parameter.VAR_KEYWORD:
        return "**"
    return parameter.name


def _message(reliance: Reliance | Behaviour, what: str) -> str:
    changed = what.format(package=reliance.package, version=version(reliance.package))
    return (
        f"{reliance.used_in} relies on {reliance.name}{changed}; check the engine "
        f"against the new version. Use: {reliance.use}."
    )


async def behaviour_problem(behaviour: Behaviour) -> str | None:
    try:
        change = await behaviour.probe()
    except Exception as error:  # any failure of the probe is a change of behaviour
        change = f"raised {error!r}"
    if change is None:
        return None
    return _message(behaviour, f", which in {{package}} {{version}} {change}")


def resolved(name: str) -> Any:
    """The object behind a name, for probes (which fail on a missing one like any change)."""
    return resolve(name)
