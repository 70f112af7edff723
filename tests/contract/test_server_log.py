"""The server's log on a real `heketi` server process (the simulator behind it): one line per
request, one per operation step with the request's id, no library chatter at info, JSON lines
on demand, no secret anywhere (docs/logging.md)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .conftest import ADMIN_KEY, USER_KEY, Api, Server, StartServer, build_topology, make_token

CREATES = 5
# [brickyard] INFO 2026-12-06 23:00:00,123 POST /volumes 202 1.23ms peer=127.0.0.1:5555 req=ab-1
REQUEST_LINE = re.compile(
    r"^\[brickyard\] INFO \S+ \S+ (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) "
    r"(?P<ms>[\d.]+)ms peer=127\.0\.0\.1:\d+ req=(?P<req>[0-9a-f]{8}-[0-9a-f]+)$"
)
STEP_LINE = re.compile(
    r"^\[brickyard\] (?:INFO|WARNING) \S+ \S+ operation (?P<type>\S+) (?P<op>[0-9a-f]{32}) "
    r"(?P<step>\S+) (?P<outcome>\S+) (?P<ms>[\d.]+)ms req=(?P<req>\S+)(?: (?P<detail>.*))?$"
)
CREATE_STEPS = ["planned", "brick-made", "gluster-create-begun", "volume-made", "end"]


@dataclass
class Requests:
    """What the client sent, to compare with what the server logged."""

    sent: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status
    queues: list[str] = field(default_factory=list)  # each create's queue path

    def call(self, api: Api, method: str, path: str, body: Any = None) -> Any:
        response = api.request(method, path, json_body=body) if body else api.request(method, path)
        self.sent.append((method, path, response.status_code))
        return response

    def create(self, api: Api) -> str:
        replica3 = {"type": "replicate", "replicate": {"replica": 3}}
        posted = self.call(api, "POST", "/volumes", {"size": 1, "durability": replica3})
        assert posted.status_code == 202, posted.text
        queue = posted.headers["location"]
        self.queues.append(queue)
        while True:
            polled = self.call(api, "GET", queue)
            if polled.status_code != 200:
                break
            time.sleep(0.01)
        assert polled.status_code == 303, polled.text
        volume = polled.headers["location"]
        assert self.call(api, "GET", volume).status_code == 200
        return volume.rsplit("/", 1)[1]


def log_since(server: Server, offset: int, lines: int, parse: Any) -> list[Any]:
    """The parsed lines the server wrote after `offset`, once `lines` of them are there (a
    request's line is written just after its answer is sent)."""
    deadline = time.monotonic() + 10
    while True:
        text = server.log_path.read_bytes()[offset:].decode()
        found = [p for p in (parse(line) for line in text.splitlines()) if p is not None]
        if len(found) >= lines or time.monotonic() > deadline:
            time.sleep(0.2)  # and nothing more comes
            text = server.log_path.read_bytes()[offset:].decode()
            return [p for p in (parse(line) for line in text.splitlines()) if p is not None]
        time.sleep(0.05)


def log_size(server: Server) -> int:
    time.sleep(0.2)  # the lines of the requests before are written
    return server.log_path.stat().st_size


def run_creates(server: Server) -> tuple[Requests, int]:
    api = server.api()
    build_topology(api, n_nodes=3)
    offset = log_size(server)
    requests = Requests()
    for _ in range(CREATES):
        requests.create(api)
    return requests, offset


def text_request(line: str) -> dict[str, str] | None:
    found = REQUEST_LINE.match(line)
    return found.groupdict() if found else None


def text_step(line: str) -> dict[str, str] | None:
    found = STEP_LINE.match(line)
    return found.groupdict() if found else None


def test_text_log_has_a_line_per_request_and_per_step(fresh_server: StartServer) -> None:
    server = fresh_server()
    requests, offset = run_creates(server)
    assert len(requests.sent) >= CREATES * 3
    logged = log_since(server, offset, len(requests.sent), text_request)
    assert [(r["method"], r["path"], int(r["status"])) for r in logged] == requests.sent
    if len(requests.sent) == CREATES * 3:  # each answered at its first poll (the usual case)
        assert len(logged) == CREATES * 3
    assert len({r["req"] for r in logged}) == len(logged)  # one id per request

    steps = log_since(server, offset, CREATES * len(CREATE_STEPS), text_step)
    by_op: dict[str, list[dict[str, str]]] = {}
    for step in steps:
        by_op.setdefault(step["op"], []).append(step)
    assert len(by_op) == CREATES
    posts = [r for r in logged if r["method"] == "POST"]
    for post, queue, (op, op_steps) in zip(posts, requests.queues, by_op.items(), strict=True):
        assert [s["step"] for s in op_steps] == CREATE_STEPS, op_steps
        assert {s["type"] for s in op_steps} == {"create-volume"}
        # every step carries the id of the POST that started the operation
        assert {s["req"] for s in op_steps} == {post["req"]}, (op, post)
        assert op_steps[0]["detail"] == f"queue={queue.rsplit('/', 1)[1]}"
        assert op_steps[1]["detail"] == "n=3"  # three bricks made side by side
        assert op_steps[-1]["outcome"] == "succeeded"
        assert op_steps[-1]["detail"].startswith("total=")

    whole = server.log_path.read_text()
    # At info: only Brickyard's lines (and Heketi's start-up message), no library's.
    sources = Counter(line.split(" ", 1)[0] for line in whole.splitlines())
    assert set(sources) <= {"[brickyard]", "Listening"}, sources


def test_third_party_lines_only_when_asked(fresh_server: StartServer) -> None:
    quiet = fresh_server()
    loud = fresh_server(env={"BRICKYARD_LOG_THIRD_PARTY": "info"})
    flag = fresh_server(args=["--log-third-party=info"])
    for server in (quiet, loud, flag):
        assert server.api().get("/clusters").status_code == 200
    assert "[uvicorn]" not in quiet.log_path.read_text()
    # uvicorn says at info that it started: the lines come through our handler
    assert re.search(r"^\[uvicorn\] INFO .*Uvicorn running", loud.log_path.read_text(), re.M)
    assert re.search(r"^\[uvicorn\] INFO .*Uvicorn running", flag.log_path.read_text(), re.M)


def json_lines(server: Server) -> list[dict[str, Any]]:
    """Every line of the server's output, parsed: any line that is not JSON fails."""
    return [json.loads(line) for line in server.log_path.read_text().splitlines()]


def check_json_log(server: Server) -> None:
    requests, _ = run_creates(server)
    time.sleep(0.3)
    records = json_lines(server)
    assert any(r["msg"].startswith("Listening on port") for r in records)
    for record in records:
        assert {"time", "level", "logger", "msg"} <= set(record), record
    access = [r for r in records if r.get("event") == "request"]
    for record in access:
        assert {"method", "path", "status", "duration_ms", "peer", "request_id"} <= set(record)
    sent = [(r["method"], r["path"], r["status"]) for r in access[-len(requests.sent) :]]
    assert sent == requests.sent
    steps = [r for r in records if r.get("event") == "step"]
    posts = {r["request_id"] for r in access if r["method"] == "POST" and r["path"] == "/volumes"}
    creates = [s for s in steps if s["operation"] == "create-volume"]
    assert len(creates) == CREATES * len(CREATE_STEPS)
    assert {s["request_id"] for s in creates} == posts
    for record in creates:
        assert {"operation_id", "step", "outcome", "duration_ms"} <= set(record)


def test_json_lines_from_the_environment(fresh_server: StartServer) -> None:
    check_json_log(fresh_server(env={"BRICKYARD_LOG_FORMAT": "json"}))


def test_json_lines_from_the_flag(fresh_server: StartServer) -> None:
    check_json_log(fresh_server(args=["--log-format=json"]))


def test_a_bad_log_format_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    done = subprocess.run(
        [sys.executable, "-m", "brickyard.cli.heketi_server", "--config=/nonexistent"],
        env={**env, "BRICKYARD_LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "log format 'xml'" in done.stderr


def test_no_secret_reaches_the_log(fresh_server: StartServer) -> None:
    """Tokens (good, forged, in a query string), the JWT keys: none is in the log, whatever
    the format."""
    for env in ({}, {"BRICKYARD_LOG_FORMAT": "json"}):
        server = fresh_server(env=env)
        api = server.api()
        good = make_token("GET", "/clusters")
        assert api.get("/clusters", token=good).status_code == 200
        forged = make_token("GET", "/clusters", key="not-the-key-SECRET1")
        assert api.get("/clusters", token=forged).status_code == 401
        assert api.get("/clusters?token=QUERYSECRET2&x=1").status_code == 200
        user = make_token("POST", "/volumes", issuer="user", key=USER_KEY)
        api.request("POST", "/volumes", content="{", token=user)
        api.request("GET", "/clusters", headers={"Authorization": "Basic dXNlcjpTRUNSRVQz"})
        # an ssh-key-looking body and a database URL with a password, sent as a node name
        api.post(
            "/nodes",
            {
                "cluster": "0" * 32,
                "zone": 1,
                "hostnames": {
                    "manage": ["postgresql://u:DBPASS4@h/db"],
                    "storage": ["-----BEGIN OPENSSH PRIVATE KEY-----KEYBODY5"],
                },
            },
        )
        time.sleep(0.3)
        text = server.log_path.read_text()
        assert "GET /clusters 200" in text or '"path":"/clusters","status":200' in text
        for secret in (
            good,
            forged,
            user,
            ADMIN_KEY,
            USER_KEY,
            "SECRET1",
            "QUERYSECRET2",
            "dXNlcjpTRUNSRVQz",
            "DBPASS4",
            "KEYBODY5",
        ):
            assert secret not in text, (secret, text)


def test_no_database_password_in_a_start_up_error(tmp_path: Path) -> None:
    config = tmp_path / "heketi.json"
    url = "postgresql://brickyard:PGSECRET6@127.0.0.1:1/heketi"
    jwt = {"admin": {"key": ADMIN_KEY}, "user": {"key": USER_KEY}}
    config.write_text(json.dumps({"jwt": jwt, "glusterfs": {"executor": "mock", "db": url}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    done = subprocess.run(
        [sys.executable, "-m", "brickyard.cli.heketi_server", f"--config={config}"],
        env={**env, "BRICKYARD_LOG_THIRD_PARTY": "debug"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "127.0.0.1:1" in done.stderr  # the error names the database...
    assert "PGSECRET6" not in done.stdout + done.stderr  # ...but not its password


def new_key(directory: Path) -> Path:
    key = directory / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30
    )
    return key


def test_no_ssh_key_in_the_log_even_at_debug(fresh_server: StartServer, tmp_path: Path) -> None:
    """A node added over ssh with a private key file, every logger at debug: no line of the
    key is anywhere in the log."""
    key = new_key(tmp_path)
    body_lines = [line for line in key.read_text().splitlines() if "PRIVATE KEY" not in line]
    server = fresh_server(
        glusterfs={
            "executor": "ssh",
            "sshexec": {"keyfile": str(key), "user": "root", "port": "1"},
            "loglevel": "debug",
        },
        args=["--log-third-party=debug"],
    )
    # asyncssh is imported now (its deprecation warnings, if any, become log lines)
    _add_node_over_ssh(server)
    text = server.log_path.read_text()
    assert "POST /nodes" in text
    assert "[asyncssh] DEBUG" in text or "[asyncssh] INFO" in text  # asyncssh did talk
    for line in body_lines:
        assert line not in text


def _add_node_over_ssh(server: Server) -> None:
    """Add a node the ssh executor cannot reach (port 1): the server dials it, and asyncssh
    talks in the log, then the add fails."""
    api = server.api()
    hosts = {"manage": ["127.0.0.1"], "storage": ["127.0.0.1"]}
    added = api.post("/nodes", {"cluster": api.create_cluster(), "zone": 1, "hostnames": hosts})
    if added.status_code == 202:
        api.wait(added)
    time.sleep(0.3)


def test_json_lines_over_ssh_at_debug(fresh_server: StartServer, tmp_path: Path) -> None:
    """The libraries' own lines and Python's warnings (asyncssh's import) are JSON too."""
    ssh = {"keyfile": str(new_key(tmp_path)), "user": "root", "port": "1"}
    server = fresh_server(
        glusterfs={"executor": "ssh", "sshexec": ssh},
        args=["--log-third-party=debug", "--log-format=json"],
    )
    _add_node_over_ssh(server)
    loggers = {record["logger"].partition(".")[0] for record in json_lines(server)}
    assert {"brickyard", "asyncssh", "uvicorn"} <= loggers


def test_the_loglevel_setting_turns_the_lines_off_and_on(fresh_server: StartServer) -> None:
    """heketi.json's glusterfs.loglevel and POST /internal/logging (heketi-cli loglevel set)
    govern the request and step lines."""
    quiet = fresh_server(glusterfs={"loglevel": "warning"})
    assert quiet.api().get("/clusters").status_code == 200
    time.sleep(0.2)
    assert "GET /clusters" not in quiet.log_path.read_text()

    server = fresh_server()
    api = server.api()
    level = {"loglevel": {"glusterfs": "warning"}}
    assert api.post("/internal/logging", level).status_code == 200
    assert api.get("/clusters?after=warning").status_code == 200
    level = {"loglevel": {"glusterfs": "info"}}
    assert api.post("/internal/logging", level).status_code == 200
    assert api.get("/clusters?after=info").status_code == 200
    time.sleep(0.2)
    requests = [r for r in map(text_request, server.log_path.read_text().splitlines()) if r]
    # the line of the request that set warning is written after it took effect: not there
    assert [r["method"] + " " + r["path"] for r in requests][-2:] == [
        "POST /internal/logging",
        "GET /clusters",
    ]
    assert len([r for r in requests if r["path"] == "/clusters"]) == 1
