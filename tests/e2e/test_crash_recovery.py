"""Crash recovery on real GlusterFS: for every step boundary of volume create, expand and delete,
brick eviction and device remove (the points come from each operation's step list), the server
is started with BRICKYARD_TEST_CRASH_AT naming that boundary and kills itself with SIGKILL
there; a new server on the same database recovers at start. Then no brick mount, image, loop
device, fstab line or gluster volume may exist that the database does not know, every volume
the database shows must be real and started, each device's space in the database must equal
what the node holds, examine finds no difference, and the client polling the request gets the
truth. Every node has two devices (its raw disk and a directory), so a brick can move to the
other device of its node.

Clone is not here: gluster snapshots only bricks on thin LVs, which this kernel cannot give
the bed (no device-mapper); clone's crash points run on the simulator
(tests/integration/test_crash_every_operation.py)."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from brickyard.crashtest import CRASH_ENV
from brickyard.domain.model import OperationType
from brickyard.services.operations.registry import crash_points
from conftest import Testbed, brick_loops, poll_queue, scrub_bed, start_heketi

REPLICA3 = {"type": "replicate", "replicate": {"replica": 3}}
ROLLED_BACK = "The server restarted during this operation; it was rolled back"
MOUNTS = "/var/lib/heketi/mounts/"


class Crashable:
    """One database and topology; servers come and go (crash, restart) around it."""

    def __init__(self, testbed: Testbed, workdir: Path) -> None:
        self.testbed = testbed
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, crash_at: str = "") -> None:
        env = {CRASH_ENV: crash_at} if crash_at else {}
        self.process, self.url = start_heketi(self.testbed, self.workdir, env, disable_auth=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def wait_killed(self, timeout: float = 120) -> None:
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        assert code == -9, f"server ended with {code}, not SIGKILL"

    def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, self.url + path, json=body, timeout=60)

    def answer(self, location: str, timeout: float = 180) -> httpx.Response:
        """Poll a queue location until it is done."""
        return poll_queue(self.url, location, timeout)

    def finish(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 202, response.text
        return self.answer(response.headers["location"])

    def dump(self) -> dict[str, Any]:
        r = self.request("GET", "/db/dump")
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data


@pytest.fixture(scope="module")
def bed(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crashable]:
    """A cluster of the bed's nodes with their first raw disk, loaded through the API."""
    crashable = Crashable(testbed, tmp_path_factory.mktemp("brickyard-crash"))
    crashable.start()
    r = crashable.request("POST", "/clusters", {"block": False, "file": True})
    cluster = r.json()["id"]
    for i, ip in enumerate(testbed.nodes, start=1):
        node_body = {"cluster": cluster, "zone": i, "hostnames": {"manage": [ip], "storage": [ip]}}
        node = crashable.finish(crashable.request("POST", "/nodes", node_body))
        node_id = node.headers["location"].rsplit("/", 1)[1]
        for name in (testbed.disks[0], testbed.device_dir):
            device = {"node": node_id, "name": name}
            answer = crashable.finish(crashable.request("POST", "/devices", device))
            assert answer.status_code == 204, answer.text
    try:
        yield crashable
    finally:
        crashable.stop()
        scrub_bed(testbed)


def _create(bed: Crashable, size: int = 1) -> str:
    r = bed.finish(bed.request("POST", "/volumes", {"size": size, "durability": REPLICA3}))
    assert r.status_code == 303, r.text
    return r.headers["location"].rsplit("/", 1)[1]


def _crash(bed: Crashable, point: str, method: str, path: str, body: Any = None) -> str:
    """Restart the server to crash at `point`, send the request, wait for the SIGKILL, start a
    normal server (it recovers at once). Returns the request's queue location."""
    bed.stop()
    bed.start(crash_at=point)
    r = bed.request(method, path, body)
    assert r.status_code == 202, r.text
    bed.wait_killed()
    bed.start()
    return r.headers["location"]


