"""Node endpoints: add and delete and state changes run through the queue."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...domain.model import Brick
from .. import requests as parse
from ..responses import json_response
from ..routing import Routes
from ..state import api_state, read_body
from ..views import node_view_json

router = Routes()


@router.post("/nodes")
async def add_node(request: Request) -> Response:
    add = parse.node_add(await read_body(request))
    api = api_state(request)
    return await api.start(lambda: api.services.nodes.begin_add(add))


@router.get("/nodes/{node_id:hex}")
async def node_info(request: Request, node_id: str) -> Response:
    api = api_state(request)
    view = api.services.nodes.info(node_id)
    bricks: dict[str, list[Brick]] = {
        d.id: api.services.devices.info(d.id).bricks for d in view.devices
    }
    return json_response(node_view_json(view, bricks))


@router.delete("/nodes/{node_id:hex}")
async def delete_node(request: Request, node_id: str) -> Response:
    api = api_state(request)
    return await api.start(lambda: api.services.nodes.begin_delete(node_id))


@router.post("/nodes/{node_id:hex}/state")
async def node_state(request: Request, node_id: str) -> Response:
    state, heal_check = parse.state_change(await read_body(request))
    api = api_state(request)
    job = api.services.nodes.begin_set_state(node_id, state, heal_check)
    return await api.start(lambda: job, throttled=job.throttled)


@router.post("/nodes/{node_id:hex}/tags")
async def node_tags(request: Request, node_id: str) -> Response:
    tags, change = parse.tag_change(await read_body(request))
    return json_response(api_state(request).services.nodes.set_tags(node_id, tags, change))
