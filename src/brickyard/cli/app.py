"""The heketi-cli command tree, shared by the ``heketi-cli`` and ``brickyard`` programs."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence

import click
import httpx

import brickyard
from brickyard.cli.argv import split_argv
from brickyard.cli.commands_blockvolume import blockvolume
from brickyard.cli.commands_cluster import cluster
from brickyard.cli.commands_device import device
from brickyard.cli.commands_node import node
from brickyard.cli.commands_server import brick, db, loglevel, server
from brickyard.cli.commands_storage import add_storage_setup
from brickyard.cli.commands_topology import topology
from brickyard.cli.commands_volume import volume
from brickyard.cli.params import CobraGroup, CobraUsageError, GlobalOption
from brickyard.cli.session import CliError, Session, err
from brickyard.client import HeketiError

__all__ = ["EXIT_ERROR", "add_heketi_commands", "global_options", "run"]

#: heketi-cli exits with ``os.Exit(-1)`` on every error.
EXIT_ERROR = 255

GROUPS: tuple[click.Command, ...] = (
    blockvolume,
    brick,
    cluster,
    db,
    device,
    loglevel,
    node,
    server,
    topology,
    volume,
)


def global_options(fn: Callable[..., None]) -> Callable[..., None]:
    """Declare the persistent flags on a root group (for ``--help``; argv.py handles them)."""
    options = [
        (("--server", "-s"), "Heketi server. Can also be set using HEKETI_CLI_SERVER", False),
        (("--user",), "Heketi user. Can also be set using HEKETI_CLI_USER", False),
        (("--secret",), "Secret key for specified user (HEKETI_CLI_KEY)", False),
        (("--json",), "Print response as JSON", True),
        (("--insecure-tls", "-I"), "Do not verify the server's TLS certificate", True),
        (("--tls-cert", "-C"), "Trust these PEM certificate files (comma list)", False),
    ]
    for decls, help_text, is_flag in reversed(options):
        fn = click.option(
            *decls, cls=GlobalOption, is_flag=is_flag, expose_value=False, help=help_text
        )(fn)
    return fn


def add_heketi_commands(root: CobraGroup) -> None:
    """Every heketi-cli command, under ``root``."""
    for group in GROUPS:
        root.add_command(group)
    add_storage_setup(root)


def version_text() -> str:
    return f"heketi-cli v{brickyard.HEKETI_COMPAT_VERSION}"


def _format_usage_error(exc: click.UsageError) -> str:
    if isinstance(exc, click.NoSuchOption):
        name = exc.option_name
        if name.startswith("--"):
            return f"unknown flag: {name}"
        return f"unknown shorthand flag: '{name[1:]}' in {name}"
    return exc.format_message()


def run(
    root: CobraGroup,
    argv: Sequence[str],
    *,
    prog_name: str,
    env: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """Run ``root`` on ``argv`` like heketi-cli; return the exit status."""
    state: Session | None = None
    try:
        flags, args = split_argv(root, argv)
        state = Session(flags, dict(os.environ if env is None else env), transport)
        result = root.main(args, prog_name=prog_name, standalone_mode=False, obj=state)
        return result if isinstance(result, int) else 0
    except (CliError, HeketiError) as exc:
        err(f"Error: {exc}\n")
    except CobraUsageError as exc:
        err(f"Error: {exc.message}\n")
    except click.UsageError as exc:
        err(f"Error: {_format_usage_error(exc)}\n")
    except click.ClickException as exc:
        err(f"Error: {exc.format_message()}\n")
    except click.Abort:
        err("Aborted!\n")
    except KeyboardInterrupt:
        err("\n")
        return 130
    finally:
        if state is not None:
            state.close()
        sys.stdout.flush()
    return EXIT_ERROR
