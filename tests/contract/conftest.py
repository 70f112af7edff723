"""HTTP contract tests: run the real server as a subprocess and talk to it only over HTTP.

Everything here is written from ``/work/shared/reference/heketi-interfaces.md`` (the contract).
The server is started as ``python -m brickyard.cli.heketi_server --config=<heketi.json>`` with the
``mock`` executor (an in-memory simulator).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

ADMIN_KEY = "adminkey"
USER_KEY = "userkey"
MOCK_DEVICE_KIB = 524288000  # 500 GiB, the mock executor's default device size
GIB_KIB = 1024 * 1024
# Space charged on a device for a 1 GiB brick (snapshot factor 1): thin pool + metadata.
BRICK_1G_CHARGE = 1048576 + 8192
ID_RE = re.compile(r"^[0-9a-f]{32}$")
QUEUE_RE = re.compile(r"^/queue/[0-9a-f]{32}$")
STARTUP_TIMEOUT = 20.0
POLL_TIMEOUT = 30.0

_MISSING: Any = object()


# --------------------------------------------------------------------------------------------
# JWT
# --------------------------------------------------------------------------------------------


def qsh_for(method: str, path: str) -> str:
    """Contract §3: lowercase hex SHA-256 of ``METHOD&PATH`` (path only, no query)."""
    return hashlib.sha256(f"{method.upper()}&{path}".encode()).hexdigest()


def make_token(
    method: str,
    path: str,
    *,
    issuer: str | None = "admin",
    key: str | None = None,
    alg: str = "HS256",
    iat: Any = _MISSING,
    exp: Any = _MISSING,
    qsh: Any = _MISSING,
    extra: dict[str, Any] | None = None,
) -> str:
    """Mint a token like the Go client does. Pass ``None`` for a claim to leave it out."""
    now = int(time.time())
    claims: dict[str, Any] = {}
    if issuer is not None:
        claims["iss"] = issuer
    iat = now if iat is _MISSING else iat
    if iat is not None:
        claims["iat"] = iat
    exp = now + 300 if exp is _MISSING else exp
    if exp is not None:
        claims["exp"] = exp
    qsh = qsh_for(method, path) if qsh is _MISSING else qsh
    if qsh is not None:
        claims["qsh"] = qsh
    if extra:
        claims.update(extra)
    if key is None:
        key = USER_KEY if issuer == "user" else ADMIN_KEY
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short HMAC keys are fine for tests
        return jwt.encode(claims, key, algorithm=alg)


def b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A hand-built token (for algorithms PyJWT should not be asked to produce)."""
    return ".".join(
        [
            b64url(json.dumps(header).encode()),
            b64url(json.dumps(claims).encode()),
            b64url(signature),
        ]
    )


# --------------------------------------------------------------------------------------------
# Response assertions
# --------------------------------------------------------------------------------------------


def assert_text_error(
    resp: httpx.Response,
    status: int,
    text: str | None = None,
    *,
    startswith: str | None = None,
) -> str:
    """Contract "text error": status, text/plain; charset=utf-8, body = message + newline."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    ctype = resp.headers.get("content-type", "")
    assert ctype.lower().startswith("text/plain"), (ctype, resp.text)
    body = resp.text
    assert body.endswith("\n"), repr(body)
    msg = body[:-1]
    if text is not None:
        assert msg == text, (msg, text)
    if startswith is not None:
        assert msg.startswith(startswith), (msg, startswith)
    assert msg.strip(), "empty error message"
    assert "Traceback" not in body
    return msg


def assert_json(resp: httpx.Response, status: int = 200) -> Any:
    """Contract "JSON response": application/json, body = JSON + newline."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    ctype = resp.headers.get("content-type", "")
    assert ctype.lower().startswith("application/json"), ctype
    assert resp.text.endswith("\n"), repr(resp.text[-20:])
    return resp.json()


