"""The dashboard's paths over HTTP (the browser tests are in tests/browser): what answers
without a session, that the session opens only the dashboard (never the API), and that the
rest of Heketi's routing is untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from .conftest import authenticated_sim_server

ADMIN_KEY = "admin secret"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    server = authenticated_sim_server(tmp_path, ADMIN_KEY)
    transport = httpx.ASGITransport(app=server.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c
    server.close()


async def test_no_data_without_a_session(client: httpx.AsyncClient) -> None:
    answer = await client.get("/dashboard")
    assert answer.status_code == 401 and 'name="key"' in answer.text
    assert "Clusters" not in answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    client.cookies.set("brickyard_session", "admin.9999999999.x")
    assert (await client.get("/dashboard")).status_code == 401


async def test_login_sets_a_session_that_opens_the_dashboard_only(
    client: httpx.AsyncClient,
) -> None:
    wrong = await client.post("/dashboard/login", data={"user": "admin", "key": "nope"})
    assert wrong.status_code == 401 and "Wrong user or key." in wrong.text
    assert "set-cookie" not in wrong.headers
    good = await client.post("/dashboard/login", data={"user": "admin", "key": ADMIN_KEY})
    assert good.status_code == 303 and good.headers["location"] == "/dashboard"
    cookie = good.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and ADMIN_KEY not in cookie
    assert "Secure" not in cookie  # plain HTTP here
    session = cookie.split(";")[0].split("=", 1)[1]
    client.cookies.set("brickyard_session", session)
    page = await client.get("/dashboard")
    assert page.status_code == 200 and "Clusters" in page.text
    # The cookie is no API credential.
    api = await client.get("/internal/status")
    assert api.status_code == 401
    out = await client.post("/dashboard/logout")
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]


async def test_heketis_routing_is_untouched(client: httpx.AsyncClient) -> None:
    assert (await client.get("/clusters")).status_code == 401  # the API still wants a JWT
    assert (await client.get("/dashboardx")).status_code == 401
    slash = await client.get("/dashboard/")
    assert (slash.status_code, slash.text) == (404, "Invalid path or request\n")
    style = await client.get("/dashboard/style.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")


async def test_the_session_cookie_is_secure_over_tls(tmp_path: Path) -> None:
    server = authenticated_sim_server(tmp_path, ADMIN_KEY)
    transport = httpx.ASGITransport(app=server.app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as tls:
            good = await tls.post("/dashboard/login", data={"user": "admin", "key": ADMIN_KEY})
            assert good.status_code == 303
            assert good.headers["set-cookie"].endswith("; Secure")
    finally:
        server.close()
