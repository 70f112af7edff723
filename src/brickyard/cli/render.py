"""heketi-cli's text outputs (contract §4.3, §4.4), byte for byte, as pure functions."""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

__all__ = [
    "blockvolume_info",
    "blockvolume_list_line",
    "cluster_info",
    "cluster_list_line",
    "device_info",
    "entry_state",
    "gv",
    "node_info",
    "node_summary",
    "operation_details",
    "operations_info",
    "operations_list",
    "persistent_volume",
    "topology_info",
    "volume_info",
    "volume_list_line",
    "volume_plan",
]

KIB_PER_GIB = 1024 * 1024
Obj = Mapping[str, Any]


def gv(value: Any) -> str:
    """Go's ``%v`` for JSON-decoded values."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(gv(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{gv(k)}:{gv(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def go_float32_2f(value: Any) -> str:
    """``printf "%.2f"`` of a Go ``float32``."""
    as32: float = struct.unpack("f", struct.pack("f", float(value or 0)))[0]
    return f"{as32:.2f}"


def gib(kib: Any) -> int:
    return int(kib or 0) // KIB_PER_GIB


def entry_state(state: Any) -> str:
    """``failed`` is shown as ``removed`` everywhere in heketi-cli."""
    return "removed" if state == "failed" else str(state or "")


def _obj(value: Any) -> Obj:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _first(values: Any) -> str:
    items = _list(values)
    return str(items[0]) if items else ""


def _tags_block(tags: Any) -> str:
    tags = _obj(tags)
    if not tags:
        return ""
    return "Tags:\n" + "".join(f"  {k}: {v}\n" for k, v in sorted(tags.items()))


# --- clusters --------------------------------------------------------------------------------


def cluster_info(info: Obj) -> str:
    nodes = "\n".join(_list(info.get("nodes")))
    volumes = "\n".join(_list(info.get("volumes")))
    return (
        f"Cluster id: {info.get('id', '')}\n"
        f"Nodes:\n{nodes}"
        f"\nVolumes:\n{volumes}"
        f"\nBlock: {gv(bool(info.get('block')))}\n"
        f"\nFile: {gv(bool(info.get('file')))}\n"
    )


def cluster_list_line(cluster_id: str, info: Obj) -> str:
    usage = ("[file]" if info.get("file") else "") + ("[block]" if info.get("block") else "")
    return f"Id:{cluster_id} {usage or '[]'}\n"


# --- nodes and devices -----------------------------------------------------------------------


def node_summary(node: Obj) -> str:
    hostnames = _obj(node.get("hostnames"))
    return (
        f"Node Id: {node.get('id', '')}\n"
        f"State: {entry_state(node.get('state'))}\n"
        f"Cluster Id: {node.get('cluster', '')}\n"
        f"Zone: {gv(node.get('zone', 0))}\n"
        f"Management Hostname: {_first(hostnames.get('manage'))}\n"
        f"Storage Hostname: {_first(hostnames.get('storage'))}\n" + _tags_block(node.get("tags"))
    )


def _node_device_line(device: Obj) -> str:
    storage = _obj(device.get("storage"))
    return (
        f"Id:{device.get('id', ''):<35}"
        f"Name:{device.get('name', ''):<20}"
        f"State:{entry_state(device.get('state')):<10}"
        f"Size (GiB):{gib(storage.get('total')):<8}"
        f"Used (GiB):{gib(storage.get('used')):<8}"
        f"Free (GiB):{gib(storage.get('free')):<8}"
        f"Bricks:{len(_list(device.get('bricks'))):<8}\n"
    )


def node_info(node: Obj) -> str:
    devices = _list(node.get("devices"))
    return node_summary(node) + "Devices:\n" + "".join(_node_device_line(d) for d in devices)


def device_info(device: Obj) -> str:
    storage = _obj(device.get("storage"))
    bricks = "".join(
        f"Id:{b.get('id', ''):<35}Size (GiB):{gib(b.get('size')):<8}Path: {b.get('path', '')}\n"
        for b in _list(device.get("bricks"))
    )
    return (
        f"Device Id: {device.get('id', '')}\n"
        f"State: {entry_state(device.get('state'))}\n"
        f"Size (GiB): {gib(storage.get('total'))}\n"
        f"Used (GiB): {gib(storage.get('used'))}\n"
        f"Free (GiB): {gib(storage.get('free'))}\n"
        f"Create Path: {device.get('name', '')}\n"
        f"Physical Volume UUID: {device.get('pv_uuid', '')}\n"
        f"Known Paths: {' '.join(_list(device.get('paths')))}\n"
        + _tags_block(device.get("tags"))
        + "Bricks:\n"
        + bricks
    )


# --- volumes ---------------------------------------------------------------------------------


def _mount_options(volume: Obj) -> str:
    glusterfs = _obj(_obj(volume.get("mount")).get("glusterfs"))
    options = _obj(glusterfs.get("options"))
    return "".join(f"{k}={v}" for k, v in sorted(options.items()))


def _restriction(value: Any) -> str:
    value = value or ""
    if value == "":
        return "(none)"
    return str(value) if value in ("locked", "locked-by-update") else "unknown"


def volume_info(volume: Obj) -> str:
    durability = _obj(volume.get("durability"))
    kind = durability.get("type") or ""
    replica = int(_obj(durability.get("replicate")).get("replica") or 0)
    disperse = _obj(durability.get("disperse"))
    data = int(disperse.get("data") or 0)
    redundancy = int(disperse.get("redundancy") or 0)
    bricks = len(_list(volume.get("bricks")))
    blockinfo = _obj(volume.get("blockinfo"))
    if kind == "replicate":
        width = replica
    elif kind == "disperse":
        width = data + redundancy
    else:
        width = 1
    text = (
        f"Name: {volume.get('name', '')}\n"
        f"Size: {gv(volume.get('size', 0))}\n"
        f"Volume Id: {volume.get('id', '')}\n"
        f"Cluster Id: {volume.get('cluster', '')}\n"
        f"Mount: {_obj(_obj(volume.get('mount')).get('glusterfs')).get('device', '')}\n"
        f"Mount Options: {_mount_options(volume)}\n"
        f"Block: {gv(bool(volume.get('block')))}\n"
        f"Free Size: {gv(blockinfo.get('freesize', 0))}\n"
        f"Reserved Size: {gv(blockinfo.get('reservedsize', 0))}\n"
        f"Block Hosting Restriction: {_restriction(blockinfo.get('restriction'))}\n"
        f"Block Volumes: {gv(_list(blockinfo.get('blockvolume')))}\n"
        f"Durability Type: {kind}\n"
        f"Distribute Count: {bricks // width if width else bricks}\n"
    )
    if kind == "replicate":
        text += f"Replica Count: {replica}\n"
    elif kind == "disperse":
        text += f"Disperse Data Count: {data}\nDisperse Redundancy Count: {redundancy}\n"
    snapshot = _obj(volume.get("snapshot"))
    if snapshot.get("enable"):
        text += f"Snapshot Factor: {go_float32_2f(snapshot.get('factor'))}\n\n"
    return text


def volume_list_line(volume_id: str, volume: Obj) -> str:
    block = " [block]" if volume.get("block") else ""
    return (
        f"Id:{volume_id:<35} Cluster:{volume.get('cluster', ''):<35} "
        f"Name:{volume.get('name', '')}{block}\n"
    )


def blockvolume_info(bv: Obj) -> str:
    target = _obj(bv.get("blockvolume"))
    return (
        f"Name: {bv.get('name', '')}\n"
        f"Size: {gv(bv.get('size', 0))}\n"
        f"UsableSize: {gv(bv.get('usablesize', 0))}\n"
        f"Volume Id: {bv.get('id', '')}\n"
        f"Cluster Id: {bv.get('cluster', '')}\n"
        f"Hosts: {gv(_list(target.get('hosts')))}\n"
        f"IQN: {target.get('iqn', '')}\n"
        f"LUN: {gv(target.get('lun', 0))}\n"
        f"Hacount: {gv(bv.get('hacount', 0))}\n"
        f"Username: {target.get('username', '')}\n"
        f"Password: {target.get('password', '')}\n"
        f"Block Hosting Volume: {bv.get('blockhostingvolume', '')}\n"
    )


def blockvolume_list_line(bv_id: str, bv: Obj) -> str:
    return f"Id:{bv_id:<35} Cluster:{bv.get('cluster', ''):<35} Name:{bv.get('name', '')}\n"


def persistent_volume(volume: Obj, endpoint: str) -> str:
    """The Kubernetes PV of ``volume create --persistent-volume`` (2-space indented JSON)."""
    volume_id = str(volume.get("id", ""))
    pv = {
        "kind": "PersistentVolume",
        "apiVersion": "v1",
        "metadata": {
            "name": "glusterfs-" + volume_id[:8],
            "creationTimestamp": None,
            "annotations": {"pv.beta.kubernetes.io/gid": gv(volume.get("gid", 0))},
        },
        "spec": {
            "capacity": {"storage": f"{gv(volume.get('size', 0))}Gi"},
            "glusterfs": {
                "endpoints": endpoint or "TYPE ENDPOINT HERE",
                "path": volume.get("name", ""),
            },
            "accessModes": ["ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",
        },
        "status": {},
    }
    return json.dumps(pv, indent=2, ensure_ascii=False)


# --- server ------------------------------------------------------------------------------------


def operations_info(info: Obj) -> str:
    return (
        "Operation Counts:\n"
        f"  Total: {gv(info.get('total', 0))}\n"
        f"  In-Flight: {gv(info.get('in_flight', 0))}\n"
        f"  New: {gv(info.get('new', 0))}\n"
        f"  Failed: {gv(info.get('failed', 0))}\n"
        f"  Stale: {gv(info.get('stale', 0))}\n"
    )


def _status(op: Obj) -> str:
    return f"{op.get('status') or 'New'} {op.get('sub_status', '')}"


def operations_list(listing: Obj) -> str:
    return "".join(
        f"Id:{op.get('id', '')}  Type:{op.get('type_name', '')}  Status:{_status(op)}\n"
        for op in _list(listing.get("pendingoperations"))
    )


def operation_details(op: Obj) -> str:
    changes = "".join(
        f"\n    {c.get('description', '')}: {c.get('id', '')}" for c in _list(op.get("changes"))
    )
    return (
        f"\nId: {op.get('id', '')}\nType: {op.get('type_name', '')}\n"
        f"Status: {_status(op)}\nChanges:{changes}\n"
    )


# --- topology --------------------------------------------------------------------------------


def _pairs(tags: Any) -> str:
    return "".join(f" {k}:{v}" for k, v in sorted(_obj(tags).items()))


def _topology_volume(volume: Obj) -> str:
    durability = _obj(volume.get("durability"))
    kind = durability.get("type") or ""
    text = (
        f"\n\tName: {volume.get('name', '')}"
        f"\n\tSize: {gv(volume.get('size', 0))}"
        f"\n\tId: {volume.get('id', '')}"
        f"\n\tCluster Id: {volume.get('cluster', '')}"
        f"\n\tMount: {_obj(_obj(volume.get('mount')).get('glusterfs')).get('device', '')}"
        f"\n\tMount Options: {_mount_options(volume)}"
        f"\n\tDurability Type: {kind}"
    )
    if kind == "replicate":
        text += f"\n\tReplica: {gv(_obj(durability.get('replicate')).get('replica', 0))}"
    elif kind == "disperse":
        disperse = _obj(durability.get("disperse"))
        text += (
            f"\n\tDisperse Data: {gv(disperse.get('data', 0))}"
            f"\n\tDisperse Redundancy: {gv(disperse.get('redundancy', 0))}"
        )
    snapshot = _obj(volume.get("snapshot"))
    if snapshot.get("enable"):
        text += (
            f"\n\tSnapshot: Enabled\n\tSnapshot Factor: {go_float32_2f(snapshot.get('factor'))}\n"
        )
    else:
        text += "\n\tSnapshot: Disabled\n"
    text += "\n\t\tBricks:"
    for brick in _list(volume.get("bricks")):
        text += (
            f"\n\t\t\tId: {brick.get('id', '')}"
            f"\n\t\t\tPath: {brick.get('path', '')}"
            f"\n\t\t\tSize (GiB): {gib(brick.get('size'))}"
            f"\n\t\t\tNode: {brick.get('node', '')}"
            f"\n\t\t\tDevice: {brick.get('device', '')}\n"
        )
    return text + "\n"


def _topology_device(device: Obj) -> str:
    storage = _obj(device.get("storage"))
    text = (
        f"\n\t\tId:{device.get('id', ''):<35}"
        f"State:{entry_state(device.get('state')):<10}"
        f"Size (GiB):{gib(storage.get('total')):<8}"
        f"Used (GiB):{gib(storage.get('used')):<8}"
        f"Free (GiB):{gib(storage.get('free')):<8}\n"
    )
    if _obj(device.get("tags")):
        text += f"\t\t\tTags:{_pairs(device.get('tags'))}\n\n"
    paths = " ".join(_list(device.get("paths"))) or str(device.get("name", ""))
    text += f"\t\t\tKnown Paths: {paths}\n\n\t\t\tBricks:"
    for brick in _list(device.get("bricks")):
        text += (
            f"\n\t\t\t\tId:{brick.get('id', ''):<35}"
            f"Size (GiB):{gib(brick.get('size')):<8}"
            f"Path: {brick.get('path', '')}"
        )
    return text


def _topology_node(node: Obj) -> str:
    hostnames = _obj(node.get("hostnames"))
    text = (
        f"\n\tNode Id: {node.get('id', '')}"
        f"\n\tState: {entry_state(node.get('state'))}"
        f"\n\tCluster Id: {node.get('cluster', '')}"
        f"\n\tZone: {gv(node.get('zone', 0))}"
        f"\n\tManagement Hostnames: {', '.join(_list(hostnames.get('manage')))}"
        f"\n\tStorage Hostnames: {', '.join(_list(hostnames.get('storage')))}\n"
    )
    if _obj(node.get("tags")):
        text += f"\tTags:{_pairs(node.get('tags'))}\n\n"
    text += "\tDevices:"
    text += "".join(_topology_device(d) for d in _list(node.get("devices")))
    return text + "\n"


def _topology_cluster(cluster: Obj) -> str:
    return (
        f"\nCluster Id: {cluster.get('id', '')}\n"
        f"\n    File:  {gv(bool(cluster.get('file')))}"
        f"\n    Block: {gv(bool(cluster.get('block')))}\n"
        "\n    Volumes:\n"
        + "".join(_topology_volume(v) for v in _list(cluster.get("volumes")))
        + "\n\n    Nodes:\n"
        + "".join(_topology_node(n) for n in _list(cluster.get("nodes")))
    )


def topology_info(topology: Obj) -> str:
    """The default ``topology info`` template over the whole topology."""
    return "".join(_topology_cluster(c) for c in _list(topology.get("clusters"))) + "\n"


# --- volume create --dry-run (Brickyard extension) -------------------------------------------


def gib_text(kib: Any) -> str:
    """A KiB amount in GiB: ``5`` when whole, otherwise two decimals (``5.04``)."""
    value = float(kib or 0) / KIB_PER_GIB
    return str(int(value)) if value.is_integer() else f"{value:.2f}"


def _plural(count: Any, word: str) -> str:
    number = int(count or 0)
    return f"{number} {word}" if number == 1 else f"{number} {word}s"


def durability_text(durability: Any) -> str:
    """``replicate 3``, ``disperse 4+2`` or ``none``."""
    durability = _obj(durability)
    kind = str(durability.get("type") or "none")
    if kind == "replicate":
        return f"replicate {gv(_obj(durability.get('replicate')).get('replica', 0))}"
    if kind == "disperse":
        disperse = _obj(durability.get("disperse"))
        return f"disperse {gv(disperse.get('data', 0))}+{gv(disperse.get('redundancy', 0))}"
    return kind


def _with_reason(text: str, reason: Any) -> str:
    return f"{text}: {reason}" if reason else text


def _plan_brick(index: int, brick: Obj) -> str:
    position = gv(brick.get("position", index))
    role = " (arbiter)" if brick.get("arbiter") else ""
    zone = f"zone {gv(brick.get('zone', 0))}"
    where = f"{brick['hostname']}, {zone}" if brick.get("hostname") else zone
    text = (
        f"    Brick {position}{role}: node {brick.get('node', '')} ({where}), "
        f"device {brick.get('device', '')} ({brick.get('device_name', '')}), "
        f"{gib_text(brick.get('size'))} GiB"
    )
    return _with_reason(text, brick.get("reason")) + "\n"


def _plan_skipped(plan: Obj) -> str:
    counts = _obj(plan.get("skipped_counts"))
    examples = _list(plan.get("skipped"))
    summary = ", ".join(f"{k} {gv(v)}" for k, v in counts.items() if v)
    text = f"Skipped devices: {summary or 'none'}\n"
    for skip in map(_obj, examples):
        host = skip.get("hostname") or skip.get("node") or ""
        line = f"    {skip.get('device', '')} ({skip.get('device_name', '')}) on {host}"
        text += _with_reason(line, skip.get("reason")) + "\n"
    hidden = sum(int(v or 0) for v in counts.values()) - len(examples)
    if examples and hidden > 0:
        text += f"    ({hidden} more not shown)\n"
    return text


def volume_plan(plan: Obj) -> str:
    """The text of ``volume create --dry-run``: the answer of ``POST /volumes/plan``.

    Brick sets are listed only when a placement was found (``ok``); the ``Clusters:`` section
    only when several clusters were considered or none could take the volume.
    """
    ok = bool(plan.get("ok"))
    durability = durability_text(plan.get("durability"))
    text = "Dry run: nothing was created.\n"
    text += f"Cluster Id: {plan.get('cluster') or '(none)'}\n"
    if ok:
        text += (
            f"Layout: {_plural(plan.get('sets'), 'brick set')} x "
            f"{_plural(plan.get('bricks_per_set'), 'brick')} of "
            f"{gib_text(plan.get('brick_size'))} GiB ({durability})\n"
        )
        for index, brick_set in enumerate(map(_obj, _list(plan.get("brick_sets")))):
            text += f"Set {gv(brick_set.get('set', index))}:\n"
            bricks = map(_obj, _list(brick_set.get("bricks")))
            text += "".join(_plan_brick(i, b) for i, b in enumerate(bricks))
    else:
        text += f"Layout: none found for {gv(plan.get('size', 0))} GiB ({durability})\n"
    text += _plan_skipped(plan)
    attempts = [_obj(a) for a in _list(plan.get("attempts"))]
    if attempts:
        text += "Attempts:\n"
        for attempt in attempts:
            line = (
                f"    {_plural(attempt.get('sets'), 'set')} of "
                f"{gib_text(attempt.get('brick_size'))} GiB bricks"
            )
            text += _with_reason(line, attempt.get("result")) + "\n"
    clusters = [_obj(c) for c in _list(plan.get("clusters"))]
    if len(clusters) > 1 or (clusters and not ok):
        text += "Clusters:\n"
        for cluster in clusters:
            text += _with_reason(f"    {cluster.get('id', '')}", cluster.get("result")) + "\n"
    return text
