"""The progress line of the commands that wait (in-process, stderr a fake terminal).

The line's timing is made immediate (shown at once, redrawn at every wait, the server asked how
far a removal got at every wait) so that a fake server answering at once is enough; what is
checked is what each command puts on the line, and that stdout and the requests of a script
(stderr not a terminal) are those of heketi-cli.
"""

from __future__ import annotations

import io
import json
import re
import sys

import httpx
import pytest

from brickyard.cli import progress
from brickyard.cli.heketi_cli import main as heketi_main
from brickyard.cli.main import main as brickyard_main
from terminal import last_screen_line

NODE = "a" * 32
DEVICE = "d" * 32
VOLUME = "e" * 32
ENV = {"HEKETI_CLI_SERVER": "http://heketi", "TERM": "xterm"}


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


class Streams:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, tty: bool) -> None:
        self.out = io.StringIO()
        self.err: io.StringIO = FakeTty() if tty else io.StringIO()
        monkeypatch.setattr(sys, "stdout", self.out)
        monkeypatch.setattr(sys, "stderr", self.err)


@pytest.fixture(autouse=True)
def _immediate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER", 0.0)
    monkeypatch.setattr(progress, "REDRAW_INTERVAL", 0.0)
    monkeypatch.setattr(progress, "PROBE_INTERVAL", 0.0)
    monkeypatch.setenv("COLUMNS", "200")  # the fake terminal's width


class Removal:
    """A node whose device holds three bricks that leave one per poll of the removal."""

    def __init__(self) -> None:
        self.bricks = [{"id": f"b{i}", "volume": f"v{i % 2}"} for i in range(3)]
        self.state = "offline"
        self.calls: list[str] = []
        self.fail_at = -1  # bricks left when the removal fails (-1: it does not)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        device = {"id": DEVICE, "bricks": list(self.bricks)}
        if request.method == "GET" and path == f"/nodes/{NODE}":
            return httpx.Response(200, json={"id": NODE, "state": self.state, "devices": [device]})
        if request.method == "GET" and path == f"/devices/{DEVICE}":
            return httpx.Response(200, json=device)
        if request.method == "POST" and path.endswith("/state"):
            self.state = json.loads(request.content)["state"]
            return httpx.Response(202, headers={"Location": f"/queue/{self.state}"})
        if path == "/queue/offline":
            return httpx.Response(204)
        if path == "/queue/failed":
            if len(self.bricks) == self.fail_at:
                return httpx.Response(500, text="no replacement for brick b1")
            if self.bricks:
                self.bricks.pop()
                return httpx.Response(200, headers={"X-Pending": "true"})
            return httpx.Response(204)
        return httpx.Response(404, text="Id not found")


def _shown(err: str) -> list[str]:
    """Every state the line was drawn in."""
    return [part.strip() for part in err.split("\r") if part.strip()]


@pytest.mark.parametrize(("kind", "object_id"), [("node", NODE), ("device", DEVICE)])
def test_remove_counts_bricks_moved(
    monkeypatch: pytest.MonkeyPatch, kind: str, object_id: str
) -> None:
    script = Removal()
    piped = Streams(monkeypatch, tty=False)
    mock = httpx.MockTransport(script)
    assert heketi_main([kind, "remove", object_id], env=ENV, transport=mock) == 0
    assert piped.err.getvalue() == ""
    # a script's requests are heketi-cli's: nothing is asked to count the bricks
    assert script.calls[0] == f"POST /{kind}s/{object_id}/state"
    assert f"GET /{kind}s/{object_id}" not in script.calls

    person = Removal()
    shown = Streams(monkeypatch, tty=True)
    mock = httpx.MockTransport(person)
    assert heketi_main([kind, "remove", object_id], env=ENV, transport=mock) == 0
    assert shown.out.getvalue() == piped.out.getvalue()
    states = _shown(shown.err.getvalue())
    assert states and all(s.startswith(f"Removing {kind} {object_id} [") for s in states)
    counts = [int(m) for s in states for m in re.findall(r"(\d) of 3 bricks moved", s)]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    assert last_screen_line(shown.err.getvalue()) == ""  # wiped at the end


