"""The one exception the CSI services raise, and how server errors map to gRPC codes."""

from __future__ import annotations

import grpc

from brickyard.client import HeketiError

__all__ = ["CsiError", "from_server"]


class CsiError(Exception):
    """Answer the RPC with ``code`` and ``message`` (the message names the problem)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


def invalid(message: str) -> CsiError:
    return CsiError(grpc.StatusCode.INVALID_ARGUMENT, message)


def from_server(exc: HeketiError, server: str, doing: str) -> CsiError:
    """A REST error as a gRPC status the sidecars act on correctly.

    Unreachable server, 429 and 502-504 are UNAVAILABLE (the provisioner retries); "No space"
    is RESOURCE_EXHAUSTED with the server's reason; a name already taken on the server while
    its create runs is ABORTED (retried); 401/403/404 keep their meaning; anything else keeps
    the server's message under INVALID_ARGUMENT (400) or INTERNAL."""
    text = exc.message
    where = f"{doing} on {server}"
    if exc.status == 0:
        return CsiError(grpc.StatusCode.UNAVAILABLE, f"{where}: volume manager unreachable: {text}")
    if exc.status == 429:
        return CsiError(grpc.StatusCode.UNAVAILABLE, f"{where}: server busy (429): {text}")
    if exc.status in (502, 503, 504):
        return CsiError(grpc.StatusCode.UNAVAILABLE, f"{where}: {exc.status}: {text}")
    if "no space" in text.lower():
        return CsiError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{where}: {text}")
    if "already in use" in text:
        return CsiError(
            grpc.StatusCode.ABORTED, f"{where}: {text} (a create of it may still be running)"
        )
    if exc.status == 401:
        return CsiError(grpc.StatusCode.UNAUTHENTICATED, f"{where}: {text}")
    if exc.status == 403:
        return CsiError(grpc.StatusCode.PERMISSION_DENIED, f"{where}: {text}")
    if exc.status == 404:
        return CsiError(grpc.StatusCode.NOT_FOUND, f"{where}: {text}")
    if exc.status == 400:
        return CsiError(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: {text}")
    return CsiError(grpc.StatusCode.INTERNAL, f"{where}: {exc.status}: {text}")
