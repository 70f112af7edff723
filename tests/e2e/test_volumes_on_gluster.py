"""Brickyard driving real GlusterFS on the namespace test-bed: the `heketi` server with the ssh
executor and the loop-file backend, a Heketi user's heketi-cli steps, a FUSE mount from this
host, and a check on every node that deleting leaves nothing behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import Testbed

BIN = Path(sys.executable).parent
KEY = "e2e-admin-key"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEKETI_")}
        env.update(HEKETI_CLI_SERVER=self.url, HEKETI_CLI_USER="admin", HEKETI_CLI_KEY=KEY)
        done = subprocess.run(
            [str(BIN / "heketi-cli"), *args], env=env, capture_output=True, text=True, timeout=600
        )
        if check and done.returncode != 0:
            raise AssertionError(f"heketi-cli {' '.join(args)}: {done.stderr}{done.stdout}")
        return done


@pytest.fixture(scope="module")
def server(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("brickyard-e2e")
    port = free_port()
    config = {
        "port": str(port),
        "bind_address": "127.0.0.1",
        "jwt": {"admin": {"key": KEY}, "user": {"key": "e2e-user-key"}},
        "glusterfs": {
            "executor": "ssh",
            "db": str(workdir / "heketi.db"),
            "brick_backend": "loopfile",
            "sshexec": {"keyfile": str(testbed.ssh_key), "user": testbed.ssh_user, "port": "22"},
        },
    }
    (workdir / "heketi.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "heketi"), f"--config={workdir / 'heketi.json'}"],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/hello", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError((workdir / "server.log").read_text())
        yield Server(url, workdir)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def node_leftovers(testbed: Testbed, node: int) -> list[str]:
    """What a brick leaves on a node if not cleaned: mounts, images, loops, fstab lines."""
    found = []
    mounts = testbed.x(node, "findmnt", "-rn", "-o", "TARGET", check=False).stdout
    found += [m for m in mounts.split() if m.startswith("/var/lib/heketi/mounts/")]
    images = testbed.x(
        node, "sh", "-c", "ls /var/lib/heketi/devices/*/images/ 2>/dev/null || true"
    ).stdout
    found += [f"image {i}" for i in images.split() if i.endswith(".img")]
    fstab = testbed.x(node, "cat", "/etc/fstab").stdout
    found += [line for line in fstab.splitlines() if "brick_" in line]
    return found


def test_replica3_lifecycle_on_real_gluster(
    server: Server, testbed: Testbed, tmp_path: Path
) -> None:
    topology = {
        "clusters": [
            {
                "nodes": [
                    {
                        "node": {
                            "hostnames": {"manage": [ip], "storage": [ip]},
                            "zone": i + 1,
                        },
                        "devices": [testbed.disks[0]],
                    }
                    for i, ip in enumerate(testbed.nodes)
                ]
            }
        ]
    }
    (tmp_path / "topology.json").write_text(json.dumps(topology))
    load = server.cli("topology", "load", f"--json={tmp_path / 'topology.json'}")
    assert load.stdout.count("OK") == 3, load.stdout

    created = server.cli("volume", "create", "--size=1")
    vid = re.search(r"^Volume Id: ([0-9a-f]{32})$", created.stdout, re.M)
    assert vid is not None, created.stdout
    name = f"vol_{vid.group(1)}"
    info = testbed.gluster(1, "volume", "info", name).stdout
    assert "Status: Started" in info and "Number of Bricks: 1 x 3 = 3" in info

    mount = tmp_path / "mnt"
    mount.mkdir()
    backups = ":".join(testbed.nodes[1:])
    subprocess.run(
        [
            "mount",
            "-t",
            "glusterfs",
            "-o",
            f"backup-volfile-servers={backups}",
            f"{testbed.nodes[0]}:/{name}",
            str(mount),
        ],
        check=True,
        timeout=60,
    )
    try:
        data = os.urandom(1 << 20)
        (mount / "file").write_bytes(data)
        assert (mount / "file").read_bytes() == data
    finally:
        subprocess.run(["umount", str(mount)], check=True, timeout=60)

    server.cli("volume", "delete", vid.group(1))
    assert name not in testbed.gluster(1, "volume", "list").stdout
    for node in (1, 2, 3):
        assert node_leftovers(testbed, node) == []
