"""The ASGI application and Heketi's request pipeline (contract §1.0): gorilla/mux's path
cleaning, /hello and /metrics outside auth, then JWT, the user/admin rule, the admin-state gate,
trailing-slash redirects, and finally the routers, with Heketi's plain-text errors."""

from __future__ import annotations

import logging
import posixpath
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from ..domain.errors import BrickyardError, Busy, Conflict, InvalidRequest, NotFound
from ..logs import ACCESS, REQUEST_ID, AccessEntry, emit, new_request_id
from ..store.errors import DatabaseUnavailable
from .auth import AuthError, authenticate, authorize
from .decode import DecodeError
from .responses import empty, text_error
from .routes import admin, clusters, dashboard, devices, extras, nodes, queue, status, volumes
from .routing import Match, Router
from .state import ApiState

log = logging.getLogger(__name__)

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


# Characters Go's url.URL.EscapedPath leaves as they are (besides letters, digits and "-._~").
_PATH_SAFE = "/$&+,:;=@"
# Go's html.EscapeString as net/http uses it in http.Redirect's body.
_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def decoded_path(scope: Scope) -> bytes:
    """The request path as Go's r.URL.Path holds it: percent-decoded, bytes as they are."""
    raw = scope.get("raw_path")
    if raw is None:
        return str(scope["path"]).encode("utf-8", "surrogateescape")
    return unquote_to_bytes(raw)


def clean_path(path: bytes) -> bytes:
    """gorilla/mux's cleanPath: Go's path.Clean, keeping a trailing slash."""
    if path.startswith(b"/") and b"//" not in path and b"/." not in path:
        return path  # already clean: the common case, without normpath's cost
    rooted = b"/" + path.lstrip(b"/")  # normpath would keep a leading "//", Go does not
    cleaned = posixpath.normpath(rooted)
    if path.endswith(b"/") and cleaned != b"/":
        cleaned += b"/"
    return cleaned


def _location(path: bytes, query: bytes) -> str:
    """A redirect target as Go's url.URL.String writes it from a path and the raw query."""
    target = quote_from_bytes(path, safe=_PATH_SAFE).encode()
    if query:
        target += b"?" + query
    return target.decode("latin-1")


def clean_path_redirect(path: bytes, query: bytes) -> Response:
    """mux.Router.ServeHTTP for an unclean path: 301 with no body, before any other check."""
    response = empty(301)
    response.headers["Location"] = _location(path, query)
    return response


def slash_redirect(method: str, path: bytes, query: bytes) -> Response:
    """mux's StrictSlash redirect, written by Go's http.Redirect: an HTML body for GET (none
    for HEAD, which still gets the content type), nothing for the other methods."""
    target = _location(path, query)
    if method not in ("GET", "HEAD"):
        response = empty(301)
    else:
        # the target holds bytes as latin-1 characters: write them back as they came
        href = target.translate(_HTML_ESCAPES).encode("latin-1")
        body = b'<a href="' + href + b'">Moved Permanently</a>.\n\n'
        response = Response(
            content=body if method == "GET" else b"",
            status_code=301,
            media_type="text/html; charset=utf-8",
        )
    # Go's hexEscapeNonASCII: the query may carry raw bytes the path escaping left alone.
    response.headers["Location"] = "".join(c if c < "\x80" else f"%{ord(c):x}" for c in target)
    return response


def error_response(error: Exception) -> Response | None:
    """Heketi's answer to an error an endpoint raised; None for a bug (a 500)."""
    if isinstance(error, BrickyardError):
        return text_error(status_of(error), error.message)
    if isinstance(error, DatabaseUnavailable):
        # PostgreSQL restarting or out of reach: an honest "not now" (the pool reconnects by
        # itself), never an answer made up without the database.
        log.warning("database unavailable: %s", error.orig)
        return text_error(503, "Database unavailable: retry later")
    if isinstance(error, DecodeError):
        return text_error(422, "request unable to be parsed")
    return None


@dataclass
class AppState:
    api: ApiState