def _node_state(testbed: Testbed, node: int) -> dict[str, Any]:
    x = testbed.x
    mounts = x(node, "findmnt", "-rn", "-o", "TARGET").stdout.split()
    images = x(
        node,
        "find",
        "/var/lib/heketi/devices",
        testbed.device_dir,
        "-name",
        "brick_*.img",
        "-printf",
        "%h %f %s\\n",
        check=False,
    ).stdout.splitlines()
    loops = brick_loops(testbed)  # the kernel's, seen from every node; not another bed's
    fstab = x(node, "cat", "/etc/fstab").stdout.splitlines()
    return {
        "mounts": {m for m in mounts if m.startswith(MOUNTS)},
        "images": [line.split() for line in images],
        "loops": [line for line in loops if "brick_" in line],
        "fstab": [line for line in fstab if "brick_" in line],
    }


def _gluster_volumes(testbed: Testbed) -> dict[str, str]:
    """name -> status, from `gluster volume info` on node 1."""
    info = testbed.gluster(1, "volume", "info", check=False).stdout
    names = re.findall(r"^Volume Name: (\S+)$", info, re.M)
    statuses = re.findall(r"^Status: (\S+)$", info, re.M)
    return dict(zip(names, statuses, strict=True))


def assert_node_matches_db(bed: Crashable) -> dict[str, Any]:
    """Nothing on any node that the database does not know, and the reverse; space exact."""
    dump = bed.dump()
    assert dump["pendingoperations"] == {}, dump["pendingoperations"]
    bricks = dump["brickentries"]
    ip_of = {n: e["Info"]["hostnames"]["manage"][0] for n, e in dump["nodeentries"].items()}
    for number, ip in enumerate(bed.testbed.nodes, start=1):
        state = _node_state(bed.testbed, number)
        mine = {b: e for b, e in bricks.items() if ip_of[e["Info"]["node"]] == ip}
        expected_mounts = {e["Info"]["path"].rsplit("/brick", 1)[0] for e in mine.values()}
        assert state["mounts"] == expected_mounts, (ip, state["mounts"], expected_mounts)
        image_ids = {name[len("brick_") : -len(".img")] for _, name, _ in state["images"]}
        assert image_ids == set(mine), (ip, image_ids, set(mine))
        # Loop devices are the kernel's, seen from every node: a brick's image path names it, and
        # no loop may hold an image of a brick the database does not know.
        my_loops = [line for line in state["loops"] if any(f"brick_{b}" in line for b in mine)]
        strays = [line for line in state["loops"] if not any(f"brick_{b}" in line for b in bricks)]
        assert not strays, (ip, strays)
        assert len(my_loops) == len(mine), (ip, my_loops)
        assert sorted(len([f for f in state["fstab"] if b in f]) for b in mine) == [1] * len(mine)
        assert len(state["fstab"]) == len(mine), (ip, state["fstab"])
        # Space: the database charges each device exactly what its images hold.
        by_dir = {
            e["Info"]["name"]: d
            for d, e in dump["deviceentries"].items()
            if ip_of[e["NodeId"]] == ip
        }
        held: dict[str, int] = {}
        for directory, _name, size in state["images"]:
            parent = directory.rsplit("/", 1)[0]  # <device dir>/images
            device_id = by_dir.get(parent) or parent.rsplit("/", 1)[1]
            held[device_id] = held.get(device_id, 0) + int(size) // 1024
        for device_id, entry in dump["deviceentries"].items():
            if ip_of[entry["NodeId"]] != ip:
                continue
            storage = entry["Info"]["storage"]
            assert storage["used"] == held.get(device_id, 0), (device_id, storage, held)
            assert storage["free"] == storage["total"] - storage["used"], storage
    volumes = {e["Info"]["name"] for e in dump["volumeentries"].values()}
    gluster = _gluster_volumes(bed.testbed)
    assert set(gluster) == volumes, (gluster, volumes)
    assert all(status == "Started" for status in gluster.values()), gluster
    # And Brickyard's own reconcile agrees: nothing differs.
    examined = bed.request("GET", "/internal/state/examine").json()
    assert examined["differences"] == [], examined
    return dump


