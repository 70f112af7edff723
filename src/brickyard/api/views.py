"""Entities rendered as Heketi's JSON objects, keys in Heketi's order (contract §1.2).

The ``Info`` objects of bricks, devices, nodes and volumes are also the entries of Heketi's db
dump: they live in heketidb/export.py and are re-exported here for the routes."""

from __future__ import annotations

from typing import Any

from ..domain.model import Brick, Cluster, Device, Node
from ..heketidb.export import brick_json as brick_json
from ..heketidb.export import device_info as device_info
from ..heketidb.export import node_info as node_info
from ..heketidb.export import volume_json as volume_json
from ..services.clusters import ClusterView
from ..services.devices import DeviceView
from ..services.nodes import NodeView
from ..services.topology import TopologySnapshot
from ..services.volumes import VolumeView


def device_json(device: Device, bricks: list[Brick]) -> dict[str, Any]:
    result = device_info(device)
    result["state"] = device.state.value
    result["bricks"] = [brick_json(b) for b in sorted(bricks, key=lambda b: b.id)]
    return result


def device_view_json(view: DeviceView) -> dict[str, Any]:
    return device_json(view.device, view.bricks)


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


def cluster_json(
    cluster: Cluster, node_ids: list[str], volume_ids: list[str], block_volume_ids: list[str]
) -> dict[str, Any]:
    return {
        "id": cluster.id,
        "nodes": sorted(node_ids),
        "volumes": sorted(volume_ids),
        "block": cluster.block,
        "file": cluster.file,
        "blockvolumes": sorted(block_volume_ids),
    }


def cluster_view_json(view: ClusterView) -> dict[str, Any]:
    return cluster_json(view.cluster, view.node_ids, view.volume_ids, view.block_volume_ids)


def volume_view_json(view: VolumeView) -> dict[str, Any]:
    return volume_json(view.volume, view.bricks, view.hosts)


def topology_json(topology: TopologySnapshot) -> dict[str, Any]:
    """GET /topology: every cluster with its volumes and nodes, each node with its devices and
    their bricks (the shape of `heketi-cli topology info --json`)."""
    bricks_by_device: dict[str, list[Brick]] = {}
    bricks_by_volume: dict[str, list[Brick]] = {}
    for b in topology.bricks:
        bricks_by_device.setdefault(b.device_id, []).append(b)
        bricks_by_volume.setdefault(b.volume_id, []).append(b)
    devices_by_node: dict[str, list[Device]] = {}
    for d in topology.devices:
        devices_by_node.setdefault(d.node_id, []).append(d)
    result: list[dict[str, Any]] = []
    for c in topology.clusters:
        members = [n for n in topology.nodes if n.cluster_id == c.id]
        hosts = [n.storage_host for n in members]
        result.append(
            {
                "volumes": [
                    volume_json(v, bricks_by_volume.get(v.id, []), hosts)
                    for v in topology.volumes
                    if v.cluster_id == c.id
                ],
                "nodes": [
                    node_json(
                        n,
                        [
                            device_json(d, bricks_by_device.get(d.id, []))
                            for d in devices_by_node.get(n.id, [])
                        ],
                    )
                    for n in members
                ],
                "id": c.id,
                "block": c.block,
                "file": c.file,
            }
        )
    return {"clusters": result}
