"""The node inventory and the pool's volume list, read by the remote agent over ssh from real
GlusterFS nodes (the namespace test-bed), against what the `heketi` server's database says: the
brick traces of a replica-3 volume, device free space to the KiB, orphans made by hand, and an
empty inventory after the delete."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

from brickyard.nodes.commands.settings import CommandSettings
from brickyard.nodes.port import DeviceSpec, NodeAddress, NodeInventory
from brickyard.nodes.remote import RemoteNodeAgent
from brickyard.nodes.transports import SshSettings, SshTransport

if TYPE_CHECKING:
    from conftest import Server, Testbed

ORPHAN = "0e" * 16  # brick id no database row has
UNKNOWN_DEVICE = "0d" * 16  # device id no database row has


@pytest.fixture
async def agent(testbed: Testbed) -> AsyncIterator[RemoteNodeAgent]:
    settings = SshSettings(
        str(testbed.ssh_key), testbed.ssh_user, 22, known_hosts=(str(testbed.known_hosts),)
    )
    transport = SshTransport(settings)
    try:
        yield RemoteNodeAgent(transport, CommandSettings())
    finally:
        await transport.close()


def node_devices(dump: dict[str, Any], host: str) -> list[DeviceSpec]:
    """The devices the database has on the node whose manage host is `host`."""
    (node_id,) = [
        n for n, e in dump["nodeentries"].items() if e["Info"]["hostnames"]["manage"] == [host]
    ]
    return [
        DeviceSpec(d, e["Info"]["name"], e["Backend"])
        for d, e in dump["deviceentries"].items()
        if e["NodeId"] == node_id
    ]


async def inventories(
    agent: RemoteNodeAgent, server: Server, testbed: Testbed
) -> dict[str, NodeInventory]:
    """manage host -> inventory of the node's database devices."""
    dump = server.json("db", "dump")
    return {
        ip: await agent.inventory(NodeAddress(ip, ip), node_devices(dump, ip))
        for ip in testbed.nodes
    }


def check_free_space(server: Server, found: dict[str, NodeInventory]) -> None:
    """Every device reports the database's free space and size, to the KiB."""
    for inventory in found.values():
        for device_id, report in inventory.devices.items():
            assert report is not None, device_id
            db = server.json("device", "info", device_id)["storage"]
            assert (report.free, report.total) == (db["free"], db["total"]), device_id


async def test_inventory_matches_the_database(
    server: Server,
    testbed: Testbed,
    agent: RemoteNodeAgent,
    leftovers: Callable[[], dict[int, list[str]]],
) -> None:
    server.load_topology()
    found = await inventories(agent, server, testbed)
    assert all(inventory.bricks == {} for inventory in found.values()), found
    check_free_space(server, found)

    vid = server.create_volume("--size=1")
    dump = server.json("db", "dump")
    bricks = dump["brickentries"]
    assert len(bricks) == 3
    found = await inventories(agent, server, testbed)
    for ip, inventory in found.items():
        (device,) = node_devices(dump, ip)
        mine = {b: e for b, e in bricks.items() if e["Info"]["device"] == device.id}
        assert set(inventory.bricks) == set(mine), (ip, inventory.bricks)
        for brick_id, entry in mine.items():
            trace = inventory.bricks[brick_id]
            assert (trace.device_id, trace.mounted, trace.fstab, trace.storage) == (
                device.id,
                True,
                True,
                True,
            )
            # the image is the brick's whole reservation
            assert trace.reserved == entry["TpSize"] + entry["PoolMetadataSize"]
    check_free_space(server, found)

    (volume,) = await agent.volume_list(NodeAddress(testbed.ip(1), testbed.ip(1)))
    assert (volume.name, volume.status) == (f"vol_{vid}", "Started")
    hosts = {n: e["Info"]["hostnames"]["storage"][0] for n, e in dump["nodeentries"].items()}
    expected = {f"{hosts[e['Info']['node']]}:{e['Info']['path']}" for e in bricks.values()}
    assert {str(b) for b in volume.bricks} == expected

    try:
        await check_orphans(server, testbed, agent)
    finally:
        remove_orphans(testbed)

    server.cli("volume", "delete", vid)
    found = await inventories(agent, server, testbed)
    assert all(inventory.bricks == {} for inventory in found.values()), found
    check_free_space(server, found)
    assert await agent.volume_list(NodeAddress(testbed.ip(2), testbed.ip(2))) == []
    assert leftovers() == {}


async def check_orphans(server: Server, testbed: Testbed, agent: RemoteNodeAgent) -> None:
    """Node 2: an image with its fstab line, never mounted (a create that died half way).
    Node 3: something mounted at a brick mount point of a device the database does not know."""
    (device,) = [d for d, (node, _) in server.devices().items() if node == 2]
    image = f"/var/lib/heketi/devices/{device}/images/brick_{ORPHAN}.img"
    mount_point = f"/var/lib/heketi/mounts/vg_{device}/brick_{ORPHAN}"
    testbed.x(2, "truncate", "-s", "65536K", image)
    line = f"{image} {mount_point} xfs loop 0 0\n"
    testbed.x(2, "tee", "-a", "/etc/fstab", input=line)
    elsewhere = f"/var/lib/heketi/mounts/vg_{UNKNOWN_DEVICE}/brick_{ORPHAN}"
    testbed.x(3, "mkdir", "-p", elsewhere)
    testbed.x(3, "mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", elsewhere)

    found = await inventories(agent, server, testbed)
    on_2 = found[testbed.ip(2)]
    orphan = on_2.bricks[ORPHAN]
    assert (orphan.device_id, orphan.mounted, orphan.fstab, orphan.storage) == (
        device,
        False,
        True,
        True,
    )
    assert orphan.reserved == 65536
    report = on_2.devices[device]
    assert report is not None
    assert report.free == server.json("device", "info", device)["storage"]["free"] - 65536

    stray = found[testbed.ip(3)].bricks[ORPHAN]
    assert (stray.device_id, stray.mounted, stray.fstab, stray.storage) == (
        UNKNOWN_DEVICE,
        True,
        False,
        False,
    )
    assert ORPHAN not in found[testbed.ip(1)].bricks


def remove_orphans(testbed: Testbed) -> None:
    testbed.x(2, "sh", "-c", f"rm -f /var/lib/heketi/devices/*/images/brick_{ORPHAN}.img")
    kept = testbed.x(2, "grep", "-v", f"brick_{ORPHAN}", "/etc/fstab", check=False).stdout
    testbed.x(2, "tee", "/etc/fstab", input=kept)  # in place: fstab is a bind mount
    elsewhere = f"/var/lib/heketi/mounts/vg_{UNKNOWN_DEVICE}/brick_{ORPHAN}"
    testbed.x(3, "umount", elsewhere, check=False)
    testbed.x(3, "rm", "-rf", f"/var/lib/heketi/mounts/vg_{UNKNOWN_DEVICE}")
