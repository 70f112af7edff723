"""The client's side of Heketi's wire protocol: JWT, polling, 303/204/500, 429 retries."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from brickyard.client import AsyncHeketiClient, Backoff, HeketiClient, HeketiError, make_token
from brickyard.client.testing import FakeHeketi
from brickyard.client.transport import tls_context

Handler = Callable[[httpx.Request], httpx.Response]

pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key is")


class Script:
    """A transport answering from a list of responses, recording requests."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses.pop(0)


def accepted(qid: str = "q1") -> httpx.Response:
    return httpx.Response(202, headers={"Location": f"/queue/{qid}"})


def pending() -> httpx.Response:
    return httpx.Response(200, headers={"X-Pending": "true"})


def text(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, content=(message + "\n").encode())


def client(handler: Handler, sleeps: list[float] | None = None, **kwargs: Any) -> HeketiClient:
    record = sleeps if sleeps is not None else []
    return HeketiClient(
        kwargs.pop("server", "http://heketi:8080"),
        kwargs.pop("user", "admin"),
        kwargs.pop("key", "secret"),
        transport=httpx.MockTransport(handler),
        sleep=record.append,
        **kwargs,
    )


def claims(request: httpx.Request, key: str = "secret") -> dict[str, Any]:
    scheme, token = request.headers["authorization"].split()
    assert scheme == "bearer"
    decoded: dict[str, Any] = jwt.decode(token, key, algorithms=["HS256"])
    return decoded


def test_token_claims_exactly_as_the_go_client() -> None:
    token = make_token("admin", "secret", "get", "/clusters", now=1_000_000)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert jwt.decode(token, "secret", algorithms=["HS256"], options={"verify_exp": False}) == {
        "iss": "admin",
        "iat": 1_000_000,
        "exp": 1_000_300,
        "qsh": hashlib.sha256(b"GET&/clusters").hexdigest(),
    }


def test_every_request_poll_and_redirect_gets_its_own_token() -> None:
    volume = {"id": "v1", "size": 1}
    script = Script(
        accepted("q7"),
        pending(),
        httpx.Response(303, headers={"Location": "/volumes/v1"}),
        httpx.Response(200, json=volume),
    )
    before = int(time.time())
    assert client(script).volume_create(1) == volume
    paths = [(r.method, r.url.path) for r in script.requests]
    assert paths == [
        ("POST", "/volumes"),
        ("GET", "/queue/q7"),
        ("GET", "/queue/q7"),
        ("GET", "/volumes/v1"),
    ]
    for request in script.requests:
        got = claims(request)
        assert got["iss"] == "admin"
        assert got["exp"] - got["iat"] == 300 and got["iat"] >= before
        expected = f"{request.method}&{request.url.path}".encode()
        assert got["qsh"] == hashlib.sha256(expected).hexdigest()
    assert script.requests[0].headers["content-type"] == "application/json"
    assert "content-type" not in script.requests[1].headers


def test_no_token_without_credentials() -> None:
    script = Script(httpx.Response(200, json={"clusters": []}))
    client(script, user="", key="").cluster_list()
    assert "authorization" not in script.requests[0].headers


def test_poll_back_off_is_short_and_capped() -> None:
    script = Script(accepted(), *[pending() for _ in range(20)], httpx.Response(204))
    sleeps: list[float] = []
    client(script, sleeps).volume_delete("v1")
    assert sleeps[0] == pytest.approx(0.002)
    assert sleeps[1] == pytest.approx(0.003)
    assert sleeps[2] == pytest.approx(0.0045)
    assert max(sleeps) == 0.5 and sleeps[-1] == 0.5
    assert len(sleeps) == 21  # one wait before each poll


def test_custom_back_off_and_poll_timeout() -> None:
    script = Script(accepted(), pending(), pending(), pending())
    backoff = Backoff(poll_initial=0.0, poll_timeout=0.0)
    with pytest.raises(HeketiError, match="timed out waiting for /queue/q1"):
        client(script, backoff=backoff).device_resync("d1")


def test_delete_ends_in_204() -> None:
    script = Script(accepted(), httpx.Response(204))
    assert client(script).node_delete("n1") is None
    assert script.requests[0].method == "DELETE"


def test_queue_failure_is_raised_with_the_server_message() -> None:
    script = Script(accepted(), pending(), text(500, "Failed to allocate new volume: No space"))
    with pytest.raises(HeketiError) as error:
        client(script).volume_create(100)
    assert (error.value.message, error.value.status) == (
        "Failed to allocate new volume: No space",
        500,
    )


def test_synchronous_errors_and_empty_bodies() -> None:
    with pytest.raises(HeketiError) as error:
        client(Script(text(400, "validation failed: size: cannot be blank."))).volume_create(0)
    assert str(error.value) == "validation failed: size: cannot be blank."
    with pytest.raises(HeketiError) as error:
        client(Script(httpx.Response(405))).cluster_list()
    assert (
        error.value.message == "server did not provide a message (status 405: Method Not Allowed)"
    )
    assert error.value.status == 405


def test_unexpected_final_status_is_an_error() -> None:
    script = Script(accepted(), httpx.Response(204))
    with pytest.raises(HeketiError, match=r"status 204: No Content"):
        client(script).volume_expand("v1", 1)


