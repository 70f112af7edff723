"""Volume lifecycle on real GlusterFS (the namespace test-bed, the `heketi` server of conftest.py
with the ssh executor and the loop-file backend): expand, disperse, and failures in the middle
of a create (a brick command failing on one node, a node dying), each followed by a check on
every node that nothing is left and by a check of every device's free space."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Proc, Server, Testbed

Leftovers = Callable[[], dict[int, list[str]]]
GIB = 1 << 30


@pytest.fixture(scope="module")
def loaded(server: Server) -> Server:
    server.load_topology()
    return server


@pytest.fixture
def mount(testbed: Testbed, tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """mount(volume name) -> FUSE mount point on this host; unmounted at the end."""
    mounted: list[Path] = []

    def do(name: str) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        backups = ":".join(testbed.nodes[1:])
        testbed.run(
            [
                "mount", "-t", "glusterfs", "-o", f"backup-volfile-servers={backups}",
                f"{testbed.nodes[0]}:/{name}", str(point),
            ],
            timeout=60,
        )  # fmt: skip
        mounted.append(point)
        return point

    yield do
    for point in mounted:
        mounted_now = testbed.run(["mountpoint", "-q", str(point)], check=False).returncode == 0
        if mounted_now and testbed.run(["umount", str(point)], check=False).returncode != 0:
            testbed.run(["umount", "-l", str(point)])


def unmount(testbed: Testbed, point: Path) -> None:
    testbed.run(["umount", str(point)], timeout=60)


def write_read(point: Path) -> None:
    data = os.urandom(3 << 20)
    (point / "file").write_bytes(data)
    assert (point / "file").read_bytes() == data


def df_size(point: Path) -> int:
    st = os.statvfs(point)
    return st.f_blocks * st.f_frsize


def delete_and_check(server: Server, testbed: Testbed, vid: str, leftovers: Leftovers) -> None:
    server.cli("volume", "delete", vid)
    assert leftovers() == {}


def test_expand_replica3(
    loaded: Server, testbed: Testbed, mount: Callable[[str], Path], leftovers: Leftovers
) -> None:
    free = loaded.free_space()
    vid = loaded.create_volume("--size=1")
    name = f"vol_{vid}"
    point = mount(name)
    assert 0.9 * GIB < df_size(point) <= GIB
    write_read(point)
    unmount(testbed, point)

    expanded = loaded.cli("volume", "expand", f"--volume={vid}", "--expand-size=1")
    assert re.search(r"^Size: 2$", expanded.stdout, re.M), expanded.stdout
    info = testbed.gluster(1, "volume", "info", name).stdout
    assert "Number of Bricks: 2 x 3 = 6" in info, info
    point = mount(name)
    assert 1.8 * GIB < df_size(point) <= 2 * GIB, df_size(point)
    assert (point / "file").stat().st_size == 3 << 20
    df = testbed.run(["df", "-B1M", "--output=size", str(point)]).stdout.split()[-1]
    assert 1800 < int(df) <= 2048, df
    unmount(testbed, point)

    delete_and_check(loaded, testbed, vid, leftovers)
    assert loaded.free_space() == free


def test_disperse_2_plus_1(
    loaded: Server, testbed: Testbed, mount: Callable[[str], Path], leftovers: Leftovers
) -> None:
    free = loaded.free_space()
    vid = loaded.create_volume(
        "--size=2", "--durability=disperse", "--disperse-data=2", "--redundancy=1"
    )  # 2 data bricks of 1 GiB: Heketi's smallest brick
    name = f"vol_{vid}"
    info = testbed.gluster(1, "volume", "info", name).stdout
    assert "Type: Disperse" in info and "1 x (2 + 1) = 3" in info, info
    point = mount(name)
    assert 1.8 * GIB < df_size(point) <= 2 * GIB, df_size(point)
    write_read(point)
    unmount(testbed, point)
    delete_and_check(loaded, testbed, vid, leftovers)
    assert loaded.free_space() == free


def test_brick_command_failing_on_one_node_rolls_back(
    loaded: Server, testbed: Testbed, leftovers: Leftovers
) -> None:
    free = loaded.free_space()
    volumes = loaded.json("volume", "list").get("volumes") or []
    (device,) = [d for d, (node, _) in loaded.devices().items() if node == 2]
    images = f"/var/lib/heketi/devices/{device}/images"
    # an immutable directory: even root cannot create the brick image there
    testbed.x(2, "chattr", "+i", images)
    try:
        failed = loaded.cli("volume", "create", "--size=1", check=False)
    finally:
        testbed.x(2, "chattr", "-i", images)
    assert failed.returncode != 0, failed.stdout
    error = failed.stderr + failed.stdout
    assert "truncate" in error and images in error, error
    assert "Operation not permitted" in error and testbed.ip(2) in error, error
    assert (loaded.json("volume", "list").get("volumes") or []) == volumes
    assert leftovers() == {}
    assert loaded.free_space() == free


def first_brick_mounted(testbed: Testbed, node: int) -> bool:
    mounts = testbed.x(node, "findmnt", "-rn", "-o", "TARGET", check=False).stdout
    return "/var/lib/heketi/mounts/" in mounts


def peers_connected(testbed: Testbed) -> bool:
    out = testbed.gluster(1, "peer", "status", check=False).stdout
    return out.count("(Connected)") == len(testbed.nodes) - 1


def test_node_dying_during_create_then_cleanup(
    loaded: Server, testbed: Testbed, leftovers: Leftovers
) -> None:
    free = loaded.free_space()
    result: list[Proc] = []
    create = threading.Thread(
        target=lambda: result.append(loaded.cli("volume", "create", "--size=1", check=False))
    )
    create.start()
    try:
        deadline = time.monotonic() + 30
        while not first_brick_mounted(testbed, 1):
            assert create.is_alive() and time.monotonic() < deadline, result
            time.sleep(0.02)
        testbed.tb("stop-node", "3")  # bricks are made, the volume is not: node 3 dies
        create.join(timeout=300)
    finally:
        testbed.tb("start", "3")
    (failed,) = result
    assert failed.returncode != 0, failed.stdout
    assert testbed.ip(3) in failed.stderr + failed.stdout, failed.stderr

    deadline = time.monotonic() + 60
    while not peers_connected(testbed):
        assert time.monotonic() < deadline, testbed.gluster(1, "peer", "status").stdout
        time.sleep(0.2)
    loaded.cli("server", "operations", "cleanup")
    # `server operations list` prints text only (heketi-cli ignores --json there): one line
    # per pending operation, nothing when none is left.
    pending = loaded.cli("server", "operations", "list").stdout
    assert pending == "", pending
    assert (loaded.json("volume", "list").get("volumes") or []) == []
    assert leftovers() == {}
    assert loaded.free_space() == free


def test_device_delete_on_bind_mounted_fstab(loaded: Server, testbed: Testbed) -> None:
    (device,) = [d for d, (node, _) in loaded.devices().items() if node == 3]
    for step in ("disable", "remove", "delete"):
        loaded.cli("device", step, device)
    assert device not in loaded.devices()
    fstab = testbed.x(3, "cat", "/etc/fstab").stdout
    assert "/var/lib/heketi/devices/" not in fstab, fstab
    assert testbed.x(3, "blkid", "-p", testbed.disks[0], check=False).returncode == 2
