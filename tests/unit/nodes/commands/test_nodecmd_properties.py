"""Property tests: argv never carries a NUL, and to_shell round-trips through shlex.split."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from brickyard.nodes.commands import gluster, loopfile, lvm
from brickyard.nodes.commands.argv import Command, CommandBatch, to_shell
from brickyard.nodes.commands.settings import CommandSettings
from brickyard.nodes.port import BrickSpec, DeviceSpec, GlusterBrick, GlusterVolumeSpec

no_nul_text = st.text().filter(lambda s: "\x00" not in s)
# Mostly-valid values with arbitrary text mixed in, so both the accepting and the refusing
# paths of the builders are exercised.
ids = st.one_of(st.text(alphabet="0123456789abcdef", min_size=1, max_size=32), st.text())
paths = st.one_of(st.just("/dev/sdb"), st.text().map(lambda s: "/" + s), st.text())
words = st.one_of(st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True), st.text())


def commands_of(value: object) -> Iterable[Command]:
    if isinstance(value, Command):
        yield value
    elif isinstance(value, CommandBatch | list | tuple):
        for item in value:
            yield from commands_of(item)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            yield from commands_of(getattr(value, name))


def assert_no_nul(build: Callable[[], object]) -> None:
    try:
        built = build()
    except ValueError:
        return  # refusing the input is fine; producing a NUL is not
    commands = list(commands_of(built))
    assert commands
    for command in commands:
        assert all("\x00" not in arg for arg in command.argv)
        assert command.stdin is None or b"\x00" not in command.stdin


@given(st.lists(no_nul_text, min_size=1, max_size=8), st.booleans())
def test_to_shell_round_trips(argv: list[str], sudo: bool) -> None:
    line = to_shell(argv, sudo=sudo)
    assert shlex.split(line) == (["sudo", "-n", *argv] if sudo else argv)


@given(st.lists(st.text(), min_size=1, max_size=5))
def test_command_never_holds_nul(argv: list[str]) -> None:
    try:
        cmd = Command(tuple(argv), 1)
    except ValueError:
        assert any("\x00" in a for a in argv) or argv[0] == ""
    else:
        assert all("\x00" not in a for a in cmd.argv)
        assert shlex.split(cmd.shell()) == argv


@settings(max_examples=200)
@given(
    device_id=ids,
    brick_id=ids,
    name=paths,
    gid=st.integers(min_value=0, max_value=2**31),
    arbiter=st.booleans(),
    wrapper=st.text(),
    mountopts=words,
    fstab=paths,
    pv_uuid=st.text(),
)
def test_lvm_and_loopfile_builders_never_emit_nul(
    device_id: str,
    brick_id: str,
    name: str,
    gid: int,
    arbiter: bool,
    wrapper: str,
    mountopts: str,
    fstab: str,
    pv_uuid: str,
) -> None:
    try:
        cfg = CommandSettings(lvm_wrapper=wrapper, mountopts=mountopts or "rw", fstab=fstab or "/e")
    except Exception:
        cfg = CommandSettings()
    device = DeviceSpec(id=device_id, name=name)
    brick = BrickSpec(
        id=brick_id,
        device=device,
        size=1024,
        tp_size=1024,
        pool_metadata_size=8,
        gid=gid,
        arbiter=arbiter,
    )
    builders: list[Callable[[], object]] = [
        lambda: lvm.device_setup(cfg, device, True),
        lambda: lvm.device_teardown_plan(cfg, device, pv_uuid=pv_uuid),
        lambda: lvm.pvs_identify(cfg, name),
        lambda: lvm.udev_symlinks(cfg, name),
        lambda: lvm.vgdisplay(cfg, device_id),
        lambda: lvm.brick_create(cfg, brick),
        lambda: lvm.brick_destroy_plan(cfg, brick),
        lambda: loopfile.device_setup(cfg, device, True),
        lambda: loopfile.device_teardown_plan(cfg, device),
        lambda: loopfile.device_df(device),
        lambda: loopfile.brick_create(cfg, brick),
        lambda: loopfile.brick_destroy_plan(cfg, brick),
        lambda: loopfile.loop_detach(name),
    ]
    for build in builders:
        assert_no_nul(build)


@settings(max_examples=200)
@given(
    volume=words,
    host=words,
    path=paths,
    key=st.text(),
    value=st.text(),
    snapshot=st.text(),
    replica=st.sampled_from([0, 2, 3]),
)
def test_gluster_builders_never_emit_nul(
    volume: str, host: str, path: str, key: str, value: str, snapshot: str, replica: int
) -> None:
    cfg = CommandSettings()
    per_set = replica or 1
    bricks = [GlusterBrick(host, path)] * (per_set * 2)
    spec = GlusterVolumeSpec(name=volume, bricks=bricks, replica=replica, options=[(key, value)])
    builders: list[Callable[[], object]] = [
        lambda: gluster.volume_create(cfg, spec),
        lambda: gluster.volume_expand(cfg, spec, bricks),
        lambda: gluster.volume_set(cfg, volume, key, value),
        lambda: gluster.peer_probe(cfg, host),
        lambda: gluster.replace_brick(cfg, volume, bricks[0], bricks[-1]),
        lambda: gluster.clone_sequence(cfg, volume, volume, snapshot),
        lambda: gluster.volume_info(cfg, volume),
        lambda: gluster.heal_info(cfg, volume),
    ]
    for build in builders:
        assert_no_nul(build)
