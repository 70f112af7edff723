"""`brickyard node evacuate`: the requests it makes, its progress lines, --wait-heal."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from brickyard.cli.main import main

NODE = "a" * 32


class FakeServer:
    """A node with three bricks that leave one per poll of the remove job."""

    def __init__(self, heal_polls: int = 0) -> None:
        self.bricks = [{"id": f"b{i}", "volume": f"v{i % 2}"} for i in range(3)]
        self.state = "online"
        self.polls = 0
        self.heal_polls = heal_polls
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        if request.method == "GET" and path == f"/nodes/{NODE}":
            devices = [{"id": "d", "bricks": list(self.bricks)}]
            return httpx.Response(200, json={"id": NODE, "state": self.state, "devices": devices})
        if request.method == "POST" and path == f"/nodes/{NODE}/state":
            self.state = json.loads(request.content)["state"]
            return httpx.Response(202, headers={"Location": f"/queue/{self.state}"})
        if path == "/queue/offline":
            return httpx.Response(204)
        if path == "/queue/failed":
            if self.bricks:
                self.bricks.pop()
                return httpx.Response(200, headers={"X-Pending": "true"})
            return httpx.Response(204)
        if path.endswith("/heal"):
            self.heal_polls -= 1
            healthy = self.heal_polls < 0
            entries = 0 if healthy else 4
            bricks = [{"brick": "h:/p", "status": "Connected", "entries": entries}]
            return httpx.Response(200, json={"healthy": healthy, "bricks": bricks})
        return httpx.Response(404, text="Id not found")


def _run(argv: list[str], server: FakeServer) -> int:
    env = {"HEKETI_CLI_SERVER": "http://heketi"}
    return main(argv, env=env, transport=httpx.MockTransport(server))


def test_evacuate_shows_progress(capsys: pytest.CaptureFixture[str]) -> None:
    server = FakeServer()
    assert _run(["node", "evacuate", NODE], server) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Node {NODE} is now offline"
    assert f"Evacuating node {NODE}: 1 of 3 bricks moved" in lines
    assert f"Evacuating node {NODE}: 2 of 3 bricks moved" in lines
    assert lines[-1] == f"Node {NODE} evacuated: 3 bricks moved to other nodes"
    assert server.state == "failed"
    assert not any(call.endswith("/heal") for call in server.calls)


def test_evacuate_waits_for_heal(capsys: pytest.CaptureFixture[str]) -> None:
    server = FakeServer(heal_polls=2)
    assert _run(["node", "evacuate", "--wait-heal", NODE], server) == 0
    out = capsys.readouterr().out
    assert "Waiting for heal: v0: 4 entries, 0 bricks down" in out
    assert out.endswith("Heal done: 2 volumes with every brick up and nothing to heal\n")


def test_evacuate_json_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["--json", "node", "evacuate", NODE], FakeServer()) == 0
    summary: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert summary == {"node": NODE, "bricks_moved": 3, "volumes": ["v0", "v1"], "healed": True}


def test_evacuate_refused_remove_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    class Refusing(FakeServer):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/queue/failed":
                return httpx.Response(500, text="brick set 0 of volume v cannot lose brick b0")
            return super().__call__(request)

    assert _run(["node", "evacuate", NODE], Refusing()) == 255
    assert "cannot lose brick" in capsys.readouterr().err


def test_heketi_cli_has_no_evacuate() -> None:
    from brickyard.cli.heketi_cli import main as heketi_main

    assert heketi_main(["node", "evacuate", NODE], env={}) != 0