def assert_not_crash(resp: httpx.Response) -> None:
    """A 4xx/5xx text answer that is not a stack dump."""
    assert resp.status_code >= 400, (resp.status_code, resp.text)
    assert resp.status_code != 500 or "Traceback" not in resp.text
    ctype = resp.headers.get("content-type", "")
    assert ctype.lower().startswith("text/plain"), (ctype, resp.text)
    assert resp.text.strip(), "empty error body"
    assert "Traceback" not in resp.text


def new_id() -> str:
    return uuid.uuid4().hex


def uniq(prefix: str = "h") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------------------------
# HTTP client
# --------------------------------------------------------------------------------------------


class Api:
    """Tiny authenticated client. ``issuer=None`` sends no Authorization header."""

    def __init__(self, base_url: str, *, issuer: str | None = "admin") -> None:
        self.base_url = base_url
        self.issuer = issuer
        self.client = httpx.Client(base_url=base_url, timeout=30.0, follow_redirects=False)

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = _MISSING,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        issuer: Any = _MISSING,
        token: str | None = None,
    ) -> httpx.Response:
        hdrs: dict[str, str] = {}
        iss = self.issuer if issuer is _MISSING else issuer
        if token is not None:
            hdrs["Authorization"] = f"bearer {token}"
        elif iss is not None:
            hdrs["Authorization"] = f"bearer {make_token(method, path.split('?')[0], issuer=iss)}"
        if headers:
            hdrs.update(headers)
        if json_body is not _MISSING:
            content = json.dumps(json_body)
        return self.client.request(method, path, content=content, headers=hdrs)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = _MISSING, **kw: Any) -> httpx.Response:
        return self.request("POST", path, json_body=body, **kw)

    def delete(self, path: str, body: Any = _MISSING, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, json_body=body, **kw)

    # -- async protocol (contract §2) -------------------------------------------------------

    def wait(self, resp: httpx.Response, timeout: float = POLL_TIMEOUT) -> httpx.Response:
        """Expect 202 + Location: /queue/<id>; poll until not pending; return the final reply."""
        assert resp.status_code == 202, (resp.status_code, resp.text)
        loc = resp.headers.get("location", "")
        assert QUEUE_RE.match(loc), loc
        deadline = time.monotonic() + timeout
        while True:
            r = self.get(loc)
            if r.status_code == 200 and "x-pending" in r.headers:
                assert r.headers["x-pending"] == "true"
                assert time.monotonic() < deadline, f"{loc} still pending after {timeout}s"
                time.sleep(0.02)
                continue
            return r

    def wait_303(self, resp: httpx.Response, prefix: str) -> str:
        """Finish an async op that must end in 303 to ``<prefix>/<id>``; return the id."""
        r = self.wait(resp)
        assert r.status_code == 303, (r.status_code, r.text)
        loc = r.headers["location"]
        m = re.fullmatch(re.escape(prefix) + r"/([0-9a-f]{32})", loc)
        assert m, loc
        return m.group(1)

    def wait_204(self, resp: httpx.Response) -> None:
        r = self.wait(resp)
        assert r.status_code == 204, (r.status_code, r.text)
        assert r.content == b""

    def wait_500(self, resp: httpx.Response) -> str:
        r = self.wait(resp)
        return assert_text_error(r, 500)

    # -- resource helpers -----------------------------------------------------------------

    def get_json(self, path: str) -> Any:
        return assert_json(self.get(path))

    def create_cluster(self, block: bool = True, file: bool = True) -> str:
        info = assert_json(self.post("/clusters", {"block": block, "file": file}), 201)
        return str(info["id"])

    def add_node(
        self,
        cluster: str,
        zone: int,
        manage: str,
        storage: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "cluster": cluster,
            "zone": zone,
            "hostnames": {"manage": [manage], "storage": [storage or manage]},
        }
        if tags is not None:
            body["tags"] = tags
        return self.wait_303(self.post("/nodes", body), "/nodes")

    def add_device(
        self, node: str, name: str = "/dev/sdb", tags: dict[str, str] | None = None
    ) -> str:
        before = {d["id"] for d in self.get_json(f"/nodes/{node}")["devices"]}
        body: dict[str, Any] = {"node": node, "name": name}
        if tags is not None:
            body["tags"] = tags
        self.wait_204(self.post("/devices", body))
        after = {d["id"] for d in self.get_json(f"/nodes/{node}")["devices"]}
        added = after - before
        assert len(added) == 1, (before, after)
        return added.pop()

    def create_volume(self, **body: Any) -> dict[str, Any]:
        body.setdefault("size", 1)
        vid = self.wait_303(self.post("/volumes", body), "/volumes")
        info: dict[str, Any] = self.get_json(f"/volumes/{vid}")
        return info

    def set_state(self, kind: str, oid: str, state: str, healcheck: str | None = None) -> Any:
        body: dict[str, Any] = {"state": state}
        if healcheck is not None:
            body["healcheck"] = healcheck
        return self.post(f"/{kind}/{oid}/state", body)

    def db_dump(self) -> Any:
        return self.get_json("/db/dump")


