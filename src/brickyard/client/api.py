"""Request description of every Heketi endpoint (contract §1.1) plus client-side topology.

Each function returns a :mod:`~brickyard.client.protocol` flow; :class:`Endpoints` exposes them
as methods of both clients through :class:`~brickyard.client.runner.operation`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict, Unpack
from urllib.parse import quote

from brickyard.client.errors import HeketiError
from brickyard.client.protocol import (
    Flow,
    JSONDict,
    Pause,
    call_async,
    call_sync,
    error_from,
    request,
)
from brickyard.client.runner import operation

__all__ = ["Endpoints", "build_volume_create"]


def _p(*parts: str) -> str:
    """A path whose id segments are percent-escaped."""
    head, *ids = parts
    return head + "".join("/" + quote(i, safe="") for i in ids)


def _state_body(state: str, healcheck: str) -> JSONDict:
    return {"state": state, "healcheck": healcheck}


def _tags_body(tags: Mapping[str, str], change_type: str) -> JSONDict:
    return {"tags": dict(tags), "change_type": change_type}


def build_volume_create(
    size: int,
    *,
    name: str = "",
    durability: str = "replicate",
    replica: int = 3,
    disperse_data: int = 4,
    redundancy: int = 2,
    snapshot_factor: float = 1.0,
    gid: int = 0,
    clusters: Sequence[str] = (),
    gluster_volume_options: Sequence[str] = (),
    block: bool = False,
) -> JSONDict:
    """The body heketi-cli sends for ``volume create`` (key order as Go marshals it)."""
    body: JSONDict = {"size": size}
    if clusters:
        body["clusters"] = list(clusters)
    body["name"] = name
    body["durability"] = {
        "type": durability,
        "replicate": {"replica": replica} if replica else {},
        "disperse": {k: v for k, v in (("data", disperse_data), ("redundancy", redundancy)) if v},
    }
    if gid:
        body["gid"] = gid
    if gluster_volume_options:
        body["glustervolumeoptions"] = list(gluster_volume_options)
    if block:
        body["block"] = True
    enabled = snapshot_factor > 1.0
    factor = float(snapshot_factor) if enabled else 0
    if isinstance(factor, float) and factor.is_integer():
        factor = int(factor)
    body["snapshot"] = {"enable": enabled, "factor": factor}
    return body


# --- generic helpers -------------------------------------------------------------------------


def _get_json(path: str) -> Flow[JSONDict]:
    reply = yield from call_sync("GET", path)
    return reply.json_object()


def _get_text(path: str) -> Flow[str]:
    reply = yield from call_sync("GET", path)
    return reply.text()


def _async_json(method: str, path: str, body: Any = None) -> Flow[JSONDict]:
    reply = yield from call_async(method, path, body, expect=200)
    return reply.json_object()


def _async_none(method: str, path: str, body: Any = None) -> Flow[None]:
    yield from call_async(method, path, body, expect=204)


# --- flows ---------------------------------------------------------------------------------


def hello() -> Flow[str]:
    return _get_text("/hello")


def metrics() -> Flow[str]:
    return _get_text("/metrics")


def cluster_create(block: bool = True, file: bool = True) -> Flow[JSONDict]:
    reply = yield from call_sync("POST", "/clusters", {"block": block, "file": file}, expect=201)
    return reply.json_object()


def cluster_set_flags(cluster_id: str, block: bool, file: bool) -> Flow[None]:
    body = {"block": block, "file": file}
    yield from call_sync("POST", _p("/clusters", cluster_id) + "/flags", body)


def cluster_info(cluster_id: str) -> Flow[JSONDict]:
    return _get_json(_p("/clusters", cluster_id))


def cluster_list() -> Flow[JSONDict]:
    return _get_json("/clusters")


def cluster_delete(cluster_id: str) -> Flow[None]:
    yield from call_sync("DELETE", _p("/clusters", cluster_id))


def node_add(
    cluster: str,
    zone: int,
    manage: Sequence[str],
    storage: Sequence[str],
    tags: Mapping[str, str] | None = None,
) -> Flow[JSONDict]:
    body: JSONDict = {
        "zone": zone,
        "hostnames": {"manage": list(manage), "storage": list(storage)},
        "cluster": cluster,
    }
    if tags:
        body["tags"] = dict(tags)
    return _async_json("POST", "/nodes", body)


def node_info(node_id: str) -> Flow[JSONDict]:
    return _get_json(_p("/nodes", node_id))


def node_delete(node_id: str) -> Flow[None]:
    return _async_none("DELETE", _p("/nodes", node_id))


def node_state(node_id: str, state: str, healcheck: str = "") -> Flow[None]:
    return _async_none("POST", _p("/nodes", node_id) + "/state", _state_body(state, healcheck))


def volume_heal(volume_id: str) -> Flow[JSONDict]:
    """Brickyard extension: ``GET /volumes/{id}/heal``, per brick whether it is up and how many
    entries wait to heal, and ``healthy``."""
    return _get_json(_p("/volumes", volume_id) + "/heal")


def _bricks_of(node: JSONDict) -> list[JSONDict]:
    return [b for d in node.get("devices") or [] for b in d.get("bricks") or []]


def node_evacuate(
    node_id: str,
    heal_check: bool = True,
    wait_heal: bool = False,
    heal_timeout: float = 3600.0,
    progress: Callable[[str], None] | None = None,
    counts: Callable[[str, int, int], None] | None = None,
) -> Flow[JSONDict]:
    """Brickyard: disable the node, remove it (every brick evicted to other nodes, dead node or
    not) and report progress as the bricks move; with `wait_heal`, then wait until every
    affected volume has all bricks up and nothing left to heal. Returns a summary.

    `progress` receives the lines to show; `counts` how far it got, as ("bricks moved",
    done, total) and then ("volumes healed", done, total)."""
    say = progress or (lambda _: None)
    count = counts or (lambda _what, _done, _total: None)
    node = yield from node_info(node_id)
    bricks = _bricks_of(node)
    volumes = sorted({str(b.get("volume")) for b in bricks})
    if node.get("state") == "online":
        yield from node_state(node_id, "offline")
        say(f"Node {node_id} is now offline")
    if node.get("state") != "failed":
        body = _state_body("failed", "" if heal_check else "disable")
        reply = yield from request("POST", _p("/nodes", node_id) + "/state", body)
        if reply.status != 202:
            raise error_from(reply)
        location = reply.header("location") or ""
        moved = -1
        count("bricks moved", 0, len(bricks))
        attempt = 0
        while True:
            if not (yield Pause("poll", min(attempt, 20))):
                raise HeketiError(f"timed out waiting for {location}", 0)
            attempt += 1
            reply = yield from request("GET", location)
            if (reply.header("x-pending") or "").lower() != "true":
                break
            left = len(_bricks_of((yield from node_info(node_id))))
            if len(bricks) - left != moved:
                moved = len(bricks) - left
                count("bricks moved", moved, len(bricks))
                say(f"Evacuating node {node_id}: {moved} of {len(bricks)} bricks moved")
        if reply.status != 204:
            raise error_from(reply)
    say(f"Node {node_id} evacuated: {len(bricks)} bricks moved to other nodes")
    healed = not wait_heal
    if wait_heal:
        healed = yield from _wait_heal(volumes, heal_timeout, say, count)
    return {"node": node_id, "bricks_moved": len(bricks), "volumes": volumes, "healed": healed}


def _wait_heal(
    volumes: list[str],
    timeout: float,
    say: Callable[[str], None],
    count: Callable[[str, int, int], None],
) -> Flow[bool]:
    started = time.monotonic()
    last = ""
    attempt = 0
    while True:
        waiting = []
        for volume_id in volumes:
            heal = yield from volume_heal(volume_id)
            if not heal.get("healthy"):
                entries = sum(b.get("entries") or 0 for b in heal.get("bricks") or [])
                down = sum(1 for b in heal.get("bricks") or [] if b.get("status") != "Connected")
                waiting.append(f"{volume_id}: {entries} entries, {down} bricks down")
        count("volumes healed", len(volumes) - len(waiting), len(volumes))
        if not waiting:
            say(f"Heal done: {len(volumes)} volumes with every brick up and nothing to heal")
            return True
        line = "Waiting for heal: " + "; ".join(waiting)
        if line != last:
            say(line)
            last = line
        if time.monotonic() - started > timeout:
            raise HeketiError(f"heal not finished after {timeout:.0f} s: " + "; ".join(waiting), 0)
        yield Pause("poll", min(attempt, 20))
        attempt += 1


def node_set_tags(node_id: str, tags: Mapping[str, str], change_type: str) -> Flow[JSONDict]:
    reply = yield from call_sync(
        "POST", _p("/nodes", node_id) + "/tags", _tags_body(tags, change_type)
    )
    return reply.json_object()


def device_add(
    node: str,
    name: str,
    destroy_data: bool = False,
    tags: Mapping[str, str] | None = None,
    backend: str = "",
) -> Flow[None]:
    body: JSONDict = {"name": name}
    if tags:
        body["tags"] = dict(tags)
    body["node"] = node
    if destroy_data:
        body["destroydata"] = True
    if backend:  # ours; Heketi's request has no such key, so it is sent only when chosen
        body["backend"] = backend
    return _async_none("POST", "/devices", body)


def device_info(device_id: str) -> Flow[JSONDict]:
    return _get_json(_p("/devices", device_id))


def device_delete(device_id: str, force_forget: bool = False) -> Flow[None]:
    return _async_none("DELETE", _p("/devices", device_id), {"forceforget": force_forget})


def device_state(device_id: str, state: str, healcheck: str = "") -> Flow[None]:
    body = _state_body(state, healcheck)
    return _async_none("POST", _p("/devices", device_id) + "/state", body)


def device_resync(device_id: str) -> Flow[None]:
    return _async_none("GET", _p("/devices", device_id) + "/resync")


def device_set_tags(device_id: str, tags: Mapping[str, str], change_type: str) -> Flow[JSONDict]:
    reply = yield from call_sync(
        "POST", _p("/devices", device_id) + "/tags", _tags_body(tags, change_type)
    )
    return reply.json_object()


def volume_create_body(body: Mapping[str, Any]) -> Flow[JSONDict]:
    return _async_json("POST", "/volumes", dict(body))


class VolumeOptions(TypedDict, total=False):
    """The optional arguments of a volume create (and of its dry run), as heketi-cli's flags."""

    name: str
    durability: str
    replica: int
    disperse_data: int
    redundancy: int
    snapshot_factor: float
    gid: int
    clusters: Sequence[str]
    gluster_volume_options: Sequence[str]
    block: bool


