"""Reconcile: compare the database with every node and list each difference (`brickyard
examine`, GET /internal/state/examine). With `fix`, repair what is safe and say what needs a
human.

What is compared:
* per node (its inventory: brick mounts, fstab lines, LVs or images, device space): orphan brick
  (on the node, not in the database), missing brick (in the database, not on the node),
  incomplete brick (some of its traces missing), missing device, device size changed;
* per device: the database's used space against the sum of its bricks (accounting), and against
  what the node holds for the bricks it knows;
* per cluster (gluster, through any node that answers): unknown gluster volume, volume missing
  on gluster, volume not started, brick list differing.

* per journaled operation that is not being worked on: waiting for a human (with the reason),
  failed (retried by cleanups), stale (recovered at the next cleanup), or held by a worker for
  longer than an hour (stuck); each with the bricks it holds, on which node, and the space they
  reserve. Their bricks are not compared one by one: recovery owns them.

Safe fixes: an orphan brick that no gluster volume uses is destroyed on its node; a device whose
accounting disagrees with its bricks gets used = sum of bricks, free = total - used. Everything
else may hold data or be an admin's deliberate change, so it is reported for a human. A removed
(failed) node that does not answer is no difference: it holds nothing but leftovers, which are
listed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..domain.errors import BrickyardError
from ..domain.model import (
    Brick,
    Device,
    EntryState,
    Node,
    OperationStatus,
    PendingOperation,
    Volume,
)
from ..domain.units import GIB
from ..nodes.port import BrickSpec, GlusterVolumeInfo, NodeInventory
from ..store import leftovers
from .context import ServiceContext
from .leftovers import destroy_leftover
from .lookup import address, device_spec

log = logging.getLogger(__name__)

# Nodes inventoried at once: enough to hide ssh latency, few enough for a thousand nodes.
PARALLEL_NODES = 16

ORPHAN = "orphan brick"
MISSING = "missing brick"
INCOMPLETE = "incomplete brick"
MISSING_DEVICE = "missing device"
DEVICE_SIZE = "device size mismatch"
SPACE = "space mismatch"
UNKNOWN_VOLUME = "unknown gluster volume"
MISSING_VOLUME = "volume missing on gluster"
NOT_STARTED = "volume not started"
BRICK_LIST = "brick list mismatch"
UNREACHABLE = "node unreachable"
OP_HELD = "operation needs a human"
OP_FAILED = "operation failed"
OP_STALE = "operation stale"
OP_STUCK = "operation stuck"
# A worker holding an operation this long is reported (a remove of many bricks takes a while).
STUCK_AFTER_SECONDS = 3600.0
LEFT_ON_DEAD_NODE = " left on a dead node"  # "brick left on a dead node", "device ..."


@dataclass
class Difference:
    kind: str
    subject: str  # brick id, device id, volume name or host
    detail: str
    node: str = ""  # manage host, where it is on a node
    device: str = ""  # the device id it is on, where that matters
    fixable: bool = False
    fixed: bool = False
    fix_error: str = ""


@dataclass
class ExamineReport:
    nodes: int = 0
    devices: int = 0
    volumes: int = 0
    bricks: int = 0
    differences: list[Difference] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "nodes": self.nodes,
            "devices": self.devices,
            "volumes": self.volumes,
            "bricks": self.bricks,
            "differences": [asdict(d) for d in self.differences],
            "remaining": sum(1 for d in self.differences if not d.fixed),
        }


@dataclass
class _Snapshot:
    """The database's side, read in one transaction."""

    nodes: list[Node]
    devices: dict[str, Device]
    volumes: dict[str, Volume]
    bricks: list[Brick]
    settled: list[Brick]  # bricks no journaled operation is changing
    leftovers: dict[str, leftovers.Leftover]  # what dead nodes kept, by brick or device id
    operations: list[PendingOperation] = field(default_factory=list)


def _gib(kib: int) -> str:
    return f"{kib / GIB:.2f} GiB"


