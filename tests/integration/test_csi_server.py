"""``brickyard csi`` as a process: the unix socket (a stale one replaced, owner-only
permissions), graceful stop on SIGTERM, and clear start-up errors."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from .csi_helpers import pb, pb_grpc

BRICKYARD = [sys.executable, "-c", "from brickyard.cli.main import main; main()"]


@pytest.fixture
def sockdir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="csi", dir="/tmp"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def run_csi(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRICKYARD_")}
    return subprocess.Popen(
        [*BRICKYARD, "csi", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while not (path.exists() and stat.S_ISSOCK(path.stat().st_mode) and _answers(path)):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the driver did not start"
        time.sleep(0.05)


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def test_serves_on_the_socket_and_stops_on_sigterm(sockdir: Path) -> None:
    path = sockdir / "plugin" / "csi.sock"
    path.parent.mkdir()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # a socket file left behind by a killed run
    stale.close()
    proc = run_csi("--mode", "node", "--node-id", "n1", "--endpoint", f"unix://{path}")
    try:
        wait_for(path, proc)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with grpc.insecure_channel(f"unix://{path}") as channel:
            info = pb_grpc.IdentityStub(channel).GetPluginInfo(pb.GetPluginInfoRequest(), timeout=5)
            node = pb_grpc.NodeStub(channel).NodeGetInfo(pb.NodeGetInfoRequest(), timeout=5)
        assert info.name == "glusterfs.brickyard.io" and node.node_id == "n1"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    assert "Traceback" not in out
    assert not path.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "node"], "--node-id"),
        (["--mode", "controller", "--endpoint", "tcp://x"], "unix:///absolute/path"),
        (["--mode", "controller", "--key-file", "/nonexistent/key"], "--key-file"),
    ],
)
def test_start_up_errors_are_one_clear_line(sockdir: Path, args: list[str], message: str) -> None:
    if "--endpoint" not in args:
        args = [*args, "--endpoint", f"unix://{sockdir}/csi.sock"]
    proc = run_csi(*args)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 2 and message in out and "Traceback" not in out


def test_refuses_to_replace_a_file_that_is_not_a_socket(sockdir: Path) -> None:
    path = sockdir / "csi.sock"
    path.write_text("precious")
    proc = run_csi("--mode", "controller", "--endpoint", f"unix://{path}")
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 2 and "not a socket" in out
    assert path.read_text() == "precious"


def test_json_log_lines_parse_one_by_one(sockdir: Path) -> None:
    """The server's log format (docs/logging.md) on the driver too: with --log-format json every
    line of its output is one JSON object, the start-up line and the calls' lines included."""
    import json

    path = sockdir / "csi.sock"
    proc = run_csi(
        "--mode",
        "node",
        "--node-id",
        "n1",
        "--endpoint",
        f"unix://{path}",
        "--log-format",
        "json",
        "--log-level",
        "debug",
    )
    try:
        wait_for(path, proc)
        with grpc.insecure_channel(f"unix://{path}") as channel:
            pb_grpc.IdentityStub(channel).GetPluginInfo(pb.GetPluginInfoRequest(), timeout=5)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    messages = [line["msg"] for line in lines]
    assert any("listening on" in m for m in messages), messages
    assert any("GetPluginInfo" in m for m in messages), messages  # the call, at debug
    assert {line["logger"].partition(".")[0] for line in lines} == {"brickyard"}


def test_a_bad_log_format_from_the_environment_is_one_clear_line(sockdir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRICKYARD_")}
    env["BRICKYARD_LOG_FORMAT"] = "yaml"
    proc = subprocess.run(
        [
            *BRICKYARD,
            "csi",
            "--mode",
            "node",
            "--node-id",
            "n1",
            "--endpoint",
            f"unix://{sockdir}/c",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 2 and "log format 'yaml'" in proc.stderr
    assert "Traceback" not in proc.stderr
