"""--log-format and --log-third-party, shared by `brickyard serve`, `heketi` and `brickyard
csi` (a module of its own: the CSI driver must not import the REST server's uvicorn)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..logs import FORMATS, THIRD_PARTY_LEVELS


def logging_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """--log-format and --log-third-party, shared by `brickyard serve` and `heketi`."""
    command = click.option(
        "--log-third-party",
        type=click.Choice(THIRD_PARTY_LEVELS, case_sensitive=False),
        default=None,
        help="Level of the libraries' own lines (asyncssh, uvicorn...); default warning, "
        "or $BRICKYARD_LOG_THIRD_PARTY",
    )(command)
    return click.option(
        "--log-format",
        type=click.Choice(FORMATS, case_sensitive=False),
        default=None,
        help="Log lines as text or JSON lines; default text, or $BRICKYARD_LOG_FORMAT",
    )(command)
