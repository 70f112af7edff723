"""Device endpoints."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import requests as parse
from ..responses import json_response
from ..routing import Routes
from ..state import api_state, read_body
from ..views import device_view_json

router = Routes()


@router.post("/devices")
async def add_device(request: Request) -> Response:
    add = parse.device_add(await read_body(request))
    api = api_state(request)
    return await api.start(lambda: api.services.devices.begin_add(add))


@router.get("/devices/{device_id:hex}")
async def device_info(request: Request, device_id: str) -> Response:
    return json_response(device_view_json(api_state(request).services.devices.info(device_id)))


@router.delete("/devices/{device_id:hex}")
async def delete_device(request: Request, device_id: str) -> Response:
    force = parse.device_delete(await read_body(request))
    api = api_state(request)
    return await api.start(lambda: api.services.devices.begin_delete(device_id, force))


@router.post("/devices/{device_id:hex}/state")
async def device_state(request: Request, device_id: str) -> Response:
    state, heal_check = parse.state_change(await read_body(request))
    api = api_state(request)
    job = api.services.devices.begin_set_state(device_id, state, heal_check)
    return await api.start(lambda: job, throttled=job.throttled)


@router.get("/devices/{device_id:hex}/resync")
async def resync_device(request: Request, device_id: str) -> Response:
    api = api_state(request)
    return await api.start(lambda: api.services.devices.begin_resync(device_id), html=True)


@router.post("/devices/{device_id:hex}/tags")
async def device_tags(request: Request, device_id: str) -> Response:
    tags, change = parse.tag_change(await read_body(request))
    return json_response(api_state(request).services.devices.set_tags(device_id, tags, change))
