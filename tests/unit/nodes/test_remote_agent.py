"""The remote node agent against a scripted transport: which commands it runs, in which order,
and how it reads their answers (no node needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from brickyard.domain.errors import NodeCommandError
from brickyard.nodes.commands.argv import Command
from brickyard.nodes.commands.settings import CommandSettings
from brickyard.nodes.port import BrickSpec, DeviceSpec, NodeAddress
from brickyard.nodes.remote import RemoteNodeAgent
from brickyard.nodes.transports import CommandResult

FIXTURES = Path(__file__).parent / "commands" / "fixtures"
NODE = NodeAddress("10.0.0.1", "10.0.0.1")
DEVICE = DeviceSpec("d" * 32, "/dev/sdb", "loopfile")
BRICK = BrickSpec("b" * 32, DEVICE, 1048576, 1048576, 8192)

Answer = Callable[[Command], CommandResult]


class ScriptedTransport:
    """Answers each command by the first rule whose argv prefix matches; records everything."""

    def __init__(self, rules: list[tuple[tuple[str, ...], Answer]]) -> None:
        self.rules = rules
        self.ran: list[Command] = []

    async def run(self, host: str, command: Command) -> CommandResult:
        self.ran.append(command)
        for prefix, answer in self.rules:
            if command.argv[: len(prefix)] == prefix:
                return answer(command)
        return CommandResult(0, "", "")

    async def close(self) -> None:
        return None


def ok(stdout: str = "") -> Answer:
    return lambda _: CommandResult(0, stdout, "")


def fail(stderr: str, code: int = 1) -> Answer:
    return lambda _: CommandResult(code, "", stderr)


async def test_heal_info_is_parsed_from_gluster_xml() -> None:
    xml = (FIXTURES / "volume_heal_down_brick.xml").read_text()
    transport = ScriptedTransport([(("gluster",), ok(xml))])
    statuses = await RemoteNodeAgent(transport, CommandSettings()).heal_info(NODE, "vol")
    assert statuses and any(not s.healthy for s in statuses)
    assert transport.ran[0].argv[-4:] == ("heal", "vol", "info", "--xml")


async def test_bind_mounted_fstab_is_rewritten_in_place() -> None:
    transport = ScriptedTransport(
        [
            (("sed", "-i.save"), fail("sed: cannot rename /etc/fstab: Device or resource busy")),
            (("sed",), ok("keep me\n")),
            (("findmnt",), ok('{"filesystems": []}')),
        ]
    )
    destroyed = await RemoteNodeAgent(transport, CommandSettings()).brick_destroy(NODE, BRICK)
    assert destroyed is True
    tee = [c for c in transport.ran if c.argv[0] == "tee"]
    assert len(tee) == 1 and tee[0].argv == ("tee", "/etc/fstab")
    # the same sed expression, run to stdout, decides what stays; tee writes it back in place
    (edit,) = [c for c in transport.ran if c.argv[0] == "sed" and c.argv[1] != "-i.save"]
    assert edit.argv == ("sed", f"/brick_{'b' * 32}/d", "/etc/fstab")
    assert tee[0].stdin == b"keep me\n"


async def test_a_failed_brick_command_names_command_node_and_stderr() -> None:
    transport = ScriptedTransport([(("truncate",), fail("truncate: Operation not permitted"))])
    agent = RemoteNodeAgent(transport, CommandSettings())
    with pytest.raises(NodeCommandError) as error:
        await agent.brick_create(NODE, BRICK)
    assert "truncate" in error.value.message and "10.0.0.1" in error.value.message
    assert "Operation not permitted" in error.value.message
    # the half-made brick is cleaned up at once: its image is removed
    assert any(c.argv[:2] == ("rm", "-f") for c in transport.ran)


async def test_a_missing_volume_reads_as_none_although_gluster_exits_zero() -> None:
    xml = (FIXTURES / "volume_info_nosuchvol.xml").read_text()
    transport = ScriptedTransport([(("gluster",), ok(xml))])
    agent = RemoteNodeAgent(transport, CommandSettings())
    assert await agent.volume_info(NODE, "nosuchvol") is None


LVM_DEVICE = DeviceSpec("d" * 32, "/dev/sdb", "lvm")
POOL = "tp_" + "7" * 32


@pytest.mark.parametrize(
    ("thin_count", "guest", "freed"), [("0", False, True), ("1", False, False), ("1", True, True)]
)
async def test_a_brick_with_recorded_names_is_destroyed_by_them(
    thin_count: str, guest: bool, freed: bool
) -> None:
    """The pool Heketi recorded is counted and removed (never tp_<brick id>); a pool still
    holding another LV (a clone's) stays, and only a guest in it counts as freed."""
    brick = BrickSpec("b" * 32, LVM_DEVICE, 1048576, 1048576, 8192, pool=POOL, pool_guest=guest)
    transport = ScriptedTransport(
        [
            (("/usr/sbin/lvm", "lvs"), ok(f"  {thin_count}\n")),
            (("findmnt",), ok('{"filesystems": []}')),
        ]
    )
    assert await RemoteNodeAgent(transport, CommandSettings()).brick_destroy(NODE, brick) is freed
    lvm_argvs = [c.argv[1:] for c in transport.ran if c.argv[0] == "/usr/sbin/lvm"]
    vg = "vg_" + "d" * 32
    expected = [
        ("lvremove", "--autobackup=n", "-f", f"{vg}/brick_{'b' * 32}"),
        ("lvs", "--noheadings", "--options=thin_count", f"{vg}/{POOL}"),
    ]
    if thin_count == "0":
        expected.append(("lvremove", "--autobackup=n", "-f", f"{vg}/{POOL}"))
    assert lvm_argvs == expected


def peer_xml(*peers: tuple[str, bool]) -> str:
    """`gluster peer status --xml` as GlusterFS 10 writes it (see fixtures/peer_status.xml)."""
    body = "".join(
        f"<peer><uuid>u-{host}</uuid><hostname>{host}</hostname><hostnames><hostname>{host}"
        f"</hostname></hostnames><connected>{int(up)}</connected><state>3</state>"
        "<stateStr>Peer in Cluster</stateStr></peer>"
        for host, up in peers
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><cliOutput><opRet>0</opRet>'
        f"<opErrno>0</opErrno><opErrstr/><peerStatus>{body}</peerStatus></cliOutput>"
    )


class PoolTransport:
    """Each host answers `peer status` from its own script of answers (the last repeats)."""

    def __init__(self, views: dict[str, list[str]]) -> None:
        self.views = views
        self.asked: list[str] = []

    async def run(self, host: str, command: Command) -> CommandResult:
        if "status" in command.argv:
            self.asked.append(host)
            answers = self.views[host]
            return CommandResult(0, answers.pop(0) if len(answers) > 1 else answers[0], "")
        return CommandResult(0, "", "")

    async def close(self) -> None:
        return None


async def test_a_probed_peer_is_ready_when_it_is_connected_to_every_member() -> None:
    """Probed via node 2, node 3 is soon connected as node 2 sees it, but node 1 learns of it
    through node 2 and connects later: a volume create on node 1 meanwhile fails ("Host
    10.0.0.3 not connected"). The probe returns only once node 3 sees every member connected."""
    via, new = NodeAddress("n2", "10.0.0.2"), NodeAddress("n3", "10.0.0.3")
    transport = PoolTransport(
        {
            "n2": [peer_xml(("10.0.0.1", True), ("10.0.0.3", True))],
            "n3": [
                peer_xml(("10.0.0.2", True)),  # node 1 not even listed yet
                peer_xml(("10.0.0.2", True), ("10.0.0.1", False)),
                peer_xml(("10.0.0.2", True), ("10.0.0.1", True)),
            ],
        }
    )
    await RemoteNodeAgent(transport, CommandSettings()).peer_probe(via, new)
    assert transport.asked == ["n2", "n3", "n3", "n3"]


async def test_a_busy_glusterd_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another server (or an admin) changing the same pool: glusterd refuses at its locking
    phase, before changing anything, so the command is simply sent again."""
    busy = (FIXTURES / "volume_set_another_transaction.xml").read_text()
    answers = iter([busy, busy, (FIXTURES / "volume_info.xml").read_text()])
    transport = ScriptedTransport([(("gluster",), lambda _: CommandResult(0, next(answers), ""))])
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr("brickyard.nodes.remote.asyncio.sleep", no_wait)
    volumes = await RemoteNodeAgent(transport, CommandSettings()).volume_list(NODE)
    assert len(transport.ran) == 3 and len(waits) == 2
    assert volumes  # the third answer, parsed


async def test_a_glusterd_busy_for_too_long_is_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    busy = (FIXTURES / "volume_set_another_transaction.xml").read_text()
    transport = ScriptedTransport([(("gluster",), ok(busy))])

    async def no_wait(seconds: float) -> None:
        return None

    monkeypatch.setattr("brickyard.nodes.remote.asyncio.sleep", no_wait)
    with pytest.raises(NodeCommandError, match="Another transaction is in progress"):
        await RemoteNodeAgent(transport, CommandSettings()).volume_list(NODE)
    assert 30 <= len(transport.ran) <= 500  # patience of GLUSTERD_BUSY_PATIENCE seconds


async def test_other_gluster_refusals_are_not_retried() -> None:
    refusal = (FIXTURES / "volume_set_another_transaction.xml").read_text()
    refusal = refusal.replace(
        "Another transaction is in progress for lt2", "Volume lt2 does not exist"
    )
    transport = ScriptedTransport([(("gluster",), ok(refusal))])
    with pytest.raises(NodeCommandError, match="does not exist"):
        await RemoteNodeAgent(transport, CommandSettings()).volume_list(NODE)
    assert len(transport.ran) == 1


async def test_every_command_is_timed_by_node_and_command_name() -> None:
    xml = (FIXTURES / "volume_heal_down_brick.xml").read_text()
    transport = ScriptedTransport([(("gluster",), ok(xml))])
    agent = RemoteNodeAgent(transport, CommandSettings())
    await agent.heal_info(NODE, "vol")
    await agent.heal_info(NODE, "vol")
    series = agent.command_times.series
    assert list(series) == [(NODE.manage, "gluster volume heal")]
    assert series[(NODE.manage, "gluster volume heal")].count == 2


async def test_a_command_that_times_out_is_timed_too() -> None:
    class Hanging(ScriptedTransport):
        async def run(self, host: str, command: Command) -> CommandResult:
            raise NodeCommandError(f"{command.argv[0]} on {host}: timed out after 1 s")

    agent = RemoteNodeAgent(Hanging([]), CommandSettings())
    with pytest.raises(NodeCommandError):
        await agent.check_glusterd(NODE)
    assert list(agent.command_times.series) == [(NODE.manage, "gluster pool list")]
