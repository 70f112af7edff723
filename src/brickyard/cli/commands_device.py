"""``heketi-cli device ...``."""

from __future__ import annotations

import click

from brickyard.cli import common, render
from brickyard.cli.common import require, show
from brickyard.cli.evacuation import removal_progress
from brickyard.cli.params import CobraGroup, bool_flag, leaf
from brickyard.cli.session import CliError, emit, session
from brickyard.cli.tags import add_tag_commands
from brickyard.client import HeketiError

__all__ = ["device"]

device = CobraGroup("device", help="Heketi device management")


@leaf(device, "add", help="Add new device to node to be managed by Heketi")
@click.option("--name", default="", help="Name of device to add")
@click.option("--node", default="", help="Id of the node which has this device")
@bool_flag("--destroy-existing-data", help="[DANGEROUS] Destroy any existing data on the device.")
@click.option(
    "--backend",
    default="",
    type=click.Choice(["", "lvm", "loopfile"]),
    help="Brick backend of the device (Brickyard): lvm thin volumes or loop-file images; "
    "default: the server's glusterfs.brick_backend",
)
def device_add(name: str, node: str, destroy_existing_data: bool, backend: str) -> None:
    if name == "":
        raise CliError("Missing device name")
    if node == "":
        raise CliError("Missing node id")
    session().client().device_add(node, name, destroy_data=destroy_existing_data, backend=backend)
    emit("Device added successfully\n")


@leaf(device, "delete", help="Deletes a device from Heketi node")
@bool_flag("--force-forget", help="[DANGEROUS] Force heketi to forget a device.")
@click.argument("args", nargs=-1)
def device_delete(force_forget: bool, args: tuple[str, ...]) -> None:
    device_id = require(args, "Device id missing")
    session().client().device_delete(device_id, force_forget=force_forget)
    emit(f"Device {device_id} deleted\n")


@leaf(device, "remove", help="Removes a device from Heketi node")
@bool_flag(
    "--expert-option-disable-heal-check",
    help="[DANGEROUS] Skip the heal check while removing the device.",
)
@click.argument("args", nargs=-1)
def device_remove(expert_option_disable_heal_check: bool, args: tuple[str, ...]) -> None:
    device_id = require(args, "Device id missing")
    healcheck = common.warn_heal_check_disabled() if expert_option_disable_heal_check else ""
    s = session()
    with removal_progress(s, "device", device_id):
        s.client().device_state(device_id, "failed", healcheck)
    emit(f"Device {device_id} is now removed\n")


@leaf(device, "info", help="Retrieves information about the device")
@click.argument("args", nargs=-1)
def device_info(args: tuple[str, ...]) -> None:
    device_id = require(args, "Device id missing")
    show(session().client().device_info(device_id), render.device_info)


def _state_command(name: str, state: str, help: str) -> None:
    @leaf(device, name, help=help)
    @click.argument("args", nargs=-1)
    def change_state(args: tuple[str, ...]) -> None:
        device_id = require(args, "device id missing")
        session().client().device_state(device_id, state)
        emit(f"Device {device_id} is now {state}\n")


_state_command("enable", "online", "Allows device to go online")
_state_command("disable", "offline", "Disallow usage of a device by placing it offline")


@leaf(device, "resync", help="Resync storage information about the device with operation system")
@bool_flag("--cluster", help="Resync all devices under the cluster identified by object_id")
@click.argument("args", nargs=-1)
def device_resync(cluster: bool, args: tuple[str, ...]) -> None:
    object_id = require(args, "object/cluster id missing")
    client = session().client()
    if not cluster:
        client.device_resync(object_id)
        emit(f"Device {object_id} updated\n")
        return
    emit("Cluster-wide resync operation requested. Using object_id as cluster_id.\n")
    for found in client.topology().get("clusters") or []:
        if found.get("id") != object_id:
            continue
        for node in found.get("nodes") or []:
            for dev in node.get("devices") or []:
                emit(f"Now resyncing device {dev.get('id')}..\n")
                try:
                    client.device_resync(dev.get("id", ""))
                except HeketiError:
                    continue  # like heketi-cli: go on with the other devices
                emit(
                    f"Device {dev.get('id')} (node {node.get('id')}) "
                    f"in cluster {object_id} updated\n"
                )


add_tag_commands(device, "device", lambda: session().client().device_set_tags)
