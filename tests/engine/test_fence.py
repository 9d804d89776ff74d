"""The names of Strawberry and graphql-core outside their public API that the engine
(schema/engine/) and the transport (server/transport/) rely on, in one list.

After a version bump of either (both pinned in pyproject.toml), a failure here
names what went or changed and the file to check against the new version.
"""

from inspect import isawaitable
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult, GraphQLError, NoSchemaIntrospectionCustomRule, parse
from graphql import build_schema as build_sdl_schema
from graphql.execution.executor import Executor
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionResult as StrawberryExecutionResult

from tests.engine.fence import Behaviour, Reliance, behaviour_problem, problem, resolved

ENGINE_SCHEMA = "schema/engine/schema.py"
ENGINE_EXECUTION = "schema/engine/execution.py"
ENGINE_DOCUMENTS = "schema/engine/documents.py"
ENGINE_ERRORS = "schema/engine/errors.py"
ENGINE_EXTENSIONS = "schema/engine/extensions.py"
ENGINE_LIMITS = "schema/engine/limits.py"
ENGINE_LENIENT = "schema/engine/lenient.py"
ENGINE_COST = "schema/engine/cost.py"
WS_PROTOCOLS = "server/transport/ws_protocols.py"
HTTP = "server/transport/http.py"
GRAPHQL_HTTP = "server/transport/graphql_http.py"
APP = "server/transport/app.py"
CLI = "server/transport/cli.py"

SCHEMA = "strawberry.schema.schema"
EXECUTOR = "graphql.execution.executor.Executor"
TRANSPORT_WS = "strawberry.subscriptions.protocols.graphql_transport_ws"
LEGACY_WS = "strawberry.subscriptions.protocols.graphql_ws"
LEGACY_HANDLER = f"{LEGACY_WS}.handlers.BaseGraphQLWSHandler"
VIEW = "strawberry.asgi.GraphQL"
QUERY_PARAMETERS = ("self", "query", "variable_values", "context_value", "root_value")
STREAM_PARAMETERS = (*QUERY_PARAMETERS, "operation_name", "operation_extensions")


def _r(name: str, used_in: str, use: str, **signature: tuple[str, ...]) -> Reliance:
    return Reliance(name, used_in, use, **signature)


