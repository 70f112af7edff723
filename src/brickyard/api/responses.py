"""Response helpers in Heketi's formats: plain-text errors with a trailing newline, compact
JSON with a trailing newline (Go's json.Encoder), indented JSON for db dump/check."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

TEXT = "text/plain; charset=utf-8"
JSON = "application/json; charset=UTF-8"


def text_error(status: int, message: str) -> Response:
    return Response(
        content=message + "\n",
        status_code=status,
        media_type=TEXT,
        headers={"X-Content-Type-Options": "nosniff"},
    )


def json_response(payload: Any, status: int = 200, indent: bool = False) -> Response:
    body = json.dumps(payload, indent=4) if indent else json.dumps(payload, separators=(",", ":"))
    return Response(content=body + "\n", status_code=status, media_type=JSON)


def empty(status: int, media_type: str | None = None) -> Response:
    # Go leaves no Content-Type on an empty body unless the handler set one.
    return Response(content=b"", status_code=status, media_type=media_type)


def accepted(queue_path: str, html_body: bool = False) -> Response:
    """202 with Location: /queue/<id>. A GET that starts a job (resync) gets Go's
    http.Redirect HTML body."""
    if html_body:
        return Response(
            content=f'<a href="{queue_path}">Accepted</a>.\n\n',
            status_code=202,
            media_type="text/html; charset=utf-8",
            headers={"Location": queue_path},
        )
    response = empty(202)
    response.headers["Location"] = queue_path
    return response
