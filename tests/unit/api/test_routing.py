"""The router Heketi's routes run on (api/routing.py): mux's answers for path and method."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import Response

from brickyard.api.routing import Match, Router, Routes


async def _endpoint(request: Request, **ids: str) -> Response:
    return Response(repr(ids))


def _router() -> Router:
    routes = Routes()
    routes.get("/volumes")(_endpoint)
    routes.post("/volumes/plan")(_endpoint)
    routes.get("/volumes/{volume_id:hex}")(_endpoint)
    routes.delete("/volumes/{volume_id:hex}")(_endpoint)
    routes.post("/volumes/{volume_id:hex}/expand")(_endpoint)
    return Router([routes])


@pytest.mark.parametrize(
    ("method", "path", "match", "ids"),
    [
        ("GET", "/volumes", Match.FULL, {}),
        ("POST", "/volumes", Match.PARTIAL, {}),
        ("POST", "/volumes/plan", Match.FULL, {}),
        ("GET", "/volumes/plan", Match.PARTIAL, {}),  # "plan" is no hex id
        ("GET", "/volumes/aB09", Match.FULL, {"volume_id": "aB09"}),
        ("DELETE", "/volumes/aB09", Match.FULL, {"volume_id": "aB09"}),
        ("POST", "/volumes/aB09", Match.PARTIAL, {}),
        ("HEAD", "/volumes/aB09", Match.PARTIAL, {}),  # mux does not take HEAD for GET
        ("GET", "/volumes/xyz", Match.NONE, {}),
        ("GET", "/volumes/ab/", Match.NONE, {}),
        ("GET", "/volumes/", Match.NONE, {}),
        ("POST", "/volumes/ab/expand", Match.FULL, {"volume_id": "ab"}),
        ("POST", "/volumes/ab/expandx", Match.NONE, {}),
        ("GET", "/nothing", Match.NONE, {}),
        ("GET", "", Match.NONE, {}),
    ],
)
def test_find(method: str, path: str, match: Match, ids: dict[str, str]) -> None:
    found, endpoint, arguments = _router().find(method, path)
    assert found == match
    assert (endpoint is not None) == (match == Match.FULL)
    assert arguments == ids


def test_the_first_declaration_of_a_route_wins() -> None:
    async def first(request: Request) -> Response:
        return Response("first")

    async def second(request: Request) -> Response:
        return Response("second")

    routes = Routes()
    routes.get("/x")(first)
    routes.get("/x")(second)
    assert Router([routes]).find("GET", "/x")[1] is first


@pytest.mark.parametrize("path", ["/a/{x:hex}/{y:hex}", "/a/{x}", "/a/{x:int}"])
def test_only_one_hex_id_per_route(path: str) -> None:
    routes = Routes()
    routes.get(path)(_endpoint)
    with pytest.raises(ValueError, match="one"):
        Router([routes])


def test_every_route_of_the_server_is_found() -> None:
    """Each declared route of the real application answers its own method, with its id."""
    from brickyard.api.routes import admin, clusters, devices, extras, nodes, queue, volumes

    router = Router([m.router for m in (clusters, nodes, devices, volumes, queue, admin, extras)])
    count = 0
    for module in (clusters, nodes, devices, volumes, queue, admin, extras):
        for method, template, endpoint in module.router.entries:
            path = template.split("{")[0] + (
                "0af" + template.split("}")[1] if "{" in template else ""
            )
            found, got, arguments = router.find(method, path)
            assert (found, got) == (Match.FULL, endpoint), (method, template)
            assert list(arguments.values()) == (["0af"] if "{" in template else [])
            count += 1
    assert count == 48


async def test_errors_of_endpoints_are_answered_as_heketi_and_a_bug_is_a_logged_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import sqlite3
    import types

    import httpx

    from brickyard.api.app import BrickyardApp
    from brickyard.api.decode import DecodeError
    from brickyard.domain.errors import NotFound
    from brickyard.store.errors import DatabaseUnavailable

    async def not_found(request: Request) -> Response:
        raise NotFound("Id not found")

    async def undecodable(request: Request) -> Response:
        raise DecodeError("bad")

    async def database_away(request: Request) -> Response:
        raise DatabaseUnavailable(sqlite3.OperationalError("connection refused"))

    async def bug(request: Request) -> Response:
        raise RuntimeError("a bug")

    routes = Routes()
    for path, endpoint in [
        ("/nf", not_found),
        ("/dec", undecodable),
        ("/db", database_away),
        ("/bug", bug),
    ]:
        routes.get(path)(endpoint)
    api = types.SimpleNamespace(keys=None, admin_state="normal")
    app = BrickyardApp(api, Router([routes]))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answers = {p: await client.get(p) for p in ("/nf", "/dec", "/db", "/bug", "/none")}
        wrong_method = await client.post("/nf")
    assert {p: (r.status_code, r.text) for p, r in answers.items()} == {
        "/nf": (404, "Id not found\n"),
        "/dec": (422, "request unable to be parsed\n"),
        "/db": (503, "Database unavailable: retry later\n"),
        "/bug": (500, "Internal Server Error"),
        "/none": (404, "Invalid path or request\n"),
    }
    assert (wrong_method.status_code, wrong_method.content) == (405, b"")
    assert answers["/nf"].headers["content-type"] == "text/plain; charset=utf-8"
    assert any("GET /bug failed" in r.message and r.exc_info for r in caplog.records)
