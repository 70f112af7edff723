"""State shared by the heketi-cli commands of one invocation."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import click
import httpx

from brickyard.cli.argv import GlobalFlags
from brickyard.client import DEFAULT_SERVER, HeketiClient, go_json

__all__ = ["CliError", "Session", "emit", "emit_json", "err", "session"]


class CliError(Exception):
    """A client-side error: printed as ``Error: <message>``, exit status 255."""


@dataclass
class Session:
    flags: GlobalFlags
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    transport: httpx.BaseTransport | None = None
    _client: HeketiClient | None = None

    @property
    def json(self) -> bool:
        return self.flags.json

    @property
    def server(self) -> str:
        return self.flags.server or self.env.get("HEKETI_CLI_SERVER") or DEFAULT_SERVER

    @property
    def user(self) -> str:
        return self.flags.user or self.env.get("HEKETI_CLI_USER", "")

    @property
    def secret(self) -> str:
        return self.flags.secret or self.env.get("HEKETI_CLI_KEY", "")

    def client(self) -> HeketiClient:
        if self._client is None:
            self._client = HeketiClient(
                self.server,
                self.user,
                self.secret,
                verify=not self.flags.insecure_tls,
                ca_files=self.flags.tls_certs,
                transport=self.transport,
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def session() -> Session:
    """The :class:`Session` of the running command."""
    found = click.get_current_context().find_object(Session)
    if found is None:  # pragma: no cover - every entry point installs one
        raise RuntimeError("no heketi-cli session")
    return found


def emit(text: str) -> None:
    """Write ``text`` to stdout exactly as given."""
    sys.stdout.write(text)
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def emit_json(value: Any) -> None:
    """``--json`` output: compact, no trailing newline."""
    emit(go_json(value))
