"""``heketi-cli blockvolume ...``."""

from __future__ import annotations

import click

from brickyard.cli import render
from brickyard.cli.common import require, show
from brickyard.cli.params import GO_INT, CobraGroup, bool_flag, leaf
from brickyard.cli.session import CliError, emit, emit_json, session

__all__ = ["blockvolume"]

blockvolume = CobraGroup("blockvolume", help="Heketi Volume Management")


@leaf(blockvolume, "create", help="Create a GlusterFS block volume")
@click.option("--size", type=GO_INT, default=-1, help="Size of volume in GiB")
@click.option("--ha", type=GO_INT, default=0, help="HA count for the block volume")
@bool_flag("--auth", help="Enable authentication for block volume access")
@click.option("--name", default="", help="Optional: Name of volume.")
@click.option("--clusters", default="", help="Comma separated list of cluster ids.")
def blockvolume_create(size: int, ha: int, auth: bool, name: str, clusters: str) -> None:
    if size == -1:
        raise CliError("Missing volume size")
    s = session()
    with s.progress.task(f"Creating block volume {name + ' ' if name else ''}({size} GiB)"):
        info = s.client().blockvolume_create(
            size, name=name, clusters=clusters.split(",") if clusters else (), hacount=ha, auth=auth
        )
    show(info, render.blockvolume_info)


@leaf(blockvolume, "info", help="Retrieves information about the block volume")
@click.argument("args", nargs=-1)
def blockvolume_info(args: tuple[str, ...]) -> None:
    bv_id = require(args, "Volume id missing")
    show(session().client().blockvolume_info(bv_id), render.blockvolume_info)


@leaf(blockvolume, "delete", help="Deletes the block volume")
@click.argument("args", nargs=-1)
def blockvolume_delete(args: tuple[str, ...]) -> None:
    bv_id = require(args, "Volume id missing")
    session().client().blockvolume_delete(bv_id)
    emit(f"Volume {bv_id} deleted\n")


@leaf(blockvolume, "list", help="Lists the block volumes managed by Heketi")
def blockvolume_list() -> None:
    s = session()
    client = s.client()
    listing = client.blockvolume_list()
    if s.json:
        emit_json(listing)
        return
    for bv_id in listing.get("blockvolumes") or []:
        emit(render.blockvolume_list_line(bv_id, client.blockvolume_info(bv_id)))


@leaf(blockvolume, "expand", help="Expand a block volume")
@click.option("--new-size", type=GO_INT, default=-1, help="New size of the block volume in GiB")
@click.option("--blockvolume", "bv_id", default="", help="Id of block volume to expand")
@click.argument("args", nargs=-1)
def blockvolume_expand(new_size: int, bv_id: str, args: tuple[str, ...]) -> None:
    if new_size == -1:
        raise CliError("Missing new size of block volume")
    bv_id = bv_id or require(args, "Volume id missing")
    s = session()
    with s.progress.task(f"Expanding block volume {bv_id} to {new_size} GiB"):
        info = s.client().blockvolume_expand(bv_id, new_size)
    show(info, render.blockvolume_info)
