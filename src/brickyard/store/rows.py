"""Conversions between table rows and domain entities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..domain.model import (
    BlockInfo,
    BlockVolume,
    Brick,
    BrickSubType,
    Change,
    ChangeType,
    Cluster,
    Device,
    Durability,
    DurabilityType,
    EntryState,
    Node,
    OperationType,
    PendingOperation,
    Volume,
)


def cluster_from(row: Mapping[str, Any]) -> Cluster:
    return Cluster(id=row["id"], block=row["block"], file=row["file"])


def cluster_values(c: Cluster) -> dict[str, Any]:
    return {"id": c.id, "block": c.block, "file": c.file}


def node_from(row: Mapping[str, Any]) -> Node:
    return Node(
        id=row["id"],
        cluster_id=row["cluster_id"],
        zone=row["zone"],
        manage_hostnames=list(row["manage_hostnames"]),
        storage_hostnames=list(row["storage_hostnames"]),
        tags=dict(row["tags"]),
        state=EntryState(row["state"]),
    )


def node_values(n: Node) -> dict[str, Any]:
    return {
        "id": n.id,
        "cluster_id": n.cluster_id,
        "zone": n.zone,
        "manage_hostname": n.manage_host,
        "storage_hostname": n.storage_host,
        "manage_hostnames": n.manage_hostnames,
        "storage_hostnames": n.storage_hostnames,
        "tags": n.tags,
        "state": n.state.value,
    }


def device_from(row: Mapping[str, Any]) -> Device:
    return Device(
        id=row["id"],
        node_id=row["node_id"],
        name=row["name"],
        total=row["total"],
        free=row["free"],
        used=row["used"],
        extent_size=row["extent_size"],
        tags=dict(row["tags"]),
        state=EntryState(row["state"]),
        paths=list(row["paths"]),
        pv_uuid=row["pv_uuid"],
        backend=row["backend"],
    )


def device_values(d: Device) -> dict[str, Any]:
    return {
        "id": d.id,
        "node_id": d.node_id,
        "name": d.name,
        "total": d.total,
        "free": d.free,
        "used": d.used,
        "extent_size": d.extent_size,
        "tags": d.tags,
        "state": d.state.value,
        "paths": d.paths,
        "pv_uuid": d.pv_uuid,
        "backend": d.backend,
    }


def volume_from(row: Mapping[str, Any]) -> Volume:
    return Volume(
        id=row["id"],
        cluster_id=row["cluster_id"],
        name=row["name"],
        size=row["size"],
        durability=Durability(
            type=DurabilityType(row["durability_type"]),
            replica=row["replica"],
            data=row["disperse_data"],
            redundancy=row["disperse_redundancy"],
        ),
        gid=row["gid"],
        options=list(row["options"]),
        block=row["block"],
        snapshot_enable=row["snapshot_enable"],
        snapshot_factor=row["snapshot_factor"],
        block_info=BlockInfo(
            free_size=row["block_free_size"],
            reserved_size=row["block_reserved_size"],
            restriction=row["block_restriction"],
            block_volumes=list(row["block_volumes"] or []),
        ),
        pending_op_id=row["pending_op_id"],
    )


def volume_values(v: Volume) -> dict[str, Any]:
    return {
        "id": v.id,
        "cluster_id": v.cluster_id,
        "name": v.name,
        "size": v.size,
        "durability_type": v.durability.type.value,
        "replica": v.durability.replica,
        "disperse_data": v.durability.data,
        "disperse_redundancy": v.durability.redundancy,
        "gid": v.gid,
        "options": v.options,
        "block": v.block,
        "snapshot_enable": v.snapshot_enable,
        "snapshot_factor": v.snapshot_factor,
        "block_free_size": v.block_info.free_size,
        "block_reserved_size": v.block_info.reserved_size,
        "block_restriction": v.block_info.restriction,
        "block_volumes": v.block_info.block_volumes,
        "pending_op_id": v.pending_op_id,
    }


def brick_from(row: Mapping[str, Any]) -> Brick:
    return Brick(
        id=row["id"],
        volume_id=row["volume_id"],
        device_id=row["device_id"],
        node_id=row["node_id"],
        size=row["size"],
        tp_size=row["tp_size"],
        pool_metadata_size=row["pool_metadata_size"],
        set_index=row["set_index"],
        position=row["position"],
        subtype=BrickSubType(row["subtype"]),
        path_override=row["path"],
        pending_op_id=row["pending_op_id"],
        lvm_thin_pool=row["lvm_thin_pool"],
        lvm_lv=row["lvm_lv"],
        pool_guest=bool(row["pool_guest"]),
    )


def brick_values(b: Brick) -> dict[str, Any]:
    return {
        "id": b.id,
        "volume_id": b.volume_id,
        "device_id": b.device_id,
        "node_id": b.node_id,
        "size": b.size,
        "tp_size": b.tp_size,
        "pool_metadata_size": b.pool_metadata_size,
        "set_index": b.set_index,
        "position": b.position,
        "subtype": int(b.subtype),
        "path": b.path_override,
        "pending_op_id": b.pending_op_id,
        "lvm_thin_pool": b.lvm_thin_pool,
        "lvm_lv": b.lvm_lv,
        "pool_guest": b.pool_guest,
    }


def block_volume_from(row: Mapping[str, Any]) -> BlockVolume:
    return BlockVolume(
        id=row["id"],
        cluster_id=row["cluster_id"],
        hosting_volume_id=row["hosting_volume_id"],
        name=row["name"],
        size=row["size"],
        info=dict(row["info"]),
        pending_op_id=row["pending_op_id"],
    )


def block_volume_values(b: BlockVolume) -> dict[str, Any]:
    return {
        "id": b.id,
        "cluster_id": b.cluster_id,
        "hosting_volume_id": b.hosting_volume_id,
        "name": b.name,
        "size": b.size,
        "info": b.info,
        "pending_op_id": b.pending_op_id,
    }


def operation_from(row: Mapping[str, Any]) -> PendingOperation:
    """A journal row; types this version does not know (written by another version) load as
    UNKNOWN with the raw number kept in the detail, so listing the journal never fails and
    recovery holds them for a human."""
    detail = {str(k): str(v) for k, v in dict(row["detail"] or {}).items()}
    raw_type = row["type"]
    if raw_type not in OperationType._value2member_map_:
        detail["journal_type"] = str(raw_type)
    return PendingOperation(
        id=row["id"],
        type=OperationType(raw_type)
        if raw_type in OperationType._value2member_map_
        else OperationType.UNKNOWN,
        timestamp=row["timestamp"],
        status=row["status"],
        changes=[
            Change(
                ChangeType(c["change"])
                if c["change"] in ChangeType._value2member_map_
                else ChangeType.UNKNOWN,
                c["id"],
                c.get("delta", 0) or 0,
            )
            for c in row["changes"]
        ],
        detail=detail,
        owner=row["owner"],
        claimed_at=row["claimed_at"],
        held=row["held"],
        format=row["format"],
    )


def operation_values(op: PendingOperation) -> dict[str, Any]:
    return {
        "id": op.id,
        "type": int(op.type),
        "timestamp": op.timestamp,
        "status": op.status,
        "changes": [{"change": int(c.change), "id": c.id, "delta": c.delta} for c in op.changes],
        "detail": op.detail,
        "owner": op.owner,
        "claimed_at": op.claimed_at,
        "held": op.held,
        "format": op.format,
    }
