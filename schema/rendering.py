"""Pages of a list rendered straight from the columns their selection asks for.

Completing a page field by field costs the executor far more than reading it:
the newest 100 signals with 4 fields each are some 600 completions, each a few
calls deep, and the page's rows were first built into ORM objects and then into
Strawberry objects. When a connection's ``edges`` select only ``cursor``,
``__typename`` and a node's plain scalar fields, the page is instead read as
rows of just those columns and rendered into its final, JSON-ready shape here;
the executor passes it through (``schema.engine.Prerendered``). Any other
selection (arguments, directives, object fields, fragments on another type)
goes the general way, and so does a page whose values a serializer refuses, so
that errors are reported as they always are.

A node type opts in with a ``RenderedNode``: for each scalar field, the column
it is read from and the serializer of its GraphQL type (a null column is null
whatever the serializer), which must be exactly
what the type's resolver would return (tests/test_rendering.py compares both
ways on the same rows).
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from graphql import GraphQLError, GraphQLFloat, GraphQLID, GraphQLInt
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from schema.engine.execution import Prerendered
from schema.scalars import DATETIME
from server.core.pagination import Column, OrderColumns, RowPage, position_of

Serializer = Callable[[Any], Any]

TYPENAME = "__typename"


def _as_is(value: Any) -> Any:
    return value


def _datetime(value: Any) -> Any:
    assert DATETIME.serialize is not None
    return DATETIME.serialize(value)


#: Serializers of the schema's scalars, as the executor applies them.
AS_IS: Serializer = _as_is  # String, Boolean, JSON
ID: Serializer = GraphQLID.serialize
INT: Serializer = GraphQLInt.serialize
FLOAT: Serializer = GraphQLFloat.serialize
DATE_TIME: Serializer = _datetime


def enum_of(enum: type[Enum]) -> Serializer:
    """An enum field whose column holds its members' values: the member's name."""

    def name(value: Any) -> str:
        return enum(value).name

    return name


@dataclass(frozen=True)
class RenderedField:
    column: Column
    serialize: Serializer = AS_IS


@dataclass(frozen=True)
class RenderedNode:
    """How a node type's scalar fields are read from its table's columns."""

    type_name: str
    fields: Mapping[str, RenderedField]

    @property
    def edge_type_name(self) -> str:
        return f"{self.type_name}Edge"

    def plan(self, selections: list[Selection], order: OrderColumns) -> "RenderPlan | None":
        """How to render the edges of a connection field selected as ``selections``
        (``info.selected_fields``), or None when they are not all renderable."""
        if len(selections) != 1 or not isinstance(selections[0], SelectedField):
            return None
        connection = selections[0]
        edges = _merged(connection.selections, f"{self.type_name}Connection", "edges")
        if edges is None:
            return None
        if not edges:
            return RenderPlan.of([], [], list(order))
        if len(edges) != 1:
            return None
        edge_fields = _leaves_and_node(edges[0].selections, self.edge_type_name)
        if edge_fields is None:
            return None
        leaves, node = edge_fields
        if any(name not in ("cursor", TYPENAME, "node") for _, name in leaves):
            return None
        node_fields = _node_fields(node, self) if node is not None else []
        if node_fields is None:
            return None
        columns = list(order)
        for _, field in node_fields:
            if field is not None and not any(c is field.column for c in columns):
                columns.append(field.column)
        return RenderPlan.of(leaves, node_fields, columns, self)


@dataclass(frozen=True)
class RenderPlan:
    columns: list[Column]
    #: The edge's fields in response order: ("cursor" | "__typename" | "node", key).
    edge_keys: list[tuple[str, str]]
    #: The node's response keys, each with its column's position and serializer,
    #: or with None for ``__typename``.
    node_fields: list[tuple[str, int | None, Serializer]]
    type_name: str
    edge_type_name: str

    @classmethod
    def of(
        cls,
        leaves: list[tuple[str, str]],
        node_fields: list[tuple[str, RenderedField | None]],
        columns: list[Column],
        node: RenderedNode | None = None,
    ) -> "RenderPlan":
        return cls(
            columns=columns,
            edge_keys=[(name, key) for key, name in leaves],
            node_fields=[
                (key, None, AS_IS)
                if field is None
                else (key, position_of(field.column, columns), field.serialize)
                for key, field in node_fields
            ],
            type_name=node.type_name if node else "",
            edge_type_name=node.edge_type_name if node else "",
        )

    def render(self, page: RowPage) -> Prerendered | None:
        """The page's edges, or None if a value is one its field's type refuses."""
        try:
            return Prerendered(list(self._edges(page)))
        except (GraphQLError, TypeError, ValueError):
            return None

    def _edges(self, page: RowPage) -> Iterator[dict[str, Any]]:
        type_name = self.type_name
        node_fields = self.node_fields
        for row in page.rows:
            edge: dict[str, Any] = {}
            for kind, key in self.edge_keys:
                if kind == "cursor":
                    edge[key] = page.cursor_of(row)
                elif kind == TYPENAME:
                    edge[key] = self.edge_type_name
                else:
                    edge[key] = {
                        name: type_name
                        if position is None
                        else (None if (value := row[position]) is None else serialize(value))
                        for name, position, serialize in node_fields
                    }
            yield edge


def _flattened(selections: Sequence[Selection], type_name: str) -> list[SelectedField] | None:
    """The fields of ``selections`` with fragments on ``type_name`` spread in place, in
    the executor's order; None if any has a directive or a fragment is on another type."""
    fields: list[SelectedField] = []
    for selection in selections:
        if selection.directives:
            return None
        if isinstance(selection, SelectedField):
            fields.append(selection)
            continue
        condition = selection.type_condition
        if isinstance(selection, InlineFragment) and condition is None:
            condition = type_name
        assert isinstance(selection, InlineFragment | FragmentSpread)
        if condition != type_name:
            return None
        inner = _flattened(selection.selections, type_name)
        if inner is None:
            return None
        fields.extend(inner)
    return fields