RELIED_ON = [
    # Strawberry's schema: OpsGraphSchema subclasses it and overrides its entry points.
    _r(f"{SCHEMA}.Schema._schema", ENGINE_SCHEMA, "the graphql-core schema executed directly"),
    _r(f"{SCHEMA}.Schema._schema", ENGINE_LENIENT, "the input field given a lenient scalar"),
    _r(f"{SCHEMA}.Schema._schema", ENGINE_COST, "the field definitions a query's cost walks"),
    _r(f"{SCHEMA}.Schema.execution_context_class", ENGINE_SCHEMA, "the executor class it runs"),
    _r(
        f"{SCHEMA}.Schema.__init__",
        ENGINE_SCHEMA,
        "OpsGraphSchema passes Strawberry's arguments on, its own extensions in place",
        accepts=("query", "mutation", "subscription", "directives", "extensions", "config"),
    ),
    _r(
        f"{SCHEMA}.Schema.execute",
        ENGINE_SCHEMA,
        "overridden to run queries and mutations on graphql-core",
        parameters=(
            *QUERY_PARAMETERS,
            "operation_name",
            "allowed_operation_types",
            "operation_extensions",
        ),
    ),
    _r(
        f"{SCHEMA}.Schema.stream",
        ENGINE_SCHEMA,
        "overridden for subscriptions; the rest passed to it positionally",
        parameters=(*STREAM_PARAMETERS, "allowed_operation_types"),
    ),
    _r(
        f"{SCHEMA}.Schema.subscribe",
        ENGINE_SCHEMA,
        "the graphql-ws handler calls it, and it must reach the overridden stream",
        parameters=STREAM_PARAMETERS,
    ),
    _r(
        f"{SCHEMA}.Schema.process_errors",
        ENGINE_SCHEMA,
        "overridden to log errors the engine's way",
        parameters=("self", "errors", "execution_context"),
    ),
    _r(f"{SCHEMA}.DEFAULT_ALLOWED_OPERATION_TYPES", ENGINE_SCHEMA, "stream's default"),
    _r(f"{SCHEMA}.StreamResult", ENGINE_SCHEMA, "stream's return type"),
    _r(f"{SCHEMA}.StrawberryGraphQLCoreExecutionContext", ENGINE_EXECUTION, "subclassed"),
    _r(
        f"{SCHEMA}.validate_document",
        ENGINE_DOCUMENTS,
        "validation with Strawberry's own rules added",
        parameters=("schema", "document", "validation_rules"),
    ),
    _r(
        f"{SCHEMA}._parse_operation_document",
        ENGINE_DOCUMENTS,
        "leaves a document set by PreparedDocuments.on_parse unparsed",
        parameters=("execution_context",),
    ),
    _r(
        f"{SCHEMA}._run_validation",
        ENGINE_DOCUMENTS,
        "leaves errors set by PreparedDocuments.on_validate as they are",
        parameters=("execution_context",),
    ),
    _r(
        "strawberry.schema.exceptions.CannotGetOperationTypeError.as_http_error_reason",
        f"{ENGINE_SCHEMA}, {GRAPHQL_HTTP}",
        "raised for a missing operation, reported as a 400",
        parameters=("self",),
    ),
    _r(
        "strawberry.schema.exceptions.InvalidOperationTypeError.as_http_error_reason",
        f"{ENGINE_SCHEMA}, {GRAPHQL_HTTP}",
        "raised for a refused operation type, reported as a 400 or 405",
        parameters=("self", "method"),
    ),
    _r(
        "strawberry.execution.optimized_is_awaitable",
        ENGINE_SCHEMA,
        "passed to graphql-core's execute, as Strawberry does",
        parameters=("value",),
    ),
    _r(
        "strawberry.types.execution.PreExecutionError",
        ENGINE_SCHEMA,
        "a subscription refused before its first event",
        accepts=("data", "errors"),
    ),
    *(
        _r(f"strawberry.types.execution.ExecutionContext.{field}", ENGINE_DOCUMENTS, "read or set")
        for field in (
            "query",
            "schema",
            "parse_options",
            "graphql_document",
            "pre_execution_errors",
        )
    ),
    _r("strawberry.types.execution.ParseOptions.max_tokens", ENGINE_DOCUMENTS, "the token limit"),
    *(
        _r(f"strawberry.types.graphql.OperationType.{kind}", ENGINE_SCHEMA, "operation types")
        for kind in ("QUERY", "MUTATION", "SUBSCRIPTION")
    ),
    _r("strawberry.utils.aio.aclosing", ENGINE_SCHEMA, "closes a subscription's source"),
    _r(
        "strawberry.utils.await_maybe.await_maybe",
        ENGINE_SCHEMA,
        "awaits graphql-core's result when it is awaitable",
        parameters=("value",),
    ),
    _r(
        "strawberry.utils.operation.get_operation_type",
        ENGINE_SCHEMA,
        "the operation's type; RuntimeError when there is none",
        parameters=("graphql_document", "operation_name"),
    ),
    # Strawberry's extensions: CodedErrors overrides a private hook; limits are read once.
    _r(
        "strawberry.extensions.MaskErrors._process_result",
        ENGINE_ERRORS,
        "overridden by CodedErrors to code every error",
        parameters=("self", "result"),
    ),
    _r(
        "strawberry.extensions.AddValidationRules.validation_rules",
        f"{ENGINE_EXTENSIONS}, {ENGINE_LIMITS}",
        "the rules of a validation-rule extension, added to every path's preparation",
    ),
    _r(
        "strawberry.extensions.MaxTokensLimiter.max_token_count",
        ENGINE_EXTENSIONS,
        "the token limit of every path's preparation",
    ),
    # Strawberry's websocket handlers, subclassed by the transport.
    _r(
        f"{TRANSPORT_WS}.handlers.BaseGraphQLTransportWSHandler.handle_subscribe",
        WS_PROTOCOLS,
        "overridden to refuse subscriptions over the cap",
        parameters=("self", "message"),
    ),
    *(
        _r(f"{TRANSPORT_WS}.handlers.BaseGraphQLTransportWSHandler.{name}", WS_PROTOCOLS, "read")
        for name in ("operations", "connection_acknowledged", "max_subscriptions_per_connection")
    ),
    _r(
        f"{TRANSPORT_WS}.handlers.BaseGraphQLTransportWSHandler.send_message",
        WS_PROTOCOLS,
        "sends the refusal",
        parameters=("self", "message"),
    ),
    _r(
        f"{TRANSPORT_WS}.handlers.Operation.send_next",
        HTTP,
        "puts an event's data, unchanged, in the message encode_json splices",
        parameters=("self", "execution_result"),
    ),
    _r(f"{TRANSPORT_WS}.types.SubscribeMessage", WS_PROTOCOLS, "handle_subscribe's message"),
    *(
        _r(
            f"{LEGACY_HANDLER}.{name}",
            WS_PROTOCOLS,
            "overridden: init deadline, close codes, subscription cap",
            parameters=parameters,
        )
        for name, parameters in [
            ("handle", ("self",)),
            ("handle_connection_init", ("self", "message")),
            ("handle_start", ("self", "message")),
        ]
    ),
    _r(f"{LEGACY_HANDLER}.handle_keep_alive", WS_PROTOCOLS, "started", parameters=("self",)),
    _r(f"{LEGACY_HANDLER}.send_message", WS_PROTOCOLS, "sends", parameters=("self", "message")),
    _r(
        f"{LEGACY_HANDLER}.send_data_message",
        HTTP,
        "puts an event's data, unchanged, in the message encode_json splices",
        parameters=("self", "execution_result", "operation_id"),
    ),
    *(
        _r(f"{LEGACY_HANDLER}.{name}", WS_PROTOCOLS, "read or set by the overrides")
        for name in (
            "view",
            "websocket",
            "context",
            "keep_alive",
            "keep_alive_task",
            "connection_acknowledged",
            "tasks",
            "max_subscriptions_per_connection",
        )
    ),
    *(
        _r(f"{LEGACY_WS}.types.{name}", WS_PROTOCOLS, "messages sent or handled")
        for name in (
            "ConnectionErrorMessage",
            "ConnectionInitMessage",
            "ErrorMessage",
            "StartMessage",
        )
    ),
    _r("strawberry.types.unset.UNSET", HTTP, "on_ws_connect's answer"),
    _r("strawberry.types.unset.UnsetType", f"{WS_PROTOCOLS}, {HTTP}", "on_ws_connect's answer"),
    _r(
        "strawberry.http.async_base_view.AsyncBaseHTTPView.connection_init_wait_timeout",
        WS_PROTOCOLS,
        "the graphql-ws init deadline",
    ),
    # Strawberry's ASGI view, for websockets.
    *(
        _r(f"{VIEW}.{name}", HTTP, "the transport's handlers plugged in")
        for name in ("graphql_transport_ws_handler_class", "graphql_ws_handler_class")
    ),
    _r(
        f"{VIEW}.run",
        HTTP,
        "called with a starlette WebSocket",
        parameters=("self", "request", "context", "root_value"),
    ),
    _r(f"{VIEW}.encode_json", HTTP, "overridden", parameters=("self", "data")),
    _r(f"{VIEW}.decode_json", HTTP, "overridden", parameters=("self", "data")),
    _r(f"{VIEW}.get_context", HTTP, "overridden", parameters=("self", "request", "response")),
    _r(f"{VIEW}.on_ws_connect", HTTP, "overridden", parameters=("self", "context")),
    _r(
        "strawberry.asgi.ASGIWebSocketAdapter.send_json",
        HTTP,
        "sends every websocket message through the view's encode_json",
        parameters=("self", "message"),
    ),
    _r(
        f"{VIEW}.__init__",
        APP,
        "the websocket view's settings",
        accepts=(
            "graphql_ide",
            "subscription_protocols",
            "connection_init_wait_timeout",
            "max_subscriptions_per_connection",
            "keep_alive",
            "keep_alive_interval",
        ),
    ),
    _r("strawberry.printer.print_schema", CLI, "prints the SDL", parameters=("schema",)),
    # graphql-core: execution with a custom executor class.
    _r(
        "graphql.execute",
        ENGINE_SCHEMA,
        "operation_extensions reaches the executor through **custom_context_args",
        accepts=("root_value", "context_value", "variable_values", "operation_name")
        + ("executor_class", "is_awaitable", "**"),
    ),
    _r(
        "graphql.subscribe",
        ENGINE_SCHEMA,
        "operation_extensions reaches the executor through **custom_context_args",
        accepts=("root_value", "context_value", "variable_values", "operation_name")
        + ("executor_class", "**"),
    ),
    _r("graphql.parse", ENGINE_DOCUMENTS, "parses with the token limit", accepts=("max_tokens",)),
    _r(EXECUTOR, ENGINE_EXECUTION, "the executor's type, imported from its module"),
    _r(
        f"{EXECUTOR}.build_per_event_executor",
        ENGINE_EXECUTION,
        "overridden to render shared events once per selection",
        parameters=("self", "payload"),
    ),
    _r(
        f"{EXECUTOR}.execute_operation",
        ENGINE_EXECUTION,
        "called to render an event, and imitated by _Rendered",
        parameters=("self", "serially"),
    ),
    _r(
        f"{EXECUTOR}.complete_list_value",
        ENGINE_EXECUTION,
        "overridden to pass a Prerendered list through as its complete value",
        parameters=(
            "self",
            "return_type",
            "field_details_list",
            "info",
            "path",
            "result",
            "position_context",
        ),
    ),
    _r(
        f"{EXECUTOR}._relevant_sub_fields",
        ENGINE_EXECUTION,
        "reset for each event so that the subscription's cache stops growing",
    ),
    _r(
        f"{EXECUTOR}.async_helpers",
        ENGINE_EXECUTION,
        "overridden by a property, so that the executor holds no bound methods of itself",
    ),
    *(
        _r(f"{EXECUTOR}.{name}", ENGINE_EXECUTION, "the async helpers' members")
        for name in ("gather_async_work", "track_async_work")
    ),
    _r(
        "graphql.type.definition.GraphQLResolveInfoHelpers",
        ENGINE_EXECUTION,
        "built on access",
        parameters=("gather", "track"),
    ),
    _r("graphql.execution.values.VariableValues.coerced", ENGINE_EXECUTION, "the render key"),
]


