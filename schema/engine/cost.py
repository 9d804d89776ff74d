"""What an operation costs before it runs, in the model of GitHub's and Shopify's APIs.

A scalar or enum field costs nothing; an object field costs 1 plus its
selection; a list field (one that takes ``first``) costs 1 plus ``first`` (or
the default page size when it is not given) times its selection, so nested
lists multiply. The cost depends on the variables (``first: $n``), so it is
computed per request from the prepared document: a walk of the selection,
far cheaper than executing it. Introspection fields cost nothing.
"""

from collections.abc import Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_composite_type,
)
from graphql.language import DocumentNode
from strawberry import Schema

PAGE_ARGUMENT = "first"


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        default_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_page_size = default_page_size

    def selection_cost(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode, seen: frozenset[str]
    ) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field_cost(parent, selection, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                named = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection_cost(named or parent, selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # refused by validation anyway
                    continue
                named = self.schema.get_type(fragment.type_condition.name.value) or parent
                total += self.selection_cost(named, fragment.selection_set, seen | {name})
        return total

    def field_cost(self, parent: GraphQLNamedType, node: FieldNode, seen: frozenset[str]) -> int:
        if node.name.value.startswith("__"):
            return 0
        definition: GraphQLField | None = getattr(parent, "fields", {}).get(node.name.value)
        if definition is None or node.selection_set is None:
            return 0
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return 0
        children = self.selection_cost(named, node.selection_set, seen)
        if PAGE_ARGUMENT in definition.args:
            return 1 + self.page_size(node) * children
        return 1 + children

    def page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value != PAGE_ARGUMENT:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(int(value.value), 0)
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                if isinstance(given, int) and not isinstance(given, bool):
                    return max(given, 0)
        return self.default_page_size


def operation_cost(
    schema: Schema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    *,
    default_page_size: int,
) -> int:
    """The cost of the operation to run (0 if the document names no such operation)."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    core_schema = schema._schema
    walk = _Walk(core_schema, fragments, variables or {}, default_page_size)
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name is not None and getattr(definition.name, "value", None) != operation_name:
            continue
        root = core_schema.get_root_type(OperationType(definition.operation.value))
        if root is None:
            return 0
        return walk.selection_cost(root, definition.selection_set, frozenset())
    return 0