def volume_create(size: int, **options: Unpack[VolumeOptions]) -> Flow[JSONDict]:
    return volume_create_body(build_volume_create(size, **options))


#: Generic "no such route" answers: Heketi's router, and Brickyard servers without the extension.
_NO_ROUTE = ("", "404 page not found", "Invalid path or request")


def volume_plan_body(body: Mapping[str, Any]) -> Flow[JSONDict]:
    """``POST /volumes/plan`` (Brickyard extension, synchronous): where ``POST /volumes`` with
    this same body would put the bricks, and why; the server changes nothing.

    The answer has ``ok`` (and ``error`` when no placement was found), ``cluster``, the layout
    (``sets``, ``bricks_per_set``, ``brick_size`` in KiB, ``brick_sets``) and the reasons
    (``skipped``, ``skipped_counts``, ``attempts``, ``clusters``). Invalid requests raise
    :class:`HeketiError` like ``volume_create_body``; so does a server without the extension.
    """
    reply = yield from request("POST", "/volumes/plan", dict(body))
    if reply.status == 200:
        return reply.json_object()
    error = error_from(reply)
    if reply.status in (404, 405) and reply.text().strip() in _NO_ROUTE:
        raise HeketiError(
            f"the server does not support dry runs (POST /volumes/plan: {error.message})",
            reply.status,
        )
    raise error


