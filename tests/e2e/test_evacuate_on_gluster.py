"""Devices and nodes over their life on real GlusterFS, on a 4-node bed: a device remove on a
live node, a remove refused while the brick set cannot lose the brick, and the evacuation of a
dead node (glusterd, bricks and sshd killed) that held two bricks of one volume, with data
written before and read back after; once the node is back, the health monitor destroys what it
kept within one check period, with no cleanup asked."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import BIN, TB, Testbed, run, scrub_bed, start_heketi

REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}
MONITOR_PERIOD = 3  # seconds between health checks (Heketi's default is 120)
MONITOR = {
    "refresh_time_monitor_gluster_nodes": MONITOR_PERIOD,
    "start_time_monitor_gluster_nodes": 1,
}
SMALL_BRICKS = {"brick_max_size_gb": 1}  # a 2 GiB volume has two brick sets


class Bed4:
    """Four nodes, one server (auth off) with them loaded; helpers over its REST API."""

    def __init__(self, testbed: Testbed, workdir: Path) -> None:
        self.testbed = testbed
        self.workdir = workdir
        self.process, self.url = start_heketi(
            testbed, workdir, disable_auth=True, glusterfs=MONITOR | SMALL_BRICKS
        )

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, self.url + path, json=body, timeout=120)

    def get(self, path: str) -> Any:
        r = self.call("GET", path)
        assert r.status_code == 200, (path, r.text)
        return r.json()

    def finish(self, response: httpx.Response, timeout: float = 600) -> httpx.Response:
        assert response.status_code == 202, response.text
        location = response.headers["location"]
        deadline = time.monotonic() + timeout
        while True:
            r = httpx.get(self.url + location, timeout=120, follow_redirects=True)
            if r.headers.get("x-pending") != "true":
                return r
            assert time.monotonic() < deadline, f"{location} still pending"
            time.sleep(0.3)

    def state(self, kind: str, entity: str, state: str) -> httpx.Response:
        return self.finish(self.call("POST", f"/{kind}/{entity}/state", {"state": state}))

    def create(self, size: int = 1) -> dict[str, Any]:
        r = self.finish(self.call("POST", "/volumes", {"size": size, "durability": REPLICA3}))
        assert r.status_code == 200, r.text  # the 303 was followed to the volume
        volume: dict[str, Any] = r.json()
        return volume

    def node_of(self, ip: str) -> dict[str, Any]:
        for node_id in self.get(f"/clusters/{self.cluster}")["nodes"]:
            node: dict[str, Any] = self.get(f"/nodes/{node_id}")
            if node["hostnames"]["manage"] == [ip]:
                return node
        raise AssertionError(f"no node {ip}")

    def number(self, node_id: str) -> int:
        ip = self.get(f"/nodes/{node_id}")["hostnames"]["manage"][0]
        return self.testbed.nodes.index(ip) + 1

    cluster = ""


@pytest.fixture(scope="module")
def bed4(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed4]:
    run([TB, "down"])
    up = run([TB, "up", "--nodes", "4"], check=False, timeout=300)
    assert up.returncode == 0, up.stdout + up.stderr
    four = Testbed.from_tb_env()
    bed = Bed4(four, tmp_path_factory.mktemp("brickyard-evacuate"))
    try:
        r = bed.call("POST", "/clusters", {"block": False, "file": True})
        bed.cluster = r.json()["id"]
        for i, ip in enumerate(four.nodes, start=1):
            body = {
                "cluster": bed.cluster,
                "zone": i,
                "hostnames": {"manage": [ip], "storage": [ip]},
            }
            node = bed.finish(bed.call("POST", "/nodes", body))
            assert node.status_code == 200, node.text
            device = {"node": node.json()["id"], "name": four.disks[0]}
            assert bed.finish(bed.call("POST", "/devices", device)).status_code == 204
        yield bed
    finally:
        bed.process.terminate()
        bed.process.wait(timeout=30)
        scrub_bed(four)
        # Put back the bed the other modules expect.
        run([TB, "down"])
        run([TB, "up"], timeout=300)


def _brick_nodes(volume: dict[str, Any]) -> set[str]:
    return {b["node"] for b in volume["bricks"]}


def _wait_connected(bed: Bed4, volume: dict[str, Any], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        heal = bed.get(f"/volumes/{volume['id']}/heal")
        if heal["healthy"]:
            return
        assert time.monotonic() < deadline, heal
        time.sleep(1)


def test_remove_refused_while_the_set_cannot_lose_the_brick(bed4: Bed4) -> None:
    volume = bed4.create()
    first, second = volume["bricks"][0], volume["bricks"][1]
    crashed = bed4.number(second["node"])
    run([TB, "crash", str(crashed)])  # its glusterd and brick processes die
    try:
        assert bed4.state("devices", first["device"], "offline").status_code == 204
        answer = bed4.state("devices", first["device"], "failed")
        assert answer.status_code == 500, answer.text
        assert "cannot lose" in answer.text and second["path"] in answer.text, answer.text
    finally:
        run([TB, "start", str(crashed)])
    after = bed4.get(f"/volumes/{volume['id']}")
    assert {b["id"] for b in after["bricks"]} == {b["id"] for b in volume["bricks"]}
    assert bed4.get(f"/devices/{first['device']}")["state"] == "offline"
    assert bed4.state("devices", first["device"], "online").status_code == 204
    _wait_connected(bed4, volume)
    assert bed4.finish(bed4.call("DELETE", f"/volumes/{volume['id']}")).status_code == 204


def test_device_remove_on_a_live_node(bed4: Bed4) -> None:
    volume = bed4.create()
    brick = volume["bricks"][0]
    device, node = brick["device"], brick["node"]
    for state in ("offline", "failed"):
        assert bed4.state("devices", device, state).status_code == 204
    after = bed4.get(f"/volumes/{volume['id']}")
    assert node not in _brick_nodes(after) and len(after["bricks"]) == 3
    listed = bed4.testbed.gluster(1, "volume", "info", volume["name"]).stdout
    assert brick["path"] not in listed and "Status: Started" in listed
    for b in after["bricks"]:
        assert b["path"] in listed
    number = bed4.number(node)
    mounts = bed4.testbed.x(number, "findmnt", "-rn", "-o", "TARGET").stdout
    assert f"brick_{brick['id']}" not in mounts  # destroyed on the live node
    assert bed4.get(f"/devices/{device}")["bricks"] == []
    # Resync reads each device's space back from its node: it equals the accounting.
    for b in after["bricks"]:
        before = bed4.get(f"/devices/{b['device']}")["storage"]
        assert bed4.finish(bed4.call("GET", f"/devices/{b['device']}/resync")).status_code == 204
        assert bed4.get(f"/devices/{b['device']}")["storage"] == before
    # Delete the emptied device and add the disk again, for the next test.
    assert bed4.finish(bed4.call("DELETE", f"/devices/{device}")).status_code == 204
    again = {"node": node, "name": bed4.testbed.disks[0]}
    assert bed4.finish(bed4.call("POST", "/devices", again)).status_code == 204
    assert bed4.finish(bed4.call("DELETE", f"/volumes/{volume['id']}")).status_code == 204


def _checksums(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.iterdir())}


def _mount(bed: Bed4, name: str, target: Path, hosts: list[str]) -> None:
    target.mkdir(exist_ok=True)
    options = f"backup-volfile-servers={':'.join(hosts[1:])}"
    subprocess.run(
        ["mount", "-t", "glusterfs", "-o", options, f"{hosts[0]}:/{name}", str(target)],
        check=True,
        timeout=60,
    )


def test_dead_node_is_evacuated(bed4: Bed4, tmp_path: Path) -> None:
    volume = bed4.create(size=2)
    assert len(volume["bricks"]) == 6
    name = volume["name"]
    mount = tmp_path / "mnt"
    _mount(bed4, name, mount, volume["mount"]["glusterfs"]["hosts"])
    try:
        for i in range(20):
            (mount / f"file{i}").write_bytes(os.urandom(256 * 1024))
        written = _checksums(mount)
    finally:
        subprocess.run(["umount", str(mount)], check=True, timeout=60)

    # A node holding two bricks of the volume: while the second is not replaced, gluster refuses
    # to start heal; the evacuation used to wait a minute per extra brick for it. Node 1 when
    # it is such a node: its death once left the heal stalled, the hardest case seen.
    holders = [b["node"] for b in volume["bricks"]]
    doubles = sorted({n for n in holders if holders.count(n) >= 2}, key=bed4.number)
    assert doubles, holders
    dead_id = doubles[0]
    dead = bed4.number(dead_id)
    dead_ip = bed4.testbed.nodes[dead - 1]
    live = next(i for i in range(1, 5) if i != dead)
    run([TB, "stop-node", str(dead)])  # glusterd, bricks and sshd: a dead node

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    env["HEKETI_CLI_SERVER"] = bed4.url
    began = time.monotonic()
    evacuate = subprocess.run(
        [str(BIN / "brickyard"), "node", "evacuate", "--wait-heal", "--heal-timeout=300", dead_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert evacuate.returncode == 0, evacuate.stdout + evacuate.stderr
    took = time.monotonic() - began
    out = evacuate.stdout
    assert f"Node {dead_id} evacuated: 2 bricks moved to other nodes" in out, out
    assert "Heal done" in out, out
    print(f"evacuation of 2 bricks with --wait-heal: {took:.1f} s")
    assert took < 60, f"evacuation took {took:.0f} s: it waited on a heal start"

    after = bed4.get(f"/volumes/{volume['id']}")
    assert dead_id not in _brick_nodes(after) and len(_brick_nodes(after)) == 3
    glusterfs = after["mount"]["glusterfs"]
    assert dead_ip not in glusterfs["hosts"] and dead_ip not in glusterfs["device"]
    assert dead_ip not in glusterfs["options"]["backup-volfile-servers"]
    info = bed4.testbed.gluster(live, "volume", "info", name).stdout
    assert "Status: Started" in info and f"{dead_ip}:" not in info, info
    heal = bed4.testbed.gluster(live, "volume", "heal", name, "info").stdout
    assert "Number of entries: 0" in heal and "Number of entries: -" not in heal, heal
    # The dead node's devices: failed and empty.
    node = bed4.get(f"/nodes/{dead_id}")
    assert node["state"] == "failed"
    for device in node["devices"]:
        assert device["state"] == "failed" and device["bricks"] == []
        assert device["storage"]["used"] == 0
    # The data, through a fresh mount on the remaining nodes.
    _mount(bed4, name, mount, glusterfs["hosts"])
    try:
        assert _checksums(mount) == written
    finally:
        subprocess.run(["umount", str(mount)], check=True, timeout=60)

    # Its bricks are recorded; the removed node is not reported unreachable.
    report = bed4.get("/internal/state/examine")["differences"]
    left = [d["node"] for d in report if d["kind"] == "brick left on a dead node"]
    assert left == [dead_ip, dead_ip], report
    assert not [d for d in report if d["kind"] == "node unreachable"], report
    # Back: within one health-check period the monitor destroys what it kept (no cleanup).
    run([TB, "start", str(dead)])
    back = time.monotonic()
    deadline = back + MONITOR_PERIOD + 30  # a check, plus the destroys themselves
    while True:
        # Gone from the node (unmounted), then from the records: the destroy of a brick ends
        # with its record, after the unmount and the removal of its LV or image.
        mounts = bed4.testbed.x(dead, "findmnt", "-rn", "-o", "TARGET").stdout
        report = bed4.get("/internal/state/examine")["differences"]
        kept = [d for d in report if "dead node" in d["kind"]]
        if "/var/lib/heketi/mounts/" not in mounts and not kept:
            break
        assert time.monotonic() < deadline, (mounts, kept)
        time.sleep(0.5)
    print(f"leftovers of the returning node destroyed {time.monotonic() - back:.1f} s after start")
    assert bed4.finish(bed4.call("DELETE", f"/volumes/{volume['id']}")).status_code == 204
