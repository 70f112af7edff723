"""How commands reach a node: on this host (`local`), over SSH (`ssh`, one kept-alive
connection per node), each returning exit status, stdout and stderr. Commands are argv lists;
only the SSH transport needs a shell string, and then every argument is `shlex.quote`d."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from ..domain.errors import NodeCommandError, NodeUnreachable
from .commands.argv import Command, to_shell

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandResult:
    exit_code: int
    stdout: str
    stderr: str


class Transport(Protocol):
    async def run(self, host: str, command: Command) -> CommandResult: ...

    async def close(self) -> None: ...


def _timeout_error(host: str, command: Command) -> NodeCommandError:
    return NodeCommandError(
        f"{' '.join(command.argv)} on {host}: timed out after {command.timeout:.0f} s"
    )


class LocalTransport:
    """Runs every command on this host, whatever node it is meant for (single-node setups)."""

    def __init__(self, sudo: bool = False) -> None:
        self.sudo = sudo

    async def run(self, host: str, command: Command) -> CommandResult:
        argv = ("sudo", "-n", *command.argv) if self.sudo else command.argv
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE
                if command.stdin is not None
                else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise NodeCommandError(f"{' '.join(command.argv)} on {host}: {exc}") from exc
        try:
            out, err = await asyncio.wait_for(process.communicate(command.stdin), command.timeout)
        except TimeoutError as exc:
            process.kill()
            await process.wait()
            raise _timeout_error(host, command) from exc
        return CommandResult(
            process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")
        )

    async def close(self) -> None:
        return None


@dataclass(frozen=True)
class SshSettings:
    keyfile: str
    user: str = "heketi"
    port: int = 22
    sudo: bool = False
    known_hosts: tuple[
        str, ...
    ] = ()  # Heketi checks host keys only when SSH_KNOWN_HOSTS names files
    connect_timeout: float = 10.0


def private_key_problem(path: str) -> str:
    """Why ssh cannot use the private key at `path` ("" when it can). Heketi refuses to start
    without a usable key; the message names the file and the reason, never the key's text."""
    import asyncssh  # only servers with the ssh executor load it

    try:
        asyncssh.read_private_key(path)
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    except (asyncssh.KeyImportError, ValueError) as exc:
        # A passphrase-protected key, a public key, a file that is no key at all: no ssh
        # connection could ever be made with it.
        return f"{path}: not a usable ssh private key ({exc})"
    return ""


class SshTransport:
    """asyncssh with one connection per node, kept alive and reused for every command (Heketi
    dials a new connection per batch, about 90 ms each); a broken connection is re-dialled once."""

    def __init__(self, settings: SshSettings) -> None:
        self.settings = settings
        self._connections: dict[str, object] = {}
        self._dialing: dict[str, asyncio.Lock] = {}

    async def _connection(self, host: str, fresh: bool = False) -> object:
        import asyncssh  # imported lazily: servers on the simulator never load it

        lock = self._dialing.setdefault(host, asyncio.Lock())
        async with lock:
            found = self._connections.get(host)
            if found is not None and not fresh:
                return found
            if found is not None:
                found.close()  # type: ignore[attr-defined]
            s = self.settings
            try:
                connection = await asyncio.wait_for(
                    asyncssh.connect(
                        host,
                        port=s.port,
                        username=s.user,
                        client_keys=[s.keyfile],
                        known_hosts=list(s.known_hosts) or None,
                        keepalive_interval=30,
                    ),
                    s.connect_timeout,
                )
            except (OSError, asyncssh.Error, TimeoutError) as exc:
                raise NodeUnreachable(
                    f"ssh {s.user}@{host}:{s.port}: {exc or type(exc).__name__}"
                ) from exc
            except ValueError as exc:  # the key file was replaced since start by no usable key
                raise NodeUnreachable(
                    f"ssh {s.user}@{host}:{s.port}: {private_key_problem(s.keyfile) or exc}"
                ) from exc
            self._connections[host] = connection
            return connection

    async def run(self, host: str, command: Command) -> CommandResult:
        import asyncssh

        shell = to_shell(command.argv, sudo=self.settings.sudo)
        for attempt in (0, 1):
            connection = await self._connection(host, fresh=attempt == 1)
            try:
                # asyncssh sends stdin (and its end) only for non-empty input: anything else
                # gets /dev/null, or a command reading stdin (tee of an emptied fstab) would
                # wait for an end that never comes.
                feed: dict[str, Any] = (
                    {"input": command.stdin.decode()}
                    if command.stdin
                    else {"stdin": asyncssh.DEVNULL}
                )
                result = await asyncio.wait_for(
                    connection.run(shell, check=False, **feed),  # type: ignore[attr-defined]
                    command.timeout,
                )
            except TimeoutError as exc:
                raise _timeout_error(host, command) from exc
            except (asyncssh.Error, OSError) as exc:
                # A node that went away and came back leaves a dead cached connection (closed
                # channel, lost connection): dial again once before giving up.
                if attempt:
                    raise NodeUnreachable(f"ssh {host}: {exc}") from exc
                log.info("ssh connection to %s lost, reconnecting: %s", host, exc)
                continue
            code = result.exit_status if result.exit_status is not None else 255
            return CommandResult(code, str(result.stdout or ""), str(result.stderr or ""))
        raise AssertionError("unreachable")

    async def close(self) -> None:
        for connection in self._connections.values():
            connection.close()  # type: ignore[attr-defined]
        self._connections.clear()