def test_failed_removal_leaves_its_line_before_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    server = Removal()
    server.fail_at = 1
    shown = Streams(monkeypatch, tty=True)
    code = heketi_main(["node", "remove", NODE], env=ENV, transport=httpx.MockTransport(server))
    assert code == 255
    last, error = shown.err.getvalue().split("\r")[-1].splitlines()
    assert re.fullmatch(
        rf"Removing node {NODE} \[#+-+\] 2 of 3 bricks moved: failed after \d+\.\d s", last
    )
    assert error == "Error: no replacement for brick b1"
    assert shown.out.getvalue() == ""


def test_evacuate_line_counts_bricks_then_volumes_healed(monkeypatch: pytest.MonkeyPatch) -> None:
    class Healing(Removal):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/heal"):
                bricks = [{"brick": "h:/p", "status": "Connected", "entries": 0}]
                return httpx.Response(200, json={"healthy": True, "bricks": bricks})
            return super().__call__(request)

    piped = Streams(monkeypatch, tty=False)
    argv = ["node", "evacuate", "--wait-heal", NODE]
    assert brickyard_main(argv, env=ENV, transport=httpx.MockTransport(Healing())) == 0
    shown = Streams(monkeypatch, tty=True)
    assert brickyard_main(argv, env=ENV, transport=httpx.MockTransport(Healing())) == 0
    assert shown.out.getvalue() == piped.out.getvalue() != ""
    states = _shown(shown.err.getvalue())
    assert any(f"Evacuating node {NODE} [" in s and "1 of 3 bricks moved" in s for s in states)
    assert any("2 of 2 volumes healed" in s for s in states)
    assert piped.err.getvalue() == ""


class SlowCreate:
    """POST /volumes: pending for three polls, then ``final``."""

    def __init__(self, final: httpx.Response) -> None:
        self.polls = 0
        self.final = final

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method in ("POST", "DELETE") and path.startswith("/volumes"):
            return httpx.Response(202, headers={"Location": "/queue/q"})
        if path == "/queue/q":
            self.polls += 1
            if self.polls <= 3:
                return httpx.Response(200, headers={"X-Pending": "true"})
            return self.final
        return httpx.Response(404, text="Id not found")


def test_create_failure_leaves_the_line_then_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = Streams(monkeypatch, tty=True)
    server = SlowCreate(httpx.Response(500, text="No space"))
    code = heketi_main(
        ["volume", "create", "--size=2", "--name=v"], env=ENV, transport=httpx.MockTransport(server)
    )
    assert code == 255
    err = shown.err.getvalue()
    assert _shown(err)[0].startswith("Creating volume v (2 GiB) ")
    assert re.search(
        r"\rCreating volume v \(2 GiB\): failed after \d+\.\d s\nError: No space\n$", err
    )


def test_other_waits_name_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = Streams(monkeypatch, tty=True)
    server = SlowCreate(httpx.Response(204))
    mock = httpx.MockTransport(server)
    assert heketi_main(["volume", "delete", VOLUME], env=ENV, transport=mock) == 0
    assert shown.out.getvalue() == f"Volume {VOLUME} deleted\n"
    states = _shown(shown.err.getvalue())
    assert states and states[0].startswith("volume delete: waiting for the server ")


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--no-progress", "volume", "delete", VOLUME], ENV),
        (["volume", "delete", VOLUME], {**ENV, "BRICKYARD_NO_PROGRESS": "yes"}),
        (["volume", "delete", VOLUME], {**ENV, "TERM": "dumb"}),
    ],
)
def test_turned_off(monkeypatch: pytest.MonkeyPatch, argv: list[str], env: dict[str, str]) -> None:
    shown = Streams(monkeypatch, tty=True)
    server = SlowCreate(httpx.Response(204))
    assert heketi_main(argv, env=env, transport=httpx.MockTransport(server)) == 0
    assert shown.err.getvalue() == ""
    assert shown.out.getvalue() == f"Volume {VOLUME} deleted\n"
