"""``brickyard``: every heketi-cli command plus ``brickyard serve``."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence

import click
import httpx

import brickyard
from brickyard.cli.app import add_heketi_commands, console_main, root_callback, root_options
from brickyard.cli.commands_evacuate import brickyard_node_group
from brickyard.cli.commands_node import node
from brickyard.cli.params import CobraGroup

__all__ = ["cli", "main"]


def _version() -> str:
    return f"brickyard {brickyard.__version__} (Heketi {brickyard.HEKETI_COMPAT_VERSION})"


class _BrickyardGroup(CobraGroup):
    """Loads ``serve`` (and with it the whole server), ``import``, ``export`` and ``examine``
    only when they are asked for."""

    def resolve(self, name: str) -> click.Command | None:
        if name in _LAZY_COMMANDS:
            _add_lazy_command(self, name)
        return super().resolve(name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for name in _LAZY_COMMANDS:
            _add_lazy_command(self, name)
        return super().list_commands(ctx)


cli = _BrickyardGroup(
    "brickyard",
    callback=root_callback(_version),
    params=root_options(),
    help="Brickyard: a GlusterFS volume manager, drop-in successor to Heketi.",
)
add_heketi_commands(cli)
cli.add_command(brickyard_node_group(node))


# command name -> (module, attribute)
_LAZY_COMMANDS = {
    "serve": ("brickyard.cli.serve", "serve"),
    "import": ("brickyard.cli.commands_migrate", "import_command"),
    "export": ("brickyard.cli.commands_migrate", "export_command"),
    "examine": ("brickyard.cli.commands_examine", "examine"),
    "status": ("brickyard.cli.commands_status", "status"),
    "csi": ("brickyard.cli.commands_csi", "csi"),
    "k8s": ("brickyard.cli.commands_k8s", "k8s"),
}


def _add_lazy_command(group: CobraGroup, name: str) -> None:
    """These commands live in their own modules; the program works without them."""
    if name in group.commands:
        return
    module_name, attribute = _LAZY_COMMANDS[name]
    try:
        command = getattr(importlib.import_module(module_name), attribute)
    except Exception:  # the client commands must keep working whatever the server's state
        return
    if isinstance(command, click.Command):
        group.add_command(command, name)


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