class BrickyardApp:
    """The ASGI application: Heketi's pipeline, then the routes (routing.py says why they are
    not a framework's). Endpoints reach the ApiState as ``request.app.state.api``."""

    def __init__(self, api: ApiState, router: Router) -> None:
        self.api = api
        self.state = AppState(api)
        self.metrics: Any = None  # the Prometheus registry, made at the first scrape
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets: the server closes the connection
        scope["app"] = self
        started = time.perf_counter()
        request_id = new_request_id()
        REQUEST_ID.set(request_id)  # this request's task only: each runs in its own context
        status = 500  # unless a response was made: the client went away, or a bug
        try:
            response = self._answer(scope)
            if response is None:
                response = await self._route(scope, receive)
            status = response.status_code
            await response(scope, receive, send)
        finally:
            if ACCESS.isEnabledFor(logging.INFO):
                _access_line(scope, status, started, request_id)

    async def _route(self, scope: Scope, receive: Receive) -> Response:
        match, endpoint, arguments = self.router.find(scope["method"], scope["path"])
        if endpoint is None:
            if match == Match.PARTIAL:
                return empty(405)
            return text_error(404, "Invalid path or request")
        try:
            return await endpoint(Request(scope, receive), **arguments)
        except Exception as exc:
            answer = error_response(exc)
            if answer is None:
                log.exception("%s %s failed", scope["method"], scope["path"])
                return PlainTextResponse("Internal Server Error", status_code=500)
            return answer

    def _answer(self, scope: Scope) -> Response | None:
        """The pipeline's own answer, or None to hand the request to the routers."""
        method: str = scope["method"]
        path: str = scope["path"]
        decoded = decoded_path(scope)
        cleaned = clean_path(decoded)
        if cleaned != decoded:  # Heketi's outer router cleans before /hello, /metrics, auth
            return clean_path_redirect(cleaned, scope["query_string"])
        if method == "GET" and path == "/hello":
            return Response("Hello from Heketi", media_type="text/plain; charset=UTF-8")
        if method == "GET" and path == "/metrics":
            return self._metrics()
        if path == "/dashboard" or path.startswith("/dashboard/"):
            return None  # the dashboard checks its own session (api/routes/dashboard.py)
        rejection = self._check(scope, method, decoded, path)
        if rejection is not None:
            return rejection
        if len(path) > 1 and path.endswith("/"):
            return self._strict_slash(scope, method, decoded)
        return None

    def _metrics(self) -> Response:
        # prometheus_client (and its http.server, wsgiref, urllib.request) is imported by the
        # first scrape, not at start: a server nobody scrapes never loads it.
        from .metrics import CONTENT_TYPE, build_registry, render

        if self.metrics is None:
            self.metrics = build_registry(self.api.services)
        return Response(render(self.metrics), media_type=CONTENT_TYPE)

    def _strict_slash(self, scope: Scope, method: str, decoded: bytes) -> Response | None:
        """Heketi's router (StrictSlash) matches "/clusters/" as "/clusters" and redirects; the
        path without its slash must match a route, and with the wrong method it is a 405."""
        match = self.router.match(method, scope["path"][:-1])
        if match == Match.FULL:
            return slash_redirect(method, decoded[:-1], scope["query_string"])
        if match == Match.PARTIAL:
            return empty(405)
        return None  # the routers answer 404 Invalid path or request

    def _check(self, scope: Scope, method: str, decoded: bytes, path: str) -> Response | None:
        if self.api.keys is not None:
            header = None
            for name, value in scope["headers"]:
                if name == b"authorization":
                    # every byte as Go sees it (strings.Fields works on UTF-8)
                    header = value.decode("utf-8", "surrogateescape")
                    break
            try:
                issuer = authenticate(header, method, decoded, self.api.keys)
                authorize(issuer, path)
            except AuthError as exc:
                return text_error(exc.status, exc.message)
        mode = self.api.admin_state
        if mode != "normal" and method not in ("GET", "HEAD"):
            client = scope.get("client")
            local = client is not None and client[0] in LOCAL_PEERS
            if mode == "read-only" or not local:
                return text_error(503, "Service disabled for maintenance")
        return None


def _access_line(scope: Scope, status: int, started: float, request_id: str) -> None:
    """The request's line, as Heketi's access log (method, path, status, duration, peer)."""
    client = scope.get("client")
    peer = f"{client[0]}:{client[1]}" if client else "-"
    raw = scope.get("raw_path")  # as sent, percent-escapes kept; never the query string
    path = raw.decode("latin-1") if raw is not None else scope["path"]
    elapsed = (time.perf_counter() - started) * 1000
    emit(ACCESS, AccessEntry(scope["method"], path, status, elapsed, peer, request_id))


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to start or stop with the server (bootstrap did it): say so when asked."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(state: ApiState) -> BrickyardApp:
    modules = (clusters, nodes, devices, volumes, queue, admin, extras, status, dashboard)
    tables = [module.router for module in modules]
    return BrickyardApp(state, Router(tables))
