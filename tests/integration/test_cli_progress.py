"""heketi-cli's progress line, on a real terminal (a pseudo-terminal), against a real server.

The server runs as its own process on the node simulator, slowed down (BRICKYARD_SIM_DELAY_MS)
so that a topology load and a volume create take seconds, as on real nodes; the CLI runs as its
own process with stderr (and, as for a person, stdout) on a pseudo-terminal, or on pipes as in
a script. On a terminal the line shows up and is gone at the end; on pipes not one byte of it is
written, and stdout is the same in both cases.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from terminal import screen_lines

KEY = "adminkey"
SIM_DELAY_MS = "150"
ID = re.compile(rb"[0-9a-f]{32}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    config = {
        "port": str(port),
        "bind_address": "127.0.0.1",
        "jwt": {"admin": {"key": KEY}, "user": {"key": "userkey"}},
        "glusterfs": {"executor": "mock", "db": str(tmp_path / "heketi.db")},
    }
    (tmp_path / "heketi.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    env["BRICKYARD_SIM_DELAY_MS"] = SIM_DELAY_MS
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "brickyard.cli.heketi_server", f"--config={tmp_path}/heketi.json"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/hello", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


@dataclass
class Ran:
    code: int
    stdout: bytes  # the pipe's bytes, or b"" when stdout was the terminal
    stderr: bytes  # the pipe's bytes, or b"" when stderr was the terminal
    terminal: bytes  # what the terminal received


def heketi_cli(
    url: str, *args: str, stdout_tty: bool, stderr_tty: bool, env: dict[str, str] | None = None
) -> Ran:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    base.update(HEKETI_CLI_SERVER=url, HEKETI_CLI_USER="admin", HEKETI_CLI_KEY=KEY, TERM="xterm")
    base.update(env or {})
    master, slave = pty.openpty()
    # a terminal of 120 columns (the line is cut to the width the terminal reports)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "brickyard.cli.heketi_cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave if stdout_tty else subprocess.PIPE,
        stderr=slave if stderr_tty else subprocess.PIPE,
        env=base,
    )
    os.close(slave)
    received: list[bytes] = []

    def read_terminal() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                return
            if not chunk:
                return
            received.append(chunk)

    reader = threading.Thread(target=read_terminal)
    reader.start()
    out, err = proc.communicate(timeout=60)
    reader.join(timeout=10)
    os.close(master)
    return Ran(proc.returncode, out or b"", err or b"", b"".join(received))


def shown_on(terminal: bytes) -> list[str]:
    return screen_lines(terminal.decode())


def topology_file(path: Path, prefix: str, subnet: int) -> str:
    nodes = [
        {
            "node": {
                "hostnames": {"manage": [f"{prefix}{i}"], "storage": [f"10.{subnet}.{i}.1"]},
                "zone": i,
            },
            "devices": ["/dev/vdb", "/dev/vdc"],
        }
        for i in (1, 2, 3)
    ]
    path.write_text(json.dumps({"clusters": [{"nodes": nodes}]}))
    return str(path)


def _without_ids(text: bytes, prefix: str) -> bytes:
    return ID.sub(b"<id>", text).replace(prefix.encode(), b"<host>")


def test_topology_load_and_volume_create_show_progress_on_a_terminal_only(
    server: str, tmp_path: Path
) -> None:
    # a script: stdout and stderr are pipes
    piped = heketi_cli(
        server,
        "topology",
        "load",
        f"--json={topology_file(tmp_path / 'a.json', 'piped', 1)}",
        stdout_tty=False,
        stderr_tty=False,
    )
    assert piped.code == 0 and piped.stderr == b"" and piped.terminal == b""
    assert piped.stdout.count(b"Adding device") == 6 and piped.stdout.count(b"OK\n") == 6

    # a person at a terminal, stdout sent to a file: the progress on the terminal only
    shown = heketi_cli(
        server,
        "topology",
        "load",
        f"--json={topology_file(tmp_path / 'b.json', 'shown', 2)}",
        stdout_tty=False,
        stderr_tty=True,
    )
    assert shown.code == 0
    assert _without_ids(shown.stdout, "shown") == _without_ids(piped.stdout, "piped")
    text = shown.terminal.decode()
    assert "\rLoading topology [" in text
    counts = re.findall(r"\] (\d) of 3 nodes", text)
    assert counts and counts == sorted(counts) and "0" in counts
    assert re.search(r"device \d of 6", text)
    assert re.search(r"  \d+\.\d s", text)  # the elapsed time
    assert "\n" not in text  # nothing left behind on success
    assert shown_on(shown.terminal) == [""]

    # everything on the terminal: the same lines as the script got, and no trace of the line
    both = heketi_cli(
        server,
        "volume",
        "create",
        "--size=1",
        "--name=progress1",
        stdout_tty=True,
        stderr_tty=True,
    )
    assert both.code == 0
    text = both.terminal.decode()
    assert "\rCreating volume progress1 (1 GiB) " in text
    assert "failed" not in text
    visible = [line for line in shown_on(both.terminal) if line]
    assert visible[0] == "Name: progress1"
    assert "Replica Count: 3" in visible
    assert not any("Creating volume" in line for line in visible)

    piped_create = heketi_cli(
        server,
        "volume",
        "create",
        "--size=1",
        "--name=progress2",
        stdout_tty=False,
        stderr_tty=False,
    )
    assert piped_create.code == 0 and piped_create.stderr == b""
    assert piped_create.stdout.startswith(b"Name: progress2\nSize: 1\nVolume Id: ")
    lines = both.terminal.replace(b"\r\n", b"\n").split(b"\n")
    assert len(lines) == piped_create.stdout.count(b"\n") + 1


def test_quick_failures_show_nothing_and_the_line_can_be_turned_off(
    server: str, tmp_path: Path
) -> None:
    # no device yet: the create is refused at once, before the line would show
    quick = heketi_cli(server, "volume", "create", "--size=1", stdout_tty=True, stderr_tty=True)
    assert quick.code == 255
    assert shown_on(quick.terminal)[0].startswith("Error: ")
    assert b"Creating volume" not in quick.terminal

    topology = topology_file(tmp_path / "t.json", "off", 3)
    loaded = heketi_cli(
        server, "topology", "load", "--json", topology, stdout_tty=False, stderr_tty=False
    )
    assert loaded.code == 0
    for args, env in (
        (["--no-progress"], {}),
        ([], {"BRICKYARD_NO_PROGRESS": "1"}),
    ):
        off = heketi_cli(
            server, "volume", "create", "--size=1", *args, stdout_tty=True, stderr_tty=True, env=env
        )
        assert off.code == 0
        assert off.terminal.startswith(b"Name: vol_")
        assert b"\r" not in off.terminal.replace(b"\r\n", b"")


def test_node_remove_counts_the_bricks_moved(server: str, tmp_path: Path) -> None:
    def piped(*args: str) -> bytes:
        ran = heketi_cli(server, *args, stdout_tty=False, stderr_tty=False)
        assert ran.code == 0 and ran.stderr == b"", ran
        return ran.stdout

    # four zones, a volume on three of them: its brick can move to the fourth
    nodes = [
        {
            "node": {"hostnames": {"manage": [f"r{i}"], "storage": [f"10.4.{i}.1"]}, "zone": i},
            "devices": ["/dev/vdb"],
        }
        for i in (1, 2, 3, 4)
    ]
    (tmp_path / "r.json").write_text(json.dumps({"clusters": [{"nodes": nodes}]}))
    piped("topology", "load", f"--json={tmp_path / 'r.json'}")
    volume = json.loads(piped("--json", "volume", "create", "--size=1"))
    node = volume["bricks"][0]["node"]
    piped("node", "disable", node)

    removed = heketi_cli(server, "node", "remove", node, stdout_tty=False, stderr_tty=True)
    assert removed.code == 0
    assert removed.stdout == f"Node {node} is now removed\n".encode()
    text = removed.terminal.decode()
    assert f"\rRemoving node {node} [--------------------] 0 of 1 bricks moved" in text
    assert shown_on(removed.terminal) == [""]
    info = json.loads(piped("--json", "node", "info", node))
    assert not any(d.get("bricks") for d in info.get("devices") or [])
