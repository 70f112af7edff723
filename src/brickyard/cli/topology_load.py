"""``heketi-cli topology load``: the topology file format and the load algorithm (§4.5)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from brickyard.cli.progress import Progress
from brickyard.cli.session import CliError
from brickyard.client import HeketiClient, HeketiError, JSONDict

__all__ = ["FileCluster", "FileDevice", "FileNode", "load_topology", "parse_topology_file"]


class _Invalid(ValueError):
    pass


@dataclass
class FileDevice:
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    destroydata: bool = False
    backend: str = ""  # ours: "lvm" or "loopfile"; "" = the server's default


@dataclass
class FileNode:
    zone: int
    manage: list[str]
    storage: list[str]
    tags: dict[str, str]
    devices: list[FileDevice]


@dataclass
class FileCluster:
    nodes: list[FileNode]
    block: bool = True
    file: bool = True


def _check(value: Any, kind: type | tuple[type, ...], default: Any) -> Any:
    if value is None:
        return default
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise _Invalid(value)
    if not isinstance(value, kind):
        raise _Invalid(value)
    return value


def _obj(value: Any) -> dict[str, Any]:
    result: dict[str, Any] = _check(value, dict, {})
    return result


def _list(value: Any) -> list[Any]:
    result: list[Any] = _check(value, list, [])
    return result


def _strings(value: Any) -> list[str]:
    return [_check(v, str, "") for v in _list(value)]


def _tags(value: Any) -> dict[str, str]:
    return {str(k): _check(v, str, "") for k, v in _obj(value).items()}


def _get(obj: dict[str, Any], key: str) -> Any:
    """Go's case-insensitive key matching (an exact match wins)."""
    if key in obj:
        return obj[key]
    for k, v in obj.items():
        if k.lower() == key:
            return v
    return None


def _device(value: Any) -> FileDevice:
    if isinstance(value, str):
        return FileDevice(value)
    raw = _obj(value)
    return FileDevice(
        name=_check(_get(raw, "name"), str, ""),
        tags=_tags(_get(raw, "tags")),
        destroydata=_check(_get(raw, "destroydata"), bool, False),
        backend=_check(_get(raw, "backend"), str, ""),
    )


def _node(value: Any) -> FileNode:
    raw = _obj(value)
    node = _obj(_get(raw, "node"))
    hostnames = _obj(_get(node, "hostnames"))
    manage = _strings(_get(hostnames, "manage"))
    if not manage:
        raise _Invalid("node without a management hostname")
    _check(_get(node, "cluster"), str, "")
    return FileNode(
        zone=_check(_get(node, "zone"), int, 0),
        manage=manage,
        storage=_strings(_get(hostnames, "storage")),
        tags=_tags(_get(node, "tags")),
        devices=[_device(d) for d in _list(_get(raw, "devices"))],
    )


def _cluster(value: Any) -> FileCluster:
    raw = _obj(value)
    return FileCluster(
        nodes=[_node(n) for n in _list(_get(raw, "nodes"))],
        block=_check(_get(raw, "block"), bool, True),
        file=_check(_get(raw, "file"), bool, True),
    )


def parse_topology_file(path: str) -> list[FileCluster]:
    """Read a topology.json; the heketi-cli error messages on failure."""
    if not path:
        raise CliError("Missing configuration file")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        raise CliError("Unable to open config file") from None
    try:
        data, _ = json.JSONDecoder().raw_decode(text.lstrip())
        return [_cluster(c) for c in _list(_get(_obj(data), "clusters"))]
    except (ValueError, _Invalid):
        raise CliError("Unable to parse config file") from None


def _find_node(topology: JSONDict, manage: str) -> JSONDict | None:
    for cluster in topology.get("clusters") or []:
        for node in cluster.get("nodes") or []:
            names = (node.get("hostnames") or {}).get("manage") or [""]
            if names[0] == manage:
                node_info: JSONDict = node
                return node_info
    return None


def _has_device(topology: JSONDict, manage: str, name: str) -> bool:
    for cluster in topology.get("clusters") or []:
        for node in cluster.get("nodes") or []:
            names = (node.get("hostnames") or {}).get("manage") or [""]
            if names[0] == manage and any(d.get("name") == name for d in node.get("devices") or []):
                return True
    return False


@contextmanager
def _cleanup_empty_clusters(client: HeketiClient) -> Iterator[list[str]]:
    """Delete, at exit, the clusters created by the load that ended up empty."""
    created: list[str] = []
    try:
        yield created
    finally:
        for cluster_id in reversed(created):
            try:
                info = client.cluster_info(cluster_id)
                if not info.get("nodes") and not info.get("volumes"):
                    client.cluster_delete(cluster_id)
            except HeketiError:
                pass


