"""Our extension (GET /topology) and the endpoints of features this version does not offer
yet, which answer a clear error instead of pretending."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...domain.errors import InvalidRequest
from ...services.examine import Examiner
from .. import requests as parse
from ..responses import json_response, text_error
from ..routing import Routes
from ..state import api_state, read_body
from ..views import topology_json

router = Routes()

BLOCK_UNSUPPORTED = "Block volumes are not supported by this server yet"
BLOCK_KEPT = (
    "Block volume {} was imported from Heketi and is kept as it was: this server does not "
    "manage gluster-block volumes"
)


@router.get("/topology")
async def topology(request: Request) -> Response:
    """The whole topology in one call, shaped like `heketi-cli topology info --json`."""
    return json_response(topology_json(api_state(request).services.topology.snapshot()))


@router.get("/blockvolumes")
async def list_block_volumes(request: Request) -> Response:
    """The block volumes kept from a Heketi import (Heketi's listing: ids, none pending)."""
    kept = api_state(request).services.block_volumes.list()
    return json_response({"blockvolumes": [b.id for b in kept]})


@router.get("/blockvolumes/{bv_id:hex}")
async def block_volume_info(request: Request, bv_id: str) -> Response:
    """What Heketi recorded for a kept block volume, as Heketi answered it."""
    kept = api_state(request).services.block_volumes.get(bv_id)
    info = dict(kept.info)
    info.setdefault("usablesize", kept.size)  # Heketi: falls back to the size
    return json_response(info)


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
    api_state(request).services.block_volumes.get(bv_id)
    return text_error(500, BLOCK_KEPT.format(bv_id))


@router.post("/blockvolumes/{bv_id:hex}/expand")
async def expand_block_volume(request: Request, bv_id: str) -> Response:
    api_state(request).services.block_volumes.get(bv_id)
    return text_error(500, BLOCK_KEPT.format(bv_id))


@router.post("/bricks/to-evict/{brick_id:hex}")
async def evict_brick(request: Request, brick_id: str) -> Response:
    body = await read_body(request)
    heal_check = True
    if body:
        heal_check = parse.raw(body, {"healcheck": str}).get("healcheck") != "disable"
    api = api_state(request)
    evictions = api.services.evictions
    evictions.check_exists(brick_id)
    return await api.start(lambda: evictions.begin_evict(brick_id, heal_check), throttled=True)


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
    report = await api_state(request).services.topology.gluster_report()
    return json_response({"volumes": report}, indent=True)