# What the code needs these names to keep doing, checked by running them.


@strawberry.type
class _Query:
    a: str = "a"


async def _subscribe_reaches_stream() -> str | None:
    schema = strawberry.Schema(query=_Query)
    calls: list[dict[str, Any]] = []

    async def stream(*args: Any, **kwargs: Any) -> None:
        calls.append(kwargs)

    schema.stream = stream  # type: ignore[method-assign, assignment]
    await schema.subscribe("subscription { a }")
    return None if calls else "no longer calls stream"


async def _validation_left_to_on_validate() -> str | None:
    run_validation = resolved(f"{SCHEMA}._run_validation")
    context = SimpleNamespace(
        validation_rules=(NoSchemaIntrospectionCustomRule,),
        pre_execution_errors=[],
        graphql_document=None,
        schema=None,
    )
    run_validation(context)
    return None if context.pre_execution_errors == [] else "validates again"


async def _unknown_operation_is_a_runtime_error() -> str | None:
    get_operation_type = resolved("strawberry.utils.operation.get_operation_type")
    try:
        get_operation_type(parse("query A { a }"), "B")
    except RuntimeError:
        return None
    return "does not raise RuntimeError for an operation the document lacks"


async def _mask_errors_processes_the_result() -> str | None:
    processed: list[object] = []

    class Probe(MaskErrors):
        def _process_result(self, result: object) -> None:
            processed.append(result)

    extension = Probe()
    result = StrawberryExecutionResult(data=None, errors=[GraphQLError("x")])
    extension.execution_context = SimpleNamespace(result=result)  # type: ignore[assignment]
    hooks = extension.on_operation()
    next(hooks)
    next(hooks, None)
    return None if processed == [result] else "does not pass the result to _process_result"


