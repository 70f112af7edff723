"""``heketi-cli brick|db|loglevel|server ...``."""

from __future__ import annotations

import click

from brickyard.cli import common, render
from brickyard.cli.params import CobraGroup, bool_flag, leaf
from brickyard.cli.session import CliError, emit, err, session

__all__ = ["brick", "db", "loglevel", "server"]

brick = CobraGroup("brick", help="Heketi Brick Management")
db = CobraGroup("db", help="Heketi Database Management")
loglevel = CobraGroup("loglevel", help="Manage Heketi server Log Level")
server = CobraGroup("server", help="Heketi Server Information & Management")
operations = CobraGroup("operations", help="Manage ongoing server operations")
mode = CobraGroup("mode", help="Manage server mode")
state = CobraGroup("state", help="View and/or modify state of server")
examine = CobraGroup("examine", help="Compare state of server")
for _child in (operations, mode, state):
    server.add_command(_child)
state.add_command(examine)


@leaf(brick, "evict", help="Evict (remove) a brick from a volume")
@bool_flag(
    "--expert-option-disable-heal-check",
    help="[DANGEROUS] Skip the heal check while brick replace.",
)
@click.argument("args", nargs=-1)
def brick_evict(expert_option_disable_heal_check: bool, args: tuple[str, ...]) -> None:
    if not args:
        raise CliError("Brick id missing")
    if len(args) > 1:
        raise CliError("Too many arguments provided")
    healcheck = common.warn_heal_check_disabled() if expert_option_disable_heal_check else ""
    session().client().brick_evict(args[0], healcheck)
    emit(f"Brick {args[0]} evicted\n")


@leaf(db, "dump", help="dumps the database in json format")
def db_dump() -> None:
    emit(session().client().db_dump())


@leaf(db, "check", help="checks the db and provides a summary in json format")
def db_check() -> None:
    emit(session().client().db_check())


@leaf(loglevel, "get", help="Get Heketi server Log Level")
def loglevel_get() -> None:
    info = session().client().log_level_get()
    emit(f"{(info.get('loglevel') or {}).get('glusterfs', '')}\n")


@leaf(loglevel, "set", help="Set Heketi server Log Level")
@click.argument("args", nargs=-1)
def loglevel_set(args: tuple[str, ...]) -> None:
    if not args:
        raise CliError("missing log-level argument")
    if len(args) > 1:
        raise CliError("too many arguments")
    session().client().log_level_set(args[0])
    emit("Server log level updated\n")


@leaf(operations, "info", help="Get a summary of server operations")
@click.argument("args", nargs=-1)
def operations_info(args: tuple[str, ...]) -> None:
    client = session().client()
    if args:
        emit(render.operation_details(client.pending_operation(args[0])))
    else:
        emit(render.operations_info(client.operations_info()))


@leaf(operations, "list", help="Get a list of pending operations")
def operations_list() -> None:
    emit(render.operations_list(session().client().pending_operations()))


@leaf(operations, "cleanup", help="Clean up stale or failed pending operations")
@click.argument("args", nargs=-1)
def operations_cleanup(args: tuple[str, ...]) -> None:
    session().client().pending_operations_cleanup(args)
    err(
        "Note: Operation clean up is a batch operation.\n"
        "* The results of individual operation clean ups are not reported here.\n"
        "* Use 'heketi-cli server operations [list|info]' to view operations.\n"
    )


@leaf(mode, "get", help="Print current server mode")
def mode_get() -> None:
    emit(f"{session().client().admin_state_get().get('state', '')}\n")


@leaf(mode, "set", help="Set the server mode: normal, local-client or read-only")
@click.argument("args", nargs=-1)
def mode_set(args: tuple[str, ...]) -> None:
    if not args:
        raise CliError("missing mode argument")
    if len(args) > 1:
        raise CliError("too many arguments")
    session().client().admin_state_set(args[0])


@leaf(examine, "gluster", help="Compare state of server with gluster")
def examine_gluster() -> None:
    emit(session().client().examine_gluster())