def load_topology(
    client: HeketiClient,
    clusters: list[FileCluster],
    out: Callable[[str], None],
    progress: Progress | None = None,
) -> None:
    """Create what the file describes and the server lacks, printing heketi-cli's progress
    (on stdout, as heketi-cli) and counting nodes and devices on the progress line."""
    line = progress or Progress(None, sys.stdout)
    nodes = sum(len(c.nodes) for c in clusters)
    devices = sum(len(n.devices) for c in clusters for n in c.nodes)
    with line.task("Loading topology", total=nodes, unit="nodes"):
        _load(client, clusters, out, _Counter(line, devices))


class _Counter:
    """Where the load is, for the progress line: node n of N, device d of D."""

    def __init__(self, line: Progress, devices: int) -> None:
        self.line = line
        self.nodes_done = 0
        self.devices = devices
        self.devices_done = 0

    def node(self, manage: str) -> None:
        self.line.update(detail=f"node {manage}")

    def device(self, manage: str, name: str) -> None:
        step = f"device {self.devices_done + 1} of {self.devices}"
        self.line.update(detail=f"node {manage}, {step}: {name}")

    def device_done(self) -> None:
        self.devices_done += 1

    def skip_devices(self, how_many: int) -> None:
        """The devices of a node that could not be created."""
        self.devices_done += how_many

    def node_done(self) -> None:
        self.nodes_done += 1
        self.line.update(done=self.nodes_done)


def _load(
    client: HeketiClient,
    clusters: list[FileCluster],
    out: Callable[[str], None],
    count: _Counter,
) -> None:
    try:
        topology = client.topology()
    except HeketiError as exc:
        raise CliError(f"Unable to get topology information: {exc}") from None
    with _cleanup_empty_clusters(client) as created:
        for cluster in clusters:
            cluster_info: JSONDict | None = None
            for node in cluster.nodes:
                count.node(node.manage[0])
                cluster_info = _load_node(
                    client, topology, cluster, cluster_info, node, out, count, created
                )
                count.node_done()


def _load_node(
    client: HeketiClient,
    topology: JSONDict,
    cluster: FileCluster,
    cluster_info: JSONDict | None,
    node: FileNode,
    out: Callable[[str], None],
    count: _Counter,
    created: list[str],
) -> JSONDict | None:
    """One node of the file and its devices; the cluster it is in (created when needed)."""
    manage = node.manage[0]
    node_info = _find_node(topology, manage)
    if node_info is not None:
        out(f"\tFound node {manage} on cluster {node_info.get('cluster', '')}\n")
        try:
            cluster_info = client.cluster_info(str(node_info.get("cluster", "")))
        except HeketiError:
            out("Unable to get cluster information\n")
            raise CliError("Unable to get cluster information") from None
    else:
        if cluster_info is None:
            out("Creating cluster ... ")
            cluster_info = client.cluster_create(block=cluster.block, file=cluster.file)
            out(f"ID: {cluster_info.get('id', '')}\n")
            if cluster.file:
                out("\tAllowing file volumes on cluster.\n")
            if cluster.block:
                out("\tAllowing block volumes on cluster.\n")
            created.append(str(cluster_info.get("id", "")))
        out(f"\tCreating node {manage} ... ")
        try:
            node_info = client.node_add(
                str(cluster_info.get("id", "")),
                node.zone,
                node.manage,
                node.storage,
                node.tags,
            )
        except HeketiError as exc:
            out(f"Unable to create node: {exc}\n")
            count.skip_devices(len(node.devices))
            return cluster_info
        out(f"ID: {node_info.get('id', '')}\n")
    node_manage = ((node_info.get("hostnames") or {}).get("manage") or [manage])[0]
    for device in node.devices:
        count.device(manage, device.name)
        _load_device(client, topology, node_info, node_manage, device, out)
        count.device_done()
    return cluster_info


def _load_device(
    client: HeketiClient,
    topology: JSONDict,
    node_info: JSONDict,
    node_manage: str,
    device: FileDevice,
    out: Callable[[str], None],
) -> None:
    if _has_device(topology, node_manage, device.name):
        out(f"\t\tFound device {device.name}\n")
        return
    out(f"\t\tAdding device {device.name} ... ")
    try:
        client.device_add(
            str(node_info.get("id", "")),
            device.name,
            destroy_data=device.destroydata,
            tags=device.tags,
            backend=device.backend,
        )
    except HeketiError as exc:
        out(f"Unable to add device: {exc}\n")
    else:
        out("OK\n")