async def _events_run_through_the_per_event_executor() -> str | None:
    sdl_schema = build_sdl_schema("type Query { a: String } type Subscription { a: String }")
    serially: list[bool | None] = []

    class Stub:
        def execute_operation(self, serial: bool | None = None) -> ExecutionResult:
            serially.append(serial)
            return ExecutionResult({"a": "rendered"}, None)

    context_class = resolved(f"{SCHEMA}.StrawberryGraphQLCoreExecutionContext")

    class Probe(context_class):  # type: ignore[misc, valid-type]
        def build_per_event_executor(self, payload: Any) -> Executor[Any]:
            return Stub()  # type: ignore[return-value]

    async def events(_: Any) -> Any:
        yield {"a": "event"}

    subscribe = resolved("graphql.subscribe")
    source = subscribe(
        sdl_schema,
        parse("subscription { a }"),
        root_value={"a": events},
        executor_class=Probe,
        operation_extensions={"trace": True},
    )
    if isawaitable(source):
        source = await source
    first = await anext(source)
    await source.aclose()
    if first.data != {"a": "rendered"} or serially != [False]:
        return "does not deliver execute_operation(False) of build_per_event_executor's result"
    return None


async def _events_keep_their_data_object() -> str | None:
    data = {"a": "rendered"}
    sent: list[Any] = []

    async def send_message(message: Any) -> None:
        sent.append(message)

    result = StrawberryExecutionResult(data=data, errors=None)
    handler = SimpleNamespace(send_message=send_message, forget_id=lambda _: None)
    operation = resolved(f"{TRANSPORT_WS}.handlers.Operation")(handler, "1", "q", None, None)
    await operation.send_next(result)
    await resolved(f"{LEGACY_HANDLER}.send_data_message")(handler, result, "1")
    if [message["payload"] for message in sent] != [{"data": data}] * 2:
        return "changes an event's payload"
    return None if all(m["payload"]["data"] is data for m in sent) else "copies an event's data"


