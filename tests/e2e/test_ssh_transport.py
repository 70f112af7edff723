"""The ssh transport against a real sshd of the bed: stdin is delivered with its end, empty
stdin included (a `tee` of an emptied fstab once waited forever for it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from brickyard.nodes.commands.argv import Command
from brickyard.nodes.transports import SshSettings, SshTransport

if TYPE_CHECKING:
    from conftest import Testbed


async def test_stdin_and_empty_stdin_end(testbed: Testbed) -> None:
    settings = SshSettings(
        str(testbed.ssh_key), testbed.ssh_user, 22, known_hosts=(str(testbed.known_hosts),)
    )
    transport = SshTransport(settings)
    host = testbed.nodes[0]
    try:
        for data in (b"two\nlines\n", b""):
            command = Command(("tee", "/tmp/brickyard-stdin-test"), 20, stdin=data)
            result = await transport.run(host, command)
            assert (result.exit_code, result.stdout) == (0, data.decode())
        # No stdin at all reads as empty, not as a wait.
        result = await transport.run(host, Command(("cat",), 20))
        assert (result.exit_code, result.stdout) == (0, "")
        await transport.run(host, Command(("rm", "-f", "/tmp/brickyard-stdin-test"), 20))
    finally:
        await transport.close()
