"""`GET /db/dump` in Heketi's export format and `GET /db/check` with Heketi's invariants
(internals §1.11), computed from the store."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..domain.model import Brick, Cluster, Device, Node, PendingOperation, Volume
from ..store.sql import SqlStore, Transaction
from .views import brick_json, device_info, node_info, volume_json


def dump_database(store: SqlStore) -> dict[str, Any]:
    with store.read() as tx:
        return _dump(tx)


def _dump(tx: Transaction) -> dict[str, Any]:
    clusters = tx.all(Cluster)
    nodes = tx.all(Node)
    devices = tx.all(Device)
    volumes = tx.all(Volume)
    bricks = tx.all(Brick)
    ops = tx.all(PendingOperation)
    nodes_of: dict[str, list[str]] = defaultdict(list)
    hosts_of: dict[str, list[str]] = defaultdict(list)
    for n in nodes:
        nodes_of[n.cluster_id].append(n.id)
        hosts_of[n.cluster_id].append(n.storage_host)
    volumes_of: dict[str, list[str]] = defaultdict(list)
    for v in volumes:
        volumes_of[v.cluster_id].append(v.id)
    devices_of: dict[str, list[str]] = defaultdict(list)
    for d in devices:
        devices_of[d.node_id].append(d.id)
    bricks_of_device: dict[str, list[str]] = defaultdict(list)
    bricks_of_volume: dict[str, list[str]] = defaultdict(list)
    for b in bricks:
        bricks_of_device[b.device_id].append(b.id)
        bricks_of_volume[b.volume_id].append(b.id)
    return {
        "clusterentries": {
            c.id: {
                "Info": {
                    "id": c.id,
                    "nodes": nodes_of[c.id],
                    "volumes": volumes_of[c.id],
                    "block": c.block,
                    "file": c.file,
                    "blockvolumes": [],
                }
            }
            for c in clusters
        },
        "volumeentries": {
            v.id: {
                "Info": volume_json(v, [], hosts_of[v.cluster_id], with_bricks=False),
                "Bricks": bricks_of_volume[v.id],
                "GlusterVolumeOptions": v.options,
                "Pending": {"Id": v.pending_op_id},
            }
            for v in volumes
        },
        "brickentries": {
            b.id: {
                "Info": brick_json(b),
                "TpSize": b.tp_size,
                "PoolMetadataSize": b.pool_metadata_size,
                "Pending": {"Id": b.pending_op_id},
                "LvmThinPool": "",
                "LvmLv": "",
                "SubType": int(b.subtype),
                "SetIndex": b.set_index,
                "Position": b.position,
            }
            for b in bricks
        },
        "nodeentries": {
            n.id: {
                "State": n.state.value,
                "Info": node_info(n),
                "Devices": devices_of[n.id],
            }
            for n in nodes
        },
        "deviceentries": {
            d.id: {
                "State": d.state.value,
                "Info": device_info(d),
                "Bricks": bricks_of_device[d.id],
                "NodeId": d.node_id,
                "ExtentSize": d.extent_size,
                "Backend": d.backend,
            }
            for d in devices
        },
        "blockvolumeentries": {},
        "dbattributeentries": {k: {"Key": k, "Value": v} for k, v in tx.attributes().items()},
        "pendingoperations": {
            op.id: {
                "Id": op.id,
                "Timestamp": op.timestamp,
                "Type": int(op.type),
                "Actions": [
                    {"Change": int(c.change), "Id": c.id, "Delta": c.delta} for c in op.changes
                ],
                "Status": op.status,
            }
            for op in ops
        },
    }


class _Bucket:
    def __init__(self) -> None:
        self.total = 0
        self.pending = 0
        self.ok = 0
        self.notok = 0
        self.inconsistencies: list[str] = []

    def record(self, problems: list[str], pending: bool = False) -> None:
        self.total += 1
        if pending:
            self.pending += 1
        if problems:
            self.notok += 1
            self.inconsistencies.extend(problems)
        else:
            self.ok += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "pending": self.pending,
            "ok": self.ok,
            "notok": self.notok,
            "inconsistencies": self.inconsistencies,
        }


def check_database(store: SqlStore) -> dict[str, Any]:
    with store.read() as tx:
        clusters = {c.id: c for c in tx.all(Cluster)}
        nodes = {n.id: n for n in tx.all(Node)}
        devices = {d.id: d for d in tx.all(Device)}
        volumes = {v.id: v for v in tx.all(Volume)}
        bricks = {b.id: b for b in tx.all(Brick)}
        ops = {o.id: o for o in tx.all(PendingOperation)}
        attributes = tx.attributes()
    buckets = {
        name: _Bucket()
        for name in (
            "clusters",
            "volumes",
            "bricks",
            "nodes",
            "devices",
            "blockvolumes",
            "dbattributes",
            "pendingoperations",
        )
    }
    for _ in clusters:
        buckets["clusters"].record([])
    for n in nodes.values():
        problems = (
            [] if n.cluster_id in clusters else [f"Node {n.id}: unknown cluster {n.cluster_id}"]
        )
        buckets["nodes"].record(problems)
    used_by_device: dict[str, int] = defaultdict(int)
    for b in bricks.values():
        used_by_device[b.device_id] += b.space
        problems = []
        if b.device_id not in devices:
            problems.append(f"Brick {b.id}: unknown device {b.device_id}")
        if b.volume_id not in volumes:
            problems.append(f"Brick {b.id}: unknown volume {b.volume_id}")
        if b.pending_op_id and b.pending_op_id not in ops:
            problems.append(f"Brick {b.id}: unknown pending operation {b.pending_op_id}")
        buckets["bricks"].record(problems, pending=bool(b.pending_op_id))
    for d in devices.values():
        problems = []
        if d.node_id not in nodes:
            problems.append(f"Device {d.id}: unknown node {d.node_id}")
        if d.total != d.free + d.used:
            problems.append(f"Device {d.id}: total {d.total} != free {d.free} + used {d.used}")
        if d.used != used_by_device[d.id]:
            problems.append(f"Device {d.id}: used {d.used} != sum of bricks {used_by_device[d.id]}")
        buckets["devices"].record(problems)
    for v in volumes.values():
        problems = []
        if v.cluster_id not in clusters:
            problems.append(f"Volume {v.id}: unknown cluster {v.cluster_id}")
        if v.pending_op_id and v.pending_op_id not in ops:
            problems.append(f"Volume {v.id}: unknown pending operation {v.pending_op_id}")
        buckets["volumes"].record(problems, pending=bool(v.pending_op_id))
    known = {**volumes, **bricks}
    for op in ops.values():
        problems = [
            f"PendingOperation {op.id}: change refers to unknown id {c.id}"
            for c in op.changes
            if c.id not in known and c.id not in devices
        ]
        buckets["pendingoperations"].record(problems)
    for _ in attributes:
        buckets["dbattributes"].record([])
    result: dict[str, Any] = {name: bucket.as_json() for name, bucket in buckets.items()}
    result["totalinconsistencies"] = sum(len(b.inconsistencies) for b in buckets.values())
    return result
