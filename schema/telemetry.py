"""Operation durations for Prometheus, labelled by root fields (a bounded set)."""

import time
from collections.abc import Iterator

from graphql import FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from server import metrics


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        operation_type, root_fields = self._describe()
        metrics.graphql_operations.labels(
            operation_type=operation_type, root_fields=root_fields
        ).observe(time.perf_counter() - started)

    def _describe(self) -> tuple[str, str]:
        document = self.execution_context.graphql_document
        result = self.execution_context.result
        if document is None or result is None or getattr(result, "data", None) is None:
            return "invalid", ""
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode) and (
                self.execution_context.operation_name
                in (None, getattr(definition.name, "value", None))
            ):
                fields = sorted(
                    {
                        s.name.value
                        for s in definition.selection_set.selections
                        if isinstance(s, FieldNode)
                    }
                )
                return definition.operation.value, ",".join(fields)
        return "invalid", ""
