"""The dashboard in a real browser: a server on the simulator listening on a loopback port
(uvicorn in a thread, its own event loop), and headless Chromium from Debian's package driven
by Playwright (its own browser download is not used: `make test` installs `chromium`).

Tests change the simulated nodes and call the server's services on its loop through
`LiveServer.run`, and read the page as a person would. Screenshots go to test-artifacts/
(ignored by git)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from brickyard.bootstrap import Server, build_server
from brickyard.client.auth import authorization_header
from brickyard.config import load_settings
from brickyard.nodes.sim import SimNodeAgent, SimWorld
from integration.conftest import Harness

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ADMIN_KEY = "dashboard admin key"
USER_KEY = "dashboard user key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A Brickyard server on the simulator, serving HTTP on 127.0.0.1 from a thread."""

    def __init__(self, db_dir: Path, auth: bool, device_size_gb: int = 500) -> None:
        import uvicorn

        self.world = SimWorld(device_size_gb=device_size_gb)
        env = {"HEKETI_EXECUTOR": "mock", "HEKETI_DB_PATH": str(db_dir / "heketi.db")}
        if auth:
            env.update(HEKETI_ADMIN_KEY=ADMIN_KEY, HEKETI_USER_KEY=USER_KEY)
        self.settings, _ = load_settings(None, env=env)
        self.auth = auth
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        started: Future[Server] = Future()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                server = build_server(
                    self.settings, disable_auth=not auth, agent=SimNodeAgent(self.world)
                )
            except BaseException as exc:
                started.set_exception(exc)
                raise
            config = uvicorn.Config(
                server.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )
            self.uvicorn = uvicorn.Server(config)
            started.set_result(server)
            try:
                self.loop.run_until_complete(self.uvicorn.serve())
            finally:
                server.close()

        self.thread = threading.Thread(target=serve, name="dashboard-server", daemon=True)
        self.thread.start()
        self.server = started.result(timeout=30)
        self.harness = self.run(self._harness)
        for _ in range(200):  # until uvicorn listens
            try:
                httpx.get(self.url + "/hello", timeout=1)
                break
            except httpx.TransportError:
                threading.Event().wait(0.05)

    async def _harness(self) -> Harness:
        """The integration tests' client, on the server's own loop (ASGI, no socket)."""

        def sign(request: httpx.Request) -> httpx.Request:
            if self.auth:
                request.headers["Authorization"] = authorization_header(
                    "admin", ADMIN_KEY, request.method, request.url.path
                )
            return request

        transport = httpx.ASGITransport(app=self.server.app, raise_app_exceptions=False)
        client = httpx.AsyncClient(
            transport=transport, base_url="http://test", timeout=30.0, auth=sign
        )
        return Harness(self.server, self.world, client)

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run a coroutine on the server's loop and wait for its result."""

        async def call() -> T:
            return await work()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout=120)

    def stop(self) -> None:
        self.run(self.harness.queue.drain)
        self.server.services.ctx.heals.cancel()
        self.run(self.harness.client.aclose)
        self.uvicorn.should_exit = True
        self.thread.join(timeout=30)


def _chromium_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium; make test does it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _chromium_missing()
    if missing:
        if os.environ.get("CI") == "true":  # make test installs both: CI must not skip
            pytest.fail(missing)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path, auth=False)
    yield server
    server.stop()


@pytest.fixture
def live_auth(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path, auth=True)
    yield server
    server.stop()
