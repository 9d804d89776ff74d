"""The browser pages opsgraph serves itself: the playground and the dashboard.

Every file such a page loads comes from this server, so that the pages work
on a machine without internet and under a Content-Security-Policy of
``script-src 'self'``: no inline script or style, no CDN.

- ``GET /graphql`` (a browser's, without a query) answers the playground page,
  ``static/playground/index.html``; ``server.transport.graphql_http`` serves it.
- ``/static/playground/`` holds the playground's own script, examples and style.
- ``/static/vendor/`` holds the libraries both pages use, copied from the npm
  registry at pinned versions by ``scripts/vendor-web-assets.sh`` (GraphiQL,
  its explorer plugin, React and React DOM for the playground; graphql-ws and
  uPlot for the dashboard), each beside its licence.
- ``/dashboard`` answers ``web-examples/dashboard/index.html`` and
  ``/dashboard/<file>`` the files beside it.

With the playground off (production, or ``OPSGRAPH_PLAYGROUND=false``) neither
its page nor its own files nor the libraries only it uses are served; the
dashboard is part of the product and stays.
"""

from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from server.core.migrations import ROOT
from server.core.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
PLAYGROUND_DIR = STATIC_DIR / "playground"
DASHBOARD_DIR = ROOT / "web-examples" / "dashboard"
DASHBOARD_PATH = "/dashboard"
#: Vendored libraries that only the playground loads.
PLAYGROUND_LIBRARIES = frozenset({"graphiql", "graphiql-plugin-explorer", "react", "react-dom"})


def playground_page() -> str:
    """The playground's HTML, served on a browser's ``GET /graphql``."""
    return (PLAYGROUND_DIR / "index.html").read_text(encoding="utf-8")


class VendoredLibraries(StaticFiles):
    """The vendored libraries, less those whose page is not served."""

    def __init__(self, *, directory: Path, withheld: frozenset[str]) -> None:
        super().__init__(directory=directory)
        self.withheld = withheld

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.split("/", 1)[0] in self.withheld:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def mount_web_assets(app: FastAPI, settings: Settings) -> None:
    """Serve the dashboard, the vendored libraries and, when on, the playground's files."""
    withheld = frozenset() if settings.playground_enabled else PLAYGROUND_LIBRARIES
    app.mount("/static/vendor", VendoredLibraries(directory=VENDOR_DIR, withheld=withheld))
    if settings.playground_enabled:
        app.mount("/static/playground", StaticFiles(directory=PLAYGROUND_DIR))

    @app.get(DASHBOARD_PATH, include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(DASHBOARD_DIR / "index.html", media_type="text/html")

    app.mount(DASHBOARD_PATH, StaticFiles(directory=DASHBOARD_DIR, html=True))
