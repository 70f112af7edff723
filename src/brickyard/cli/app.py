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
from brickyard.cli.params import CobraGroup, CobraUsageError, GlobalOption, leaf
from brickyard.cli.session import CliError, Session, emit, err
from brickyard.client import HeketiError

__all__ = ["EXIT_ERROR", "add_heketi_commands", "root_callback", "root_options", "run"]

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


def root_options() -> list[click.Parameter]:
    """``--version`` and the persistent flags (for ``--help``; argv.py takes their values)."""
    options: list[click.Parameter] = [
        click.Option(["--version", "-v"], is_flag=True, help="Print version")
    ]
    for decls, help_text, is_flag in (
        (["--server", "-s"], "Heketi server. Can also be set using HEKETI_CLI_SERVER", False),
        (["--user"], "Heketi user. Can also be set using HEKETI_CLI_USER", False),
        (["--secret"], "Secret key for specified user (HEKETI_CLI_KEY)", False),
        (["--json"], "Print response as JSON", True),
        (["--insecure-tls", "-I"], "Do not verify the server's TLS certificate", True),
        (["--tls-cert", "-C"], "Trust these PEM certificate files (comma list)", False),
    ):
        options.append(GlobalOption(decls, is_flag=is_flag, expose_value=False, help=help_text))
    return options


def root_callback(version_line: Callable[[], str]) -> Callable[[bool], None]:
    """The root's own behaviour: ``--version``, or help when no command is given."""

    def callback(version: bool) -> None:
        ctx = click.get_current_context()
        if version:
            emit(version_line() + "\n")
            ctx.exit(0)
        if ctx.invoked_subcommand is None:
            click.echo(ctx.get_help())
            ctx.exit(0)

    return callback


def add_heketi_commands(root: CobraGroup) -> None:
    """Every heketi-cli command, under ``root``."""
    for group in GROUPS:
        root.add_command(group)
    add_storage_setup(root)
    _add_help_command(root)


def _add_help_command(root: CobraGroup) -> None:
    """cobra's ``help [command]``."""

    @leaf(root, "help", help="Help about any command")
    @click.argument("path", nargs=-1)
    def help_command(path: tuple[str, ...]) -> None:
        ctx = click.get_current_context().find_root()
        cmd: click.Command = root
        for name in path:
            sub = cmd.resolve(name) if isinstance(cmd, CobraGroup) else None
            if sub is None:
                raise CliError(f'unknown help topic "{" ".join(path)}"')
            ctx = click.Context(sub, info_name=name, parent=ctx)
            cmd = sub
        emit(ctx.get_help() + "\n")


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

    def end(outcome: str) -> None:
        # the progress line ends (left with its outcome) before the error is printed
        if state is not None:
            state.close(outcome)

    try:
        flags, args = split_argv(root, argv)
        state = Session(flags, dict(os.environ if env is None else env), transport)
        state.open_progress()
        result = root.main(args, prog_name=prog_name, standalone_mode=False, obj=state)
        return result if isinstance(result, int) else 0
    except (CliError, HeketiError) as exc:
        end("failed")
        err(f"Error: {exc}\n")
    except CobraUsageError as exc:
        end("failed")
        err(f"Error: {exc.message}\n")
    except click.UsageError as exc:
        end("failed")
        err(f"Error: {_format_usage_error(exc)}\n")
    except click.ClickException as exc:
        end("failed")
        err(f"Error: {exc.format_message()}\n")
    except click.Abort:
        end("interrupted")
        err("Aborted!\n")
    except KeyboardInterrupt:
        end("interrupted")
        err("\n")
        return 130
    except BrokenPipeError:
        # the reader went away (``heketi-cli topology info | head``): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    finally:
        if state is not None:
            state.close()
        sys.stdout.flush()
    return EXIT_ERROR


def console_main(
    root: CobraGroup,
    prog_name: str,
    argv: Sequence[str] | None,
    env: Mapping[str, str] | None,
    transport: httpx.BaseTransport | None,
) -> int:
    """A console script's body: from sys.argv it exits with the status, otherwise returns it."""
    args = sys.argv[1:] if argv is None else list(argv)
    code = run(root, args, prog_name=prog_name, env=env, transport=transport)
    if argv is None:
        sys.exit(code)
    return code
