"""``brickyard``: every heketi-cli command plus ``brickyard serve``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import click
import httpx

import brickyard
from brickyard.cli.app import add_heketi_commands, console_main, root_callback, root_options
from brickyard.cli.params import CobraGroup

__all__ = ["cli", "main"]


def _version() -> str:
    return f"brickyard {brickyard.__version__} (Heketi {brickyard.HEKETI_COMPAT_VERSION})"


class _BrickyardGroup(CobraGroup):
    """Loads ``serve`` (and with it the whole server) only when it is asked for."""

    def resolve(self, name: str) -> click.Command | None:
        if name == "serve":
            _add_server_command(self)
        return super().resolve(name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        _add_server_command(self)
        return super().list_commands(ctx)


cli = _BrickyardGroup(
    "brickyard",
    callback=root_callback(_version),
    params=root_options(),
    help="Brickyard: a GlusterFS volume manager, drop-in successor to Heketi.",
)
add_heketi_commands(cli)


def _add_server_command(group: CobraGroup) -> None:
    """``brickyard serve`` lives in brickyard.cli.serve; the program works without it."""
    if "serve" in group.commands:
        return
    try:
        from brickyard.cli.serve import serve
    except Exception:  # the client commands must keep working whatever the server's state
        return
    if isinstance(serve, click.Command):
        group.add_command(serve, "serve")


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """Entry point of the ``brickyard`` console script."""
    return console_main(cli, "brickyard", argv, env, transport)


if __name__ == "__main__":
    main()
