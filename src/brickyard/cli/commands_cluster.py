"""``heketi-cli cluster ...``."""

from __future__ import annotations

import click

from brickyard.cli import render
from brickyard.cli.common import require
from brickyard.cli.params import GO_BOOL, CobraGroup, bool_flag, leaf
from brickyard.cli.session import CliError, emit, emit_json, session

__all__ = ["cluster"]

cluster = CobraGroup("cluster", help="Heketi cluster management")


@leaf(cluster, "create", help="Create a cluster")
@bool_flag("--block", default=True, help="Allow block volumes on the cluster (default true).")
@bool_flag("--file", default=True, help="Allow file volumes on the cluster (default true).")
def cluster_create(block: bool, file: bool) -> None:
    s = session()
    info = s.client().cluster_create(block=block, file=file)
    if s.json:
        emit_json(info)
    else:
        emit(f"Cluster id: {info.get('id', '')}\n")


@leaf(cluster, "setflags", help="Set flags on a cluster")
@click.option("--block", "block", default="", metavar="true|false", help="Allow block volumes.")
@click.option("--file", "file", default="", metavar="true|false", help="Allow file volumes.")
@click.argument("args", nargs=-1)
def cluster_setflags(block: str, file: str, args: tuple[str, ...]) -> None:
    cluster_id = require(args, "Cluster id missing")
    if block == "" and file == "":
        raise CliError("At least one of --file or --block must be specified.")
    client = session().client()
    info = client.cluster_info(cluster_id)
    new_file = bool(info.get("file")) if file == "" else _parse(file)
    new_block = bool(info.get("block")) if block == "" else _parse(block)
    client.cluster_set_flags(cluster_id, block=new_block, file=new_file)


def _parse(value: str) -> bool:
    try:
        return bool(GO_BOOL.parse(value))
    except ValueError as exc:
        raise CliError(str(exc)) from None


@leaf(cluster, "delete", help="Delete the cluster")
@click.argument("args", nargs=-1)
def cluster_delete(args: tuple[str, ...]) -> None:
    cluster_id = require(args, "Cluster id missing")
    session().client().cluster_delete(cluster_id)
    emit(f"Cluster {cluster_id} deleted\n")


@leaf(cluster, "info", help="Retrieves information about cluster")
@click.argument("args", nargs=-1)
def cluster_info(args: tuple[str, ...]) -> None:
    cluster_id = require(args, "Cluster id missing")
    s = session()
    info = s.client().cluster_info(cluster_id)
    if s.json:
        emit_json(info)
    else:
        emit(render.cluster_info(info))


@leaf(cluster, "list", help="Lists the clusters managed by Heketi")
def cluster_list() -> None:
    s = session()
    client = s.client()
    listing = client.cluster_list()
    if s.json:
        emit_json(listing)
        return
    emit("Clusters:\n")
    for cluster_id in listing.get("clusters") or []:
        emit(render.cluster_list_line(cluster_id, client.cluster_info(cluster_id)))
