"""Sans-I/O description of Heketi requests and of its asynchronous protocol (contract §2).

Every API operation is a *flow*: a generator that yields :class:`HttpCall` (send this request,
resume me with the :class:`Reply`) and :class:`Pause` (wait, resume me with ``True``, or with
``False`` when the policy says to give up) and finally returns the decoded result. The flows
hold all the logic (status checks, 429 retries, polling, following ``303``, error messages);
the sync and async clients only execute the steps, so both behave identically.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, TypeVar

from brickyard.client.errors import HeketiError, status_text

__all__ = [
    "Backoff",
    "Flow",
    "HttpCall",
    "JSONDict",
    "Pause",
    "Reply",
    "Step",
    "call_async",
    "call_sync",
    "error_from",
    "go_json",
    "request",
]

T = TypeVar("T")
JSONDict: TypeAlias = dict[str, Any]

#: How many bytes of an error body are used for the message (as the Go client).
ERROR_BODY_LIMIT = 4096


@dataclass(frozen=True)
class HttpCall:
    """Send one request. ``target`` is a path ("/volumes") or an absolute URL."""

    method: str
    target: str
    body: bytes | None = None


@dataclass(frozen=True)
class Pause:
    """Wait before the next poll (``kind="poll"``) or retry after a 429 (``kind="retry"``)."""

    kind: Literal["poll", "retry"]
    attempt: int
    retry_after: float | None = None
    elapsed: float = 0.0


Step: TypeAlias = HttpCall | Pause
Flow: TypeAlias = Generator[Step, Any, T]


@dataclass(frozen=True)
class Reply:
    """A response as the flows see it (header names lower-case)."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.content)

    def json_object(self) -> JSONDict:
        try:
            data = self.json()
        except ValueError as exc:
            raise HeketiError(f"unable to decode server response: {exc}", self.status) from exc
        if not isinstance(data, dict):
            raise HeketiError("unable to decode server response: not a JSON object", self.status)
        return data

    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Backoff:
    """Timing policy of the client.

    Polls of ``/queue/<id>`` wait ``poll_initial`` seconds before the first poll, then grow by
    ``poll_factor`` up to ``poll_max`` (Heketi's own client waits a fixed 400 ms);
    ``poll_timeout`` bounds the total wait (``None``: wait for ever, as Heketi's client does).
    A ``429`` on the initial request is retried up to ``retry_attempts`` times, after the
    integer ``Retry-After`` seconds when the server sends one, otherwise after a short
    exponential back-off (``retry_initial`` × ``retry_factor``^n, at most ``retry_max``).
    """

    poll_initial: float = 0.002
    poll_factor: float = 1.5
    poll_max: float = 0.5
    poll_timeout: float | None = None
    retry_attempts: int = 6
    retry_initial: float = 0.1
    retry_factor: float = 2.0
    retry_max: float = 5.0

    def poll_delay(self, attempt: int) -> float:
        return float(min(self.poll_max, self.poll_initial * self.poll_factor**attempt))

    def retry_delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return float(min(self.retry_max, self.retry_initial * self.retry_factor**attempt))

    def delay(self, pause: Pause) -> float | None:
        """Seconds to wait for ``pause``, or ``None`` to give up."""
        if pause.kind == "poll":
            if self.poll_timeout is not None and pause.elapsed >= self.poll_timeout:
                return None
            return self.poll_delay(pause.attempt)
        if pause.attempt >= self.retry_attempts:
            return None
        return self.retry_delay(pause.attempt, pause.retry_after)


def go_json(value: Any) -> str:
    """Compact JSON as Go's ``json.Marshal`` writes it (HTML characters escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def encode(body: Any) -> bytes | None:
    return None if body is None else go_json(body).encode()


def error_from(reply: Reply) -> HeketiError:
    """The error for an unexpected response (Go ``utils.GetErrorFromResponse``)."""
    message = reply.content[:ERROR_BODY_LIMIT].decode("utf-8", errors="replace").strip()
    if not message:
        message = (
            f"server did not provide a message (status {reply.status}: {status_text(reply.status)})"
        )
    return HeketiError(message, reply.status)


def _send(call: HttpCall) -> Flow[Reply]:
    reply = yield call
    if not isinstance(reply, Reply):  # pragma: no cover - a runner bug
        raise TypeError(f"runner answered {call!r} with {reply!r}")
    return reply


def _pause(pause: Pause) -> Flow[bool]:
    go_on = yield pause
    return bool(go_on)


def _retry_after(reply: Reply) -> float | None:
    value = (reply.header("retry-after") or "").strip()
    return float(value) if value.isdigit() else None


def request(method: str, target: str, body: Any = None) -> Flow[Reply]:
    """Send a request, retrying it while the server answers ``429``; return the last reply."""
    payload = encode(body)
    attempt = 0
    while True:
        reply = yield from _send(HttpCall(method, target, payload))
        if reply.status != 429:
            return reply
        pause = Pause("retry", attempt, retry_after=_retry_after(reply))
        if not (yield from _pause(pause)):
            return reply
        attempt += 1


def call_sync(method: str, target: str, body: Any = None, *, expect: int = 200) -> Flow[Reply]:
    """A synchronous endpoint: the reply must have status ``expect``."""
    reply = yield from request(method, target, body)
    if reply.status != expect:
        raise error_from(reply)
    return reply


def call_async(method: str, target: str, body: Any = None, *, expect: int = 200) -> Flow[Reply]:
    """An asynchronous endpoint: ``202`` + ``Location``, poll the queue, follow the ``303``.

    ``expect`` is the final status: ``200`` for operations that end in a resource (the ``303``
    is followed by a new authenticated GET), ``204`` for the others.
    """
    reply = yield from request(method, target, body)
    if reply.status != 202:
        raise error_from(reply)
    location = reply.header("location")
    if not location:
        raise HeketiError("server did not provide a Location header", reply.status)
    started = time.monotonic()
    attempt = 0
    while True:
        pause = Pause("poll", attempt, elapsed=time.monotonic() - started)
        if not (yield from _pause(pause)):
            raise HeketiError(f"timed out waiting for {location}", 0)
        attempt += 1
        reply = yield from _send(HttpCall("GET", location))
        if (reply.header("x-pending") or "").lower() == "true":
            if reply.status != 200:
                raise error_from(reply)
            continue
        if reply.status == 303:
            redirect = reply.header("location")
            if not redirect:
                raise HeketiError("server did not provide a Location header", reply.status)
            reply = yield from _send(HttpCall("GET", redirect))
        if reply.status != expect:
            raise error_from(reply)
        return reply
