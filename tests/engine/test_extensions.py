"""Schema extensions run on every path, HTTP and websocket, or the schema refuses them."""

from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError, ValidationRule
from strawberry.directive import DirectiveLocation
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from schema.engine.execution import OpsGraphExecutionContext
from schema.engine.extensions import ExtensionSpec, UnsupportedExtensionError
from schema.engine.schema import OpsGraphSchema
from schema.root import build_schema
from server.core.settings import Settings
from tests.conftest import Workspace
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, subscription_client


@strawberry.type
class Node:
    name: str = "n"

    @strawberry.field
    def child(self) -> "Node":
        return Node()


@strawberry.type
class Query:
    @strawberry.field
    def node(self) -> Node:
        return Node()


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def nodes(self) -> AsyncGenerator[Node, None]:
        yield Node()


class Timing(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        yield


class DeeperLimiter(QueryDepthLimiter):
    def on_execute(self) -> Iterator[None]:
        yield


class NoSecrets(ValidationRule):
    def enter_field(self, node: Any, *_: Any) -> None:
        if node.name.value == "child":
            self.report_error(GraphQLError("no children here"))


def make_schema(*extensions: ExtensionSpec, **kwargs: Any) -> OpsGraphSchema:
    return OpsGraphSchema(
        query=Query,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=OpsGraphExecutionContext,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        (Timing, "tests.engine.test_extensions.Timing"),
        (Timing(), "tests.engine.test_extensions.Timing"),
        (lambda: Timing(), "tests.engine.test_extensions.Timing (built by "),
        (DeeperLimiter(max_depth=3), "tests.engine.test_extensions.DeeperLimiter"),
        (MaskErrors, "strawberry.extensions.mask_errors.MaskErrors"),
        (ParserCache, "strawberry.extensions.parser_cache.ParserCache"),
    ],
)
def test_an_extension_the_engine_would_skip_on_some_paths_is_refused_at_build(
    spec: ExtensionSpec, named: str
) -> None:
    with pytest.raises(UnsupportedExtensionError) as refused:
        make_schema(spec)
    message = str(refused.value)
    assert f"OpsGraphSchema cannot run the schema extension {named}" in message
    assert "past Strawberry's extension hooks" in message


def test_the_refusal_says_what_the_engine_does_instead_of_a_built_in_extension() -> None:
    with pytest.raises(UnsupportedExtensionError, match=r"codes and masks errors itself"):
        make_schema(MaskErrors)


def test_build_schema_refuses_an_unsupported_extension() -> None:
    with pytest.raises(
        UnsupportedExtensionError, match=r"extension tests\.engine\.test_extensions"
    ):
        build_schema(Settings(), extensions=[Timing])


def test_operation_directives_are_refused_at_build() -> None:
    @strawberry.directive(locations=[DirectiveLocation.FIELD])
    def shout(value: str) -> str:
        return value.upper()

    with pytest.raises(UnsupportedExtensionError, match=r"operation directives shout"):
        make_schema(directives=[shout])


DEEP = "{ node { child { child { name } } } }"
SHALLOW = "{ node { name } }"
DEEP_SUBSCRIPTION = "subscription { nodes { child { child { name } } } }"
SHALLOW_SUBSCRIPTION = "subscription { nodes { name } }"


async def _over_http(schema: OpsGraphSchema, query: str) -> ExecutionResult:
    return await schema.execute(query)


async def _first(stream: AsyncGenerator[Any, None]) -> ExecutionResult:
    try:
        result: ExecutionResult = await anext(stream)
        return result
    finally:
        await stream.aclose()


async def _websocket_query(schema: OpsGraphSchema, query: str) -> ExecutionResult:
    allowed = (OperationType.QUERY, OperationType.MUTATION, OperationType.SUBSCRIPTION)
    return await _first(await schema.stream(query, allowed_operation_types=allowed))


async def _legacy_websocket(schema: OpsGraphSchema, query: str) -> ExecutionResult:
    return await _first(await schema.subscribe(query))


PATHS: list[tuple[Callable[[OpsGraphSchema, str], Any], str, str]] = [
    (_over_http, SHALLOW, DEEP),
    (_websocket_query, SHALLOW, DEEP),
    (_websocket_query, SHALLOW_SUBSCRIPTION, DEEP_SUBSCRIPTION),
    (_legacy_websocket, SHALLOW_SUBSCRIPTION, DEEP_SUBSCRIPTION),
]
PATH_IDS = ["http", "websocket-query", "websocket-subscription", "graphql-ws-subscription"]


def _codes(result: ExecutionResult) -> list[str]:
    return [error.extensions["code"] for error in result.errors or [] if error.extensions]


@pytest.mark.parametrize(
    "spec",
    [QueryDepthLimiter(max_depth=2), lambda: QueryDepthLimiter(max_depth=2)],
    ids=["instance", "factory"],
)
@pytest.mark.parametrize(("run", "allowed", "refused"), PATHS, ids=PATH_IDS)
async def test_a_depth_limiter_applies_on_every_path(
    spec: ExtensionSpec, run: Any, allowed: str, refused: str
) -> None:
    schema = make_schema(spec)
    assert (await run(schema, allowed)).errors is None
    result = await run(schema, refused)
    assert _codes(result) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "depth" in result.errors[0].message


@pytest.mark.parametrize(("run", "allowed", "refused"), PATHS, ids=PATH_IDS)
async def test_added_validation_rules_apply_on_every_path(
    run: Any, allowed: str, refused: str
) -> None:
    schema = make_schema(AddValidationRules([NoSecrets]))
    assert (await run(schema, allowed)).errors is None
    result = await run(schema, refused)
    assert set(_codes(result)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert result.errors[0].message == "no children here"


@pytest.mark.parametrize(("run", "allowed", "refused"), PATHS, ids=PATH_IDS)
async def test_the_smallest_token_limit_applies_on_every_path(
    run: Any, allowed: str, refused: str
) -> None:
    schema = make_schema(MaxTokensLimiter(max_token_count=40), MaxTokensLimiter(10))
    assert (await run(schema, allowed)).errors is None
    result = await run(schema, refused)
    assert _codes(result) == ["GRAPHQL_PARSE_FAILED"]
    assert "token" in result.errors[0].message.lower()


async def test_a_graphql_ws_subscription_runs_on_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    schema = make_schema()
    engine_subscriptions: list[str] = []
    subscribe = OpsGraphSchema._subscribe

    def spy(self: OpsGraphSchema, document: Any, *args: Any) -> Any:
        engine_subscriptions.append(document.definitions[0].operation.value)
        return subscribe(self, document, *args)

    monkeypatch.setattr(OpsGraphSchema, "_subscribe", spy)
    result = await _legacy_websocket(schema, SHALLOW_SUBSCRIPTION)
    assert result.data == {"nodes": {"name": "n"}}
    assert engine_subscriptions == ["subscription"]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_the_applications_alias_limit_holds_over_websockets(
    live_server: str, workspace: Workspace, protocol: str
) -> None:
    aliases = " ".join(f"a{i}: taskEvents {{ type }}" for i in range(31))
    async with subscription_client(live_server, workspace.viewer, protocol) as client:
        operation = await client.subscribe(f"subscription {{ {aliases} }}")
        message = await client.receive()
        assert message["id"] == operation
        payload = message["payload"]
        errors = payload if isinstance(payload, list) else payload.get("errors", [payload])
        assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "alias" in errors[0]["message"].lower()
