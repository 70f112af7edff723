"""The FastAPI application and Heketi's request pipeline (contract §1.0): /hello and /metrics
outside auth, then JWT, the user/admin rule, the admin-state gate, trailing-slash redirects,
and finally the routers, with Heketi's plain-text errors."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..domain.errors import BrickyardError, Busy, Conflict, InvalidRequest, NotFound
from .auth import AuthError, authenticate, authorize
from .decode import DecodeError
from .metrics import build_registry, render
from .responses import empty, text_error
from .routes import admin, clusters, devices, extras, nodes, queue, volumes
from .state import ApiState

LOCAL_PEERS = ("127.0.0.1", "::1")


def status_of(error: BrickyardError) -> int:
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, InvalidRequest):
        return 400
    if isinstance(error, Conflict):
        return 409
    if isinstance(error, Busy):
        return 429
    return 500


class HeketiPipeline:
    """Pure ASGI middleware: cheaper than BaseHTTPMiddleware on every request."""

    def __init__(self, app: ASGIApp, state: ApiState, metrics: Any) -> None:
        self.app = app
        self.state = state
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        if method == "GET" and path == "/hello":
            await Response("Hello from Heketi", media_type="text/plain; charset=UTF-8")(
                scope, receive, send
            )
            return
        if method == "GET" and path == "/metrics":
            await Response(render(self.metrics), media_type=CONTENT_TYPE_LATEST)(
                scope, receive, send
            )
            return
        rejection = self._check(scope, method, path)
        if rejection is not None:
            await rejection(scope, receive, send)
            return
        if len(path) > 1 and path.endswith("/"):
            redirect = empty(301)
            redirect.headers["Location"] = path.rstrip("/") or "/"
            await redirect(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope, method: str, path: str) -> Response | None:
        if self.state.keys is not None:
            header = None
            for name, value in scope["headers"]:
                if name == b"authorization":
                    header = value.decode("latin-1")
                    break
            raw_path = scope.get("raw_path") or path.encode()
            try:
                issuer = authenticate(header, method, raw_path.decode("latin-1"), self.state.keys)
                authorize(issuer, path)
            except AuthError as exc:
                return text_error(exc.status, exc.message)
        mode = self.state.admin_state
        if mode != "normal" and method not in ("GET", "HEAD"):
            client = scope.get("client")
            local = client is not None and client[0] in LOCAL_PEERS
            if mode == "read-only" or not local:
                return text_error(503, "Service disabled for maintenance")
        return None


def create_app(state: ApiState) -> FastAPI:
    app = FastAPI(
        title="Brickyard",
        description="Heketi-compatible GlusterFS volume manager",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.router.redirect_slashes = False
    app.state.api = state
    for module in (clusters, nodes, devices, volumes, queue, admin, extras):
        app.include_router(module.router)

    @app.exception_handler(BrickyardError)
    async def domain_error(_: Request, exc: BrickyardError) -> Response:
        return text_error(status_of(exc), exc.message)

    @app.exception_handler(DecodeError)
    async def decode_error(_: Request, exc: DecodeError) -> Response:
        return text_error(422, "request unable to be parsed")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return text_error(404, "Invalid path or request")
        if exc.status_code == 405:
            return empty(405)
        return text_error(exc.status_code, str(exc.detail))

    app.add_middleware(HeketiPipeline, state=state, metrics=build_registry(state.services.ctx))
    return app
