"""The schema's execution of operations.

Strawberry runs every operation through its schema extensions: per request it
builds each extension and a context manager per hook, and again per subscription
event, which costs more than graphql-core's own execution of a small query.
Queries and mutations over HTTP, and valid subscriptions, therefore run here,
straight on graphql-core, doing what the extensions did: the prepared (parsed,
limited, validated) document from one cache, the operation duration metric, the
coded and masked errors. Anything else over a websocket (a query, an invalid
document) keeps the extension path, prepared from the same cache. Schema
extensions given to the schema are applied on every path or refused when it is
built (``schema.engine.extensions``).
"""

import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from graphql import DocumentNode, GraphQLError, execute, located_error, subscribe
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry import Schema
from strawberry.exceptions import MissingQueryError
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, StreamResult
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.aio import aclosing
from strawberry.utils.await_maybe import await_maybe
from strawberry.utils.operation import get_operation_type

from schema.engine.documents import DocumentPreparer, PreparedDocuments, root_fields
from schema.engine.errors import CodedErrors, code_errors, log_errors
from schema.engine.extensions import ExtensionSpec, document_limits, refuse_operation_directives
from server.core import metrics

QUERIES_AND_MUTATIONS = (OperationType.QUERY, OperationType.MUTATION)


class OpsGraphSchema(Schema):
    def __init__(self, *, extensions: Iterable[ExtensionSpec] = (), **kwargs: Any) -> None:
        """Takes Strawberry's arguments. Of schema extensions, only those the engine
        applies on every path (``schema.engine.extensions``); any other, and any
        operation directive, raises UnsupportedExtensionError."""
        limits = document_limits(extensions)
        refuse_operation_directives(kwargs.get("directives", ()))
        super().__init__(extensions=[PreparedDocuments, CodedErrors], **kwargs)
        self.preparer = DocumentPreparer(
            self._schema, rules=limits.validation_rules, max_tokens=limits.max_tokens
        )

    async def execute(  # noqa: PLR0917
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        started = time.perf_counter()
        if not query:
            raise MissingQueryError
        prepared = self.preparer.prepare(query)
        if prepared.document is None or prepared.errors:
            _observe(None, started)
            return self._coded(GraphQLExecutionResult(None, list(prepared.errors)))
        operation_type = _operation_type(prepared.document, operation_name)
        if operation_type is None:
            raise CannotGetOperationTypeError(operation_name)
        if operation_type not in (allowed_operation_types or QUERIES_AND_MUTATIONS):
            raise InvalidOperationTypeError(operation_type)
        result = await await_maybe(
            execute(
                self._schema,
                prepared.document,
                root_value=root_value,
                variable_values=variable_values,
                operation_name=operation_name,
                context_value=context_value,
                is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]  # as Strawberry's
                executor_class=self.execution_context_class,
                operation_extensions=operation_extensions,
            )
        )
        label = root_fields(prepared.document, operation_name) if result.data is not None else None
        _observe(label, started)
        return self._coded(result)

    async def stream(  # noqa: PLR0917
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        """Subscriptions run straight on graphql-core, like queries in ``execute``;
        anything else over a websocket (a query, an invalid document) takes
        Strawberry's path."""
        document = self._subscription(query, operation_name)
        allowed = allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES
        if document is None or OperationType.SUBSCRIPTION not in allowed:
            return await super().stream(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                operation_extensions,
                allowed_operation_types,
            )
        return self._subscribe(
            document,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
        )

    def _subscription(self, query: str | None, operation_name: str | None) -> DocumentNode | None:
        """The prepared document, if it is a valid subscription."""
        prepared = self.preparer.prepare(query) if query else None
        if prepared is None or prepared.document is None or prepared.errors:
            return None
        operation_type = _operation_type(prepared.document, operation_name)
        return prepared.document if operation_type is OperationType.SUBSCRIPTION else None

    async def _subscribe(  # noqa: PLR0917
        self,
        document: DocumentNode,
        variable_values: dict[str, Any] | None,
        context_value: Any,
        root_value: Any,
        operation_name: str | None,
        operation_extensions: dict[str, Any] | None,
    ) -> StreamResult:
        source: AsyncIterator[GraphQLExecutionResult] | GraphQLExecutionResult = await await_maybe(
            subscribe(
                self._schema,
                document,
                root_value=root_value,
                variable_values=variable_values,
                operation_name=operation_name,
                context_value=context_value,
                executor_class=self.execution_context_class,
                operation_extensions=operation_extensions,
            )
        )
        if isinstance(source, GraphQLExecutionResult):  # refused before any event
            yield self._coded(source, PreExecutionError)
            return
        try:
            async with aclosing(source):
                async for result in source:
                    yield self._coded(result)
        except Exception as error:  # graphql-core lets a failing source's error out
            yield self._coded(GraphQLExecutionResult(None, [located_error(error)]))

    @staticmethod
    def _coded(
        result: GraphQLExecutionResult, as_type: type[ExecutionResult] = ExecutionResult
    ) -> ExecutionResult:
        errors = result.errors
        if errors:
            log_errors(errors)
            errors = code_errors(errors)
        return as_type(data=result.data, errors=errors)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors)


def _operation_type(document: DocumentNode, operation_name: str | None) -> OperationType | None:
    try:
        return get_operation_type(document, operation_name)
    except RuntimeError:  # no operation, or none of that name
        return None


def _observe(label: tuple[str, str] | None, started: float) -> None:
    operation_type, fields = label or ("invalid", "")
    elapsed = time.perf_counter() - started
    metrics.child(metrics.graphql_operations, operation_type, fields).observe(elapsed)
