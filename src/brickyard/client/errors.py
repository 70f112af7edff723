"""The one exception type the client raises."""

from __future__ import annotations

from http import HTTPStatus

__all__ = ["HeketiError", "status_text"]


def status_text(status: int) -> str:
    """The reason phrase Go's ``http.StatusText`` gives for ``status`` ("" when unknown)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class HeketiError(Exception):
    """An error reported by the server (or by the transport, then ``status`` is 0).

    ``message`` is what heketi-cli prints after ``Error: ``: the response body with surrounding
    whitespace removed, or ``server did not provide a message (status <code>: <text>)``.
    """

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"HeketiError({self.message!r}, status={self.status})"