def _merged(
    selections: Sequence[Selection], type_name: str, name: str
) -> list[SelectedField] | None:
    """Every selection of field ``name`` under its response keys; None if not renderable."""
    fields = _flattened(selections, type_name)
    if fields is None:
        return None
    chosen = [field for field in fields if field.name == name]
    keys = {field.alias or field.name for field in chosen}
    if len(keys) > 1 or any(field.arguments for field in chosen):
        return None
    if len(chosen) > 1:
        merged = [s for field in chosen for s in field.selections]
        return [SelectedField(name=name, directives={}, arguments={}, selections=merged)]
    return chosen


def _leaves_and_node(
    selections: Sequence[Selection], type_name: str
) -> tuple[list[tuple[str, str]], SelectedField | None] | None:
    """An edge's fields as (response key, name) in response order, and its merged
    ``node`` field."""
    fields = _flattened(selections, type_name)
    if fields is None:
        return None
    leaves: list[tuple[str, str]] = []
    nodes: list[SelectedField] = []
    for field in fields:
        key = field.alias or field.name
        if field.name == "node":
            if nodes and (nodes[0].alias or nodes[0].name) != key:
                return None
            nodes.append(field)
        if key not in (k for k, _ in leaves):
            leaves.append((key, field.name))
    if not nodes:
        return leaves, None
    merged = [s for node in nodes for s in node.selections]
    return leaves, SelectedField(
        name="node", directives={}, arguments={}, selections=merged, alias=nodes[0].alias
    )


def _node_fields(
    node: SelectedField, rendered: RenderedNode
) -> list[tuple[str, RenderedField | None]] | None:
    fields = _flattened(node.selections, rendered.type_name)
    if fields is None:
        return None
    planned: dict[str, tuple[str, RenderedField | None]] = {}
    for field in fields:
        key = field.alias or field.name
        if field.arguments or field.selections:
            return None
        if field.name == TYPENAME:
            chosen = None
        elif field.name in rendered.fields:
            chosen = rendered.fields[field.name]
        else:
            return None
        if key in planned:
            if planned[key][0] != field.name:
                return None
            continue
        planned[key] = (field.name, chosen)
    return [(key, chosen) for key, (_, chosen) in planned.items()]
