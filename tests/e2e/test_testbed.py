"""Smoke tests of the test bed itself, used the way the manager will use it: over ssh."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # tests/e2e is not a package; the fixture hands out the object
    from conftest import Testbed

pytestmark = pytest.mark.e2e

VOL = "tbsmoke"
BRICK_MNT = "/srv/tbsmoke/b1"  # XFS on the node's first raw disk (/dev/e2e/vdb)
BRICK = f"{BRICK_MNT}/brick"  # a subdirectory of the mount, as glusterd wants


def wait_until(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def connected_peers(tb: Testbed, node: int) -> int:
    out = tb.gluster(node, "peer", "status").stdout
    return out.count("Peer in Cluster (Connected)")


def bricks_online(tb: Testbed) -> int:
    xml = tb.gluster(1, "--xml", "volume", "status", VOL, check=False).stdout
    if "<cliOutput>" not in xml:
        return 0
    root = ET.fromstring(xml)
    return sum(
        1
        for n in root.iter("node")
        if (n.findtext("path") or "").startswith("/") and n.findtext("status") == "1"
    )


def test_nodes_are_separate_machines(testbed: Testbed) -> None:
    for i, ip in enumerate(testbed.nodes, start=1):
        out = testbed.ssh(i, "hostname; ip -o -4 addr show dev eth0; cat /etc/fstab").stdout
        assert out.startswith(f"node{i}\n")
        assert f" {ip}/24 " in out
        assert f"node{i} fstab" in out  # node-private /etc/fstab
        # glusterd listens on the node's own address; the disk is raw; the device dir exists
        assert f"{ip}:24007" in testbed.x(i, "ss", "-Hltn").stdout
        for disk in testbed.disks:
            assert testbed.ssh(i, f"test -b {disk} && blkid -p {disk}", check=False).returncode == 2
        testbed.ssh(i, f"test -d {testbed.device_dir}")
    # key-only: a password login is refused
    refused = testbed.run(
        [
            "ssh", "-F", "/dev/null", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={testbed.known_hosts}",
            "-o", "PreferredAuthentications=password,keyboard-interactive",
            f"root@{testbed.nodes[0]}", "true",
        ],
        check=False,
    )  # fmt: skip
    assert refused.returncode == 255
    assert "Permission denied (publickey)" in refused.stderr


def test_up_again_reuses_the_bed(testbed: Testbed) -> None:
    pids = [testbed.x(i, "cat", "/run/glusterd.pid").stdout for i in (1, 2, 3)]
    testbed.tb("up")
    assert [testbed.x(i, "cat", "/run/glusterd.pid").stdout for i in (1, 2, 3)] == pids
    assert testbed.tb("status").returncode == 0


def test_replica3_volume_over_ssh(testbed: Testbed, tmp_path: Path) -> None:
    tb, ips, disk = testbed, testbed.nodes, testbed.disks[0]
    timings: dict[str, float] = {}
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        t = time.monotonic()
        for ip in ips[1:]:
            tb.gluster(1, "peer", "probe", ip)
        for i in (1, 2, 3):
            wait_until(f"node{i} to see 2 connected peers", lambda i=i: connected_peers(tb, i) == 2)
        timings["pool"] = time.monotonic() - t

        t = time.monotonic()
        for i in (1, 2, 3):  # what the manager does to a raw device, by hand
            tb.ssh(
                i,
                f"set -e; mkfs.xfs -q -f -i size=512 -n size=8192 {disk};"
                f" mkdir -p {BRICK_MNT}; mount -t xfs -o noatime,inode64 {disk} {BRICK_MNT};"
                f" mkdir {BRICK}",
            )
        timings["bricks"] = time.monotonic() - t

        t = time.monotonic()
        tb.gluster(1, "volume", "create", VOL, "replica", "3", *(f"{ip}:{BRICK}" for ip in ips))
        tb.gluster(1, "volume", "set", VOL, "network.ping-timeout", "5")
        tb.gluster(1, "volume", "start", VOL)
        wait_until("3 bricks online", lambda: bricks_online(tb) == 3)
        timings["create"] = time.monotonic() - t

        t = time.monotonic()
        opts = f"backup-volfile-servers={ips[1]}:{ips[2]},log-file={tmp_path / 'client.log'}"
        tb.run(["mount", "-t", "glusterfs", "-o", opts, f"{ips[0]}:/{VOL}", mnt])
        timings["mount"] = time.monotonic() - t
        data = "written by the brickyard e2e smoke test\n" * 1000
        (mnt / "hello.txt").write_text(data)
        assert (mnt / "hello.txt").read_text() == data
        for i in (1, 2, 3):  # replicated to every brick
            assert tb.ssh(i, f"cat {BRICK}/hello.txt").stdout == data
    finally:
        t = time.monotonic()
        mounted = tb.run(["mountpoint", "-q", mnt], check=False).returncode == 0
        if mounted and tb.run(["umount", mnt], check=False).returncode != 0:
            tb.run(["umount", "-l", mnt])
        tb.gluster(1, "volume", "stop", VOL, "force", check=False)
        tb.gluster(1, "volume", "delete", VOL, check=False)
        for i in (1, 2, 3):
            tb.ssh(
                i,
                f"umount {BRICK_MNT} 2>/dev/null; rm -rf /srv/tbsmoke; wipefs -q -a {disk}",
                check=False,
            )
        for ip in ips[1:]:
            tb.gluster(1, "peer", "detach", ip, check=False)
        timings["cleanup"] = time.monotonic() - t
        print("timings:", ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    # the bed is as it was: unpeered nodes with raw disks
    for i in (1, 2, 3):
        assert connected_peers(tb, i) == 0
        assert tb.ssh(i, f"blkid -p {disk}", check=False).returncode == 2
    listed = tb.gluster(1, "volume", "list")
    assert (listed.stdout + listed.stderr).strip() == "No volumes present in cluster"


def test_crash_stop_and_start_a_node(testbed: Testbed) -> None:
    tb = testbed
    tb.tb("crash", "3")
    status = tb.tb("status", check=False)
    assert status.returncode == 1
    assert re.search(r"^3 .* dead +answers", status.stdout, re.M), status.stdout
    tb.tb("start", "3")
    tb.tb("stop-node", "3")
    assert tb.ssh(3, "true", check=False).returncode == 255  # a dead node: no sshd either
    assert tb.ssh(1, "true").returncode == 0
    tb.tb("start", "3")
    assert tb.ssh(3, "gluster --mode=script pool list").returncode == 0
    assert tb.tb("status").returncode == 0


def leftovers(tb: Testbed) -> list[str]:
    """Everything of the bed still on the machine (by its own names: other beds may be up)."""
    state, net, found = tb.state, tb.net + ".", []
    netns = tb.run(["ip", "netns", "list"]).stdout
    own_netns = rf"^({re.escape(tb.name)}n\d+)\b"  # tb's rule: <name>n<i>
    found += [f"netns {n}" for n in re.findall(own_netns, netns, re.M)]
    links = tb.run(["ip", "-o", "link", "show"]).stdout
    own_links = rf"^\d+: ({re.escape(tb.name)}br0|{re.escape(tb.name)}v\d+)[@:]"
    found += [f"link {n}" for n in re.findall(own_links, links, re.M)]
    loops = tb.run(["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"]).stdout
    found += [f"loop {line}" for line in loops.splitlines() if f"{state}/" in line]
    for line in Path("/proc/self/mounts").read_text().splitlines():
        src, target, fstype = line.split()[:3]
        if f"{state}/" in target or (fstype.startswith("fuse") and src.startswith(net)):
            found.append(f"mount {target}")
    ps = tb.run(["ps", "-eo", "pid=,stat=,args="]).stdout
    found += [
        f"process {line.strip()}"
        for line in ps.splitlines()
        if f"bind-address={net}" in line or f"{state}/" in line
        if not line.split()[1].startswith("Z")  # zombies wait for a slow PID 1 to reap them
    ]
    if state.exists():
        found.append(f"dir {state}")
    if Path(tb.disk_dir).exists():
        found.append(f"dir {tb.disk_dir}")
    return found


def test_down_leaves_nothing(testbed: Testbed, request: pytest.FixtureRequest) -> None:
    # tb env names what the bed really has, and leftovers() sees it: the check below can fail
    assert all(Path("/run/netns", n).exists() for n in testbed.netns), testbed.netns
    assert all(Path("/sys/class/net", n).exists() for n in testbed.links), testbed.links
    before = leftovers(testbed)
    assert {f"netns {n}" for n in testbed.netns} <= set(before), before
    assert {f"link {n}" for n in testbed.links} <= set(before), before
    t = time.monotonic()
    testbed.tb("down")
    print(f"timings: down {time.monotonic() - t:.2f} s")
    assert leftovers(testbed) == []
    testbed.tb("down")  # safe to repeat
    assert testbed.tb("status", check=False).returncode == 1
    # later tests of the session need the bed again
    items = request.session.items
    if any("testbed" in it.fixturenames for it in items[items.index(request.node) + 1 :]):
        testbed.tb("up")
