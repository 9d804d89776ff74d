"""Query cost limits as schema extensions, built once so that prepared documents stay cached.

The engine reads their validation rules and token limit when the schema is built
(``schema.engine.extensions``); a depth or alias limiter built per operation
would make a new rule class each time, and no prepared document would match it.
"""

from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from server.core.settings import Settings


def limit_extensions(settings: Settings) -> list[SchemaExtension]:
    extensions: list[SchemaExtension] = [
        QueryDepthLimiter(max_depth=settings.max_query_depth),
        MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        MaxTokensLimiter(max_token_count=settings.max_tokens),
    ]
    if not settings.introspection_enabled:
        extensions.append(AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return extensions
