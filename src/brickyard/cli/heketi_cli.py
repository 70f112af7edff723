"""``heketi-cli``: a drop-in replacement for Heketi's command line client."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

import click
import httpx

from brickyard.cli.app import add_heketi_commands, global_options, run, version_text
from brickyard.cli.params import CobraGroup
from brickyard.cli.session import emit

__all__ = ["cli", "main"]


@global_options
def _root(version: bool) -> None:
    ctx = click.get_current_context()
    if version:
        emit(version_text() + "\n")
        ctx.exit(0)
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)


cli = CobraGroup(
    "heketi-cli",
    callback=_root,
    help="Command line program for Heketi",
    epilog=(
        "Example:\n  $ export HEKETI_CLI_SERVER=http://localhost:8080\n  $ heketi-cli volume list"
    ),
)
cli.params.append(click.Option(["--version", "-v"], is_flag=True, help="Print version"))
cli.params.extend(getattr(_root, "__click_params__", []))
add_heketi_commands(cli)


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """Entry point of the ``heketi-cli`` console script."""
    args = sys.argv[1:] if argv is None else list(argv)
    code = run(cli, args, prog_name="heketi-cli", env=env, transport=transport)
    if argv is None:
        sys.exit(code)
    return code
