"""Parsed and validated documents, prepared once per query text.

A query text always parses to the same document and validates to the same
errors, so both are kept in one bounded LRU cache: a repeated operation pays
neither again. The depth, alias and token limits are part of preparing, so a
document that breaks one is refused (and cached as refused) like any other
invalid one.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    specified_rules,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext

#: Distinct query texts kept prepared; clients send a small, fixed set.
CACHED_DOCUMENTS = 1_024


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """A query text's document (None if it does not parse) and the errors refusing it."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]


class DocumentPreparer:
    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        rules: Sequence[type[ASTValidationRule]],
        max_tokens: int | None,
    ) -> None:
        self._schema = schema
        self._rules = (*specified_rules, *rules)
        self.max_tokens = max_tokens
        self.prepare = lru_cache(maxsize=CACHED_DOCUMENTS)(self._prepare)

    def _prepare(self, query: str) -> PreparedDocument:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError as error:
            return PreparedDocument(None, (error,))
        return PreparedDocument(
            document, tuple(validate_document(self._schema, document, self._rules))
        )


def root_fields(document: DocumentNode, operation_name: str | None) -> tuple[str, str]:
    """The operation's type and its sorted root field names, for metric labels."""
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            operation_name is None or getattr(definition.name, "value", None) == operation_name
        ):
            selections = definition.selection_set.selections
            names = sorted({s.name.value for s in selections if isinstance(s, FieldNode)})
            return definition.operation.value, ",".join(names)
    return "invalid", ""


class PreparedDocuments(SchemaExtension):
    """The same preparation for the operations that run through Strawberry's
    extensions: those of websockets."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        # A text that does not parse is left to Strawberry, which reports the error.
        max_tokens = _preparer(context).max_tokens
        if max_tokens is not None:
            context.parse_options["max_tokens"] = max_tokens
        if context.query is not None:
            context.graphql_document = _preparer(context).prepare(context.query).document
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None:
            context.pre_execution_errors = list(_preparer(context).prepare(context.query).errors)
        yield


def _preparer(context: ExecutionContext) -> DocumentPreparer:
    preparer: DocumentPreparer = context.schema.preparer  # type: ignore[attr-defined]
    return preparer
