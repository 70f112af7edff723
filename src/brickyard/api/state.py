"""Per-application state shared by the middleware and the routers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from ..services.jobs import Job
from ..services.queue import OperationQueue
from ..services.registry import Services
from ..services.servers import ServerRegistry
from .auth import JwtKeys
from .decode import DecodeError
from .responses import accepted

ADMIN_STATES = ("normal", "read-only", "local-client")
LOG_LEVELS = ("none", "critical", "error", "warning", "info", "debug")


@dataclass
class ApiState:
    services: Services
    keys: JwtKeys | None  # None: started with --disable-auth
    admin_state: str = "normal"
    log_level: str = "info"
    max_body: int = 1024 * 1024
    registry: ServerRegistry | None = None  # the servers of the database (GET /servers)

    async def start(
        self, build: Callable[[], Job | Awaitable[Job]], throttled: bool = False, html: bool = False
    ) -> Response:
        """Reserve a slot (429 when full), plan the job, queue it and answer 202."""
        return accepted(await self.queue.start(build, throttled), html_body=html)

    @property
    def queue(self) -> OperationQueue:
        return self.services.queue


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


async def read_body(request: Request) -> bytes:
    """The whole body, refusing (as a decode failure) anything beyond the configured size."""
    limit = api_state(request).max_body
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise DecodeError(f"request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
