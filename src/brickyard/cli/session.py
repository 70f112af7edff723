"""State shared by the heketi-cli commands of one invocation."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import click
import httpx

from brickyard.cli import progress
from brickyard.cli.argv import GlobalFlags
from brickyard.cli.progress import Progress
from brickyard.client import DEFAULT_SERVER, Backoff, HeketiClient, go_json

__all__ = [
    "RETRY_TIMEOUT_ENV",
    "RETRY_WAIT_ENV",
    "CliError",
    "Session",
    "emit",
    "emit_json",
    "err",
    "retry_backoff",
    "session",
]

#: Seconds a request is retried for while the server answers 429 (Brickyard's own setting).
RETRY_TIMEOUT_ENV = "BRICKYARD_CLI_RETRY_TIMEOUT"
#: The range of one wait between two retries, "MIN-MAX" seconds (Heketi's client: 10-30).
RETRY_WAIT_ENV = "BRICKYARD_CLI_RETRY_WAIT"


class CliError(Exception):
    """A client-side error: printed as ``Error: <message>``, exit status 255."""


@dataclass
class Session:
    flags: GlobalFlags
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    transport: httpx.BaseTransport | None = None
    _client: HeketiClient | None = None
    progress: Progress = field(default_factory=lambda: Progress(None, sys.stdout))

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

    def open_progress(self) -> None:
        """Draw a progress line on stderr during waits, when a person is there to see it."""
        if progress.progress_wanted(sys.stderr, self.env, self.flags.no_progress):
            self.progress = Progress(sys.stderr, sys.stdout)
            progress.install(self.progress)

    def _sleep(self, seconds: float) -> None:
        """The client's waits (polls of the queue, retries after a 429) with the line on."""
        if self.progress.current is None:
            ctx = click.get_current_context(silent=True)
            command = ctx.command_path.partition(" ")[2] if ctx is not None else ""
            label = f"{command}: waiting for the server" if command else "Waiting for the server"
            self.progress.start(label, implicit=True)
        self.progress.sleep(seconds)

    def client(self) -> HeketiClient:
        if self._client is None:
            extra: dict[str, Any] = {"sleep": self._sleep} if self.progress.enabled else {}
            self._client = HeketiClient(
                self.server,
                self.user,
                self.secret,
                verify=not self.flags.insecure_tls,
                ca_files=self.flags.tls_certs,
                backoff=retry_backoff(self.env),
                # on stderr: scripts read stdout
                notify=lambda line: err(line + "\n"),
                transport=self.transport,
                **extra,
            )
        return self._client

    def close(self, outcome: str = "") -> None:
        """The end of the invocation; ``outcome`` ("failed", "interrupted") leaves the progress
        line on the screen with it."""
        self.progress.close(outcome)
        progress.install(None)
        if self._client is not None:
            self._client.close()
            self._client = None


def retry_backoff(env: Mapping[str, str]) -> Backoff:
    """The client's timing, with the retry settings of the environment."""
    default = Backoff()
    timeout = _seconds(env, RETRY_TIMEOUT_ENV, default.retry_timeout)
    low, high = default.retry_min, default.retry_max
    wait = env.get(RETRY_WAIT_ENV, "").strip()
    if wait:
        low_text, _, high_text = wait.partition("-")
        low = _number(RETRY_WAIT_ENV, low_text)
        high = _number(RETRY_WAIT_ENV, high_text or low_text)
        if high < low:
            raise CliError(f"{RETRY_WAIT_ENV}: {wait!r} is not MIN-MAX seconds")
    return Backoff(retry_timeout=timeout, retry_min=low, retry_max=high)


def _seconds(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    text = env.get(name, "").strip()
    return _number(name, text) if text else default


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise CliError(f"{name}: {text!r} is not a number of seconds")
    return value


def session() -> Session:
    """The :class:`Session` of the running command."""
    found = click.get_current_context().find_object(Session)
    if found is None:  # pragma: no cover - every entry point installs one
        raise RuntimeError("no heketi-cli session")
    return found


def emit(text: str) -> None:
    """Write ``text`` to stdout exactly as given (around the progress line, if one is drawn)."""
    line = progress.active()
    if line is not None:
        line.write_out(text)
        return
    sys.stdout.write(text)
    sys.stdout.flush()


def err(text: str) -> None:
    line = progress.active()
    if line is not None:
        line.write_err(text)
        return
    sys.stderr.write(text)
    sys.stderr.flush()


def emit_json(value: Any) -> None:
    """``--json`` output: compact, no trailing newline."""
    emit(go_json(value))
