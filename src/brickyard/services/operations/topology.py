"""Node and device changes, journaled (Brickyard's own operation types: Heketi journals none of
them, so a crash between `vgcreate` or `peer probe` and the database write leaked a volume
group or a peer). Adds are rolled back, deletes rolled forward."""

from __future__ import annotations

import logging
from typing import ClassVar

from ...domain.errors import (
    BrickyardError,
    Conflict,
    InvalidRequest,
    NodeCommandError,
    NodeUnreachable,
    NotFound,
    OperationFailed,
)
from ...domain.model import (
    Change,
    ChangeType,
    Cluster,
    Device,
    EntryState,
    Node,
    OperationType,
    PendingOperation,
)
from ...nodes.port import DeviceSpec, NodeAddress
from ...store import leftovers
from ...store.errors import Duplicate
from ...store.sql import Transaction
from ..context import ServiceContext
from ..lookup import address, device_spec, require
from .base import ChildRunner, Journal, Operation, Settled, Step, first_change
from .run import Run

log = logging.getLogger(__name__)

SETUP = "device-setup-begun"
PROBE = "peer-probe-begun"


def device_add_detail(node: Node, device: Device) -> dict[str, str]:
    return {
        "node": node.id,
        "manage": node.manage_host,
        "storage": node.storage_host,
        "name": device.name,
        "backend": device.backend,
    }


def node_detail(node: Node) -> dict[str, str]:
    return {"cluster": node.cluster_id, "manage": node.manage_host, "storage": node.storage_host}


def _finished(run: Run, what: str, forward: bool = False) -> Settled:
    with run.write() as tx:
        run.finish(tx)
    return Settled(forward, what)


class DeviceAdd(Operation):
    type = OperationType.ADD_DEVICE
    steps: ClassVar[tuple[Step, ...]] = (Step(SETUP), Step("device-set-up"))
    throttled = False  # as in Heketi

    def __init__(
        self, ctx: ServiceContext, device: Device, destroy_data: bool, node: Node | None = None
    ) -> None:
        super().__init__(ctx)
        self.device = device
        self.destroy_data = destroy_data
        self.node = node
        self.detail: dict[str, str] = {}

    @property
    def description(self) -> str:
        host = self.node.manage_host if self.node is not None else self.device.node_id
        return f"add device {self.device.name} on {host}"

    def plan(self, tx: Transaction) -> Journal:
        node = tx.get(Node, self.device.node_id)
        if node is None:
            raise NotFound("Node id does not exist")
        self.node = node
        self.detail = device_add_detail(node, self.device)
        return Journal([Change(ChangeType.ADD_DEVICE, self.device.id)], self.detail)

    def _target(self) -> tuple[NodeAddress, DeviceSpec]:
        node = NodeAddress(self.detail["manage"], self.detail["storage"])
        return node, DeviceSpec(self.device.id, self.detail["name"], self.detail["backend"])

    async def execute(self, run: Run) -> str | None:
        node, spec = self._target()
        run.begin(SETUP, f"set up {spec.name} on {node.manage}", spec.id)
        report = await self.ctx.agent.device_setup(node, spec, self.destroy_data)
        run.done("device-set-up", f"{spec.name} set up on {node.manage}", spec.id)
        device = self.device
        device.total, device.free, device.used = report.total, report.free, report.used
        device.extent_size = report.extent_size
        device.paths, device.pv_uuid = report.paths, report.pv_uuid
        return None

    def finalize(self, tx: Transaction) -> None:
        if tx.get(Node, self.device.node_id) is None:
            # Removed meanwhile: the rollback tears the setup down.
            raise NotFound("Node id does not exist")
        tx.add(self.device)

    async def roll_back(self, run: Run) -> Settled:
        with self.ctx.store.read() as tx:
            known = tx.get(Device, self.device.id) is not None
        if known:
            return _finished(run, "device add had completed", forward=True)
        if not run.recorded(SETUP):
            return _finished(run, "device add rolled back: the node was not touched")
        node, spec = self._target()
        try:
            await self.ctx.agent.device_info(node, spec)
        except NodeCommandError:
            # Nothing of ours on the device, or the node is down: tell which.
            await self.ctx.agent.check_glusterd(node)
            return _finished(run, "device add rolled back: nothing was set up on the node")
        await self.ctx.agent.device_teardown(node, spec, forget=False)
        return _finished(run, f"device add rolled back: {spec.name} torn down on {node.manage}")

    @classmethod
    def load(cls, ctx: ServiceContext, op: PendingOperation, runner: ChildRunner) -> Operation:
        detail = op.detail
        missing = [k for k in ("node", "manage", "storage", "name") if not detail.get(k)]
        if missing:
            raise OperationFailed(f"device add entry {op.id} lacks {', '.join(missing)}")
        device = Device(
            id=first_change(op),
            node_id=detail["node"],
            name=detail["name"],
            backend=detail.get("backend", "lvm"),
        )
        loaded = cls(ctx, device, False)
        loaded.detail = {**detail, "backend": device.backend}
        return loaded


