"""Volume endpoints. Planning failures answer synchronously with Heketi's prefixes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...domain.errors import OperationFailed
from ...domain.model import Volume
from .. import requests as parse
from ..responses import json_response
from ..routing import Routes
from ..state import api_state, read_body
from ..views import volume_view_json

router = Routes()


@router.post("/volumes")
async def create_volume(request: Request) -> Response:
    create = parse.volume_create(await read_body(request))
    api = api_state(request)
    volumes = api.services.volumes
    volumes.check_create(create)
    return await api.start(lambda: volumes.begin_create(create), throttled=True)


@router.post("/volumes/plan")
async def plan_volume(request: Request) -> Response:
    """Our extension: the placement a create with this body would make, with the reasons for
    every choice and every skipped device. Changes nothing."""
    create = parse.volume_create(await read_body(request))
    volumes = api_state(request).services.volumes
    volumes.check_create(create)
    return json_response(volumes.plan(create).body)


@router.get("/volumes")
async def list_volumes(request: Request) -> Response:
    return json_response({"volumes": api_state(request).services.volumes.list_ids()})


@router.get("/volumes/{volume_id:hex}")
async def volume_info(request: Request, volume_id: str) -> Response:
    return json_response(volume_view_json(api_state(request).services.volumes.info(volume_id)))


@router.delete("/volumes/{volume_id:hex}")
async def delete_volume(request: Request, volume_id: str) -> Response:
    api = api_state(request)
    api.services.volumes.check_delete(volume_id)
    return await api.start(lambda: api.services.volumes.begin_delete(volume_id), throttled=True)


@router.post("/volumes/{volume_id:hex}/expand")
async def expand_volume(request: Request, volume_id: str) -> Response:
    size = parse.volume_expand(await read_body(request))
    api = api_state(request)
    api.services.volumes.check_exists(volume_id)
    return await api.start(
        lambda: api.services.volumes.begin_expand(volume_id, size), throttled=True
    )


@router.post("/volumes/{volume_id:hex}/clone")
async def clone_volume(request: Request, volume_id: str) -> Response:
    name = parse.volume_clone(await read_body(request))
    api = api_state(request)
    api.services.volumes.check_exists(volume_id)
    return await api.start(
        lambda: api.services.volumes.begin_clone(volume_id, name), throttled=True
    )


@router.post("/volumes/{volume_id:hex}/block-restriction")
async def block_restriction(request: Request, volume_id: str) -> Response:
    parse.block_restriction(await read_body(request))
    volume: Volume = api_state(request).services.volumes.check_exists(volume_id)
    if not volume.block:
        raise OperationFailed(
            "Failed to set block restriction: Block restrictions can only be set on block "
            "hosting volumes"
        )
    raise OperationFailed("Failed to set block restriction: block volumes are not supported yet")