class Examiner:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def examine(self, fix: bool = False) -> ExamineReport:
        db = self._snapshot()
        report = ExamineReport(len(db.nodes), len(db.devices), len(db.volumes), len(db.bricks))
        gluster = await self._gluster(db, report)
        in_use = {str(b) for info in gluster.values() for b in info.bricks}
        inventories = await self._inventories(db, report)
        for node in db.nodes:
            inventory = inventories.get(node.id)
            if inventory is not None:
                self._compare_node(db, node, inventory, in_use, report)
        self._compare_accounting(db, report)
        self._operations(db, report)
        for leftover in db.leftovers.values():
            report.differences.append(
                Difference(
                    leftover.kind + LEFT_ON_DEAD_NODE,
                    leftover.id,
                    f"{leftover.detail}; destroyed by a cleanup once the node answers",
                    leftover.manage_hostname,
                    device=leftover.device_id,
                    fixable=True,
                )
            )
        if fix:
            await self._fix(db, report)
        self.ctx.observed.record_examine(report)
        return report

    # -- database ---------------------------------------------------------------------------
    def _snapshot(self) -> _Snapshot:
        with self.ctx.store.read() as tx:
            bricks = tx.all(Brick)
            return _Snapshot(
                nodes=tx.all(Node),
                devices={d.id: d for d in tx.all(Device)},
                volumes={v.id: v for v in tx.all(Volume)},
                bricks=bricks,
                settled=[b for b in bricks if not b.pending_op_id],
                leftovers={x.id: x for x in leftovers.all_leftovers(tx)},
                operations=tx.all(PendingOperation),
            )

    # -- the journal ------------------------------------------------------------------------
    def _operations(self, db: _Snapshot, report: ExamineReport) -> None:
        """Every operation nobody is settling, and what it holds where."""
        hosts = {n.id: n.manage_host for n in db.nodes}
        now = time.time()
        for op in db.operations:
            if op.held:
                kind, why = OP_HELD, op.held
            elif op.owner:
                if now - op.claimed_at < STUCK_AFTER_SECONDS:
                    continue  # being worked on
                minutes = int((now - op.claimed_at) // 60)
                kind, why = OP_STUCK, f"held by {op.owner} for {minutes} minutes"
            elif op.status == OperationStatus.FAILED:
                kind, why = OP_FAILED, "retried by every cleanup until a node answers"
            else:
                kind, why = OP_STALE, "settled by the next cleanup"
            held = [b for b in db.bricks if b.pending_op_id == op.id]
            where = sorted({hosts.get(b.node_id, b.node_id) for b in held})
            holds = (
                "; holds "
                + ", ".join(
                    f"brick {b.id} on {hosts.get(b.node_id, b.node_id)} device {b.device_id} "
                    f"({b.space} KiB)"
                    for b in held
                )
                + f"; {sum(b.space for b in held)} KiB reserved"
                if held
                else "; holds no brick"
            )
            report.differences.append(
                Difference(
                    kind,
                    op.id,
                    f"{op.type.type_name}: {why}{holds}",
                    where[0] if where else "",
                )
            )

    # -- gluster ----------------------------------------------------------------------------
    async def _gluster(self, db: _Snapshot, report: ExamineReport) -> dict[str, GlusterVolumeInfo]:
        """Every cluster's gluster volumes by name; compares them with the database's."""
        found: dict[str, GlusterVolumeInfo] = {}
        hosts = {n.id: n.storage_host for n in db.nodes}
        for cluster_id in sorted({n.cluster_id for n in db.nodes}):
            members = [n for n in db.nodes if n.cluster_id == cluster_id]
            listing = await self._volume_list(members)
            if listing is None:
                continue  # every member is unreachable: reported per node
            on_gluster = {info.name: info for info in listing}
            found.update(on_gluster)
            known = {v.name: v for v in db.volumes.values() if v.cluster_id == cluster_id}
            for name in sorted(set(on_gluster) - set(known)):
                report.differences.append(
                    Difference(UNKNOWN_VOLUME, name, "gluster has it; the database does not")
                )
            for name, volume in sorted(known.items()):
                if volume.pending_op_id:
                    continue
                info = on_gluster.get(name)
                if info is None:
                    report.differences.append(
                        Difference(MISSING_VOLUME, name, f"volume {volume.id} is not on gluster")
                    )
                    continue
                if info.status != "Started":
                    report.differences.append(
                        Difference(NOT_STARTED, name, f"gluster says {info.status}")
                    )
                expected = sorted(
                    f"{hosts.get(b.node_id, '?')}:{b.path}"
                    for b in db.bricks
                    if b.volume_id == volume.id
                )
                actual = sorted(str(b) for b in info.bricks)
                if expected != actual:
                    missing = sorted(set(expected) - set(actual))
                    extra = sorted(set(actual) - set(expected))
                    report.differences.append(
                        Difference(
                            BRICK_LIST,
                            name,
                            f"not in gluster: {', '.join(missing) or '-'}; "
                            f"not in the database: {', '.join(extra) or '-'}",
                        )
                    )
        return found

    async def _volume_list(self, members: list[Node]) -> list[GlusterVolumeInfo] | None:
        for node in members:
            try:
                return await self.ctx.agent.volume_list(address(node))
            except BrickyardError as exc:
                log.info("gluster volume list via %s failed: %s", node.manage_host, exc)
        return None

    # -- nodes ------------------------------------------------------------------------------
    async def _inventories(self, db: _Snapshot, report: ExamineReport) -> dict[str, NodeInventory]:
        limit = asyncio.Semaphore(PARALLEL_NODES)

        named_pools: dict[str, list[tuple[str, str]]] = defaultdict(list)
        named_lvs: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for brick in db.bricks:
            if brick.lvm_thin_pool and not brick.pool_guest:
                named_pools[brick.device_id].append((brick.lvm_thin_pool, brick.id))
            if brick.lvm_lv:
                named_lvs[brick.device_id].append((brick.lvm_lv, brick.id))

        async def one(node: Node) -> tuple[str, NodeInventory | BrickyardError]:
            devices = [
                replace(
                    device_spec(d),
                    named_pools=tuple(named_pools[d.id]),
                    named_lvs=tuple(named_lvs[d.id]),
                )
                for d in db.devices.values()
                if d.node_id == node.id
            ]
            async with limit:
                try:
                    return node.id, await self.ctx.agent.inventory(address(node), devices)
                except BrickyardError as exc:
                    return node.id, exc

        found: dict[str, NodeInventory] = {}
        removed = {n.id for n in db.nodes if n.state is EntryState.FAILED}
        for node_id, result in await asyncio.gather(*(one(n) for n in db.nodes)):
            if isinstance(result, BrickyardError) and node_id in removed:
                continue  # removed: it holds nothing of ours; its leftovers are listed
            if isinstance(result, BrickyardError):
                host = next(n.manage_host for n in db.nodes if n.id == node_id)
                report.differences.append(Difference(UNREACHABLE, host, str(result), host))
            else:
                found[node_id] = result
        return found

    def _compare_node(
        self,
        db: _Snapshot,
        node: Node,
        inventory: NodeInventory,
        in_use: set[str],
        report: ExamineReport,
    ) -> None:
        host = node.manage_host
        known = {b.id: b for b in db.bricks}
        for brick in (b for b in db.settled if b.node_id == node.id and not b.path_override):
            trace = inventory.bricks.get(brick.id)
            if trace is None or not trace.storage:
                report.differences.append(
                    Difference(
                        MISSING,
                        brick.id,
                        f"brick of volume {brick.volume_id} on device {brick.device_id}: "
                        + (
                            "nothing of it is on the node"
                            if trace is None
                            else "its storage is gone"
                        ),
                        host,
                    )
                )
            elif not (trace.mounted and trace.fstab):
                lacking = [
                    w for w, ok in (("mount", trace.mounted), ("fstab line", trace.fstab)) if not ok
                ]
                report.differences.append(
                    Difference(INCOMPLETE, brick.id, f"no {' and no '.join(lacking)}", host)
                )
            elif trace.reserved != brick.space:
                report.differences.append(
                    Difference(
                        SPACE,
                        brick.id,
                        f"the node holds {trace.reserved} KiB for it, the database "
                        f"{brick.space} KiB",
                        host,
                    )
                )
        for brick_id, trace in sorted(inventory.bricks.items()):
            if brick_id in known or brick_id in db.leftovers:
                continue
            mount = f"/var/lib/heketi/mounts/vg_{trace.device_id}/brick_{brick_id}/brick"
            used = f"{node.storage_host}:{mount}" in in_use
            held = [w for w, ok in (("mounted", trace.mounted), ("in fstab", trace.fstab)) if ok]
            if trace.storage:
                held.append(f"storage {_gib(trace.reserved)}")
            report.differences.append(
                Difference(
                    ORPHAN,
                    brick_id,
                    f"on device {trace.device_id}: {', '.join(held)}; "
                    + ("a gluster volume uses it" if used else "no volume uses it"),
                    host,
                    device=trace.device_id,
                    fixable=not used and trace.device_id in db.devices,
                )
            )
        for device_id, device in db.devices.items():
            if device.node_id != node.id:
                continue
            node_report = inventory.devices.get(device_id)
            if node_report is None:
                report.differences.append(
                    Difference(MISSING_DEVICE, device_id, f"{device.name} is not set up", host)
                )
            elif node_report.total != device.total:
                report.differences.append(
                    Difference(
                        DEVICE_SIZE,
                        device_id,
                        f"{device.name}: the node reports {node_report.total} KiB, the database "
                        f"{device.total} KiB (device resync adopts the node's size)",
                        host,
                    )
                )

    def _compare_accounting(self, db: _Snapshot, report: ExamineReport) -> None:
        charged: dict[str, int] = {d: 0 for d in db.devices}
        for brick in db.bricks:
            if brick.device_id in charged:
                charged[brick.device_id] += brick.space
        for device_id, device in db.devices.items():
            used = charged[device_id]
            if device.used != used or device.free != device.total - used:
                report.differences.append(
                    Difference(
                        SPACE,
                        device_id,
                        f"{device.name}: the database has used {device.used} KiB and free "
                        f"{device.free} KiB; its bricks take {used} KiB of {device.total} KiB",
                        fixable=used <= device.total,
                    )
                )

    # -- repairs ----------------------------------------------------------------------------
    async def _fix(self, db: _Snapshot, report: ExamineReport) -> None:
        nodes = {n.manage_host: n for n in db.nodes}
        for difference in report.differences:
            if not difference.fixable:
                continue
            try:
                if difference.kind == ORPHAN:
                    await self._destroy_orphan(db, nodes[difference.node], difference)
                elif difference.kind.endswith(LEFT_ON_DEAD_NODE):
                    await destroy_leftover(self.ctx, db.leftovers[difference.subject])
                else:
                    self._recount(difference.subject)
                difference.fixed = True
            except BrickyardError as exc:
                difference.fix_error = str(exc)
                log.warning("examine --fix: %s %s: %s", difference.kind, difference.subject, exc)

    async def _destroy_orphan(self, db: _Snapshot, node: Node, orphan: Difference) -> None:
        brick_id = orphan.subject
        with self.ctx.store.read() as tx:
            # A create that began after the snapshot wrote its bricks to the database before
            # touching any node: a brick known now is not an orphan.
            if tx.get(Brick, brick_id) is not None:
                raise BrickyardError(f"brick {brick_id} is now in the database; left alone")
        spec = BrickSpec(brick_id, device_spec(db.devices[orphan.device]), 0, 0, 0)
        log.warning("examine --fix: destroying orphan brick %s on %s", brick_id, node.manage_host)
        await self.ctx.agent.brick_destroy(address(node), spec)

    def _recount(self, device_id: str) -> None:
        """used = what the device's bricks take, in the same transaction that reads them."""
        with self.ctx.store.write() as tx:
            device = tx.get(Device, device_id)
            if device is None:
                return
            used = sum(b.space for b in tx.device_bricks(device_id))
            device.used, device.free = used, device.total - used
            tx.update(device)