class DeviceDelete(Operation):
    type = OperationType.DELETE_DEVICE
    steps: ClassVar[tuple[Step, ...]] = (Step("device-torn-down"),)
    throttled = False

    def __init__(self, ctx: ServiceContext, device_id: str, force_forget: bool) -> None:
        super().__init__(ctx)
        self.device_id = device_id
        self.force_forget = force_forget
        self.dead = False

    @property
    def description(self) -> str:
        return f"delete device {self.device_id}"

    def plan(self, tx: Transaction) -> Journal:
        device = require(tx, Device, self.device_id)
        if device.state is not EntryState.FAILED:
            raise InvalidRequest(f"device: {self.device_id} is not in failed state")
        if tx.device_brick_ids(self.device_id):
            raise Conflict(f"Unable to delete device [{self.device_id}] because it contains bricks")
        require(tx, Node, device.node_id)
        return Journal([Change(ChangeType.DELETE_DEVICE, self.device_id)])

    def _load(self) -> tuple[Device, Node] | None:
        with self.ctx.store.read() as tx:
            device = tx.get(Device, self.device_id)
            node = tx.get(Node, device.node_id) if device is not None else None
        return (device, node) if device is not None and node is not None else None

    async def execute(self, run: Run) -> str | None:
        found = self._load()
        if found is None:
            raise NotFound()
        device, node = found
        try:
            await self.ctx.agent.device_teardown(
                address(node), device_spec(device), self.force_forget
            )
        except NodeUnreachable as exc:
            # A dead node is the normal case of a delete: remember the device, tear it down
            # when the node answers again.
            log.warning("device %s left on dead node %s: %s", device.id, node.manage_host, exc)
            self.dead = True
        except BrickyardError:
            if not self.force_forget:
                raise
            log.warning("forgetting device %s although its teardown failed", device.id)
        run.done("device-torn-down", f"{device.name} torn down on {node.manage_host}", device.id)
        return None

    def finalize(self, tx: Transaction) -> None:
        if tx.device_brick_ids(self.device_id):
            raise Conflict(f"Unable to delete device [{self.device_id}] because it contains bricks")
        device = require(tx, Device, self.device_id)
        node = require(tx, Node, device.node_id)
        tx.delete(Device, self.device_id)
        if self.dead:
            detail = f"device {device.name}, deleted while its node was down"
            leftovers.add(tx, leftovers.of(leftovers.DEVICE, device.id, node, device, detail))

    async def roll_back(self, run: Run) -> Settled:
        return _finished(run, "device delete not done; the device stays")

    async def recover(self, run: Run) -> Settled:
        found = self._load()
        if found is None:
            return _finished(run, "device delete had completed", forward=True)
        device, node = found
        try:
            await self.ctx.agent.device_teardown(address(node), device_spec(device), forget=True)
        except NodeUnreachable:
            self.dead = True
        with run.write() as tx:
            self.finalize(tx)
            run.finish(tx)
        return Settled(True, f"device delete rolled forward: {device.name} on {node.manage_host}")

    @classmethod
    def load(cls, ctx: ServiceContext, op: PendingOperation, runner: ChildRunner) -> Operation:
        return cls(ctx, first_change(op), True)


