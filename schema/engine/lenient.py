"""Input fields read leniently: a bad value reaches the resolver instead of
failing the whole request.

A batch mutation reports every bad item by its index (``ingestSignals``). A
value that its scalar refuses would otherwise fail the coercion of the whole
variable, and with it the batch. Read leniently, the field keeps its scalar's
name, description and output, so the schema reads the same; where the scalar
refuses a value, the value itself is passed on, for the domain to reject as
that item's fault. Being another object than the scalar, a variable declared
with the scalar's type cannot stand for this one field (``ts: $t``); a whole
input object variable, as clients send it, can.
"""

from typing import Any

from graphql import (
    ConstValueNode,
    GraphQLInputObjectType,
    GraphQLScalarType,
    get_nullable_type,
    value_from_ast_untyped,
)
from strawberry import Schema


def read_field_leniently(schema: Schema, type_name: str, field_name: str) -> None:
    input_type = schema._schema.type_map[type_name]
    assert isinstance(input_type, GraphQLInputObjectType)
    field = input_type.fields[field_name]
    strict = get_nullable_type(field.type)
    assert isinstance(strict, GraphQLScalarType), "only a nullable scalar field can be lenient"

    def read(value: Any) -> Any:
        try:
            return strict.coerce_input_value(value)
        except Exception:  # whatever the scalar refuses, as graphql-core treats it
            return value

    def read_literal(node: ConstValueNode) -> Any:
        return read(value_from_ast_untyped(node))

    field.type = GraphQLScalarType(
        name=strict.name,
        description=strict.description,
        specified_by_url=strict.specified_by_url,
        coerce_output_value=strict.coerce_output_value,
        coerce_input_value=read,
        coerce_input_literal=read_literal,
    )
