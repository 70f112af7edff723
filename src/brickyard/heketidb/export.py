"""A database in Heketi's export format (``heketi db export``), computed from the store: what
`GET /db/dump` serves and ``brickyard export`` writes (internals §1.11).

The ``Info`` of an entry is Heketi's BrickInfo, DeviceInfo, NodeInfo or VolumeInfo, the objects
the REST API returns too: they are rendered here, keys in Heketi's order (contract §1.2), and
api/views.py builds its responses on them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..domain.model import BlockVolume, Brick, Cluster, Device, Node, PendingOperation, Volume
from ..store.sql import SqlStore, Transaction


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
    block_volumes = tx.all(BlockVolume)
    block_volumes_of: dict[str, list[str]] = defaultdict(list)
    for bv in block_volumes:
        block_volumes_of[bv.cluster_id].append(bv.id)
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
                    "blockvolumes": block_volumes_of[c.id],
                }
            }
            for c in clusters
        },
        "volumeentries": {
            v.id: {
                "Info": volume_json(v, [], hosts_of[v.cluster_id], with_bricks=False, entry=True),
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
                # As Heketi 10 writes them: the pool on every brick, the LV where not derived.
                "LvmThinPool": b.thin_pool,
                "LvmLv": b.lvm_lv,
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
        "blockvolumeentries": {
            bv.id: {"Info": bv.info, "Pending": {"Id": bv.pending_op_id}} for bv in block_volumes
        },
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


# ------------------------------------------------------------------------------------------------
# The entries' Info objects, also the REST API's


def brick_json(brick: Brick) -> dict[str, Any]:
    return {
        "id": brick.id,
        "path": brick.path,
        "device": brick.device_id,
        "node": brick.node_id,
        "volume": brick.volume_id,
        "size": brick.size,
    }


def device_info(device: Device) -> dict[str, Any]:
    """The fields of Heketi's DeviceInfo (also the `Info` of a db dump device entry)."""
    result: dict[str, Any] = {"name": device.name}
    if device.tags:
        result["tags"] = device.tags
    result["storage"] = {"total": device.total, "free": device.free, "used": device.used}
    result["id"] = device.id
    if device.paths:
        result["paths"] = device.paths
    if device.pv_uuid:
        result["pv_uuid"] = device.pv_uuid
    return result


def node_info(node: Node) -> dict[str, Any]:
    """The fields of Heketi's NodeInfo (also the `Info` of a db dump node entry)."""
    result: dict[str, Any] = {
        "zone": node.zone,
        "hostnames": {"manage": node.manage_hostnames, "storage": node.storage_hostnames},
        "cluster": node.cluster_id,
    }
    if node.tags:
        result["tags"] = node.tags
    result["id"] = node.id
    return result


def durability_json(volume: Volume) -> dict[str, Any]:
    d = volume.durability
    replicate: dict[str, Any] = {}
    if d.replica:
        replicate["replica"] = d.replica
    disperse: dict[str, Any] = {}
    if d.data:
        disperse["data"] = d.data
    if d.redundancy:
        disperse["redundancy"] = d.redundancy
    result: dict[str, Any] = {"type": d.type.value}
    result["replicate"] = replicate
    result["disperse"] = disperse
    return result


def mount_json(volume: Volume, hosts: list[str]) -> dict[str, Any]:
    first = hosts[0] if hosts else ""
    return {
        "glusterfs": {
            "hosts": hosts,
            "device": f"{first}:{volume.name}",
            "options": {"backup-volfile-servers": ",".join(hosts[1:])},
        }
    }


def volume_json(
    volume: Volume,
    bricks: list[Brick],
    hosts: list[str],
    with_bricks: bool = True,
    entry: bool = False,
) -> dict[str, Any]:
    """The VolumeInfo of the API, or with `entry` the Info of an export's volume entry: there
    Heketi keeps the request's options (without the server's empty pre/post padding), and the
    entry's GlusterVolumeOptions the options applied."""
    result: dict[str, Any] = {
        "size": volume.size,
        "name": volume.name,
        "durability": durability_json(volume),
    }
    if volume.gid:
        result["gid"] = volume.gid
    options = [o for o in volume.options if o] if entry else volume.options
    if options:
        result["glustervolumeoptions"] = options
    if volume.block:
        result["block"] = True
    result["snapshot"] = {
        "enable": volume.snapshot_enable,
        "factor": _factor(volume.snapshot_factor),
    }
    result["id"] = volume.id
    result["cluster"] = volume.cluster_id
    result["mount"] = mount_json(volume, hosts)
    blockinfo: dict[str, Any] = {}
    if volume.block_info.free_size:
        blockinfo["freesize"] = volume.block_info.free_size
    if volume.block_info.reserved_size:
        blockinfo["reservedsize"] = volume.block_info.reserved_size
    if volume.block_info.block_volumes:
        blockinfo["blockvolume"] = sorted(volume.block_info.block_volumes)
    if volume.block_info.restriction:
        blockinfo["restriction"] = volume.block_info.restriction
    result["blockinfo"] = blockinfo
    if with_bricks:
        result["bricks"] = [brick_json(b) for b in sorted(bricks, key=lambda b: b.id)]
    return result


def _factor(value: float) -> float | int:
    # Go prints a float32 1 as `1`, 1.5 as `1.5`.
    return int(value) if float(value).is_integer() else round(value, 6)
