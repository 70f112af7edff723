"""The LVM brick path on a real kernel: a software-emulated (TCG) Debian VM from ``testbed/vm/vm``.

The namespace test bed cannot give its nodes device-mapper thin pools of their own, so this test
boots a Debian bookworm guest (lvm2, thin-provisioning-tools, xfsprogs, glusterfs-server, sshd)
with an empty 4 GiB data disk ``/dev/vdb`` and drives it over ssh like any node, through
`RemoteNodeAgent` + `SshTransport`: device setup, a thin-provisioned brick, a one-brick volume,
and all of it torn down again, checking the LVs, the mount and the fstab line on the guest.

It runs when ``BRICKYARD_VM_TESTS=1``: CI (``.ci/run``) sets it; a developer's plain
``make test`` skips it, since the first build takes minutes.  It needs root (tap, bridge,
debootstrap) and installs qemu-system-x86, qemu-utils and debootstrap when missing.  The guest
image is built once per machine and cached in ``/var/cache/brickyard-vm``
(``testbed/vm/vm build --rebuild`` renews it); from nothing the build takes a few minutes,
booting under TCG about half a minute.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from brickyard.nodes.commands import lvm
from brickyard.nodes.commands.settings import CommandSettings
from brickyard.nodes.port import (
    BrickSpec,
    DeviceSpec,
    GlusterBrick,
    GlusterVolumeSpec,
    NodeAddress,
)
from brickyard.nodes.remote import RemoteNodeAgent
from brickyard.nodes.transports import SshSettings, SshTransport

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("BRICKYARD_VM_TESTS") != "1",
        reason="VM test is opt-in: set BRICKYARD_VM_TESTS=1 (root, TCG VM, minutes)",
    ),
]

VM = Path(__file__).resolve().parents[2] / "testbed" / "vm" / "vm"
DATA_DISK = "/dev/vdb"
GIB_KIB = 1024 * 1024


def vm(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(VM), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"vm {shlex.join(args)} -> rc {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def guest(command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a shell command in the guest as root."""
    return vm("ssh", command, check=check)


@dataclass(frozen=True)
class Guest:
    ip: str
    key: str

    @property
    def node(self) -> NodeAddress:
        return NodeAddress(manage=self.ip, storage=self.ip)


@pytest.fixture(scope="module")
def guest_vm() -> Iterator[Guest]:
    if os.geteuid() != 0:
        pytest.skip("the VM test needs root (tap, bridge, debootstrap)")
    t0 = time.monotonic()
    vm("build", timeout=1800)
    built = time.monotonic()
    try:
        vm("start")
        print(vm("wait", timeout=600).stdout.strip())
        # glusterd may still be starting when sshd answers (TCG is slow)
        end = time.monotonic() + 300
        while guest("gluster --mode=script pool list", check=False).returncode != 0:
            if time.monotonic() > end:
                raise AssertionError("glusterd not answering in the VM after 300 s")
            time.sleep(2)
        print(
            f"VM image ready in {built - t0:.0f} s, guest usable after "
            f"{time.monotonic() - built:.0f} s more"
        )
        yield Guest(ip=vm("ip").stdout.strip(), key=vm("key").stdout.strip())
    finally:
        vm("stop", check=False)


def lv_names(vg: str) -> set[str]:
    out = guest(f"lvs --noheadings -o lv_name {vg}", check=False)
    return set(out.stdout.split()) if out.returncode == 0 else set()


def fstab_lines(brick_id: str) -> list[str]:
    return [line for line in guest("cat /etc/fstab").stdout.splitlines() if brick_id in line]


def is_mounted(mount_point: str) -> bool:
    return guest(f"findmnt -n {shlex.quote(mount_point)}", check=False).returncode == 0


async def test_lvm_brick_and_volume_lifecycle(guest_vm: Guest) -> None:
    cfg = CommandSettings()
    transport = SshTransport(SshSettings(guest_vm.key, "root", 22))
    agent = RemoteNodeAgent(transport, cfg)
    node = guest_vm.node
    device = DeviceSpec(id=uuid.uuid4().hex, name=DATA_DISK, backend="lvm")
    vg = device.vg_name
    try:
        # -- device -----------------------------------------------------------------------
        report = await agent.device_setup(node, device, destroy_data=False)
        assert report.extent_size == 4096
        # 4 GiB less the 128 MiB of PV metadata (pvcreate --metadatasize=128M, as Heketi) and
        # the data alignment: 3964 MiB with the default 256K alignment and 4M extents
        assert 4 * GIB_KIB - 160 * 1024 <= report.total <= 4 * GIB_KIB - 128 * 1024, report
        assert report.total % report.extent_size == 0
        assert report.used == 0 and report.free == report.total, report
        assert report.pv_uuid, report
        assert guest(f"vgs --noheadings -o vg_name {vg}").stdout.strip() == vg

        # -- brick ------------------------------------------------------------------------
        brick = BrickSpec(
            id=uuid.uuid4().hex,
            device=device,
            size=GIB_KIB,
            tp_size=GIB_KIB,
            pool_metadata_size=8 * 1024,
        )
        await agent.brick_create(node, brick)
        assert {lvm.pool_name(brick.id), lvm.lv_name(brick.id)} <= lv_names(vg)
        assert brick.mount_point == f"/var/lib/heketi/mounts/vg_{device.id}/brick_{brick.id}"
        fstype = guest(f"findmnt -n -o FSTYPE {brick.mount_point}").stdout.strip()
        assert fstype == "xfs"
        assert guest(f"test -d {brick.path}", check=False).returncode == 0
        assert fstab_lines(brick.id) == [lvm.brick_fstab_line(cfg, brick).strip()]
        used = await agent.device_info(node, device)
        assert used.used > 0 and used.free < report.free, used

        # -- one-brick volume --------------------------------------------------------------
        volume = GlusterVolumeSpec(
            name=f"vol_{uuid.uuid4().hex[:12]}",
            bricks=[GlusterBrick(host=node.storage, path=brick.path)],
        )
        await agent.volume_create(node, volume)
        info = await agent.volume_info(node, volume.name)
        assert info is not None and info.status == "Started", info
        assert [str(b) for b in info.bricks] == [f"{node.storage}:{brick.path}"]
        await agent.volume_destroy(node, volume.name)
        assert await agent.volume_info(node, volume.name) is None

        # -- brick and device teardown -----------------------------------------------------
        assert await agent.brick_destroy(node, brick) is True
        assert not lv_names(vg) & {lvm.pool_name(brick.id), lvm.lv_name(brick.id)}
        assert not is_mounted(brick.mount_point)
        assert fstab_lines(brick.id) == []
        after = await agent.device_info(node, device)
        assert after.used == 0 and after.free == after.total, after

        await agent.device_teardown(node, device, forget=False)
        assert guest(f"vgs {vg}", check=False).returncode != 0
        assert guest(f"pvs --noheadings {DATA_DISK}", check=False).stdout.strip() == ""
    finally:
        await transport.close()
