"""``heketi-cli``: a drop-in replacement for Heketi's command line client."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx

from brickyard.cli.app import (
    add_heketi_commands,
    console_main,
    root_callback,
    root_options,
    version_text,
)
from brickyard.cli.params import CobraGroup

__all__ = ["cli", "main"]


cli = CobraGroup(
    "heketi-cli",
    callback=root_callback(version_text),
    params=root_options(),
    help="Command line program for Heketi",
    epilog=(
        "Example:\n  $ export HEKETI_CLI_SERVER=http://localhost:8080\n  $ heketi-cli volume list"
    ),
)
add_heketi_commands(cli)


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """Entry point of the ``heketi-cli`` console script."""
    return console_main(cli, "heketi-cli", argv, env, transport)


if __name__ == "__main__":
    main()
