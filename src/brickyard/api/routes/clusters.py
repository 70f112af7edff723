"""Cluster endpoints (synchronous)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from .. import requests as parse
from ..responses import JSON, empty, json_response
from ..routing import Routes
from ..state import api_state, read_body
from ..views import cluster_view_json

router = Routes()


@router.post("/clusters")
async def create_cluster(request: Request) -> Response:
    block, file = parse.cluster_flags(await read_body(request))
    view = api_state(request).services.clusters.create(block=block, file=file)
    return json_response(cluster_view_json(view), status=201)


@router.post("/clusters/{cluster_id:hex}/flags")
async def set_cluster_flags(request: Request, cluster_id: str) -> Response:
    block, file = parse.cluster_flags(await read_body(request))
    api_state(request).services.clusters.set_flags(cluster_id, block=block, file=file)
    return empty(200, JSON)


@router.get("/clusters/{cluster_id:hex}")
async def cluster_info(request: Request, cluster_id: str) -> Response:
    return json_response(cluster_view_json(api_state(request).services.clusters.info(cluster_id)))


@router.get("/clusters")
async def list_clusters(request: Request) -> Response:
    return json_response({"clusters": api_state(request).services.clusters.list_ids()})


@router.delete("/clusters/{cluster_id:hex}")
async def delete_cluster(request: Request, cluster_id: str) -> Response:
    api_state(request).services.clusters.delete(cluster_id)
    return empty(200)
