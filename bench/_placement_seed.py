"""Helpers for bench/placement.py: a topology loaded through the services, and existing volumes
seeded in bulk, consistently, straight through the store.

Seeding writes what a create would have left behind, minus the nodes' side: one Volume row per
volume, its bricks (one replica-3 set, on 3 different nodes) and the space they take on their
devices, in large transactions. The simulator does not know these volumes (it only checks a
device's VG space, and seeded usage stays far below its 500 GiB).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from brickyard.domain.ids import new_id
from brickyard.domain.model import Brick, Device, Durability, DurabilityType, Node, Volume
from brickyard.domain.sizing import brick_space
from brickyard.domain.units import GIB
from brickyard.services.devices import DeviceAddRequest
from brickyard.services.nodes import NodeAddRequest
from brickyard.services.registry import Services
from brickyard.store.sql import SqlStore

REPLICA = 3
VOLUME_GIB = 1
# A create that took the space the seeded volumes take: 1 GiB bricks, no snapshot reserve.
SNAPSHOT_FACTOR = 1.0


@dataclass
class Topology:
    cluster_id: str
    node_ids: list[str]  # in creation order: zones 1, 2, 3, 1, 2, 3, ...
    device_ids: dict[str, list[str]]  # node id -> its device ids, in creation order
    seconds: float = 0.0
    node_add_ms: list[float] = field(default_factory=list)  # each node add (begin + run)
    device_add_ms: list[float] = field(default_factory=list)  # each device add


def device_name(index: int) -> str:
    return "/dev/sd" + "bcdefghijklmnopqrstuvwxyz"[index]


async def build_topology(
    services: Services, nodes: int, devices_per_node: int, zones: int, progress: bool = False
) -> Topology:
    """One cluster, `nodes` nodes in `zones` zones (round robin), each with
    `devices_per_node` devices of the simulator's default size, through the real services
    (the same code paths as POST /clusters, /nodes and /devices)."""
    started = time.perf_counter()
    cluster = services.clusters.create(block=True, file=True).cluster
    topology = Topology(cluster.id, [], {})
    for i in range(nodes):
        t0 = time.perf_counter()
        job = await services.nodes.begin_add(
            NodeAddRequest(
                cluster_id=cluster.id,
                zone=i % zones + 1,
                manage=[f"node{i:04d}.manage.bench"],
                storage=[f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"],
            )
        )
        location = await job.run()
        assert location is not None
        node_id = location.rsplit("/", 1)[1]
        topology.node_add_ms.append((time.perf_counter() - t0) * 1000)
        topology.node_ids.append(node_id)
        topology.device_ids[node_id] = []
        for d in range(devices_per_node):
            t0 = time.perf_counter()
            add = services.devices.begin_add(DeviceAddRequest(node_id, device_name(d)))
            await add.run()
            topology.device_add_ms.append((time.perf_counter() - t0) * 1000)
        if progress and (i + 1) % 250 == 0:
            print(f"      {i + 1} nodes", flush=True)
    with services.ctx.store.read() as tx:
        for node_id in topology.node_ids:
            topology.device_ids[node_id] = tx.node_device_ids(node_id)
    topology.seconds = time.perf_counter() - started
    return topology


@dataclass
class SeedStats:
    volumes: int
    seconds: float
    transactions: int


class Seeder:
    """Adds replica-3 1 GiB volumes in bulk, spread the way the balanced placer spreads them on
    a uniform cluster: bricks go round the devices in turn (device d of every node, then device
    d+1), so every set takes 3 consecutive nodes (3 zones) and devices differ by at most one
    brick."""

    def __init__(self, store: SqlStore, topology: Topology) -> None:
        self.store = store
        self.cluster_id = topology.cluster_id
        with store.read() as tx:
            devices = {d.id: d for d in tx.all(Device)}
            zone_of = {n.id: n.zone for n in tx.all(Node)}
        width = max(len(ids) for ids in topology.device_ids.values())
        self.slots: list[Device] = [
            devices[ids[d]]
            for d in range(width)
            for node_id in topology.node_ids
            if d < len(ids := topology.device_ids[node_id])
        ]
        self.zones = zone_of
        self.next_slot = 0
        self.seeded = 0
        self.space = {
            extent: brick_space(VOLUME_GIB * GIB, SNAPSHOT_FACTOR, extent)
            for extent in {d.extent_size for d in self.slots}
        }

    def seed(self, count: int, batch: int = 25_000) -> SeedStats:
        started = time.perf_counter()
        transactions = 0
        durability = Durability(DurabilityType.REPLICATE, REPLICA)
        slots = self.slots
        for first in range(0, count, batch):
            volumes: list[Volume] = []
            bricks: list[Brick] = []
            used: Counter[str] = Counter()
            for _ in range(min(batch, count - first)):
                volume_id = new_id()
                volumes.append(
                    Volume(
                        id=volume_id,
                        cluster_id=self.cluster_id,
                        name=f"vol_{volume_id}",
                        size=VOLUME_GIB,
                        durability=durability,
                    )
                )
                for position in range(REPLICA):
                    device = slots[self.next_slot]
                    self.next_slot = (self.next_slot + 1) % len(slots)
                    space = self.space[device.extent_size]
                    bricks.append(
                        Brick(
                            id=new_id(),
                            volume_id=volume_id,
                            device_id=device.id,
                            node_id=device.node_id,
                            size=space.brick_size,
                            tp_size=space.tp_size,
                            pool_metadata_size=space.metadata_size,
                            set_index=0,
                            position=position,
                        )
                    )
                    used[device.id] += space.total
                nodes = {b.node_id for b in bricks[-REPLICA:]}
                if len(nodes) != REPLICA:
                    raise AssertionError(f"seeded set on {len(nodes)} nodes, not {REPLICA}")
            with self.store.write() as tx:
                tx.add_all(volumes)
                tx.add_all(bricks)
                tx.adjust_device_space(dict(used))
            transactions += 1
            self.seeded += len(volumes)
        return SeedStats(count, time.perf_counter() - started, transactions)
