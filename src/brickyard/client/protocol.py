"""Sans-I/O description of Heketi requests and of its asynchronous protocol (contract §2).

Every API operation is a *flow*: a generator that yields :class:`HttpCall` (send this request,
resume me with the :class:`Reply`) and :class:`Pause` (wait, resume me with ``True``, or with
``False`` when the policy says to give up) and finally returns the decoded result. The flows
hold all the logic (status checks, 429 retries, polling, following redirects, error messages);
the sync and async clients only execute the steps, so both behave identically.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Generator, Mapping
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

#: Redirects followed in a row before giving up (Go's http.Client default policy).
MAX_REDIRECTS = 10
_REDIRECTS = (301, 302, 303, 307, 308)

#: The clock the flows measure their waits with (a test may replace it).
clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class HttpCall:
    """Send one request. ``target`` is a path ("/volumes") or an absolute URL."""

    method: str
    target: str
    body: bytes | None = None


@dataclass(frozen=True)
class Pause:
    """Wait before the next poll (``kind="poll"``) or retry after a 429 (``kind="retry"``).

    ``elapsed``: seconds since the first poll was planned, or since the request that is
    retried was first sent."""

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

    A ``429 Server busy`` is retried at least as patiently as Heketi's Go client, which makes 6
    retries after a random 10-29 s each (``retryOperationDo``): each wait is drawn at random
    between ``retry_min`` and ``retry_max`` seconds (after the integer ``Retry-After`` plus up
    to ``retry_min`` when the server sends one, as the Go client), and the request is retried
    until ``retry_timeout`` seconds have passed since it was first sent (``None``: for ever),
    or ``retry_attempts`` retries when that is set. The default, 240 s, outlasts the Go
    client's worst case (its last retry at most 174 s after the first answer, its error at
    203 s) and always leaves room for at least 8 retries.
    """

    poll_initial: float = 0.002
    poll_factor: float = 1.5
    poll_max: float = 0.5
    poll_timeout: float | None = None
    retry_min: float = 10.0
    retry_max: float = 30.0
    retry_timeout: float | None = 240.0
    retry_attempts: int | None = None
    jitter: Callable[[float, float], float] = field(
        default=random.uniform, repr=False, compare=False
    )

    def poll_delay(self, attempt: int) -> float:
        return float(min(self.poll_max, self.poll_initial * self.poll_factor**attempt))

    def retry_delay(self, pause: Pause) -> float | None:
        """Seconds to wait before retrying after a 429, or ``None`` to give up."""
        if self.retry_attempts is not None and pause.attempt >= self.retry_attempts:
            return None
        wait = self._retry_wait(pause.retry_after)
        if self.retry_timeout is None:
            return wait
        left = self.retry_timeout - pause.elapsed
        # the last retry happens at the deadline rather than not at all
        return min(wait, left) if left > 0 else None

    def _retry_wait(self, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after + self.jitter(0.0, self.retry_min)
        # random, so that clients the server turned away together come back apart
        return self.jitter(self.retry_min, self.retry_max)

    def delay(self, pause: Pause) -> float | None:
        """Seconds to wait for ``pause``, or ``None`` to give up."""
        if pause.kind == "poll":
            if self.poll_timeout is not None and pause.elapsed >= self.poll_timeout:
                return None
            return self.poll_delay(pause.attempt)
        return self.retry_delay(pause)

    def notice(self, pause: Pause, delay: float) -> str:
        """The line heketi-cli writes on stderr before it waits to retry."""
        seconds = f"{delay:.0f}" if delay >= 10 else f"{delay:.1f}"
        text = f"server busy (429), retrying in {seconds} s (attempt {pause.attempt + 2}"
        if self.retry_timeout is not None:
            left = max(self.retry_timeout - pause.elapsed - delay, 0.0)
            text += f", {left:.0f} s left"
        return text + ")"


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


def _exchange(call: HttpCall) -> Flow[Reply]:
    reply = yield call
    if not isinstance(reply, Reply):  # pragma: no cover - a runner bug
        raise TypeError(f"runner answered {call!r} with {reply!r}")
    return reply


def _send(call: HttpCall) -> Flow[Reply]:
    """Send ``call``, following redirects as Go's http.Client does for Heketi's client (its
    CheckRedirect mints a new token for each hop; so does the runner for every call)."""
    for _ in range(MAX_REDIRECTS + 1):
        reply = yield from _exchange(call)
        location = reply.header("location")
        if reply.status not in _REDIRECTS or not location:
            return reply
        call = _redirected(call, reply.status, location)
    # Heketi's CheckRedirect sets no limit (a loop never ends); Go's default policy stops here
    raise HeketiError(
        f'{call.method.capitalize()} "{call.target}": stopped after {MAX_REDIRECTS} redirects'
    )


def _redirected(call: HttpCall, status: int, location: str) -> HttpCall:
    """Go's redirectBehavior: 307 and 308 repeat the request; 301, 302 and 303 turn any
    method but GET and HEAD into a GET, without the body."""
    if status in (307, 308):
        return HttpCall(call.method, location, call.body)
    method = call.method if call.method in ("GET", "HEAD") else "GET"
    return HttpCall(method, location)


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
    started = clock()
    while True:
        reply = yield from _send(HttpCall(method, target, payload))
        if reply.status != 429:
            return reply
        elapsed = clock() - started
        pause = Pause("retry", attempt, retry_after=_retry_after(reply), elapsed=elapsed)
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
    started = clock()
    attempt = 0
    while True:
        pause = Pause("poll", attempt, elapsed=clock() - started)
        if not (yield from _pause(pause)):
            raise HeketiError(f"timed out waiting for {location}", 0)
        attempt += 1
        reply = yield from _send(HttpCall("GET", location))
        if (reply.header("x-pending") or "").lower() == "true":
            if reply.status != 200:
                raise error_from(reply)
            continue
        # the 303 to the resource was followed by _send, as Go's http.Client follows it
        if reply.status != expect:
            raise error_from(reply)
        return reply