# --------------------------------------------------------------------------------------------
# Server processes
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    host: str
    workdir: Path
    log_path: Path
    db: str  # glusterfs.db: a server restarted on the same database must be given this again
    clients: list[Api] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def api(self, issuer: str | None = "admin") -> Api:
        a = Api(self.base_url, issuer=issuer)
        self.clients.append(a)
        return a

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        for c in self.clients:
            c.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def server_cmd_available() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("brickyard.cli.heketi_server") is not None
    except (ImportError, ValueError):
        return False


def start_server(
    workdir: Path,
    *,
    db: str,
    glusterfs: dict[str, Any] | None = None,
    top: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    disable_auth: bool = False,
    bind_address: str = "127.0.0.1",
    args: list[str] | None = None,
) -> Server:
    if not server_cmd_available():
        pytest.fail("brickyard.cli.heketi_server is not importable yet")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    gcfg: dict[str, Any] = {"executor": "mock", "db": db, "max_inflight_operations": 8}
    gcfg.update(glusterfs or {})
    cfg: dict[str, Any] = {
        "port": str(port),
        "bind_address": bind_address,
        "jwt": {"admin": {"key": ADMIN_KEY}, "user": {"key": USER_KEY}},
        "glusterfs": gcfg,
    }
    cfg.update(top or {})
    cfg_path = workdir / "heketi.json"
    cfg_path.write_text(json.dumps(cfg, indent=2))
    command = [sys.executable, "-m", "brickyard.cli.heketi_server", f"--config={cfg_path}"]
    if disable_auth:
        command.append("--disable-auth")
    command += args or []
    penv = dict(os.environ)
    for k in list(penv):
        if k.startswith(("HEKETI_", "BRICKYARD_")):
            del penv[k]
    penv.update(env or {})
    log_path = workdir / "server.log"
    logf = log_path.open("wb")
    proc = subprocess.Popen(command, cwd=workdir, env=penv, stdout=logf, stderr=subprocess.STDOUT)
    logf.close()
    host = "127.0.0.1"
    srv = Server(
        proc=proc, port=port, host=host, workdir=workdir, log_path=log_path, db=str(gcfg["db"])
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last_err: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{srv.log()}")
        try:
            r = httpx.get(f"{srv.base_url}/hello", timeout=1.0)
            if r.status_code == 200:
                return srv
        except httpx.HTTPError as e:
            last_err = e
        time.sleep(0.1)
    srv.stop()
    pytest.fail(f"server not ready after {STARTUP_TIMEOUT}s ({last_err}):\n{srv.log()}")


# Every test that talks to a server runs on SQLite and on PostgreSQL: the servers take their
# database from tests/conftest.py's `session_new_database` (shared servers) or
# `session_kind_new_database` (a test's own), both of the session-scoped parameter
# `session_database_kind`: pytest runs the suite on one kind, then on the other, with one shared
# server each. A fresh database per server start: a new SQLite file in the server's directory,
# or a new PostgreSQL database.
NewDatabase = Callable[[Path], str]


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, session_new_database: NewDatabase
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("heketi-session")
    srv = start_server(workdir, db=session_new_database(workdir))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def api(server: Server) -> Api:
    return server.api()


@pytest.fixture(scope="session")
def user_api(server: Server) -> Api:
    return server.api(issuer="user")


@pytest.fixture(scope="session")
def anon_api(server: Server) -> Api:
    return server.api(issuer=None)


StartServer = Callable[..., Server]


@pytest.fixture
def fresh_server(tmp_path: Path, session_kind_new_database: NewDatabase) -> Iterator[StartServer]:
    """Factory: start a server with its own empty database and optional config/env (pass
    `db=other.db` to start one on another server's database)."""
    started: list[Server] = []
    counter = iter(range(1000))

    def _start(**kw: Any) -> Server:
        workdir = tmp_path / f"srv{next(counter)}"
        workdir.mkdir()
        kw.setdefault("db", session_kind_new_database(workdir))
        srv = start_server(workdir, **kw)
        started.append(srv)
        return srv

    yield _start
    for srv in started:
        srv.stop()


# --------------------------------------------------------------------------------------------
# Topology builder
# --------------------------------------------------------------------------------------------


@dataclass
class Topology:
    cluster: str
    nodes: list[str]  # in creation order (zone i+1)
    devices: list[str]  # devices[i] is on nodes[i]
    manage: dict[str, str]  # node id -> manage hostname
    storage: dict[str, str]  # node id -> storage hostname
    device_node: dict[str, str]  # device id -> node id

    def sorted_storage_hosts(self) -> list[str]:
        return [self.storage[n] for n in sorted(self.nodes)]


def build_topology(
    api: Api, n_nodes: int = 3, block: bool = True, file: bool = True, devices_per_node: int = 1
) -> Topology:
    cid = api.create_cluster(block=block, file=file)
    tag = uuid.uuid4().hex[:10]
    topo = Topology(cid, [], [], {}, {}, {})
    for i in range(n_nodes):
        manage = f"m{i}-{tag}.example.com"
        storage = f"s{i}-{tag}.example.com"
        nid = api.add_node(cid, zone=(i % 3) + 1, manage=manage, storage=storage)
        topo.nodes.append(nid)
        topo.manage[nid] = manage
        topo.storage[nid] = storage
        for d in range(devices_per_node):
            did = api.add_device(nid, f"/dev/sd{chr(ord('b') + d)}")
            topo.devices.append(did)
            topo.device_node[did] = nid
    return topo


@pytest.fixture
def topology(api: Api) -> Topology:
    """A fresh cluster (block+file) with 3 nodes in zones 1-3, one 500 GiB device each."""
    return build_topology(api)


@pytest.fixture
def topology_factory(api: Api) -> Callable[..., Topology]:
    def _make(**kw: Any) -> Topology:
        return build_topology(api, **kw)

    return _make


def replicate3(cluster: str, size: int = 1, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "size": size,
        "clusters": [cluster],
        "durability": {"type": "replicate", "replicate": {"replica": 3}},
    }
    body.update(extra)
    return body


# --------------------------------------------------------------------------------------------
# Metrics parsing
# --------------------------------------------------------------------------------------------

_METRIC_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    out: list[tuple[str, dict[str, str], float]] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _METRIC_RE.match(line)
        if not m:
            continue
        labels = dict(_LABEL_RE.findall(m.group(3) or ""))
        with contextlib.suppress(ValueError):
            out.append((m.group(1), labels, float(m.group(4))))
    return out


def metric_values(
    samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str
) -> list[float]:
    return [
        v
        for n, lab, v in samples
        if n == name and all(lab.get(k) == val for k, val in labels.items())
    ]