def test_429_is_retried_honouring_retry_after() -> None:
    busy = text(429, "Server busy. Retry operation later.")
    busy.headers["Retry-After"] = "2"
    script = Script(
        busy, text(429, "Server busy. Retry operation later."), accepted(), httpx.Response(204)
    )
    sleeps: list[float] = []
    client(script, sleeps).volume_delete("v1")
    # as Heketi's Go client: Retry-After plus up to 10 s, else 10 to 30 s
    assert 2.0 <= sleeps[0] <= 12.0
    assert 10.0 <= sleeps[1] <= 30.0
    assert [r.url.path for r in script.requests][:3] == ["/volumes/v1"] * 3


def test_429_retries_are_bounded() -> None:
    script = Script(*[text(429, "Server busy. Retry operation later.") for _ in range(7)])
    sleeps: list[float] = []
    with pytest.raises(HeketiError) as error:
        client(script, sleeps, backoff=Backoff(retry_attempts=6)).volume_create(1)
    assert (error.value.status, error.value.message) == (429, "Server busy. Retry operation later.")
    assert len(script.requests) == 7
    assert len(sleeps) == 6


def test_polls_are_not_retried_on_429() -> None:
    script = Script(accepted(), text(429, "Server busy. Retry operation later."))
    with pytest.raises(HeketiError, match="Server busy"):
        client(script).volume_delete("v1")


def test_locations_resolve_against_the_base_url() -> None:
    script = Script(
        accepted(),
        httpx.Response(303, headers={"Location": "https://elsewhere:1/nodes/n1"}),
        httpx.Response(200, json={"id": "n1"}),
    )
    api = client(script, server="http://proxy/heketi/")
    api.node_add("c" * 32, 1, ["m"], ["s"])
    assert [str(r.url) for r in script.requests] == [
        "http://proxy/heketi/nodes",
        "http://proxy/heketi/queue/q1",
        "https://elsewhere:1/nodes/n1",
    ]
    assert claims(script.requests[1])["qsh"] == hashlib.sha256(b"GET&/heketi/queue/q1").hexdigest()


def test_transport_errors_look_like_go_url_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(HeketiError) as error:
        client(refuse).cluster_list()
    assert error.value.message == 'Get "http://heketi:8080/clusters": connection refused'
    assert error.value.status == 0


def test_non_json_success_is_an_error() -> None:
    with pytest.raises(HeketiError, match="unable to decode server response"):
        client(Script(httpx.Response(200, content=b"<html>"))).cluster_info("c")


def test_request_bodies() -> None:
    script = Script(
        httpx.Response(201, json={"id": "c"}),
        httpx.Response(200),
        accepted(),
        httpx.Response(204),
        accepted(),
        httpx.Response(204),
        httpx.Response(200, json={"a": "1"}),
        httpx.Response(204),
        accepted(),
        httpx.Response(204),
    )
    api = client(script)
    api.cluster_create(block=False)
    api.cluster_set_flags("c", block=True, file=False)
    api.device_add("n", "/dev/sdb", tags={"t": "1"})
    api.brick_evict("b", "disable")
    api.node_set_tags("n", {"a": "1"}, "update")
    api.admin_state_set("read-only")
    api.pending_operations_cleanup()
    bodies = [json.loads(r.content) for r in script.requests if r.content]
    assert bodies == [
        {"block": False, "file": True},
        {"block": True, "file": False},
        {"name": "/dev/sdb", "tags": {"t": "1"}, "node": "n"},
        {"healcheck": "disable"},
        {"tags": {"a": "1"}, "change_type": "update"},
        {"state": "read-only"},
        {},
    ]


def test_topology_extension_or_composition() -> None:
    fake = FakeHeketi(keys={"admin": "secret"})
    api = HeketiClient("http://h", "admin", "secret", transport=fake.transport())
    cluster = api.cluster_create()
    api.node_add(cluster["id"], 1, ["n1"], ["10.0.0.1"])
    composed = api.topology()
    assert "GET /topology" in fake.calls()
    fake.topology_endpoint = True
    fake.requests.clear()
    assert api.topology() == composed
    assert fake.calls() == ["GET /topology"]
    assert api.compose_topology() == composed
    assert composed["clusters"][0]["nodes"][0]["hostnames"]["manage"] == ["n1"]


def test_topology_errors_other_than_404_are_raised() -> None:
    with pytest.raises(HeketiError, match="Administrator access required"):
        client(Script(text(401, "Administrator access required"))).topology()


def test_tls_options(tmp_path: Path) -> None:
    import certifi

    assert tls_context(False) is False
    assert tls_context(True) is True
    context = tls_context(True, [certifi.where()])
    assert not isinstance(context, bool)
    with pytest.raises(HeketiError, match="unable to load certificate file"):
        tls_context(True, [str(tmp_path / "missing.pem")])
    HeketiClient("https://h", verify=False).close()


async def test_async_client_runs_the_same_flows() -> None:
    fake = FakeHeketi(keys={"admin": "secret"}, pending_polls=3)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with AsyncHeketiClient(
        "http://h", "admin", "secret", transport=httpx.MockTransport(fake), sleep=sleep
    ) as api:
        cluster = await api.cluster_create()
        node = await api.node_add(cluster["id"], 1, ["n1"], ["10.0.0.1"])
        assert node["hostnames"]["manage"] == ["n1"]
        assert sleeps[:4] == pytest.approx([0.002, 0.003, 0.0045, 0.00675])
        await api.device_add(node["id"], "/dev/sdb")
        topology = await api.topology()
        assert topology["clusters"][0]["nodes"][0]["devices"][0]["name"] == "/dev/sdb"
        with pytest.raises(HeketiError, match="Id not found"):
            await api.volume_info("ab")
