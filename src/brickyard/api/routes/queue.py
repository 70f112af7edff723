"""GET /queue/{id}: the read-once outcome of a background job."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..responses import empty, text_error
from ..routing import Routes
from ..state import api_state

router = Routes()

# How long a poll of a running job waits for it to end before answering X-Pending: short
# enough to stay invisible to clients, long enough to cover operations on the simulator.
POLL_HOLD_SECONDS = 0.05


@router.get("/queue/{queue_id:hex}")
async def poll(request: Request, queue_id: str) -> Response:
    queue = api_state(request).queue
    await queue.wait(queue_id, POLL_HOLD_SECONDS)
    entry = queue.take(queue_id)
    if entry is None:
        return text_error(404, "Id not found")
    if not entry.done:
        response = empty(200)
        response.headers["X-Pending"] = "true"
        return response
    if entry.error is not None:
        return text_error(500, entry.error)
    if entry.redirect is not None:
        return Response(
            content=f'<a href="{entry.redirect}">See Other</a>.\n\n',
            status_code=303,
            media_type="text/html; charset=utf-8",
            headers={"Location": entry.redirect},
        )
    return empty(204)
