"""Redirects are followed as Go's http.Client follows them for Heketi's client: a new token for
each hop (Heketi's CheckRedirect), 301/302/303 turn a POST or DELETE into a GET without body,
307/308 repeat the request."""

from __future__ import annotations

import json

import httpx
import jwt
import pytest

from brickyard.client import HeketiClient, HeketiError, qsh


def claims(request: httpx.Request) -> dict[str, object]:
    token = request.headers["authorization"].split()[1]
    decoded: dict[str, object] = jwt.decode(token, "secret", algorithms=["HS256"])
    return decoded


class Hops:
    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses.pop(0)

    def client(self) -> HeketiClient:
        return HeketiClient("http://heketi", "admin", "secret", transport=httpx.MockTransport(self))


def moved(status: int, location: str) -> httpx.Response:
    return httpx.Response(status, headers={"Location": location})


def test_a_get_follows_with_a_token_for_the_new_path() -> None:
    hops = Hops(moved(301, "/volumes"), httpx.Response(200, json={"volumes": []}))
    assert hops.client().volume_info("") == {"volumes": []}  # as Heketi's heketi-cli would
    assert [(r.method, r.url.path) for r in hops.requests] == [
        ("GET", "/volumes/"),
        ("GET", "/volumes"),
    ]
    assert [claims(r)["qsh"] for r in hops.requests] == [
        qsh("GET", "/volumes/"),
        qsh("GET", "/volumes"),
    ]


@pytest.mark.parametrize("status", [301, 302, 303])
def test_other_methods_become_a_get_without_body(status: int) -> None:
    hops = Hops(moved(status, "/clusters"), httpx.Response(200, json={"clusters": []}))
    with pytest.raises(HeketiError):  # a create wants its 201
        hops.client().cluster_create()
    first, second = hops.requests
    assert (first.method, json.loads(first.content)) == ("POST", {"block": True, "file": True})
    assert (second.method, second.content) == ("GET", b"")


@pytest.mark.parametrize("status", [307, 308])
def test_307_and_308_repeat_the_request(status: int) -> None:
    hops = Hops(moved(status, "/elsewhere"), httpx.Response(201, json={"id": "c"}))
    assert hops.client().cluster_create() == {"id": "c"}
    first, second = hops.requests
    assert (second.method, second.url.path, second.content) == ("POST", "/elsewhere", first.content)
    assert claims(second)["qsh"] == qsh("POST", "/elsewhere")


def test_a_redirect_without_location_is_the_answer() -> None:
    hops = Hops(httpx.Response(301, content=b"moved somewhere\n"))
    with pytest.raises(HeketiError) as error:
        hops.client().cluster_list()
    assert (error.value.status, error.value.message) == (301, "moved somewhere")


def test_a_loop_stops_after_ten() -> None:
    hops = Hops(*[moved(302, "/a") for _ in range(11)])
    with pytest.raises(HeketiError, match=r'^Get "/a": stopped after 10 redirects$'):
        hops.client().cluster_list()
    assert len(hops.requests) == 11


def test_a_429_after_a_redirect_retries_the_first_request() -> None:
    hops = Hops(
        moved(301, "/moved"),
        httpx.Response(429, content=b"Server busy. Retry operation later.\n"),
        moved(301, "/moved"),
        httpx.Response(200, json={"clusters": []}),
    )
    client = HeketiClient(
        "http://heketi",
        "admin",
        "secret",
        transport=httpx.MockTransport(hops),
        sleep=lambda seconds: None,
    )
    assert client.cluster_list() == {"clusters": []}
    assert [r.url.path for r in hops.requests] == ["/clusters", "/moved"] * 2
