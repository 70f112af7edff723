"""GET /internal/status (Brickyard extension): the summary the dashboard and `brickyard status`
show, as JSON. Behind the API's authentication like every other path (admin only: Heketi's
user key may only reach /volumes)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..responses import json_response
from ..routing import Routes
from ..state import api_state

router = Routes()


@router.get("/internal/status")
async def status(request: Request) -> Response:
    from ...services.overview import build_overview, overview_json  # loaded when first asked

    services = api_state(request).services
    return json_response(overview_json(build_overview(services.ctx, services.health.hosts)))