def volume_plan(size: int, **options: Unpack[VolumeOptions]) -> Flow[JSONDict]:
    """The placement ``volume_create`` with the same arguments would get (nothing is created)."""
    return volume_plan_body(build_volume_create(size, **options))


def volume_list() -> Flow[JSONDict]:
    return _get_json("/volumes")


def volume_info(volume_id: str) -> Flow[JSONDict]:
    return _get_json(_p("/volumes", volume_id))


def volume_delete(volume_id: str) -> Flow[None]:
    return _async_none("DELETE", _p("/volumes", volume_id))


def volume_expand(volume_id: str, expand_size: int) -> Flow[JSONDict]:
    body = {"expand_size": expand_size}
    return _async_json("POST", _p("/volumes", volume_id) + "/expand", body)


def volume_clone(volume_id: str, name: str = "") -> Flow[JSONDict]:
    body = {"name": name} if name else {}
    return _async_json("POST", _p("/volumes", volume_id) + "/clone", body)


def volume_set_block_restriction(volume_id: str, restriction: str) -> Flow[JSONDict]:
    body = {"restriction": restriction}
    return _async_json("POST", _p("/volumes", volume_id) + "/block-restriction", body)


def blockvolume_create(
    size: int,
    *,
    name: str = "",
    clusters: Sequence[str] = (),
    hacount: int = 0,
    auth: bool = False,
) -> Flow[JSONDict]:
    body: JSONDict = {"size": size}
    if clusters:
        body["clusters"] = list(clusters)
    body["name"] = name
    if hacount:
        body["hacount"] = hacount
    if auth:
        body["auth"] = True
    return _async_json("POST", "/blockvolumes", body)


