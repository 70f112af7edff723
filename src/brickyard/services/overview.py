"""One summary of everything an admin asks first, for the dashboard, `GET /internal/status`
and `brickyard status` (so the three tell the same story): clusters -> zones -> nodes ->
devices with their state and space, capacity per zone, volumes with their bricks, mount line
and health, the operations in the journal (in flight, failed, waiting for a human) with their
steps, recent failures that were rolled back, and the drift of the last examine.

Everything from the database is read in one read transaction with a fixed number of queries,
whatever the number of volumes (no query per volume); node health comes from the health
monitor's cache and the heal backlog from the sampled observations, both in memory."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..domain.model import (
    Brick,
    Cluster,
    Device,
    DurabilityType,
    EntryState,
    Node,
    PendingOperation,
    Volume,
)
from ..domain.units import counted
from ..store.sql import Transaction
from .context import ServiceContext
from .health import Health
from .observed import ExamineSummary, FailureRecord, HealSample

_ALL_STEPS = "SELECT op_id, step FROM operation_steps ORDER BY seq"


@dataclass(frozen=True)
class DeviceSummary:
    id: str
    name: str
    state: str
    total: int  # KiB, as Heketi counts device storage
    used: int
    free: int
    bricks: int


@dataclass(frozen=True)
class NodeSummary:
    id: str
    manage: str
    storage: str
    zone: int
    state: str  # the admin's: online, offline, failed
    # The health monitor's last check: None until it checked this node once.
    up: bool | None
    reachable: bool | None
    checked: float | None
    detail: str
    devices: list[DeviceSummary]

    @property
    def down(self) -> bool:
        """glusterd did not answer at the last check."""
        return self.up is False

    @property
    def health(self) -> str:
        if self.up is None:
            return "unknown"
        if self.up:
            return "up"
        return "down" if self.reachable is False else "glusterd down"


@dataclass(frozen=True)
class Capacity:
    total: int = 0  # KiB
    used: int = 0
    free: int = 0

    def plus(self, device: DeviceSummary) -> Capacity:
        return Capacity(self.total + device.total, self.used + device.used, self.free + device.free)

    @property
    def used_percent(self) -> float:
        return 100.0 * self.used / self.total if self.total else 0.0


@dataclass(frozen=True)
class ZoneSummary:
    zone: int
    nodes: list[NodeSummary]
    capacity: Capacity


@dataclass(frozen=True)
class ClusterSummary:
    id: str
    zones: list[ZoneSummary]
    capacity: Capacity
    volumes: int


@dataclass(frozen=True)
class BrickSummary:
    id: str
    node_id: str
    device_id: str
    host: str  # the node's storage host, as gluster names the brick
    path: str
    size: int  # KiB
    node_down: bool


@dataclass(frozen=True)
class VolumeSummary:
    id: str
    name: str
    cluster_id: str
    size: int  # GiB
    durability: str  # "replicate 3", "disperse 4+2", "none"
    mount: str  # host:/name as Heketi's volume info shows it ("host:name")
    backup_volfile_servers: list[str]
    bricks: list[BrickSummary]
    heal_entries: int | None  # the sampled heal backlog; None when not sampled or unknown
    problems: list[str]  # why it is degraded; empty when healthy

    @property
    def degraded(self) -> bool:
        return bool(self.problems)

    @property
    def mount_line(self) -> str:
        if not self.backup_volfile_servers:
            return self.mount
        return f"{self.mount} backup-volfile-servers={','.join(self.backup_volfile_servers)}"


@dataclass(frozen=True)
class OperationSummary:
    id: str
    type_name: str
    status: str  # Heketi's: "" (new), stale, failed
    in_flight: bool
    needs_human: str  # why a human must look ("" when not)
    started: int  # seconds since the epoch
    steps: list[str]

    @property
    def state(self) -> str:
        if self.in_flight:
            return "running"
        if self.needs_human:
            return "needs a human"
        return self.status or "new"


@dataclass(frozen=True)
class Overview:
    generated: float
    clusters: list[ClusterSummary]
    volumes: list[VolumeSummary]
    operations: list[OperationSummary]  # every journaled operation
    failures: list[FailureRecord]  # rolled back, newest first (kept in memory)
    drift: ExamineSummary | None
    monitored: bool  # whether the health monitor has checked any node yet

    @property
    def nodes(self) -> list[NodeSummary]:
        return [n for c in self.clusters for z in c.zones for n in z.nodes]

    @property
    def nodes_down(self) -> list[NodeSummary]:
        return [n for n in self.nodes if n.down]

    @property
    def degraded(self) -> list[VolumeSummary]:
        return [v for v in self.volumes if v.degraded]

    @property
    def running(self) -> list[OperationSummary]:
        return [op for op in self.operations if op.in_flight]

    @property
    def stuck(self) -> list[OperationSummary]:
        """Journaled, nobody works on them: failed, stale or waiting for a human."""
        return [op for op in self.operations if not op.in_flight]

    @property
    def attention(self) -> list[str]:
        """What needs an admin, one line each (empty: all is well)."""
        found = [f"node {n.manage} is {n.health}" for n in self.nodes_down]
        if self.degraded:
            found.append(f"{counted(len(self.degraded), 'volume')} degraded")
        if self.stuck:
            found.append(f"{counted(len(self.stuck), 'operation')} failed or waiting")
        if self.drift is not None and self.drift.drift:
            found.append(f"{counted(self.drift.drift, 'difference')} found by the last examine")
        return found


def build_overview(
    ctx: ServiceContext, health: dict[str, Health], now: float | None = None
) -> Overview:
    """The summary, from one read transaction plus what this server keeps in memory."""
    with ctx.store.read() as tx:
        clusters = tx.all(Cluster)
        nodes = tx.all(Node)
        devices = tx.all(Device)
        volumes = [v for v in tx.all(Volume) if v.visible]
        bricks = tx.all(Brick)
        operations = tx.all(PendingOperation)
        steps = _steps_by_operation(tx) if operations else {}
    observed = ctx.observed
    node_summaries = _node_summaries(nodes, devices, bricks, dict(health))
    summaries = _cluster_summaries(clusters, nodes, node_summaries, volumes)
    volume_summaries = _volume_summaries(volumes, nodes, bricks, node_summaries, observed.heal)
    journal = [_operation(op, steps.get(op.id, [])) for op in operations]
    journal.sort(key=lambda op: (op.started, op.id))
    return Overview(
        generated=time.time() if now is None else now,
        clusters=summaries,
        volumes=volume_summaries,
        operations=journal,
        failures=list(observed.failures),
        drift=observed.last_examine,
        monitored=bool(health),
    )


def _steps_by_operation(tx: Transaction) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for op_id, step in tx.execute(_ALL_STEPS):
        found.setdefault(op_id, []).append(step)
    return found


def _node_summaries(
    nodes: list[Node], devices: list[Device], bricks: list[Brick], health: dict[str, Health]
) -> dict[str, NodeSummary]:
    brick_count: dict[str, int] = {}
    for b in bricks:
        brick_count[b.device_id] = brick_count.get(b.device_id, 0) + 1
    by_node: dict[str, list[DeviceSummary]] = {}
    for d in devices:
        by_node.setdefault(d.node_id, []).append(
            DeviceSummary(
                d.id, d.name, d.state.value, d.total, d.used, d.free, brick_count.get(d.id, 0)
            )
        )
    result: dict[str, NodeSummary] = {}
    for n in nodes:
        seen = health.get(n.manage_host)
        result[n.id] = NodeSummary(
            id=n.id,
            manage=n.manage_host,
            storage=n.storage_host,
            zone=n.zone,
            state=n.state.value,
            up=seen.up if seen else None,
            reachable=seen.reachable if seen else None,
            checked=seen.checked if seen else None,
            detail=seen.detail if seen else "",
            devices=sorted(by_node.get(n.id, []), key=lambda d: d.name),
        )
    return result


def _cluster_summaries(
    clusters: list[Cluster],
    nodes: list[Node],
    summaries: dict[str, NodeSummary],
    volumes: list[Volume],
) -> list[ClusterSummary]:
    volume_count: dict[str, int] = {}
    for v in volumes:
        volume_count[v.cluster_id] = volume_count.get(v.cluster_id, 0) + 1
    zones: dict[str, dict[int, list[NodeSummary]]] = {c.id: {} for c in clusters}
    for n in nodes:
        zones.setdefault(n.cluster_id, {}).setdefault(n.zone, []).append(summaries[n.id])
    result = []
    for c in clusters:
        zone_list = []
        for zone, members in sorted(zones[c.id].items()):
            capacity = Capacity()
            for node in members:
                for device in node.devices:
                    capacity = capacity.plus(device)
            members.sort(key=lambda n: n.manage)
            zone_list.append(ZoneSummary(zone, members, capacity))
        total = Capacity(
            sum(z.capacity.total for z in zone_list),
            sum(z.capacity.used for z in zone_list),
            sum(z.capacity.free for z in zone_list),
        )
        result.append(ClusterSummary(c.id, zone_list, total, volume_count.get(c.id, 0)))
    return result


def _durability(v: Volume) -> str:
    d = v.durability
    if d.type is DurabilityType.REPLICATE:
        return f"replicate {d.bricks_per_set}"
    if d.type is DurabilityType.DISPERSE:
        return f"disperse {d.data}+{d.redundancy}"
    return "none"


def _volume_summaries(
    volumes: list[Volume],
    nodes: list[Node],
    bricks: list[Brick],
    summaries: dict[str, NodeSummary],
    heal: dict[str, HealSample],
) -> list[VolumeSummary]:
    # Heketi's mount hosts: storage[0] of the cluster's nodes by id, without removed ones.
    hosts: dict[str, list[str]] = {}
    for n in sorted(nodes, key=lambda n: n.id):
        if n.state is not EntryState.FAILED:
            hosts.setdefault(n.cluster_id, []).append(n.storage_host)
    by_volume: dict[str, list[Brick]] = {}
    for b in bricks:
        by_volume.setdefault(b.volume_id, []).append(b)
    result = []
    for v in volumes:
        mine = sorted(by_volume.get(v.id, []), key=lambda b: (b.set_index, b.position, b.id))
        brick_list = []
        for b in mine:
            node = summaries.get(b.node_id)
            brick_list.append(
                BrickSummary(
                    b.id,
                    b.node_id,
                    b.device_id,
                    node.storage if node else "",
                    b.path,
                    b.size,
                    node.down if node else False,
                )
            )
        sample = heal.get(v.name)
        problems = _problems(brick_list, sample)
        cluster_hosts = hosts.get(v.cluster_id, [])
        first = cluster_hosts[0] if cluster_hosts else ""
        result.append(
            VolumeSummary(
                id=v.id,
                name=v.name,
                cluster_id=v.cluster_id,
                size=v.size,
                durability=_durability(v),
                mount=f"{first}:{v.name}",
                backup_volfile_servers=cluster_hosts[1:],
                bricks=brick_list,
                heal_entries=sample.entries if sample else None,
                problems=problems,
            )
        )
    # Degraded first (what an admin looks for), then by name.
    result.sort(key=lambda v: (not v.degraded, v.name, v.id))
    return result


def _problems(bricks: list[BrickSummary], sample: HealSample | None) -> list[str]:
    problems = [f"brick {b.id} on {b.host}: node down" for b in bricks if b.node_down]
    if sample is not None:
        if sample.entries:
            problems.append(f"{sample.entries} entries waiting to heal")
        if sample.bricks_down:
            problems.append(f"{sample.bricks_down} bricks not connected")
    return problems


def _operation(op: PendingOperation, steps: list[str]) -> OperationSummary:
    return OperationSummary(
        id=op.id,
        type_name=op.type.type_name,
        status=op.status,
        in_flight=bool(op.owner),
        needs_human=op.held,
        started=op.timestamp,
        steps=steps,
    )


def overview_json(view: Overview) -> dict[str, Any]:
    """GET /internal/status: sizes in KiB (devices, zones, bricks) and GiB (volumes), times in
    seconds since the epoch."""
    return {
        "generated": view.generated,
        "monitored": view.monitored,
        "attention": view.attention,
        "clusters": [_cluster_json(c) for c in view.clusters],
        "volumes": [_volume_json(v) for v in view.volumes],
        "operations": [_operation_json(op) for op in view.operations],
        "failures": [_failure_json(f) for f in view.failures],
        "drift": _drift_json(view.drift),
        "counts": {
            "nodes": len(view.nodes),
            "nodes_down": len(view.nodes_down),
            "volumes": len(view.volumes),
            "volumes_degraded": len(view.degraded),
            "operations_running": len(view.running),
            "operations_stuck": len(view.stuck),
        },
    }


def _capacity_json(c: Capacity) -> dict[str, int]:
    return {"total": c.total, "used": c.used, "free": c.free}


def _cluster_json(c: ClusterSummary) -> dict[str, Any]:
    return {
        "id": c.id,
        "volumes": c.volumes,
        "capacity": _capacity_json(c.capacity),
        "zones": [
            {
                "zone": z.zone,
                "capacity": _capacity_json(z.capacity),
                "nodes": [_node_json(n) for n in z.nodes],
            }
            for z in c.zones
        ],
    }


def _node_json(n: NodeSummary) -> dict[str, Any]:
    return {
        "id": n.id,
        "manage": n.manage,
        "storage": n.storage,
        "zone": n.zone,
        "state": n.state,
        "health": n.health,
        "up": n.up,
        "reachable": n.reachable,
        "checked": n.checked,
        "detail": n.detail,
        "devices": [
            {
                "id": d.id,
                "name": d.name,
                "state": d.state,
                "total": d.total,
                "used": d.used,
                "free": d.free,
                "bricks": d.bricks,
            }
            for d in n.devices
        ],
    }


def _volume_json(v: VolumeSummary) -> dict[str, Any]:
    return {
        "id": v.id,
        "name": v.name,
        "cluster": v.cluster_id,
        "size": v.size,
        "durability": v.durability,
        "mount": v.mount,
        "backup_volfile_servers": v.backup_volfile_servers,
        "health": "degraded" if v.degraded else "ok",
        "problems": v.problems,
        "heal_entries": v.heal_entries,
        "bricks": [
            {
                "id": b.id,
                "node": b.node_id,
                "device": b.device_id,
                "host": b.host,
                "path": b.path,
                "size": b.size,
                "node_down": b.node_down,
            }
            for b in v.bricks
        ],
    }


def _operation_json(op: OperationSummary) -> dict[str, Any]:
    return {
        "id": op.id,
        "type": op.type_name,
        "state": op.state,
        "status": op.status,
        "in_flight": op.in_flight,
        "needs_human": op.needs_human,
        "started": op.started,
        "steps": op.steps,
    }


def _failure_json(f: FailureRecord) -> dict[str, Any]:
    return {
        "id": f.op_id,
        "type": f.type_name,
        "description": f.description,
        "error": f.error,
        "outcome": f.outcome,
        "at": f.at,
        "steps": list(f.steps),
    }


def _drift_json(drift: ExamineSummary | None) -> dict[str, Any] | None:
    if drift is None:
        return None
    return {
        "finished": drift.finished,
        "drift": drift.drift,
        "remaining": drift.remaining,
        "fixed": drift.fixed,
    }