CREATE = crash_points(OperationType.CREATE_VOLUME, 3)
EXPAND = crash_points(OperationType.EXPAND_VOLUME, 3)
DELETE = crash_points(OperationType.DELETE_VOLUME, 3)
EVICT = crash_points(OperationType.EVICT_BRICK)
REMOVE_DEVICE = crash_points(OperationType.REMOVE_DEVICE)


@pytest.mark.parametrize("point", CREATE)
def test_crash_in_create(bed: Crashable, point: str) -> None:
    before = assert_node_matches_db(bed)
    location = _crash(bed, point, "POST", "/volumes", {"size": 1, "durability": REPLICA3})
    answer = bed.answer(location)
    dump = assert_node_matches_db(bed)
    if point.endswith("finalized:1"):
        assert answer.status_code == 303, answer.text
        created = answer.headers["location"].rsplit("/", 1)[1]
        assert set(dump["volumeentries"]) == set(before["volumeentries"]) | {created}
        assert bed.finish(bed.request("DELETE", f"/volumes/{created}")).status_code == 204
    else:
        assert (answer.status_code, answer.text.strip()) == (500, ROLLED_BACK)
        assert dump["volumeentries"] == before["volumeentries"]


@pytest.mark.parametrize("point", EXPAND)
def test_crash_in_expand(bed: Crashable, point: str) -> None:
    volume = _create(bed)
    assert_node_matches_db(bed)
    location = _crash(bed, point, "POST", f"/volumes/{volume}/expand", {"expand_size": 1})
    answer = bed.answer(location)
    dump = assert_node_matches_db(bed)
    size = dump["volumeentries"][volume]["Info"]["size"]
    if point.endswith(("finalized:1", "bricks-added:1")):  # gluster took the bricks: forward
        assert (answer.status_code, size) == (303, 2), answer.text
    else:
        assert (answer.status_code, answer.text.strip(), size) == (500, ROLLED_BACK, 1)
    assert bed.finish(bed.request("DELETE", f"/volumes/{volume}")).status_code == 204


@pytest.mark.parametrize("point", DELETE)
def test_crash_in_delete(bed: Crashable, point: str) -> None:
    volume = _create(bed)
    assert_node_matches_db(bed)
    location = _crash(bed, point, "DELETE", f"/volumes/{volume}")
    assert bed.answer(location).status_code == 204
    dump = assert_node_matches_db(bed)
    assert volume not in dump["volumeentries"]


@pytest.mark.parametrize("point", EVICT)
def test_crash_in_eviction(bed: Crashable, point: str) -> None:
    volume = _create(bed)
    before = assert_node_matches_db(bed)
    old = sorted(b for b, e in before["brickentries"].items() if e["Info"]["volume"] == volume)[0]
    location = _crash(bed, point, "POST", f"/bricks/to-evict/{old}", {})
    answer = bed.answer(location)
    dump = assert_node_matches_db(bed)
    bricks = {b for b, e in dump["brickentries"].items() if e["Info"]["volume"] == volume}
    forward = point.split(":")[1] in ("brick-replaced", "old-brick-gone", "finalized")
    if forward:  # gluster uses the new brick: the old one is gone
        assert answer.status_code == 204, answer.text
        assert old not in bricks and len(bricks) == 3
    else:
        assert (answer.status_code, answer.text.strip()) == (500, ROLLED_BACK)
        assert old in bricks and len(bricks) == 3
    assert bed.finish(bed.request("DELETE", f"/volumes/{volume}")).status_code == 204


