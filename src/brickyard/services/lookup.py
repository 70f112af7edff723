"""Small helpers shared by the services: fetch-or-404 and node addresses."""

from __future__ import annotations

from ..domain.errors import NotFound
from ..domain.model import Brick, Cluster, Device, Node, PendingOperation, Volume
from ..nodes.port import BrickSpec, DeviceSpec, NodeAddress
from ..store.sql import E, Transaction


def require(tx: Transaction, kind: type[E], entity_id: str, message: str = "Id not found") -> E:
    found = tx.get(kind, entity_id)
    if found is None:
        raise NotFound(message)
    return found


def address(node: Node) -> NodeAddress:
    return NodeAddress(manage=node.manage_host, storage=node.storage_host)


def device_spec(device: Device) -> DeviceSpec:
    return DeviceSpec(id=device.id, name=device.name, backend=device.backend)


def brick_spec(brick: Brick, device: DeviceSpec, gid: int = 0) -> BrickSpec:
    return BrickSpec(
        id=brick.id,
        device=device,
        size=brick.size,
        tp_size=brick.tp_size,
        pool_metadata_size=brick.pool_metadata_size,
        gid=gid,
        arbiter=brick.subtype == 2,
        path_override=brick.path_override,
        lv=brick.lvm_lv,
        pool=brick.lvm_thin_pool,
        pool_guest=brick.pool_guest,
    )


__all__ = [
    "Brick",
    "Cluster",
    "Device",
    "Node",
    "PendingOperation",
    "Volume",
    "address",
    "brick_spec",
    "device_spec",
    "require",
]