def blockvolume_list() -> Flow[JSONDict]:
    return _get_json("/blockvolumes")


def blockvolume_info(blockvolume_id: str) -> Flow[JSONDict]:
    return _get_json(_p("/blockvolumes", blockvolume_id))


def blockvolume_delete(blockvolume_id: str) -> Flow[None]:
    return _async_none("DELETE", _p("/blockvolumes", blockvolume_id))


def blockvolume_expand(blockvolume_id: str, new_size: int) -> Flow[JSONDict]:
    body = {"new_size": new_size}
    return _async_json("POST", _p("/blockvolumes", blockvolume_id) + "/expand", body)


def brick_evict(brick_id: str, healcheck: str | None = None) -> Flow[None]:
    body = None if healcheck is None else {"healcheck": healcheck}
    return _async_none("POST", _p("/bricks/to-evict", brick_id), body)


def db_dump() -> Flow[str]:
    return _get_text("/db/dump")


def db_check() -> Flow[str]:
    return _get_text("/db/check")


def backup_db() -> Flow[bytes]:
    reply = yield from call_sync("GET", "/backup/db")
    return reply.content


def log_level_get() -> Flow[JSONDict]:
    return _get_json("/internal/logging")


def log_level_set(level: str) -> Flow[JSONDict]:
    reply = yield from call_sync("POST", "/internal/logging", {"loglevel": {"glusterfs": level}})
    return reply.json_object()


def operations_info() -> Flow[JSONDict]:
    return _get_json("/operations")


def pending_operations() -> Flow[JSONDict]:
    return _get_json("/operations/pending")


def pending_operation(operation_id: str) -> Flow[JSONDict]:
    return _get_json(_p("/operations/pending", operation_id))


def pending_operations_cleanup(operation_ids: Sequence[str] = ()) -> Flow[None]:
    body: JSONDict = {"operations": list(operation_ids)} if operation_ids else {}
    return _async_none("POST", "/operations/pending/cleanup", body)


def admin_state_get() -> Flow[JSONDict]:
    return _get_json("/admin")


def admin_state_set(state: str) -> Flow[None]:
    yield from call_sync("POST", "/admin", {"state": state}, expect=204)


def examine_gluster() -> Flow[str]:
    return _get_text("/internal/state/examine/gluster")


