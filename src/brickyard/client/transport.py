"""The two thin transports: :class:`HeketiClient` (sync) and :class:`AsyncHeketiClient`.

Both only execute the steps of the flows defined in :mod:`brickyard.client.api`: they build the
HTTP request (URL, a fresh JWT, body), send it with httpx and sleep when told to.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import unquote_to_bytes

import httpx

import brickyard
from brickyard.client.api import Endpoints
from brickyard.client.auth import authorization_header
from brickyard.client.errors import HeketiError
from brickyard.client.protocol import Backoff, Flow, HttpCall, Pause, Reply
from brickyard.client.runner import AsyncRunner, SyncRunner

__all__ = ["DEFAULT_SERVER", "AsyncHeketiClient", "HeketiClient"]

T = TypeVar("T")

DEFAULT_SERVER = "http://localhost:8080"
Verify = bool | str | ssl.SSLContext


def tls_context(verify: Verify = True, ca_files: Sequence[str] = ()) -> bool | ssl.SSLContext:
    """httpx's ``verify`` for the TLS options of heketi-cli (``-I``, ``--tls-cert``)."""
    if isinstance(verify, ssl.SSLContext):
        context = verify
    elif verify is False:
        return False
    elif verify is True and not ca_files:
        return True  # httpx builds the default context (only when it needs one)
    else:
        context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    for path in ca_files:
        try:
            context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise HeketiError(f"unable to load certificate file {path}: {exc}") from exc
    return context


class _Connection:
    """What both clients share: where the server is, who we are, how to build requests."""

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        user: str = "",
        key: str = "",
        *,
        backoff: Backoff | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.user = user
        self.key = key
        self.backoff = backoff or Backoff()
        self.notify = notify

    def url_for(self, target: str) -> str:
        """An absolute URL as is; a path (the API's or a ``Location``) after the base URL."""
        if target.startswith(("http://", "https://")):
            return target
        return self.server + ("" if target.startswith("/") else "/") + target

    def prepare(self, call: HttpCall) -> tuple[str, dict[str, str]]:
        url = self.url_for(call.target)
        headers = {"User-Agent": f"brickyard/{brickyard.__version__}"}
        if self.user or self.key:
            # the qsh is over the path the server decodes from what is sent, byte for byte
            path = unquote_to_bytes(httpx.URL(url).raw_path.partition(b"?")[0])
            headers["Authorization"] = authorization_header(self.user, self.key, call.method, path)
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        return url, headers

    def delay(self, pause: Pause) -> float | None:
        """How long to wait for ``pause`` (None: give up); a retry is announced first."""
        seconds = self.backoff.delay(pause)
        if seconds is not None and pause.kind == "retry" and self.notify is not None:
            self.notify(self.backoff.notice(pause, seconds))
        return seconds


def _reply(response: httpx.Response) -> Reply:
    headers = {k.lower(): v for k, v in response.headers.items()}
    return Reply(response.status_code, headers, response.content)


def _transport_error(call: HttpCall, url: str, exc: Exception) -> HeketiError:
    return HeketiError(f'{call.method.capitalize()} "{url}": {exc}')


class HeketiClient(Endpoints, SyncRunner):
    """Synchronous Heketi client.

    ``verify=False`` skips TLS verification; ``ca_files`` adds PEM files to the trusted CAs.
    ``backoff`` sets the timing of polls and of retries on ``429``; ``notify`` receives a line
    (``server busy (429), retrying in 14 s (...)``) before each such wait.
    ``transport`` (an httpx transport) and ``sleep`` are for embedding and tests.
    """

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        user: str = "",
        key: str = "",
        *,
        verify: Verify = True,
        ca_files: Sequence[str] = (),
        timeout: float | None = 60.0,
        backoff: Backoff | None = None,
        notify: Callable[[str], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.connection = _Connection(server, user, key, backoff=backoff, notify=notify)
        self._sleep = sleep
        self._http = httpx.Client(
            verify=tls_context(verify, ca_files),
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def run(self, flow: Flow[T]) -> T:
        answer: Any = None
        try:
            while True:
                step = flow.send(answer)
                if isinstance(step, Pause):
                    delay = self.connection.delay(step)
                    if delay is not None:
                        self._sleep(delay)
                    answer = delay is not None
                else:
                    answer = self._execute(step)
        except StopIteration as stop:
            result: T = stop.value
            return result
        finally:
            flow.close()

    def _execute(self, call: HttpCall) -> Reply:
        url, headers = self.connection.prepare(call)
        try:
            response = self._http.request(call.method, url, headers=headers, content=call.body)
        except httpx.HTTPError as exc:
            raise _transport_error(call, url, exc) from exc
        return _reply(response)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncHeketiClient(Endpoints, AsyncRunner):
    """Asynchronous Heketi client (same methods as :class:`HeketiClient`, awaitable)."""

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        user: str = "",
        key: str = "",
        *,
        verify: Verify = True,
        ca_files: Sequence[str] = (),
        timeout: float | None = 60.0,
        backoff: Backoff | None = None,
        notify: Callable[[str], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.connection = _Connection(server, user, key, backoff=backoff, notify=notify)
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            verify=tls_context(verify, ca_files),
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    async def run(self, flow: Flow[T]) -> T:
        answer: Any = None
        try:
            while True:
                step = flow.send(answer)
                if isinstance(step, Pause):
                    delay = self.connection.delay(step)
                    if delay is not None:
                        await self._sleep(delay)
                    answer = delay is not None
                else:
                    answer = await self._execute(step)
        except StopIteration as stop:
            result: T = stop.value
            return result
        finally:
            flow.close()

    async def _execute(self, call: HttpCall) -> Reply:
        url, headers = self.connection.prepare(call)
        try:
            response = await self._http.request(
                call.method, url, headers=headers, content=call.body
            )
        except httpx.HTTPError as exc:
            raise _transport_error(call, url, exc) from exc
        return _reply(response)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
