"""Loop-file devices in directory mode (a directory on a mounted filesystem, no disk to format),
and heal info read through the remote node agent, on real GlusterFS."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from brickyard.nodes.commands.settings import CommandSettings
from brickyard.nodes.port import NodeAddress
from brickyard.nodes.remote import RemoteNodeAgent
from brickyard.nodes.transports import SshSettings, SshTransport

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Server, Testbed


async def test_directory_devices_and_heal_info(
    server: Server, testbed: Testbed, leftovers: Callable[[], dict[int, list[str]]]
) -> None:
    topology = {
        "clusters": [
            {
                "nodes": [
                    {
                        "node": {"hostnames": {"manage": [ip], "storage": [ip]}, "zone": i},
                        "devices": [{"name": testbed.device_dir, "backend": "loopfile"}],
                    }
                    for i, ip in enumerate(testbed.nodes, start=1)
                ]
            }
        ]
    }
    path = server.workdir / "directories.json"
    path.write_text(json.dumps(topology))
    load = server.cli("topology", "load", f"--json={path}")
    assert load.stdout.count("OK") == 3, load.stdout
    vid = server.create_volume("--size=1")
    name = f"vol_{vid}"
    assert "Status: Started" in testbed.gluster(1, "volume", "info", name).stdout
    for node in (1, 2, 3):
        images = testbed.x(node, "ls", f"{testbed.device_dir}/images").stdout.split()
        assert len(images) == 1 and images[0].endswith(".img")

    transport = SshTransport(SshSettings(str(testbed.ssh_key), testbed.ssh_user, 22))
    try:
        agent = RemoteNodeAgent(transport, CommandSettings())
        node = NodeAddress(testbed.ip(1), testbed.ip(1))
        statuses = await agent.heal_info(node, name)
    finally:
        await transport.close()
    assert len(statuses) == 3 and all(s.healthy for s in statuses), statuses

    server.cli("volume", "delete", vid)
    assert leftovers() == {}
    for node in (1, 2, 3):
        # the directory is the admin's: bricks go, the directory stays
        assert testbed.x(node, "test", "-d", testbed.device_dir, check=False).returncode == 0