def examine(fix: bool = False) -> Flow[JSONDict]:
    """Brickyard extension: the differences between the database and the nodes
    (``GET /internal/state/examine``), or with ``fix`` the same after repairing what is safe
    (``POST /internal/state/examine/fix``)."""
    if fix:
        reply = yield from request("POST", "/internal/state/examine/fix", {})
    else:
        reply = yield from request("GET", "/internal/state/examine")
    if reply.status == 200:
        return reply.json_object()
    raise error_from(reply)


def status() -> Flow[JSONDict]:
    """Brickyard extension: the summary the dashboard shows (``GET /internal/status``)."""
    return (yield from _get_json("/internal/status"))


def compose_topology() -> Flow[JSONDict]:
    """Topology built from the standard endpoints, as the Go client does (contract §4.4)."""
    listing = yield from cluster_list()
    clusters: list[JSONDict] = []
    for cluster_id in listing.get("clusters") or []:
        info = yield from cluster_info(cluster_id)
        volumes: list[JSONDict] = []
        for volume_id in info.get("volumes") or []:
            volume = yield from volume_info(volume_id)
            if volume.get("cluster") == info.get("id"):
                volumes.append(volume)
        nodes: list[JSONDict] = []
        for node_id in info.get("nodes") or []:
            nodes.append((yield from node_info(node_id)))
        clusters.append(
            {
                "volumes": volumes,
                "nodes": nodes,
                "id": info.get("id", cluster_id),
                "block": bool(info.get("block", False)),
                "file": bool(info.get("file", False)),
            }
        )
    return {"clusters": clusters}


def topology() -> Flow[JSONDict]:
    """``GET /topology`` (Brickyard extension); composed client-side when the server lacks it."""
    reply = yield from request("GET", "/topology")
    if reply.status == 200:
        return reply.json_object()
    if reply.status in (404, 405):
        return (yield from compose_topology())
    raise error_from(reply)


class Endpoints:
    """Every endpoint as a method; mixed into :class:`HeketiClient` and the async client."""

    hello = operation(hello)
    metrics = operation(metrics)
    cluster_create = operation(cluster_create)
    cluster_set_flags = operation(cluster_set_flags)
    cluster_info = operation(cluster_info)
    cluster_list = operation(cluster_list)
    cluster_delete = operation(cluster_delete)
    node_add = operation(node_add)
    node_info = operation(node_info)
    node_delete = operation(node_delete)
    node_state = operation(node_state)
    node_set_tags = operation(node_set_tags)
    device_add = operation(device_add)
    device_info = operation(device_info)
    device_delete = operation(device_delete)
    device_state = operation(device_state)
    device_resync = operation(device_resync)
    device_set_tags = operation(device_set_tags)
    volume_create = operation(volume_create)
    volume_create_body = operation(volume_create_body)
    volume_plan = operation(volume_plan)
    volume_plan_body = operation(volume_plan_body)
    volume_list = operation(volume_list)
    volume_info = operation(volume_info)
    volume_delete = operation(volume_delete)
    volume_expand = operation(volume_expand)
    volume_clone = operation(volume_clone)
    volume_set_block_restriction = operation(volume_set_block_restriction)
    blockvolume_create = operation(blockvolume_create)
    blockvolume_list = operation(blockvolume_list)
    blockvolume_info = operation(blockvolume_info)
    blockvolume_delete = operation(blockvolume_delete)
    blockvolume_expand = operation(blockvolume_expand)
    brick_evict = operation(brick_evict)
    db_dump = operation(db_dump)
    db_check = operation(db_check)
    backup_db = operation(backup_db)
    log_level_get = operation(log_level_get)
    log_level_set = operation(log_level_set)
    operations_info = operation(operations_info)
    pending_operations = operation(pending_operations)
    pending_operation = operation(pending_operation)
    pending_operations_cleanup = operation(pending_operations_cleanup)
    admin_state_get = operation(admin_state_get)
    admin_state_set = operation(admin_state_set)
    examine_gluster = operation(examine_gluster)
    examine = operation(examine)
    status = operation(status)
    volume_heal = operation(volume_heal)
    node_evacuate = operation(node_evacuate)
    topology = operation(topology)
    compose_topology = operation(compose_topology)
