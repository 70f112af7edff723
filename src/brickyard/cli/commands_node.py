"""``heketi-cli node ...``."""

from __future__ import annotations

import click

from brickyard.cli import render
from brickyard.cli.common import require, show
from brickyard.cli.evacuation import removal_progress
from brickyard.cli.params import GO_INT, CobraGroup, leaf
from brickyard.cli.session import CliError, emit, session
from brickyard.cli.tags import add_tag_commands

__all__ = ["node"]

node = CobraGroup("node", help="Heketi Node Management")


@leaf(node, "add", help="Add new node to be managed by Heketi")
@click.option("--zone", type=GO_INT, default=0, help="The zone in which the node should reside")
@click.option("--cluster", default="", help="The cluster in which the node should reside")
@click.option("--management-host-name", "manage", default="", help="Management host name")
@click.option("--storage-host-name", "storage", default="", help="Storage host name")
def node_add(zone: int, cluster: str, manage: str, storage: str) -> None:
    if zone == 0:
        raise CliError("Missing zone")
    if manage == "":
        raise CliError("Missing management hostname")
    if storage == "":
        raise CliError("Missing storage hostname")
    if cluster == "":
        raise CliError("Missing cluster id")
    info = session().client().node_add(cluster, zone, [manage], [storage])
    show(info, lambda n: "Node information:\n" + render.node_summary(n))


@leaf(node, "info", help="Retrieves information about the node")
@click.argument("args", nargs=-1)
def node_info(args: tuple[str, ...]) -> None:
    node_id = require(args, "Node id missing")
    show(session().client().node_info(node_id), render.node_info)


@leaf(node, "delete", help="Deletes a node from Heketi management")
@click.argument("args", nargs=-1)
def node_delete(args: tuple[str, ...]) -> None:
    node_id = require(args, "Node id missing")
    session().client().node_delete(node_id)
    emit(f"Node {node_id} deleted\n")


def _state_command(name: str, state: str, shown: str, help: str) -> None:
    @leaf(node, name, help=help)
    @click.argument("args", nargs=-1)
    def change_state(args: tuple[str, ...]) -> None:
        node_id = require(args, "Node id missing")
        s = session()
        if state == "failed":  # the server moves every brick of the node: a long wait
            with removal_progress(s, "node", node_id):
                s.client().node_state(node_id, state)
        else:
            s.client().node_state(node_id, state)
        emit(f"Node {node_id} is now {shown}\n")


_state_command("enable", "online", "online", "Allows node to go online")
_state_command("disable", "offline", "offline", "Disallow usage of a node by placing it offline")
_state_command(
    "remove", "failed", "removed", "Removes a node and all its associated devices from Heketi"
)


@leaf(node, "list", help="List all nodes in cluster")
def node_list() -> None:
    client = session().client()
    for cluster_id in client.cluster_list().get("clusters") or []:
        for node_id in client.cluster_info(cluster_id).get("nodes") or []:
            emit(f"Id:{node_id}\tCluster:{cluster_id}\n")


add_tag_commands(node, "node", lambda: session().client().node_set_tags)
