"""`GET /db/check`: Heketi's invariants (internals §1.11), checked on the store."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..domain.model import Brick, Cluster, Device, Node, PendingOperation, Volume
from ..store.sql import SqlStore


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