BEHAVIOURS = [
    Behaviour(
        f"{SCHEMA}.Schema.subscribe",
        ENGINE_SCHEMA,
        "subscriptions of the graphql-ws protocol take the engine's path",
        _subscribe_reaches_stream,
    ),
    Behaviour(
        f"{SCHEMA}._run_validation",
        ENGINE_DOCUMENTS,
        "websocket operations are validated once, from the prepared documents",
        _validation_left_to_on_validate,
    ),
    Behaviour(
        "strawberry.utils.operation.get_operation_type",
        ENGINE_SCHEMA,
        "a missing operation is a 400, not a 500",
        _unknown_operation_is_a_runtime_error,
    ),
    Behaviour(
        "strawberry.extensions.MaskErrors.on_operation",
        ENGINE_ERRORS,
        "CodedErrors codes websocket errors through _process_result",
        _mask_errors_processes_the_result,
    ),
    Behaviour(
        "graphql.execution.execute.map_source_to_response_event",
        ENGINE_EXECUTION,
        "a shared event's render stands in for its per-event executor",
        _events_run_through_the_per_event_executor,
    ),
    Behaviour(
        f"{TRANSPORT_WS}.handlers.Operation.send_next",
        HTTP,
        "a rendered event's data reaches encode_json as the same object",
        _events_keep_their_data_object,
    ),
]


