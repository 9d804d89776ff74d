"""Schema extensions: applied on every path, or refused when the schema is built.

Queries and mutations over HTTP, and valid subscriptions, run straight on
graphql-core (``schema.engine.schema``), past Strawberry's per-operation
extension hooks; only websocket queries and invalid documents still pass through
them. A schema extension given to the schema would therefore run for some
operations and silently not for others. The extensions whose whole effect is on
preparing a document (validation rules, the token limit) join the preparation
that every path shares (``schema.engine.documents``); any other is refused, with
its name and the reason, before the application starts.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from graphql import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

#: As Strawberry takes them: a class or a factory, called once here rather than
#: per operation, or an instance.
ExtensionSpec = SchemaExtension | type[SchemaExtension] | Callable[[], SchemaExtension]

#: Extensions whose only effect is to add validation rules. Exactly these
#: classes: a subclass may add hooks of its own, which would not run.
VALIDATION_RULE_EXTENSIONS: tuple[type[AddValidationRules], ...] = (
    AddValidationRules,
    QueryDepthLimiter,
    MaxAliasesLimiter,
)
SUPPORTED = (*VALIDATION_RULE_EXTENSIONS, MaxTokensLimiter)

_BUILT_IN = {
    MaskErrors: "The engine codes and masks errors itself (schema/engine/errors.py).",
    ParserCache: "The engine keeps parsed documents itself (schema/engine/documents.py).",
    ValidationCache: "The engine keeps validated documents itself (schema/engine/documents.py).",
}
_SUPPORTED_NAMES = ", ".join(cls.__name__ for cls in SUPPORTED)


class UnsupportedExtensionError(TypeError):
    """A schema extension (or operation directive) the engine would run on some paths only."""


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """What the accepted extensions add to preparing a document."""

    validation_rules: tuple[type[ASTValidationRule], ...] = ()
    max_tokens: int | None = None


def document_limits(extensions: Iterable[ExtensionSpec]) -> DocumentLimits:
    """The validation rules and token limit of the given extensions, each built once;
    UnsupportedExtensionError for one the engine would not run on every path."""
    rules: list[type[ASTValidationRule]] = []
    max_tokens: int | None = None
    for spec in extensions:
        extension = _built(spec)
        if isinstance(extension, MaxTokensLimiter):
            limit = extension.max_token_count
            max_tokens = limit if max_tokens is None else min(max_tokens, limit)
        elif isinstance(extension, AddValidationRules):
            rules.extend(extension.validation_rules)
    return DocumentLimits(tuple(rules), max_tokens)


def refuse_operation_directives(directives: Iterable[object]) -> None:
    """Operation directives run as a Strawberry extension, which the engine's paths pass by."""
    names = [
        getattr(directive, "graphql_name", None)
        or getattr(directive, "python_name", None)
        or repr(directive)
        for directive in directives
    ]
    if names:
        raise UnsupportedExtensionError(
            f"OpsGraphSchema cannot run the operation directives {', '.join(names)}: "
            "Strawberry applies them through its DirectivesExtension, which queries and "
            "mutations over HTTP and subscriptions do not pass through, so they would be "
            "ignored there. Implement the behaviour in a resolver or a field extension."
        )


def _built(spec: ExtensionSpec) -> SchemaExtension:
    if isinstance(spec, SchemaExtension):
        _check(type(spec), spec)
        return spec
    if isinstance(spec, type):
        _check(spec, spec)
    extension: SchemaExtension = spec()
    if not isinstance(spec, type):
        _check(type(extension), spec)
    return extension


def _check(extension_type: type, spec: object) -> None:
    if extension_type in SUPPORTED:
        return
    name = f"{extension_type.__module__}.{extension_type.__qualname__}"
    if not isinstance(spec, (SchemaExtension, type)):
        name += f" (built by {getattr(spec, '__qualname__', repr(spec))})"
    if not issubclass(extension_type, SchemaExtension):
        reason = "it is not a Strawberry schema extension."
    else:
        reason = (
            "queries and mutations over HTTP and subscriptions run straight on graphql-core, "
            "past Strawberry's extension hooks, so it would run for websocket queries and "
            "invalid documents only."
        )
    hint = _BUILT_IN.get(extension_type) or (
        f"{_SUPPORTED_NAMES} are applied on every path (exactly those classes, not "
        "subclasses); anything else belongs in schema/engine/."
    )
    raise UnsupportedExtensionError(
        f"OpsGraphSchema cannot run the schema extension {name}: {reason} {hint}"
    )
