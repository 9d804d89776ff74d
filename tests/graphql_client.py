"""A small GraphQL-over-HTTP client for tests."""

from dataclasses import dataclass
from typing import Any

import httpx


class GraphQLErrorResponse(AssertionError):
    pass


@dataclass
class GraphQLClient:
    http: httpx.AsyncClient

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if key is not None:
            all_headers["Authorization"] = f"Bearer {key}"
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.http.post("/graphql", json=body, headers=all_headers)

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        """The whole response body (data and errors)."""
        response = await self.post(query, variables, key=key)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        """The data of a response that must have no errors."""
        body = await self.execute(query, variables, key=key)
        if body.get("errors"):
            raise GraphQLErrorResponse(body["errors"])
        data: dict[str, Any] = body["data"]
        return data

    async def error_code(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> str:
        """The code of the single error a response must carry."""
        body = await self.execute(query, variables, key=key)
        errors = body.get("errors") or []
        assert len(errors) == 1, body
        code: str = errors[0]["extensions"]["code"]
        return code

    async def bad_input(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> tuple[str, str]:
        """The field and message of the one BAD_USER_INPUT error a response must carry."""
        body = await self.execute(query, variables, key=key)
        errors = body.get("errors") or []
        assert len(errors) == 1, body
        extensions = errors[0]["extensions"]
        assert extensions["code"] == "BAD_USER_INPUT", body
        return extensions["field"], errors[0]["message"]

    async def bad_input_field(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> str:
        """The field of the one BAD_USER_INPUT error a response must carry."""
        field, _message = await self.bad_input(query, variables, key=key)
        return field
