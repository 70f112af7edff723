"""Entities rendered as Heketi's JSON objects, keys in Heketi's order (contract §1.2)."""

from __future__ import annotations

from typing import Any

from ..domain.model import Brick, Cluster, Device, Node, Volume
from ..services.clusters import ClusterView
from ..services.devices import DeviceView
from ..services.nodes import NodeView
from ..services.volumes import VolumeView


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


def device_json(device: Device, bricks: list[Brick]) -> dict[str, Any]:
    result = device_info(device)
    result["state"] = device.state.value
    result["bricks"] = [brick_json(b) for b in sorted(bricks, key=lambda b: b.id)]
    return result


def device_view_json(view: DeviceView) -> dict[str, Any]:
    return device_json(view.device, view.bricks)


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


def node_json(node: Node, devices: list[dict[str, Any]]) -> dict[str, Any]:
    result = node_info(node)
    result["state"] = node.state.value
    result["devices"] = devices
    return result


def node_view_json(view: NodeView, bricks_by_device: dict[str, list[Brick]]) -> dict[str, Any]:
    devices = [
        device_json(d, bricks_by_device.get(d.id, []))
        for d in sorted(view.devices, key=lambda d: d.id)
    ]
    return node_json(view.node, devices)


def cluster_json(cluster: Cluster, node_ids: list[str], volume_ids: list[str]) -> dict[str, Any]:
    return {
        "id": cluster.id,
        "nodes": sorted(node_ids),
        "volumes": sorted(volume_ids),
        "block": cluster.block,
        "file": cluster.file,
        "blockvolumes": [],
    }


def cluster_view_json(view: ClusterView) -> dict[str, Any]:
    return cluster_json(view.cluster, view.node_ids, view.volume_ids)


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
    volume: Volume, bricks: list[Brick], hosts: list[str], with_bricks: bool = True
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "size": volume.size,
        "name": volume.name,
        "durability": durability_json(volume),
    }
    if volume.gid:
        result["gid"] = volume.gid
    if volume.options:
        result["glustervolumeoptions"] = volume.options
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
    if volume.block_info.restriction:
        blockinfo["restriction"] = volume.block_info.restriction
    result["blockinfo"] = blockinfo
    if with_bricks:
        result["bricks"] = [brick_json(b) for b in sorted(bricks, key=lambda b: b.id)]
    return result


def volume_view_json(view: VolumeView) -> dict[str, Any]:
    return volume_json(view.volume, view.bricks, view.hosts)


def _factor(value: float) -> float | int:
    # Go prints a float32 1 as `1`, 1.5 as `1.5`.
    return int(value) if float(value).is_integer() else round(value, 6)