@pytest.mark.parametrize("reliance", RELIED_ON, ids=lambda reliance: reliance.name)
def test_every_relied_on_name_is_still_there_as_used(reliance: Reliance) -> None:
    message = problem(reliance)
    assert message is None, message


@pytest.mark.parametrize("behaviour", BEHAVIOURS, ids=lambda behaviour: behaviour.name)
async def test_every_relied_on_behaviour_still_holds(behaviour: Behaviour) -> None:
    message = await behaviour_problem(behaviour)
    assert message is None, message


def test_a_name_gone_from_a_module_is_reported_with_its_user() -> None:
    reliance = Reliance("graphql.execution.executor.Executor", ENGINE_EXECUTION, "subclassed")

    def without_executor(name: str) -> ModuleType:
        if name != "graphql.execution.executor":
            raise ModuleNotFoundError(name=name)
        return ModuleType(name)

    message = problem(reliance, without_executor)
    assert message is not None
    assert message.startswith(
        "schema/engine/execution.py relies on graphql.execution.executor.Executor, "
        "which graphql-core 3."
    )
    assert "no longer has; check the engine against the new version" in message


def test_a_private_attribute_gone_from_a_class_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reliance = next(r for r in RELIED_ON if r.name.endswith("MaskErrors._process_result"))
    monkeypatch.delattr(MaskErrors, "_process_result")
    message = problem(reliance)
    assert message is not None
    assert message.startswith(
        "schema/engine/errors.py relies on strawberry.extensions.MaskErrors._process_result, "
        "which strawberry-graphql 0."
    )


def test_an_instance_attribute_no_longer_set_is_reported() -> None:
    class Executor:
        def __init__(self) -> None:
            self.other_cache: dict[str, str] = {}

    module = ModuleType("graphql.future")
    module.Executor = Executor  # type: ignore[attr-defined]

    def future_graphql(name: str) -> ModuleType:
        if name != module.__name__:
            raise ModuleNotFoundError(name=name)
        return module

    kept = Reliance("graphql.future.Executor.other_cache", ENGINE_EXECUTION, "read")
    assert problem(kept, future_graphql) is None
    gone = Reliance("graphql.future.Executor._relevant_sub_fields", ENGINE_EXECUTION, "reset")
    message = problem(gone, future_graphql)
    assert message is not None
    assert message.startswith(
        "schema/engine/execution.py relies on graphql.future.Executor._relevant_sub_fields, "
        "which graphql-core 3."
    )


def test_a_changed_signature_is_reported_with_both_signatures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def build_per_event_executor(self: Executor[Any], payload: Any, *, root: Any) -> None:
        """A future signature."""

    monkeypatch.setattr(Executor, "build_per_event_executor", build_per_event_executor)
    reliance = next(r for r in RELIED_ON if r.name.endswith(".build_per_event_executor"))
    message = problem(reliance)
    assert message is not None
    assert message.startswith(
        "schema/engine/execution.py relies on "
        "graphql.execution.executor.Executor.build_per_event_executor taking (self, payload), "
        "but graphql-core 3."
    )
    assert "has (self, payload, root)" in message


async def test_a_changed_behaviour_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MaskErrors, "on_operation", SchemaHooksWithoutProcessing.on_operation)
    behaviour = next(b for b in BEHAVIOURS if b.name.endswith("MaskErrors.on_operation"))
    message = await behaviour_problem(behaviour)
    assert message is not None
    assert message.startswith(
        "schema/engine/errors.py relies on strawberry.extensions.MaskErrors.on_operation, "
        "which in strawberry-graphql 0."
    )
    assert "does not pass the result to _process_result" in message


class SchemaHooksWithoutProcessing:
    def on_operation(self) -> Any:
        yield
