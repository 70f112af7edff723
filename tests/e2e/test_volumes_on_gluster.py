"""Brickyard driving real GlusterFS on the namespace test-bed: the `heketi` server with the ssh
executor and the loop-file backend, a Heketi user's heketi-cli steps, a FUSE mount from this
host, and a check on every node that deleting leaves nothing behind.  The server fixture
(`server`, one per module) is in conftest.py."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Server, Testbed


def test_replica3_lifecycle_on_real_gluster(
    server: Server,
    testbed: Testbed,
    tmp_path: Path,
    leftovers: Callable[[], dict[int, list[str]]],
) -> None:
    server.load_topology()
    vid = server.create_volume("--size=1")
    name = f"vol_{vid}"
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

    server.cli("volume", "delete", vid)
    assert name not in testbed.gluster(1, "volume", "list", check=False).stdout
    assert leftovers() == {}
