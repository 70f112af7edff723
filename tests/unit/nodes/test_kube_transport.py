"""KubeTransport against a fake Kubernetes API server (plain HTTP pod lookups and WebSocket
``pods/exec`` on 127.0.0.1, built on the ``websockets`` server). No real API server is involved."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from brickyard.config import KubeExecConfig
from brickyard.domain.errors import NodeCommandError
from brickyard.nodes.commands.argv import Command
from brickyard.nodes.kube import KubeApi, KubeTransport

TOKEN = "s3cr3t-token"
NS = "storage"


def pod(name: str, node: str = "", label: str | None = None, containers: int = 2) -> dict[str, Any]:
    labels = {"glusterfs-node": label} if label is not None else {"app": "other"}
    return {
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {
            "nodeName": node,
            "containers": [{"name": f"{name}-c{i}"} for i in range(containers)],
        },
    }


@dataclass
class Exec:
    pod: str
    container: str
    argv: list[str]
    query: dict[str, list[str]]
    stdin: bytes
    subprotocol: str | None


# script(exec) -> (stdout, stderr, exit code, delay seconds)
Script = Callable[[Exec], tuple[bytes, bytes, int, float]]


@dataclass
class FakeKube:
    pods: list[dict[str, Any]] = field(default_factory=list)
    script: Script = lambda e: (b"", b"", 0, 0.0)
    subprotocols: list[str] = field(default_factory=lambda: ["v4.channel.k8s.io"])
    list_queries: list[dict[str, str]] = field(default_factory=list)
    execs: list[Exec] = field(default_factory=list)
    active: int = 0
    peak: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- plain HTTP: pod list and pod get --------------------------------------------------------

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _json(HTTPStatus.UNAUTHORIZED, {"kind": "Status", "message": "Unauthorized"})
        parts = urlsplit(request.path)
        prefix = f"/api/v1/namespaces/{NS}/pods"
        if not parts.path.startswith(prefix):
            return _json(HTTPStatus.NOT_FOUND, {"message": f"no route {parts.path}"})
        rest = parts.path[len(prefix) :]
        if rest.endswith("/exec"):
            return None  # WebSocket handshake continues
        if rest == "":
            query = dict(parse_qsl(parts.query))
            self.list_queries.append(query)
            return _json(HTTPStatus.OK, {"kind": "PodList", "items": self._select(query)})
        name = rest.lstrip("/")
        for p in self.pods:
            if p["metadata"]["name"] == name:
                return _json(HTTPStatus.OK, p)
        return _json(HTTPStatus.NOT_FOUND, {"message": f'pods "{name}" not found'})

    def _select(self, query: dict[str, str]) -> list[dict[str, Any]]:
        selector = query.get("labelSelector", "")
        out = []
        for p in self.pods:
            labels = p["metadata"]["labels"]
            if "==" in selector:
                key, value = selector.split("==", 1)
                if labels.get(key) != value:
                    continue
            elif selector and selector not in labels:
                continue
            fsel = query.get("fieldSelector", "")
            if fsel.startswith("spec.nodeName=") and p["spec"]["nodeName"] != fsel.split("=", 1)[1]:
                continue
            out.append(p)
        return out

    # -- WebSocket exec ---------------------------------------------------------------------------

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        parts = urlsplit(ws.request.path)
        query = parse_qs(parts.query)
        pod_name = parts.path.split("/")[-2]
        argv = query["command"]
        stdin = b""
        if query["stdin"] == ["true"]:
            shell = argv[-1]
            if ws.subprotocol == "v5.channel.k8s.io":
                while True:
                    data = await ws.recv()
                    assert isinstance(data, bytes)
                    if data == b"\xff\x00":
                        break
                    assert data[0] == 0
                    stdin += data[1:]
            else:  # v4 cannot close stdin: read what `head -c N` would
                match = re.match(r"head -c (\d+) \| ", shell)
                assert match, shell
                while len(stdin) < int(match.group(1)):
                    data = await ws.recv()
                    assert isinstance(data, bytes) and data[0] == 0
                    stdin += data[1:]
        record = Exec(pod_name, query["container"][0], argv, query, stdin, ws.subprotocol)
        self.execs.append(record)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            out, err, code, delay = self.script(record)
            if delay:
                await asyncio.sleep(delay)
        finally:
            self.active -= 1
        await ws.send(b"\x01")  # empty initial frames, as the API server sends
        if out:
            await ws.send(b"\x01" + out)
        if err:
            await ws.send(b"\x02" + err)
        if code == 0:
            status: dict[str, Any] = {"metadata": {}, "status": "Success"}
        else:
            status = {
                "metadata": {},
                "status": "Failure",
                "message": f"command terminated with non-zero exit code: exit status {code}",
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
            }
        await ws.send(b"\x03" + json.dumps(status).encode())
        await ws.close()


def _json(status: HTTPStatus, body: dict[str, Any]) -> Response:
    data = json.dumps(body).encode()
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, data)


@pytest.fixture
async def fake() -> AsyncIterator[FakeKube]:
    kube = FakeKube()
    server: Server = await serve(
        kube.handler,
        "127.0.0.1",
        0,
        process_request=kube.process_request,
        subprotocols=[Subprotocol(s) for s in ("v5.channel.k8s.io", "v4.channel.k8s.io")],
        select_subprotocol=lambda conn, offered: next(
            (Subprotocol(s) for s in kube.subprotocols if s in offered), None
        ),
    )
    kube.port = next(iter(server.sockets)).getsockname()[1]
    try:
        yield kube
    finally:
        server.close()
        await server.wait_closed()


def transport(fake: FakeKube, **config: Any) -> KubeTransport:
    return KubeTransport(
        KubeExecConfig(namespace=NS, **config), KubeApi(base_url=fake.url, token=TOKEN)
    )


GLUSTER = Command(("gluster", "--mode=script", "volume", "info", "my vol; rm -rf /"), timeout=90)


async def test_success_runs_quoted_argv_with_timeout_prefix(fake: FakeKube) -> None:
    fake.pods = [pod("glusterfs-a", "n1", "10.0.0.1"), pod("glusterfs-b", "n2", "10.0.0.2")]
    fake.script = lambda e: (b"Volume Name: x\n", b"warn\n", 0, 0.0)
    t = transport(fake)
    try:
        result = await t.run("10.0.0.1", GLUSTER)
    finally:
        await t.close()
    assert (result.exit_code, result.stdout, result.stderr) == (0, "Volume Name: x\n", "warn\n")
    assert fake.list_queries == [{"labelSelector": "glusterfs-node==10.0.0.1"}]
    (e,) = fake.execs
    assert (e.pod, e.container) == ("glusterfs-a", "glusterfs-a-c0")
    assert e.argv == [
        "timeout",
        "2m",
        "bash",
        "-c",
        "gluster --mode=script volume info 'my vol; rm -rf /'",
    ]
    assert shlex.split(e.argv[-1]) == list(GLUSTER.argv)
    assert e.query["stdin"] == ["false"]
    assert e.query["stdout"] == ["true"] and e.query["stderr"] == ["true"]
    assert e.subprotocol == "v4.channel.k8s.io"


async def test_disable_timeout_prefix(fake: FakeKube) -> None:
    fake.pods = [pod("p", "n1", "h")]
    t = transport(fake, disable_timeout_prefix=True)
    try:
        await t.run("h", Command(("true",), timeout=5))
    finally:
        await t.close()
    assert fake.execs[0].argv == ["bash", "-c", "true"]


async def test_non_zero_exit_is_a_result(fake: FakeKube) -> None:
    fake.pods = [pod("p", "n1", "h")]
    fake.script = lambda e: (b"", b"Volume x does not exist\n", 1, 0.0)
    t = transport(fake)
    try:
        result = await t.run("h", Command(("gluster", "volume", "stop", "x"), timeout=60))
    finally:
        await t.close()
    assert (result.exit_code, result.stderr) == (1, "Volume x does not exist\n")
    assert fake.execs[0].argv[:2] == ["timeout", "1m"]


async def test_exit_124_is_a_timeout(fake: FakeKube) -> None:
    fake.pods = [pod("p", "n1", "h")]
    fake.script = lambda e: (b"", b"", 124, 0.0)
    t = transport(fake)
    try:
        with pytest.raises(NodeCommandError, match="timed out after 10 min"):
            await t.run("h", Command(("mkfs.xfs", "/dev/x"), timeout=600))
    finally:
        await t.close()


@pytest.mark.parametrize("protocol", ["v4.channel.k8s.io", "v5.channel.k8s.io"])
async def test_stdin(fake: FakeKube, protocol: str) -> None:
    fake.pods = [pod("p", "n1", "h")]
    fake.subprotocols = [protocol]
    fake.script = lambda e: (e.stdin, b"", 0, 0.0)
    data = b"line one\n" + bytes(range(256)) * 600  # > one 64 KiB chunk
    t = transport(fake)
    try:
        result = await t.run("h", Command(("tee", "/etc/x y"), timeout=60, stdin=data))
    finally:
        await t.close()
    (e,) = fake.execs
    assert e.subprotocol == protocol
    assert e.stdin == data
    assert e.query["stdin"] == ["true"]
    assert e.argv == ["timeout", "1m", "bash", "-c", f"head -c {len(data)} | tee '/etc/x y'"]
    assert result.exit_code == 0


async def test_no_pod_for_label(fake: FakeKube) -> None:
    fake.pods = [pod("p", "n1", "other")]
    t = transport(fake)
    try:
        with pytest.raises(NodeCommandError, match="no pod with label glusterfs-node=h "):
            await t.run("h", GLUSTER)
    finally:
        await t.close()
    assert fake.execs == []


async def test_two_pods_for_label(fake: FakeKube) -> None:
    fake.pods = [pod("p1", "n1", "h"), pod("p2", "n2", "h")]
    t = transport(fake)
    try:
        with pytest.raises(NodeCommandError, match=r"expected one .* found 2: p1, p2"):
            await t.run("h", GLUSTER)
    finally:
        await t.close()
    assert fake.execs == []


async def test_daemonset_mode_matches_node_name(fake: FakeKube) -> None:
    fake.pods = [
        pod("gfs-x", "node-1", "anything"),
        pod("gfs-y", "node-2", "anything"),
        pod("unlabelled", "node-2"),
    ]
    t = transport(fake, gluster_daemonset=True)
    try:
        await t.run("node-2", GLUSTER)
        with pytest.raises(NodeCommandError, match=r"no pod .* on node node-3"):
            await t.run("node-3", GLUSTER)
    finally:
        await t.close()
    assert fake.list_queries[0] == {
        "labelSelector": "glusterfs-node",
        "fieldSelector": "spec.nodeName=node-2",
    }
    assert [(e.pod, e.container) for e in fake.execs] == [("gfs-y", "gfs-y-c0")]


async def test_pod_name_mode(fake: FakeKube) -> None:
    fake.pods = [pod("glusterfs-abc", "n1")]
    t = transport(fake, use_pod_names=True)
    try:
        await t.run("glusterfs-abc", GLUSTER)
        with pytest.raises(NodeCommandError, match="not found"):
            await t.run("glusterfs-zzz", GLUSTER)
    finally:
        await t.close()
    assert fake.list_queries == []
    assert [(e.pod, e.container) for e in fake.execs] == [("glusterfs-abc", "glusterfs-abc-c0")]


async def test_wrong_token_is_reported(fake: FakeKube) -> None:
    fake.pods = [pod("p", "n1", "h")]
    t = KubeTransport(KubeExecConfig(namespace=NS), KubeApi(base_url=fake.url, token="bad"))
    try:
        with pytest.raises(NodeCommandError, match="HTTP 401: Unauthorized"):
            await t.run("h", GLUSTER)
    finally:
        await t.close()


@pytest.mark.parametrize(("limit", "peak"), [(2, 2), (-1, 6)])
async def test_max_connections(fake: FakeKube, limit: int, peak: int) -> None:
    fake.pods = [pod("p", "n1", "h")]
    fake.script = lambda e: (b"ok", b"", 0, 0.1)
    t = transport(fake, max_connections=limit)
    try:
        results = await asyncio.gather(*(t.run("h", GLUSTER) for _ in range(6)))
    finally:
        await t.close()
    assert [r.stdout for r in results] == ["ok"] * 6
    assert fake.peak == peak


async def test_in_cluster_config(
    fake: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "namespace").write_text(NS)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    api = KubeApi.in_cluster(tmp_path)
    assert (api.base_url, api.namespace, api.ca_file) == ("https://10.96.0.1:443", NS, "")
    assert api.bearer() == TOKEN
    # The same account, pointed at the fake: the namespace comes from the account file.
    fake.pods = [pod("p", "n1", "h")]
    t = KubeTransport(
        KubeExecConfig(), KubeApi(base_url=fake.url, token_file=api.token_file, namespace=NS)
    )
    try:
        assert (await t.run("h", GLUSTER)).exit_code == 0
    finally:
        await t.close()
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(NodeCommandError, match="KUBERNETES_SERVICE_HOST"):
        KubeApi.in_cluster(tmp_path)
