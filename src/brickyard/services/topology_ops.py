"""Journaling node and device changes (Brickyard's own operation types: Heketi journals none of
them, so a crash between `vgcreate` or `peer probe` and the database write leaked a volume group
or a peer), and finishing them after a crash: adds are rolled back, deletes rolled forward."""

from __future__ import annotations

import logging
import time

from ..domain.errors import BrickyardError, NodeCommandError, OperationFailed
from ..domain.ids import new_id
from ..domain.model import Change, ChangeType, Device, EntryState, Node, OperationType
from ..domain.model import PendingOperation as Op
from ..nodes.port import DeviceSpec, NodeAddress
from .context import ServiceContext
from .lookup import address, device_spec

log = logging.getLogger(__name__)

_CHANGE = {
    OperationType.ADD_DEVICE: ChangeType.ADD_DEVICE,
    OperationType.DELETE_DEVICE: ChangeType.DELETE_DEVICE,
    OperationType.ADD_NODE: ChangeType.ADD_NODE,
    OperationType.DELETE_NODE: ChangeType.DELETE_NODE,
}


def journal(ctx: ServiceContext, op_type: OperationType, entity_id: str, **detail: str) -> str:
    """Record the change before any node is touched; returns the operation id."""
    op = Op(
        new_id(), op_type, int(time.time()), [Change(_CHANGE[op_type], entity_id)], detail=detail
    )
    with ctx.store.write() as tx:
        tx.add(op)
    return op.id


def forget(ctx: ServiceContext, op_id: str) -> None:
    with ctx.store.write() as tx:
        tx.delete(Op, op_id)


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


class TopologyRecovery:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def clean(self, op: Op) -> tuple[bool, str]:
        """Finish `op`; returns whether it was rolled forward (deletes) and what was done.
        Raises when a node must answer first (the operation is then kept and retried)."""
        entity_id = op.changes[0].id if op.changes else ""
        if op.type is OperationType.ADD_DEVICE:
            result = await self._undo_device_add(op, entity_id)
        elif op.type is OperationType.DELETE_DEVICE:
            result = await self._finish_device_delete(op, entity_id)
        elif op.type is OperationType.ADD_NODE:
            result = await self._undo_node_add(op, entity_id)
        else:
            result = await self._finish_node_delete(op, entity_id)
        return op.type in (OperationType.DELETE_DEVICE, OperationType.DELETE_NODE), result

    async def _undo_device_add(self, op: Op, device_id: str) -> str:
        with self.ctx.store.read() as tx:
            known = tx.get(Device, device_id) is not None
        if known:  # the add committed; only the journal entry was left
            forget(self.ctx, op.id)
            return "device add had completed"
        node = NodeAddress(op.detail["manage"], op.detail["storage"])
        spec = DeviceSpec(device_id, op.detail["name"], op.detail.get("backend", "lvm"))
        try:
            await self.ctx.agent.device_info(node, spec)
        except NodeCommandError:
            # Nothing of ours on the device, or the node is down: tell which.
            await self.ctx.agent.check_glusterd(node)
            forget(self.ctx, op.id)
            return "device add rolled back: nothing was set up on the node"
        await self.ctx.agent.device_teardown(node, spec, forget=False)
        forget(self.ctx, op.id)
        return f"device add rolled back: {spec.name} torn down on {node.manage}"

    async def _finish_device_delete(self, op: Op, device_id: str) -> str:
        with self.ctx.store.read() as tx:
            device = tx.get(Device, device_id)
            node = tx.get(Node, device.node_id) if device is not None else None
        if device is None or node is None:
            forget(self.ctx, op.id)
            return "device delete had completed"
        await self.ctx.agent.device_teardown(address(node), device_spec(device), forget=True)
        with self.ctx.store.write() as tx:
            if tx.device_brick_ids(device_id):
                raise OperationFailed(f"device {device_id} holds bricks again; not deleted")
            tx.delete(Device, device_id)
            tx.delete(Op, op.id)
        return f"device delete rolled forward: {device.name} torn down on {node.manage_host}"

    async def _undo_node_add(self, op: Op, node_id: str) -> str:
        with self.ctx.store.read() as tx:
            if tx.get(Node, node_id) is not None:
                forget(self.ctx, op.id)
                return "node add had completed"
            peers = [
                n for n in tx.cluster_nodes(op.detail["cluster"]) if n.state is EntryState.ONLINE
            ]
        await self._detach(peers, NodeAddress(op.detail["manage"], op.detail["storage"]))
        forget(self.ctx, op.id)
        return f"node add rolled back: {op.detail['storage']} detached"

    async def _finish_node_delete(self, op: Op, node_id: str) -> str:
        with self.ctx.store.read() as tx:
            node = tx.get(Node, node_id)
            peers = [n for n in tx.cluster_nodes(node.cluster_id)] if node is not None else []
        if node is None:
            forget(self.ctx, op.id)
            return "node delete had completed"
        await self._detach([p for p in peers if p.id != node_id], address(node))
        with self.ctx.store.write() as tx:
            if tx.node_device_ids(node_id):
                raise OperationFailed(f"node {node_id} holds devices again; not deleted")
            tx.delete(Node, node_id)
            tx.delete(Op, op.id)
        return f"node delete rolled forward: {node.storage_host} detached"

    async def _detach(self, peers: list[Node], peer: NodeAddress) -> None:
        """Detach through the first peer that does it; as Heketi, a detach that no peer can do
        (the probe never happened, or the pool is gone) is logged, not fatal."""
        for via in peers:
            try:
                await self.ctx.agent.peer_detach(address(via), peer)
                return
            except BrickyardError as exc:
                log.warning("peer detach of %s via %s: %s", peer.storage, via.manage_host, exc)
