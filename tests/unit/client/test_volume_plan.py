"""``volume_plan`` / ``volume_plan_body``: POST /volumes/plan (Brickyard extension)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
import jwt
import pytest

from brickyard.client import AsyncHeketiClient, HeketiClient, HeketiError, build_volume_create
from brickyard.client.testing import FakeHeketi

pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key is")

PLAN = {"ok": True, "cluster": "c1", "sets": 1, "brick_sets": []}


class Script:
    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses.pop(0)


def _client(script: Script) -> HeketiClient:
    return HeketiClient(
        "http://heketi:8080",
        "admin",
        "secret",
        transport=httpx.MockTransport(script),
        sleep=lambda seconds: None,
    )


def test_plan_posts_the_create_body_synchronously() -> None:
    script = Script(httpx.Response(200, json=PLAN))
    kwargs: dict[str, Any] = {
        "name": "v",
        "durability": "disperse",
        "snapshot_factor": 2.0,
        "gid": 5,
        "clusters": ["c1", "c2"],
        "gluster_volume_options": ["a b"],
        "block": True,
    }
    assert _client(script).volume_plan(10, **kwargs) == PLAN
    (request,) = script.requests
    assert (request.method, request.url.path) == ("POST", "/volumes/plan")
    assert json.loads(request.content) == build_volume_create(10, **kwargs)
    scheme, token = request.headers["authorization"].split()
    assert scheme == "bearer"
    claims = jwt.decode(token, "secret", algorithms=["HS256"])
    assert claims["qsh"] == hashlib.sha256(b"POST&/volumes/plan").hexdigest()


def test_plan_body_is_sent_as_given() -> None:
    script = Script(httpx.Response(200, json=PLAN))
    body = build_volume_create(3, replica=2)
    assert _client(script).volume_plan_body(body) == PLAN
    assert script.requests[0].content == (
        b'{"size":3,"name":"","durability":{"type":"replicate","replicate":{"replica":2},'
        b'"disperse":{"data":4,"redundancy":2}},"snapshot":{"enable":false,"factor":0}}'
    )


def test_a_failed_placement_is_an_answer_not_an_error() -> None:
    failed = {"ok": False, "error": "No space", "cluster": ""}
    assert _client(Script(httpx.Response(200, json=failed))).volume_plan(1) == failed


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            400,
            "validation failed: size: cannot be blank.\n",
            "validation failed: size: cannot be blank.",
        ),
        (401, "Administrator access required\n", "Administrator access required"),
        (404, "Cluster id c9 does not exist\n", "Cluster id c9 does not exist"),
        (500, "", "server did not provide a message (status 500: Internal Server Error)"),
        (
            404,
            "404 page not found\n",
            "the server does not support dry runs (POST /volumes/plan: 404 page not found)",
        ),
        (
            404,
            "Invalid path or request\n",
            "the server does not support dry runs (POST /volumes/plan: Invalid path or request)",
        ),
        (
            405,
            "",
            "the server does not support dry runs (POST /volumes/plan: "
            "server did not provide a message (status 405: Method Not Allowed))",
        ),
    ],
)
def test_plan_errors(status: int, body: str, message: str) -> None:
    script = Script(httpx.Response(status, content=body.encode()))
    with pytest.raises(HeketiError) as caught:
        _client(script).volume_plan(1)
    assert (caught.value.message, caught.value.status) == (message, status)


def test_plan_is_retried_on_429() -> None:
    script = Script(
        httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200, json=PLAN)
    )
    assert _client(script).volume_plan(1) == PLAN
    assert len(script.requests) == 2


def test_fake_plan_places_one_set_or_reports_no_space() -> None:
    fake = FakeHeketi(keys={"admin": "secret"})
    api = HeketiClient("http://h", "admin", "secret", transport=fake.transport())
    cluster = api.cluster_create()["id"]
    for zone in (1, 2):
        node = api.node_add(cluster, zone, [f"n{zone}"], [f"10.0.0.{zone}"])
        api.device_add(node["id"], "/dev/sdb")
    failed = api.volume_plan(5)
    assert failed["ok"] is False and failed["error"].startswith("No space: ")
    assert (failed["cluster"], failed["brick_sets"]) == ("", [])
    node = api.node_add(cluster, 3, ["n3"], ["10.0.0.3"])
    api.device_add(node["id"], "/dev/sdb")
    plan = api.volume_plan(5, clusters=[cluster])
    assert list(plan) == [
        "ok",
        "cluster",
        "size",
        "durability",
        "sets",
        "bricks_per_set",
        "brick_size",
        "brick_sets",
        "skipped",
        "skipped_counts",
        "attempts",
        "clusters",
    ]
    assert (plan["ok"], plan["cluster"], plan["sets"], plan["bricks_per_set"]) == (
        True,
        cluster,
        1,
        3,
    )
    bricks = plan["brick_sets"][0]["bricks"]
    assert [b["position"] for b in bricks] == [0, 1, 2]
    assert len({b["node"] for b in bricks}) == 3
    assert all(b["size"] == 5 * 1024 * 1024 for b in bricks)
    assert plan["durability"] == {"type": "replicate", "replicate": {"replica": 3}, "disperse": {}}
    assert fake.volumes == {}
    assert "POST /volumes" not in fake.calls()
    with pytest.raises(HeketiError, match="size: cannot be blank"):
        api.volume_plan_body({"size": 0})


async def test_async_client_has_the_plan() -> None:
    script = Script(httpx.Response(200, json=PLAN), httpx.Response(200, json=PLAN))
    async with AsyncHeketiClient(
        "http://h", "admin", "secret", transport=httpx.MockTransport(script)
    ) as api:
        assert await api.volume_plan(2) == PLAN
        assert await api.volume_plan_body(build_volume_create(2)) == PLAN
    assert [r.url.path for r in script.requests] == ["/volumes/plan", "/volumes/plan"]
    assert script.requests[0].content == script.requests[1].content
