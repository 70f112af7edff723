"""A database exported by the real Heketi v10.4.1 (tests/fixtures/heketi10_export), and
variations of it written from Heketi's source: clones, pending operations, block volumes,
devices in every state, tags.

* The export imports whole; every cluster, node, device (storage figures exactly) and volume
  answers as the export says; `heketi-cli topology info` (text and --json) answers what Heketi
  answered for it; exporting again gives Heketi's file back.
* Every later command on an imported brick uses the LVM names Heketi recorded (five of the
  fifteen bricks have a pool not named after them): on the simulated nodes, seeded as Heketi
  left them, deleting and expanding leave nothing behind and the space adds up.
* A clone's bricks share their origin's pool: its space is counted once.
* Pending operations are recovered (create, delete, expand) or held for a human with what they
  hold (clone, block), never blocking the rest.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from brickyard.client.auth import make_token
from brickyard.heketidb.importer import load_dump, parse_dump
from brickyard.nodes.port import GlusterBrick, NodeAddress
from brickyard.nodes.sim import (
    SimGlusterVolume,
    SimThinPool,
    SimTrustedPool,
    SimVolumeGroup,
    SimWorld,
)
from brickyard.services.operations.recovery import recover_at_start
from brickyard.store.migrate import upgrade
from brickyard.store.sql import SqlStore
from pg import as_url

from .conftest import DatabaseFactory, Harness

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "heketi10_export"
BIN = Path(sys.executable).parent
KEY = "admin-secret"

ALPHA = "1016d148a360f508224000501103dd24"  # replicate 3, 10 GiB
GAMMA = "c8a7fa8b65852dba5879c868b2179759"  # replicate 3, expanded: 2 sets
BIG = "26dafcd0fd795626d99ed8f4e3d420e8"  # replicate 3, 300 GiB
CLUSTER = "ce90fca43a18d2c440dc305176badd58"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def real_export() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURE / "export.json").read_text())
    return data


def hex_id(n: int) -> str:
    return f"{n:032x}"


# ------------------------------------------------------------------------------------------------
# The nodes as Heketi left them


def seed_world(world: SimWorld, dump: dict[str, Any], started: bool = True) -> None:
    """Build on `world` what a Heketi installation leaves on its nodes for `dump`: one trusted
    pool per cluster, every device's VG, every brick's thin pool and LV under the names Heketi
    recorded (a clone's LV in its origin's pool), mounts, fstab lines and brick directories,
    and every finished volume in gluster."""
    nodes = dump["nodeentries"]
    manage = {n: e["Info"]["hostnames"]["manage"][0] for n, e in nodes.items()}
    storage = {n: e["Info"]["hostnames"]["storage"][0] for n, e in nodes.items()}
    for cluster_id in dump["clusterentries"]:
        pool = SimTrustedPool()
        for node_id, entry in nodes.items():
            if entry["Info"]["cluster"] == cluster_id:
                sim = world.node(NodeAddress(manage[node_id], storage[node_id]))
                sim.pool = pool
                pool.peers.add(storage[node_id])
    for device_id, entry in dump["deviceentries"].items():
        sim = world.nodes[manage[entry["NodeId"]]]
        total = entry["Info"]["storage"]["total"]
        sim.volume_groups[f"vg_{device_id}"] = SimVolumeGroup(entry["Info"]["name"], total)
    # Origins before clones: a pool is made by the brick whose LV is its own.
    for brick_id, entry in sorted(dump["brickentries"].items(), key=lambda i: bool(i[1]["LvmLv"])):
        info = entry["Info"]
        sim = world.nodes[manage[info["node"]]]
        vg = sim.volume_groups[f"vg_{info['device']}"]
        pool_name = entry["LvmThinPool"] or f"tp_{brick_id}"
        lv = entry["LvmLv"] or f"brick_{brick_id}"
        size = entry["TpSize"] + entry["PoolMetadataSize"]
        vg.pools.setdefault(pool_name, SimThinPool(size=size)).lvs.add(lv)
        if info["path"].startswith("/run/gluster/"):
            continue  # a clone's brick: glusterd mounts it, no fstab line
        mount_point = info["path"].removesuffix("/brick")
        device_node = f"/dev/mapper/vg_{info['device']}-{lv}"
        sim.fstab.append(f"{device_node} {mount_point} xfs rw,inode64,noatime,nouuid 1 2")
        sim.mounts[mount_point] = device_node
        sim.directories.add(info["path"])
    for entry in dump["volumeentries"].values():
        if entry["Pending"]["Id"] or not started:
            continue
        info = entry["Info"]
        bricks = [
            GlusterBrick(
                storage[dump["brickentries"][b]["Info"]["node"]],
                dump["brickentries"][b]["Info"]["path"],
            )
            for b in entry["Bricks"]
            if not dump["brickentries"][b]["Pending"]["Id"]  # an unfinished expand's bricks
        ]
        pool = world.nodes[manage[next(iter(nodes))]].pool
        pool.volumes[info["name"]] = SimGlusterVolume(info["name"], bricks, "Started")
        pool.add_bricks(info["name"], bricks)


def pools_of(world: SimWorld) -> dict[str, set[str]]:
    """vg -> names of its thin pools, over all nodes."""
    return {
        vg_name: set(vg.pools)
        for sim in world.nodes.values()
        for vg_name, vg in sim.volume_groups.items()
    }


def lvs_of(world: SimWorld) -> set[str]:
    return {
        lv
        for sim in world.nodes.values()
        for vg in sim.volume_groups.values()
        for pool in vg.pools.values()
        for lv in pool.lvs
    }


def import_into(db: str, dump: dict[str, Any]) -> None:
    store = SqlStore(as_url(db))
    try:
        upgrade(store.url)
        load_dump(store, parse_dump(dump))
    finally:
        store.close()


@dataclass
class Opened:
    """The harnesses a test opens (closed at its end), on databases of the kind under test."""

    database: DatabaseFactory
    harnesses: list[Harness] = field(default_factory=list)


@pytest.fixture
async def opened(new_database: DatabaseFactory) -> AsyncIterator[Opened]:
    """Every test that imports runs on SQLite and on PostgreSQL."""
    holder = Opened(new_database)
    yield holder
    for h in holder.harnesses:
        await h.close()


async def open_imported(
    tmp_path: Path, opened: Opened, dump: dict[str, Any], started: bool = True
) -> Harness:
    directory = tmp_path / "srv"
    directory.mkdir()
    db = opened.database(directory)
    import_into(db, dump)
    world = SimWorld()
    seed_world(world, dump, started)
    h = Harness.open(directory, world=world, db=db)
    opened.harnesses.append(h)
    return h


def device_storage(dump: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {d: e["Info"]["storage"] for d, e in dump["deviceentries"].items()}


def vg_used(world: SimWorld) -> dict[str, int]:
    return {
        vg_name.removeprefix("vg_"): vg.used
        for sim in world.nodes.values()
        for vg_name, vg in sim.volume_groups.items()
    }


# ------------------------------------------------------------------------------------------------
# The sample as a migrating user meets it: heketi db import, heketi, heketi-cli


@pytest.fixture
def migrated(tmp_path: Path, new_database: DatabaseFactory) -> Iterator[str]:
    """`heketi db import` of the real export, then `heketi --config` on it (mock executor),
    on SQLite and on PostgreSQL (a URL for --dbfile and glusterfs.db)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    db = new_database(tmp_path)
    imported = subprocess.run(
        [
            str(BIN / "heketi"),
            "db",
            "import",
            f"--jsonfile={FIXTURE}/export.json",
            f"--dbfile={db}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    port = free_port()
    config = {
        "port": str(port),
        "bind_address": "127.0.0.1",
        "use_auth": True,
        "jwt": {"admin": {"key": KEY}, "user": {"key": "user-secret"}},
        "glusterfs": {"executor": "mock", "db": db},
    }
    (tmp_path / "heketi.json").write_text(json.dumps(config))
    server = subprocess.Popen(
        [str(BIN / "heketi"), f"--config={tmp_path / 'heketi.json'}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/hello", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not start")
        yield url
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=10)
    assert b"Traceback" not in out, out.decode()


def heketi_cli(url: str, *argv: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
    env.update(HEKETI_CLI_SERVER=url, HEKETI_CLI_USER="admin", HEKETI_CLI_KEY=KEY)
    done = subprocess.run(
        [str(BIN / "heketi-cli"), *argv], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def unordered(value: Any) -> Any:
    """`value` with every list sorted: equal "apart from ordering"."""
    if isinstance(value, dict):
        return {k: unordered(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((unordered(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def test_topology_info_answers_what_heketi_answered(migrated: str) -> None:
    text = heketi_cli(migrated, "topology", "info")
    expected = (FIXTURE / "topology-info.txt").read_text()
    assert sorted(text.splitlines()) == sorted(expected.splitlines())
    as_json = json.loads(heketi_cli(migrated, "topology", "info", "--json"))
    assert unordered(as_json) == unordered(json.loads((FIXTURE / "topology-info.json").read_text()))


def test_every_entity_answers_as_the_export_says(migrated: str) -> None:
    export = real_export()
    out = heketi_cli(migrated, "volume", "list")
    assert sorted(out.splitlines()) == sorted(
        f"Id:{v}    Cluster:{CLUSTER}    Name:{e['Info']['name']}"
        for v, e in export["volumeentries"].items()
    )
    with httpx.Client(base_url=migrated, timeout=10) as client:

        def get(path: str) -> Any:
            token = _token(path)
            r = client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200, (path, r.status_code, r.text)
            return r.json()

        for cluster_id, entry in export["clusterentries"].items():
            info = get(f"/clusters/{cluster_id}")
            assert unordered(info) == unordered(entry["Info"])
        for node_id, entry in export["nodeentries"].items():
            info = get(f"/nodes/{node_id}")
            assert info["state"] == entry["State"]
            for key in ("zone", "hostnames", "cluster", "id"):
                assert info[key] == entry["Info"][key], (node_id, key)
            assert sorted(d["id"] for d in info["devices"]) == sorted(entry["Devices"])
        for device_id, entry in export["deviceentries"].items():
            info = get(f"/devices/{device_id}")
            assert info["storage"] == entry["Info"]["storage"], device_id  # exactly
            assert (info["name"], info["state"], info["id"]) == (
                entry["Info"]["name"],
                entry["State"],
                device_id,
            )
            assert sorted(b["id"] for b in info["bricks"]) == sorted(entry["Bricks"])
            for brick in info["bricks"]:
                assert brick == export["brickentries"][brick["id"]]["Info"]
        for volume_id, entry in export["volumeentries"].items():
            info = get(f"/volumes/{volume_id}")
            expected = dict(entry["Info"], glustervolumeoptions=entry["GlusterVolumeOptions"])
            assert {k: v for k, v in info.items() if k != "bricks"} == expected, volume_id
            assert sorted(info["bricks"], key=lambda b: b["id"]) == sorted(
                (export["brickentries"][b]["Info"] for b in entry["Bricks"]),
                key=lambda b: b["id"],
            )
        check = get("/db/check")
        assert check["totalinconsistencies"] == 0, check
        dumped = get("/db/dump")
    # Exported again: Heketi's file, plus Brickyard's own fields.
    for entry in dumped["deviceentries"].values():
        assert entry.pop("Backend") == "lvm"
    for entry in dumped["brickentries"].values():
        del entry["SetIndex"], entry["Position"]
    assert dumped == export


def _token(path: str, method: str = "GET") -> str:
    return make_token("admin", KEY, method, path)


# ------------------------------------------------------------------------------------------------
# The recorded names on the nodes


async def test_seeded_nodes_match_the_export(tmp_path: Path, opened: Opened) -> None:
    """The seeding is Heketi's layout: the examine of the imported state finds no difference
    (so every pool is read as the brick Heketi recorded, not as the id in its name)."""
    export = real_export()
    h = await open_imported(tmp_path, opened, export)
    used = vg_used(h.world)
    assert used == {d: s["used"] for d, s in device_storage(export).items()}
    report = await h.get_json("/internal/state/examine")
    assert report["differences"] == [], report


async def test_delete_and_expand_use_the_recorded_names(tmp_path: Path, opened: Opened) -> None:
    export = real_export()
    renamed = {
        b: e["LvmThinPool"]
        for b, e in export["brickentries"].items()
        if e["LvmThinPool"] != f"tp_{b}"
    }
    assert len(renamed) == 5
    h = await open_imported(tmp_path, opened, export)
    before = pools_of(h.world)
    # gamma: two sets (an expanded volume), some bricks in pools of other names.
    gamma_bricks = export["volumeentries"][GAMMA]["Bricks"]
    assert sum(b in renamed for b in gamma_bricks) >= 2
    r = await h.wait(await h.post(f"/volumes/{GAMMA}/expand", {"expand_size": 1}))
    assert r.status_code == 303, r.text
    r = await h.wait(await h.delete(f"/volumes/{GAMMA}"))
    assert r.status_code == 204, r.text
    after = pools_of(h.world)
    gone = {e["LvmThinPool"] for b, e in export["brickentries"].items() if b in gamma_bricks}
    remaining = {p for pools in after.values() for p in pools}
    assert not gone & remaining, "a pool of a deleted brick was left on its node"
    assert not {f"brick_{b}" for b in gamma_bricks} & lvs_of(h.world)
    for vg, pools in before.items():
        assert after[vg] <= pools, "the expand's bricks were not removed with the volume"
    dump = await h.dump()
    for device_id, storage in device_storage(dump).items():
        assert storage["used"] == vg_used(h.world)[device_id], device_id
    report = await h.get_json("/internal/state/examine")
    assert report["differences"] == [], report


# ------------------------------------------------------------------------------------------------
# Clones: bricks in their origin's pool, counted once


SNAP = "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99"


def with_clone(export: dict[str, Any], origin_id: str = ALPHA) -> dict[str, Any]:
    """A clone of `origin_id` as Heketi 10 records it (apps/glusterfs/volume_entry_clone.go):
    new volume and brick entries on the origin's devices, each brick in its origin brick's
    pool (LvmThinPool), with gluster's LV name (LvmLv) and path, and the origin's TpSize;
    the devices list the clone bricks but their used space does not change."""
    dump = copy.deepcopy(export)
    origin = dump["volumeentries"][origin_id]
    clone_id = hex_id(0xC10E)
    clone_bricks = []
    for n, brick_id in enumerate(origin["Bricks"], start=1):
        source = dump["brickentries"][brick_id]
        new_id = hex_id(0xC10E00 + n)
        info = dict(
            source["Info"],
            id=new_id,
            volume=clone_id,
            path=f"/run/gluster/snaps/{SNAP}/brick{n}/brick",
        )
        dump["brickentries"][new_id] = dict(
            source, Info=info, LvmLv=f"{SNAP}_{n - 1}", Pending={"Id": ""}
        )
        dump["deviceentries"][info["device"]]["Bricks"].append(new_id)
        clone_bricks.append(new_id)
    info = copy.deepcopy(origin["Info"])
    info.update(id=clone_id, name="alpha_clone")
    info["mount"]["glusterfs"]["device"] = info["mount"]["glusterfs"]["device"].replace(
        ":alpha", ":alpha_clone"
    )
    dump["volumeentries"][clone_id] = dict(origin, Info=info, Bricks=clone_bricks)
    dump["clusterentries"][CLUSTER]["Info"]["volumes"].append(clone_id)
    return dump


async def test_a_clone_shares_its_origin_pool_counted_once(tmp_path: Path, opened: Opened) -> None:
    export = with_clone(real_export())
    h = await open_imported(tmp_path, opened, export)
    clone_id = hex_id(0xC10E)
    check = await h.check()
    assert check["totalinconsistencies"] == 0, check
    assert (await h.get_json("/internal/state/examine"))["differences"] == []
    used_before = {d: s["used"] for d, s in device_storage(await h.dump()).items()}
    # The clone goes first: its LVs leave the origin's pools, the space stays the origin's.
    r = await h.wait(await h.delete(f"/volumes/{clone_id}"))
    assert r.status_code == 204, r.text
    assert not any(SNAP in lv for lv in lvs_of(h.world))
    after_clone = {d: s["used"] for d, s in device_storage(await h.dump()).items()}
    assert after_clone == used_before
    # Then the origin: its pools go and the space comes back, once.
    alpha_pools = {
        export["brickentries"][b]["LvmThinPool"] for b in export["volumeentries"][ALPHA]["Bricks"]
    }
    r = await h.wait(await h.delete(f"/volumes/{ALPHA}"))
    assert r.status_code == 204, r.text
    assert not alpha_pools & {p for pools in pools_of(h.world).values() for p in pools}
    dump = await h.dump()
    for device_id, storage in device_storage(dump).items():
        assert storage["used"] == vg_used(h.world)[device_id], device_id
        assert storage["total"] == storage["free"] + storage["used"]


async def test_the_origin_deleted_before_its_clone_hands_it_the_pool(
    tmp_path: Path, opened: Opened
) -> None:
    """The origin goes first: its LVs go, its pools stay for the clone's LVs and the clone's
    bricks carry their space from then on; deleting the clone then returns it, once."""
    export = with_clone(real_export())
    h = await open_imported(tmp_path, opened, export)
    used_before = {d: s["used"] for d, s in device_storage(await h.dump()).items()}
    r = await h.wait(await h.delete(f"/volumes/{ALPHA}"))
    assert r.status_code == 204, r.text
    assert (await h.get_json("/operations/pending"))["pendingoperations"] == []
    dump = await h.dump()
    assert {d: s["used"] for d, s in device_storage(dump).items()} == used_before
    assert (await h.check())["totalinconsistencies"] == 0
    assert (await h.get_json("/internal/state/examine"))["differences"] == []
    r = await h.wait(await h.delete(f"/volumes/{hex_id(0xC10E)}"))
    assert r.status_code == 204, r.text
    alpha_pools = {
        export["brickentries"][b]["LvmThinPool"] for b in export["volumeentries"][ALPHA]["Bricks"]
    }
    assert not alpha_pools & {p for ps in pools_of(h.world).values() for p in ps}
    for device_id, storage in device_storage(await h.dump()).items():
        assert storage["used"] == vg_used(h.world)[device_id], device_id


async def test_a_clone_whose_origin_is_gone_carries_the_pool(
    tmp_path: Path, opened: Opened
) -> None:
    """Heketi deleted the origin volume first: the pool stayed (the clone's LV is in it), the
    device's used space still holds it, and the clone's bricks carry it."""
    export = with_clone(real_export())
    for brick_id in export["volumeentries"][ALPHA]["Bricks"]:
        device = export["brickentries"].pop(brick_id)["Info"]["device"]
        export["deviceentries"][device]["Bricks"].remove(brick_id)
    del export["volumeentries"][ALPHA]
    export["clusterentries"][CLUSTER]["Info"]["volumes"].remove(ALPHA)
    h = await open_imported(tmp_path, opened, export)
    assert (await h.check())["totalinconsistencies"] == 0
    pools = {e["LvmThinPool"] for e in export["brickentries"].values() if e["LvmLv"]}
    r = await h.wait(await h.delete(f"/volumes/{hex_id(0xC10E)}"))
    assert r.status_code == 204, r.text
    assert not pools & {p for ps in pools_of(h.world).values() for p in ps}
    dump = await h.dump()
    for device_id, storage in device_storage(dump).items():
        assert storage["used"] == vg_used(h.world)[device_id], device_id


# ------------------------------------------------------------------------------------------------
# Pending operations


OP_CREATE, OP_DELETE, OP_EXPAND, OP_CLONE, OP_BLOCK = (hex_id(0x0F00 + i) for i in range(5))


def with_pending(export: dict[str, Any]) -> dict[str, Any]:
    """Operations Heketi left (apps/glusterfs/operations*.go): a create whose volume and bricks
    are recorded but never reached gluster; a delete of `big` (in gluster still); an expand of
    alpha whose new bricks were made but not added (actions: bricks first, then the volume, as
    Heketi records them); a stale clone and a block volume create (held for a human)."""
    dump = copy.deepcopy(export)
    ops = dump["pendingoperations"]
    # create: a copy of beta's layout as a new, pending volume
    beta_id = "5c04581c8ba763538fbbce0f1a42f81f"
    beta = dump["volumeentries"][beta_id]
    new_volume = hex_id(0xAB)
    new_bricks = []
    for n, brick_id in enumerate(beta["Bricks"]):
        source = dump["brickentries"][brick_id]
        new_id = hex_id(0xAB00 + n)
        info = dict(source["Info"], id=new_id, volume=new_volume)
        info["path"] = info["path"].replace(brick_id, new_id)
        dump["brickentries"][new_id] = dict(
            source, Info=info, LvmThinPool=f"tp_{new_id}", Pending={"Id": OP_CREATE}
        )
        device = dump["deviceentries"][info["device"]]
        device["Bricks"].append(new_id)
        grow(device, source["TpSize"] + source["PoolMetadataSize"])
        new_bricks.append(new_id)
    info = copy.deepcopy(beta["Info"])
    info.update(id=new_volume, name="pending_create")
    dump["volumeentries"][new_volume] = dict(
        beta, Info=info, Bricks=new_bricks, Pending={"Id": OP_CREATE}
    )
    dump["clusterentries"][CLUSTER]["Info"]["volumes"].append(new_volume)
    ops[OP_CREATE] = operation(
        OP_CREATE, 1, [(2, new_volume)] + [(1, b) for b in new_bricks], "stale"
    )
    # delete of big
    dump["volumeentries"][BIG]["Pending"] = {"Id": OP_DELETE}
    for b in dump["volumeentries"][BIG]["Bricks"]:
        dump["brickentries"][b]["Pending"] = {"Id": OP_DELETE}
    ops[OP_DELETE] = operation(
        OP_DELETE,
        2,
        [(3, b) for b in dump["volumeentries"][BIG]["Bricks"]] + [(4, BIG)],
        "",
    )
    # expand of alpha: three new bricks next to alpha's
    expand_bricks = []
    for n, brick_id in enumerate(list(dump["volumeentries"][ALPHA]["Bricks"])):
        source = dump["brickentries"][brick_id]
        new_id = hex_id(0xE0 + n)
        info = dict(source["Info"], id=new_id)
        info["path"] = info["path"].replace(brick_id, new_id)
        dump["brickentries"][new_id] = dict(
            source, Info=info, LvmThinPool=f"tp_{new_id}", Pending={"Id": OP_EXPAND}
        )
        device = dump["deviceentries"][info["device"]]
        device["Bricks"].append(new_id)
        grow(device, source["TpSize"] + source["PoolMetadataSize"])
        dump["volumeentries"][ALPHA]["Bricks"].append(new_id)
        expand_bricks.append(new_id)
    ops[OP_EXPAND] = operation(
        OP_EXPAND, 3, [(1, b) for b in expand_bricks] + [(5, ALPHA, 10)], "stale"
    )
    # a clone of gamma Heketi never finished, and a block volume create
    dump["volumeentries"][GAMMA]["Pending"] = {"Id": OP_CLONE}
    ops[OP_CLONE] = operation(OP_CLONE, 7, [(9, GAMMA)], "stale")
    ops[OP_BLOCK] = operation(OP_BLOCK, 4, [(6, hex_id(0xB10C))], "failed")
    return dump


def grow(device: dict[str, Any], kib: int) -> None:
    storage = device["Info"]["storage"]
    storage["used"] += kib
    storage["free"] -= kib


def operation(op_id: str, kind: int, actions: list[tuple[Any, ...]], status: str) -> Any:
    return {
        "Id": op_id,
        "Timestamp": 1764000000,
        "Type": kind,
        "Actions": [
            {"Change": a[0], "Id": a[1], "Delta": a[2] if len(a) > 2 else None} for a in actions
        ],
        "Status": status,
    }


async def test_pending_operations_are_recovered_or_held_never_blocking(
    tmp_path: Path, opened: Opened
) -> None:
    export = with_pending(real_export())
    h = await open_imported(tmp_path, opened, export)
    # the nodes as Heketi left them: the create's and the expand's bricks made, not in gluster
    report = await recover_at_start(h.server.services.runner)
    assert set(report.finished) == {OP_CREATE, OP_DELETE, OP_EXPAND}, report
    assert set(report.held) == {OP_CLONE, OP_BLOCK}, report
    assert "clone" in report.held[OP_CLONE] and "block" in report.held[OP_BLOCK]
    volumes = set((await h.get_json("/volumes"))["volumes"])
    assert hex_id(0xAB) not in volumes and BIG not in volumes  # rolled back / carried forward
    assert ALPHA in volumes
    alpha = await h.get_json(f"/volumes/{ALPHA}")
    assert (alpha["size"], len(alpha["bricks"])) == (10, 3), report  # the expand rolled back
    made = {hex_id(0xAB00 + n) for n in range(3)} | {hex_id(0xE0 + n) for n in range(3)}
    assert not {f"tp_{b}" for b in made} & {p for ps in pools_of(h.world).values() for p in ps}
    assert "big" not in h.world.volumes()
    # held: listed with what they hold, the rest of the server works
    pending = await h.get_json("/operations/pending")
    assert {p["id"] for p in pending["pendingoperations"]} == {OP_CLONE, OP_BLOCK}
    examined = await h.get_json("/internal/state/examine")
    held = [d for d in examined["differences"] if d["kind"] == "operation needs a human"]
    assert {d["subject"] for d in held} == {OP_CLONE, OP_BLOCK}, examined
    r = await h.wait(
        await h.post("/volumes", {"size": 1, "durability": {"type": "replicate"}, "name": "new"})
    )
    assert r.status_code == 303, r.text
    dump = await h.dump()
    for device_id, storage in device_storage(dump).items():
        assert storage["used"] == vg_used(h.world)[device_id], device_id


# ------------------------------------------------------------------------------------------------
# Block volumes, device states, tags


BV = hex_id(0xB1)


def with_block_volume(export: dict[str, Any]) -> dict[str, Any]:
    """big as a block-hosting volume holding one block volume (Heketi's BlockVolumeEntry)."""
    dump = copy.deepcopy(export)
    big = dump["volumeentries"][BIG]["Info"]
    big["block"] = True
    big["blockinfo"] = {"freesize": 290, "reservedsize": 6, "blockvolume": [BV]}
    dump["clusterentries"][CLUSTER]["Info"]["blockvolumes"] = [BV]
    dump["blockvolumeentries"][BV] = {
        "Info": {
            "size": 4,
            "name": "blockvol_1",
            "hacount": 3,
            "id": BV,
            "blockvolume": {
                "hosts": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
                "iqn": "iqn.2016-12.org.gluster-block:4c7d1e0a",
                "lun": 0,
                "username": "",
                "password": "",
            },
            "cluster": CLUSTER,
            "blockhostingvolume": BIG,
        },
        "Pending": {"Id": ""},
    }
    return dump


async def test_block_volumes_are_kept_and_listed_not_served(tmp_path: Path, opened: Opened) -> None:
    export = with_block_volume(real_export())
    summary = parse_dump(export)
    assert any("1 block volume: kept" in w for w in summary.warnings), summary.warnings
    h = await open_imported(tmp_path, opened, export)
    assert await h.get_json("/blockvolumes") == {"blockvolumes": [BV]}
    info = await h.get_json(f"/blockvolumes/{BV}")
    assert info == dict(export["blockvolumeentries"][BV]["Info"], usablesize=4)
    assert (await h.get_json(f"/clusters/{CLUSTER}"))["blockvolumes"] == [BV]
    big = await h.get_json(f"/volumes/{BIG}")
    assert big["blockinfo"] == export["volumeentries"][BIG]["Info"]["blockinfo"]
    r = await h.delete(f"/blockvolumes/{BV}")
    assert r.status_code == 500 and "does not manage gluster-block volumes" in r.text
    r = await h.delete(f"/volumes/{BIG}")
    assert (r.status_code, r.text) == (
        409,
        "Cannot delete a block hosting volume containing block volumes\n",
    )
    dumped = await h.dump()
    assert dumped["blockvolumeentries"] == export["blockvolumeentries"]


def with_states_and_tags(export: dict[str, Any]) -> dict[str, Any]:
    dump = copy.deepcopy(export)
    devices = sorted(dump["deviceentries"])
    dump["deviceentries"][devices[0]]["State"] = "offline"
    dump["deviceentries"][devices[1]]["State"] = "failed"
    dump["deviceentries"][devices[2]]["Info"]["tags"] = {"disk": "ssd", "arbiter": "supported"}
    node = sorted(dump["nodeentries"])[0]
    dump["nodeentries"][node]["State"] = "offline"
    dump["nodeentries"][node]["Info"]["tags"] = {"rack": "r7"}
    return dump


async def test_device_states_and_tags_are_kept(tmp_path: Path, opened: Opened) -> None:
    export = with_states_and_tags(real_export())
    h = await open_imported(tmp_path, opened, export)
    for device_id, entry in export["deviceentries"].items():
        info = await h.get_json(f"/devices/{device_id}")
        assert info["state"] == entry["State"]
        assert info.get("tags", {}) == entry["Info"].get("tags", {})
        assert info["storage"] == entry["Info"]["storage"]
    for node_id, entry in export["nodeentries"].items():
        info = await h.get_json(f"/nodes/{node_id}")
        assert info["state"] == entry["State"]
        assert info.get("tags", {}) == entry["Info"].get("tags", {})
    assert await h.dump() == _with_extras(export, await h.dump())


def _with_extras(export: dict[str, Any], dumped: dict[str, Any]) -> dict[str, Any]:
    """`export` with the fields only Brickyard writes, taken from `dumped`."""
    result = copy.deepcopy(export)
    for device_id, entry in result["deviceentries"].items():
        entry["Backend"] = dumped["deviceentries"][device_id]["Backend"]
    for brick_id, entry in result["brickentries"].items():
        for key in ("SetIndex", "Position"):
            entry[key] = dumped["brickentries"][brick_id][key]
    return result