@pytest.mark.parametrize("point", REMOVE_DEVICE)
def test_crash_in_device_remove(bed: Crashable, point: str) -> None:
    volume = _create(bed)
    before = assert_node_matches_db(bed)
    brick = next(e for e in before["brickentries"].values() if e["Info"]["volume"] == volume)
    device = brick["Info"]["device"]
    name = before["deviceentries"][device]["Info"]["name"]
    node = before["deviceentries"][device]["NodeId"]
    assert (
        bed.finish(
            bed.request("POST", f"/devices/{device}/state", {"state": "offline"})
        ).status_code
        == 204
    )
    location = _crash(bed, point, "POST", f"/devices/{device}/state", {"state": "failed"})
    assert bed.answer(location).status_code == 204  # a remove always goes forward
    dump = assert_node_matches_db(bed)
    assert dump["deviceentries"][device]["State"] == "failed"
    assert dump["deviceentries"][device]["Bricks"] == []
    volume_bricks = [e for e in dump["brickentries"].values() if e["Info"]["volume"] == volume]
    assert len(volume_bricks) == 3 and all(e["Info"]["device"] != device for e in volume_bricks)
    # Put the device back for the next test: delete it (torn down), add it again.
    assert bed.finish(bed.request("DELETE", f"/devices/{device}")).status_code == 204
    again = bed.finish(bed.request("POST", "/devices", {"node": node, "name": name}))
    assert again.status_code == 204, again.text
    assert bed.finish(bed.request("DELETE", f"/volumes/{volume}")).status_code == 204


def test_poisoned_operation_next_to_ordinary_ones(bed: Crashable) -> None:
    """Two creates in flight when the server is killed; before the restart one of them is made
    unrecoverable (its journal entry marked as written by an older version) and a row of an
    unknown type is added. Recovery rolls the ordinary one back, holds the other two for a
    human, and examine reports them with what they hold; a cleanup naming the poisoned create
    then settles it, and the nodes match the database again."""
    before = assert_node_matches_db(bed)
    bed.stop()
    bed.start(crash_at="create-volume:volume-made:1")
    first = bed.request("POST", "/volumes", {"size": 1, "durability": REPLICA3})
    second = bed.request("POST", "/volumes", {"size": 1, "durability": REPLICA3})
    assert (first.status_code, second.status_code) == (202, 202), (first.text, second.text)
    bed.wait_killed()
    db = sqlite3.connect(bed.workdir / "heketi.db")
    try:
        made = db.execute("SELECT op_id FROM operation_steps WHERE kind = 'volume-made'").fetchall()
        ops = [row[0] for row in db.execute("SELECT id FROM pending_operations")]
        assert len(ops) == 2 and len(made) == 1, (ops, made)
        poisoned = made[0][0]
        (ordinary,) = [op for op in ops if op != poisoned]
        db.execute("UPDATE pending_operations SET format = 1 WHERE id = ?", (poisoned,))
        db.execute(
            "INSERT INTO pending_operations (id, type, timestamp, status, changes, detail, owner,"
            " claimed_at, held, format) VALUES (?, 99, 0, 'stale', '[]', '{}', '', 0, '', 2)",
            ("e" * 32,),
        )
        db.commit()
    finally:
        db.close()
    bed.start()
    answers = {r.headers["location"]: bed.answer(r.headers["location"]) for r in (first, second)}
    texts = sorted(a.text.strip() for a in answers.values())
    assert [a.status_code for a in answers.values()] == [500, 500]
    assert ROLLED_BACK in texts, texts
    assert any("waits for a human" in t and "format 1" in t for t in texts), texts
    pending = bed.request("GET", "/operations/pending").json()["pendingoperations"]
    assert sorted(op["id"] for op in pending) == sorted([poisoned, "e" * 32])
    assert ordinary not in [op["id"] for op in pending]
    examined = bed.request("GET", "/internal/state/examine").json()["differences"]
    held = {d["subject"]: d for d in examined if d["kind"] == "operation needs a human"}
    assert set(held) == {poisoned, "e" * 32}, examined
    assert held[poisoned]["detail"].count(f" on {bed.testbed.net}.") == 3, held[poisoned]
    # A human looked: the older entry may be recovered; the unknown row is removed by hand.
    cleanup = bed.request("POST", "/operations/pending/cleanup", {"operations": [poisoned]})
    assert bed.finish(cleanup).status_code == 204
    db = sqlite3.connect(bed.workdir / "heketi.db")
    try:
        db.execute("DELETE FROM pending_operations WHERE id = ?", ("e" * 32,))
        db.commit()
    finally:
        db.close()
    dump = assert_node_matches_db(bed)
    assert dump["volumeentries"] == before["volumeentries"]
