"""`viewer_app`: the Starlette app of the viewer, its routes and its guard.

The page is three files shipped in the package (``static/``): read once, served
from memory with their media types, nothing generated. Every other path is the
JSON API (``_api``) or the event stream (``_live``). Only GET routes exist; the
`Guard` in front refuses any other method before routing, and adds the security
headers to every response.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._api import ENDPOINTS
from ._guard import App, Guard, loopback_hosts
from ._live import events
from ._viewer import Viewer

__all__ = ["STATIC", "viewer_app"]

LOOPBACK = loopback_hosts()

STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/viewer.js": ("viewer.js", "text/javascript; charset=utf-8"),
    "/static/viewer.css": ("viewer.css", "text/css; charset=utf-8"),
}
"""Path -> (file in ``static/``, media type): the page."""


def viewer_app(
    viewer: Viewer,
    *,
    token: str | None = None,
    hosts: frozenset[str] | None = LOOPBACK,
) -> App:
    """Return the viewer's ASGI app over ``viewer``.

    Args:
        viewer: what the app reads through.
        token: the token every request must carry (see `Guard`); None on loopback.
        hosts: the host names requests may name (the loopback names when bound to
            loopback); None for any (bound elsewhere, with a token).
    """
    routes = [_page(path, name, media) for path, (name, media) in STATIC.items()]
    routes += [Route(path, endpoint, methods=["GET"]) for path, endpoint in ENDPOINTS.items()]
    routes.append(Route("/api/events", events, methods=["GET"]))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await viewer.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.viewer = viewer
    return Guard(app, token=token, hosts=hosts)


def _page(path: str, name: str, media_type: str) -> Route:
    body = resources.files(__package__).joinpath("static", name).read_bytes()

    async def serve(request: Request) -> Response:
        return Response(body, media_type=media_type)

    return Route(path, serve, methods=["GET"])
