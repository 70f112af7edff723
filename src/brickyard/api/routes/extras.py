"""Our extension (GET /topology) and the endpoints of features this version does not offer
yet, which answer a clear error instead of pretending."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from ...domain.errors import BrickyardError, InvalidRequest, NotFound, OperationFailed
from ...domain.model import Brick, Cluster, Device, Node, Volume
from ...nodes.port import NodeAddress
from ...services.examine import Examiner
from ...services.jobs import Job
from .. import requests as parse
from ..responses import json_response, text_error
from ..state import api_state, read_body
from ..views import device_json, node_json, volume_json

router = APIRouter()

BLOCK_UNSUPPORTED = "Block volumes are not supported by this server yet"


@router.get("/topology")
async def topology(request: Request) -> Response:
    """The whole topology in one call, shaped like `heketi-cli topology info --json`."""
    with api_state(request).services.ctx.store.read() as tx:
        clusters = tx.all(Cluster)
        nodes = tx.all(Node)
        devices = tx.all(Device)
        volumes = [v for v in tx.all(Volume) if v.visible]
        bricks = tx.all(Brick)
    bricks_by_device: dict[str, list[Brick]] = {}
    bricks_by_volume: dict[str, list[Brick]] = {}
    for b in bricks:
        bricks_by_device.setdefault(b.device_id, []).append(b)
        bricks_by_volume.setdefault(b.volume_id, []).append(b)
    devices_by_node: dict[str, list[Device]] = {}
    for d in devices:
        devices_by_node.setdefault(d.node_id, []).append(d)
    result: list[dict[str, Any]] = []
    for c in clusters:
        members = [n for n in nodes if n.cluster_id == c.id]
        hosts = [n.storage_host for n in members]
        result.append(
            {
                "volumes": [
                    volume_json(v, bricks_by_volume.get(v.id, []), hosts)
                    for v in volumes
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
    return json_response({"clusters": result})


@router.get("/blockvolumes")
async def list_block_volumes(request: Request) -> Response:
    return json_response({"blockvolumes": []})


@router.get("/blockvolumes/{bv_id:hex}")
async def block_volume_info(request: Request, bv_id: str) -> Response:
    raise NotFound()


BLOCK_VOLUME_SPEC = {"size": int, "clusters": [str], "name": str, "hacount": int, "auth": bool}


@router.post("/blockvolumes")
async def create_block_volume(request: Request) -> Response:
    data = parse.raw(await read_body(request), BLOCK_VOLUME_SPEC)
    if data["size"] == 0:
        raise InvalidRequest("validation failed: size: cannot be blank.")
    if data["size"] < 1:
        raise InvalidRequest("validation failed: size: must be no less than 1.")
    return text_error(500, f"Failed to allocate new block volume: {BLOCK_UNSUPPORTED}")


@router.delete("/blockvolumes/{bv_id:hex}")
async def delete_block_volume(request: Request, bv_id: str) -> Response:
    raise NotFound()


@router.post("/blockvolumes/{bv_id:hex}/expand")
async def expand_block_volume(request: Request, bv_id: str) -> Response:
    raise NotFound()


@router.post("/bricks/to-evict/{brick_id:hex}")
async def evict_brick(request: Request, brick_id: str) -> Response:
    body = await read_body(request)
    heal_check = True
    if body:
        heal_check = parse.raw(body, {"healcheck": str}).get("healcheck") != "disable"
    api = api_state(request)
    eviction = api.services.eviction
    with api.services.ctx.store.read() as tx:
        if tx.get(Brick, brick_id) is None:
            raise NotFound()

    def build() -> Job:
        try:
            op_id, old, new = eviction.plan(brick_id)
        except OperationFailed as exc:
            raise OperationFailed(f"Failed to set up brick eviction: {exc.message}") from exc

        async def run() -> str | None:
            await eviction.execute(op_id, old, new, heal_check)
            return None

        return Job(run, throttled=True, description=f"evict brick {brick_id}", operation_id=op_id)

    return await api.start(build, throttled=True)


@router.get("/volumes/{volume_id:hex}/heal")
async def volume_heal(request: Request, volume_id: str) -> Response:
    """Brickyard extension: per brick, whether it is up and how many entries wait to heal."""
    statuses = await api_state(request).services.volumes.heal(volume_id)
    return json_response(
        {
            "volume": volume_id,
            "bricks": [
                {"brick": s.brick, "status": s.status, "entries": s.entries} for s in statuses
            ],
            "healthy": bool(statuses) and all(s.healthy for s in statuses),
        }
    )


@router.get("/internal/state/examine")
async def examine(request: Request) -> Response:
    """Every difference between the database and the nodes (Brickyard extension)."""
    report = await Examiner(api_state(request).services.ctx).examine()
    return json_response(report.as_json(), indent=True)


@router.post("/internal/state/examine/fix")
async def examine_fix(request: Request) -> Response:
    """Examine, repair what is safe, report what was done and what needs a human."""
    report = await Examiner(api_state(request).services.ctx).examine(fix=True)
    return json_response(report.as_json(), indent=True)


@router.get("/internal/state/examine/gluster")
async def examine_gluster(request: Request) -> Response:
    """Compare every volume the database knows with what gluster reports."""
    ctx = api_state(request).services.ctx
    with ctx.store.read() as tx:
        volumes = tx.all(Volume)
        nodes = {n.cluster_id: n for n in tx.all(Node)}
    report: list[dict[str, Any]] = []
    for v in volumes:
        node = nodes.get(v.cluster_id)
        entry: dict[str, Any] = {"id": v.id, "name": v.name, "cluster": v.cluster_id}
        if node is None:
            entry["gluster"] = "no node to ask"
        else:
            try:
                info = await ctx.agent.volume_info(
                    NodeAddress(node.manage_host, node.storage_host), v.name
                )
                entry["gluster"] = (
                    "missing"
                    if info is None
                    else {"status": info.status, "bricks": [str(b) for b in info.bricks]}
                )
            except BrickyardError as exc:
                entry["gluster"] = f"error: {exc}"
        report.append(entry)
    return json_response({"volumes": report}, indent=True)
