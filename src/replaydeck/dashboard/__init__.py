"""The dashboard: a Starlette sub-app behind the control-plane guard (proxy/control.py).

It serves the UI (plain ES modules from ``static/``, no build step, no CDN), the
JSON control API under ``/__replaydeck/api`` and the live-event WebSocket. It
owns the request history: a bus subscriber that writes SQLite on its own task,
started and stopped with the server's lifespan (``ProxyApp.services``).

The guard in front of it has already checked Host, origin and token; this app
adds no CORS headers and sends nothing that is not redacted.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from replaydeck.history import History, HistoryRecorder
from replaydeck.settings import Settings

from .api import Api, ApiError, error_response
from .live import LiveEvents

STATIC = Path(__file__).parent / "static"
PREFIX = "/__replaydeck"
API = PREFIX + "/api"

__all__ = ["build_dashboard"]


def build_dashboard(proxy: Any, settings: Settings) -> Any:
    history = None
    if settings.history_max_entries > 0:
        history = History(settings.history_path, settings.history_max_entries,
                          settings.history_max_days)
    recorder = HistoryRecorder(history, proxy.bus, secrets.token_hex(3))
    proxy.services.append(recorder)
    api = Api(proxy, history, recorder)

    async def index(request: Request) -> Response:
        # the page must never be cached: it names the module versions to load
        return FileResponse(STATIC / "index.html", headers={
            "cache-control": "no-store", "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer", "x-frame-options": "DENY",
            "content-security-policy": "default-src 'self'; connect-src 'self'; "
                                       "img-src 'self' data:; style-src 'self'; "
                                       "script-src 'self'; frame-ancestors 'none'"})

    routes = [
        Route("/", index, methods=["GET", "HEAD"]),
        Route(PREFIX, index, methods=["GET", "HEAD"]),
        Route(PREFIX + "/", index, methods=["GET", "HEAD"]),
        Route(API + "/openapi.json", api.openapi, methods=["GET"]),
        Route(API + "/requests", api.list_requests, methods=["GET"]),
        Route(API + "/requests", api.clear_requests, methods=["DELETE"]),
        Route(API + "/requests/{rid}", api.get_request, methods=["GET"]),
        Route(API + "/requests/{rid}/curl", api.request_curl, methods=["GET"]),
        Route(API + "/requests/{rid}/nearest", api.request_nearest, methods=["GET"]),
        Route(API + "/facets", api.facets, methods=["GET"]),
        Route(API + "/series", api.series, methods=["GET"]),
        Route(API + "/tapes", api.list_tapes, methods=["GET"]),
        Route(API + "/tapes/diff", api.diff_tapes, methods=["GET"]),
        Route(API + "/tapes/{key}", api.get_tape, methods=["GET"]),
        Route(API + "/tapes/{key}", api.delete_tape, methods=["DELETE"]),
        Route(API + "/tapes/{key}/rerecord", api.mark_rerecord, methods=["POST"]),
        Route(API + "/tapes/{key}/rerecord", api.unmark_rerecord, methods=["DELETE"]),
        Route(API + "/settings", api.get_settings, methods=["GET"]),
        Route(API + "/settings", api.update_settings, methods=["PATCH"]),
        WebSocketRoute(API + "/events", LiveEvents(proxy, recorder).endpoint),
        Mount(PREFIX + "/static", StaticFiles(directory=STATIC), name="static"),
    ]

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, str(exc), exc.kind)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
        return error_response(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}",
                              kind)

    async def server_error(request: Request, exc: Exception) -> Response:
        return error_response(500, f"internal error: {exc!r}", "internal")

    app = Starlette(routes=routes, exception_handlers={
        ApiError: api_error, HTTPException: http_error, Exception: server_error})
    return app
