"""The dashboard (Brickyard extension) at /dashboard: read-only, rendered on the server.

Its paths skip the JWT check of the API (a browser cannot sign a token per request without
keeping the key): with authentication on, they answer only to a valid session cookie, which the
login form gives for the admin or user key (api/dashboard_session.py). With authentication off
(--disable-auth, use_auth false) the page is open, as the API is."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from ..dashboard_session import COOKIE, check_login, cookie_header, new_session, session_role
from ..routing import Routes
from ..state import api_state, read_body

router = Routes()

HTML = "text/html; charset=utf-8"
# No script, no frame, nothing from elsewhere; forms post only here.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
FAILED_LOGIN_DELAY = 0.5  # seconds: slows key guessing down


def _html(body: str, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=HTML, headers=dict(_HEADERS))


def _redirect(location: str, cookie: str | None = None) -> Response:
    response = Response(b"", status_code=303, headers={"Location": location, **_HEADERS})
    if cookie is not None:
        response.headers["Set-Cookie"] = cookie
    return response


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/dashboard")
async def dashboard(request: Request) -> Response:
    # The page and the overview are loaded by the first visit: a server nobody looks at never
    # holds them (its memory at start is benchmarked).
    from ...services.overview import build_overview
    from ..dashboard_page import MIN_REFRESH, REFRESH_SECONDS, dashboard_page, login_page

    api = api_state(request)
    signed_in_as = None
    if api.keys is not None:
        signed_in_as = session_role(api.keys, request.cookies.get(COOKIE))
        if signed_in_as is None:
            return _html(login_page(), status=401)
    page = _number(request, "page", 1)
    refresh = max(MIN_REFRESH, _number(request, "refresh", REFRESH_SECONDS))
    services = api.services
    view = build_overview(services.ctx, services.health.hosts)
    return _html(dashboard_page(view, page, signed_in_as, refresh))


def _number(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name, "")
    return int(text) if text.isdigit() and len(text) < 7 else default


@router.post("/dashboard/login")
async def login(request: Request) -> Response:
    api = api_state(request)
    if api.keys is None:
        return _redirect("/dashboard")
    from ..dashboard_page import login_page

    form = parse_qs((await read_body(request)).decode("utf-8", "replace"))
    user = (form.get("user") or [""])[0]
    key = (form.get("key") or [""])[0]
    if not check_login(api.keys, user, key):
        await asyncio.sleep(FAILED_LOGIN_DELAY)
        return _html(login_page("Wrong user or key."), status=401)
    cookie = cookie_header(new_session(api.keys, user), _secure(request))
    return _redirect("/dashboard", cookie)


@router.post("/dashboard/logout")
async def logout(request: Request) -> Response:
    return _redirect("/dashboard", cookie_header("", _secure(request), max_age=0))


@router.get("/dashboard/style.css")
async def style(request: Request) -> Response:
    from ..dashboard_page import STYLE

    return Response(
        STYLE,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
