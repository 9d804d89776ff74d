"""The baseline of bench/graphql_http.py: a plain FastAPI app with one JSON route.

.venv/bin/uvicorn bench.plain_app:app --port 8001
"""

from fastapi import FastAPI

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/")
async def ok() -> dict[str, bool]:
    return {"ok": True}