class NodeAdd(Operation):
    type = OperationType.ADD_NODE
    steps: ClassVar[tuple[Step, ...]] = (Step(PROBE), Step("peer-probed"))
    throttled = False

    def __init__(self, ctx: ServiceContext, node: Node, via: Node | None) -> None:
        super().__init__(ctx)
        self.node = node
        self.via = via

    @property
    def description(self) -> str:
        return f"add node {self.node.manage_host}"

    @property
    def resource(self) -> str:
        return f"/nodes/{self.node.id}"

    def plan(self, tx: Transaction) -> Journal:
        if tx.get(Cluster, self.node.cluster_id) is None:
            raise NotFound("Cluster id does not exist")
        return Journal([Change(ChangeType.ADD_NODE, self.node.id)], node_detail(self.node))

    async def execute(self, run: Run) -> str | None:
        if self.via is not None:
            run.begin(PROBE, f"peer probe {self.node.storage_host} from {self.via.manage_host}")
            await self.ctx.agent.peer_probe(address(self.via), address(self.node))
            run.done("peer-probed", f"{self.node.storage_host} probed from {self.via.manage_host}")
        return self.resource

    def finalize(self, tx: Transaction) -> None:
        try:
            tx.add(self.node)
        except Duplicate as exc:
            raise OperationFailed(f"Hostname {self.node.manage_host} already used") from exc

    async def roll_back(self, run: Run) -> Settled:
        with self.ctx.store.read() as tx:
            if tx.get(Node, self.node.id) is not None:
                return _finished(run, "node add had completed", forward=True)
            peers = [
                n for n in tx.cluster_nodes(self.node.cluster_id) if n.state is EntryState.ONLINE
            ]
        if run.recorded(PROBE):
            await detach(self.ctx, peers, address(self.node))
        return _finished(run, f"node add rolled back: {self.node.storage_host} detached")

    @classmethod
    def load(cls, ctx: ServiceContext, op: PendingOperation, runner: ChildRunner) -> Operation:
        detail = op.detail
        missing = [k for k in ("cluster", "manage", "storage") if not detail.get(k)]
        if missing:
            raise OperationFailed(f"node add entry {op.id} lacks {', '.join(missing)}")
        node = Node(
            id=first_change(op),
            cluster_id=detail["cluster"],
            zone=1,
            manage_hostnames=[detail["manage"]],
            storage_hostnames=[detail["storage"]],
        )
        return cls(ctx, node, None)


class NodeDelete(Operation):
    type = OperationType.DELETE_NODE
    steps: ClassVar[tuple[Step, ...]] = (Step("peer-detached"),)
    throttled = False

    def __init__(self, ctx: ServiceContext, node_id: str) -> None:
        super().__init__(ctx)
        self.node_id = node_id
        self.host = node_id

    @property
    def description(self) -> str:
        return f"delete node {self.host}"

    def plan(self, tx: Transaction) -> Journal:
        node = require(tx, Node, self.node_id)
        self.host = node.manage_host
        if tx.node_device_ids(self.node_id):
            raise Conflict(f"Unable to delete node [{self.node_id}] because it contains devices")
        return Journal([Change(ChangeType.DELETE_NODE, self.node_id)], node_detail(node))

    async def execute(self, run: Run) -> str | None:
        await self._detach(run)
        return None

    async def _detach(self, run: Run | None) -> bool:
        with self.ctx.store.read() as tx:
            node = tx.get(Node, self.node_id)
            if node is None:
                return False
            others = [n for n in tx.cluster_nodes(node.cluster_id) if n.id != self.node_id]
        await detach(self.ctx, others, address(node))
        if run is not None:
            run.done("peer-detached", f"{node.storage_host} detached", node.id)
        return True

    def finalize(self, tx: Transaction) -> None:
        if tx.node_device_ids(self.node_id):
            raise Conflict(f"Unable to delete node [{self.node_id}] because it contains devices")
        tx.delete(Node, self.node_id)

    async def roll_back(self, run: Run) -> Settled:
        return _finished(run, "node delete not done; the node stays")

    async def recover(self, run: Run) -> Settled:
        if not await self._detach(None):
            return _finished(run, "node delete had completed", forward=True)
        with run.write() as tx:
            self.finalize(tx)
            run.finish(tx)
        return Settled(True, "node delete rolled forward")

    @classmethod
    def load(cls, ctx: ServiceContext, op: PendingOperation, runner: ChildRunner) -> Operation:
        return cls(ctx, first_change(op))


async def detach(ctx: ServiceContext, peers: list[Node], peer: NodeAddress) -> None:
    """Detach through the first peer that does it; as Heketi, a detach that no peer can do
    (the probe never happened, or the pool is gone) is logged, not fatal."""
    for via in peers:
        try:
            await ctx.agent.peer_detach(address(via), peer)
            return
        except BrickyardError as exc:
            log.warning("peer detach of %s via %s: %s", peer.storage, via.manage_host, exc)
