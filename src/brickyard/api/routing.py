"""Heketi's routes and the dispatcher that finds them.

Every endpoint has the same shape, ``async (request[, one hex id]) -> Response``, and every path
parameter is an id matched by ``[A-Fa-f0-9]+`` (as Heketi's gorilla/mux routes): so a general
router (FastAPI's, which also validates, injects and documents) buys nothing here and cost a
third of the server's CPU per request. Static paths are one dict lookup; paths with an id are
tried only against the routes under the same first segment.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.responses import Response

Endpoint = Callable[..., Awaitable[Response]]

_PARAMETER = re.compile(r"\{(\w+):hex\}")
_HEX = "[A-Fa-f0-9]+"


class Match(enum.Enum):
    FULL = "full"  # path and method match
    PARTIAL = "partial"  # the path matches, not with this method: 405
    NONE = "none"  # no route has this path: 404


class Routes:
    """The routes of one module, declared with ``@routes.get("/volumes/{volume_id:hex}")``."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, Endpoint]] = []

    def _add(self, method: str, path: str) -> Callable[[Endpoint], Endpoint]:
        def register(endpoint: Endpoint) -> Endpoint:
            self.entries.append((method, path, endpoint))
            return endpoint

        return register

    def get(self, path: str) -> Callable[[Endpoint], Endpoint]:
        return self._add("GET", path)

    def post(self, path: str) -> Callable[[Endpoint], Endpoint]:
        return self._add("POST", path)

    def delete(self, path: str) -> Callable[[Endpoint], Endpoint]:
        return self._add("DELETE", path)


@dataclass
class _Pattern:
    regex: re.Pattern[str]
    parameter: str | None  # the id's name, passed to the endpoint as a keyword
    methods: dict[str, Endpoint] = field(default_factory=dict)


def _first_segment(path: str) -> str:
    return path.split("/", 2)[1] if path.startswith("/") else ""


class Router:
    """Dispatch over the routes of every module; the first declaration of a path and method
    wins, as in mux."""

    def __init__(self, tables: list[Routes]) -> None:
        self.static: dict[str, dict[str, Endpoint]] = {}
        self.patterns: dict[str, dict[str, _Pattern]] = {}  # first segment -> template -> ...
        for table in tables:
            for method, path, endpoint in table.entries:
                self._add(method, path, endpoint)

    def _add(self, method: str, path: str, endpoint: Endpoint) -> None:
        names = _PARAMETER.findall(path)
        if len(names) > 1 or "{" in _PARAMETER.sub("", path):
            raise ValueError(f"route {path!r}: only one {{name:hex}} parameter is supported")
        if not names:
            self.static.setdefault(path, {}).setdefault(method, endpoint)
            return
        group = self.patterns.setdefault(_first_segment(path), {})
        if path not in group:
            parts = _PARAMETER.split(path)  # [before, name, after]
            source = re.escape(parts[0]) + f"(?P<{names[0]}>{_HEX})" + re.escape(parts[2])
            group[path] = _Pattern(re.compile(source), names[0])
        group[path].methods.setdefault(method, endpoint)

    def find(self, method: str, path: str) -> tuple[Match, Endpoint | None, dict[str, str]]:
        """The endpoint and its keyword arguments for ``method`` on ``path``."""
        methods = self.static.get(path)
        if methods is not None:
            endpoint = methods.get(method)
            if endpoint is not None:
                return Match.FULL, endpoint, {}
        partial = methods is not None
        for pattern in self.patterns.get(_first_segment(path), {}).values():
            found = pattern.regex.fullmatch(path)
            if found is None:
                continue
            endpoint = pattern.methods.get(method)
            if endpoint is not None:
                return Match.FULL, endpoint, dict(found.groupdict())
            partial = True
        return (Match.PARTIAL if partial else Match.NONE), None, {}

    def match(self, method: str, path: str) -> Match:
        return self.find(method, path)[0]
