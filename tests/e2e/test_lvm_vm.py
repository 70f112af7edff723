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

import json
import os
import shlex
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from brickyard.crashtest import CRASH_ENV
from brickyard.domain.model import OperationType
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
from brickyard.services.operations.registry import crash_points

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


# -- clones: gluster snapshots need thin LVs, so they are tested here ------------------------
CLONE_POINTS = crash_points(OperationType.CLONE_VOLUME)
ROLLED_BACK = "The server restarted during this operation; it was rolled back"


class VmServer:
    """`heketi` on this machine driving the guest over ssh (LVM bricks); restartable, with
    BRICKYARD_TEST_CRASH_AT to kill it at a step boundary."""

    def __init__(self, guest: Guest, workdir: Path) -> None:
        self.guest = guest
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        config = {
            "port": str(self.port),
            "glusterfs": {
                "executor": "ssh",
                "db": str(workdir / "heketi.db"),
                "brick_backend": "lvm",
                "sshexec": {"keyfile": guest.key, "user": "root", "port": "22"},
            },
        }
        (workdir / "heketi.json").write_text(json.dumps(config))
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, crash_at: str = "") -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HEKETI_", "BRICKYARD_"))}
        if crash_at:
            env[CRASH_ENV] = crash_at
        heketi = Path(sys.executable).parent / "heketi"
        with (self.workdir / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(heketi), f"--config={self.workdir / 'heketi.json'}", "--disable-auth"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/hello", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and self.process.poll() is None, (
                self.workdir / "server.log"
            ).read_text()
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(method, self.url + path, json=body, timeout=300)

    def answer(self, location: str, timeout: float = 600) -> httpx.Response:
        deadline = time.monotonic() + timeout
        while True:
            r = httpx.get(self.url + location, timeout=300)
            if r.headers.get("x-pending") != "true":
                return r
            assert time.monotonic() < deadline, f"{location} still pending"
            time.sleep(0.5)

    def finish(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 202, response.text
        return self.answer(response.headers["location"])

    def dump(self) -> dict[str, Any]:
        data: dict[str, Any] = self.call("GET", "/db/dump").json()
        return data


def assert_guest_matches(server: VmServer) -> dict[str, Any]:
    """Gluster volumes, snapshots, LVs and snapshot mounts on the guest are exactly what the
    database knows; no operation is left; examine finds no difference."""
    dump = server.dump()
    assert dump["pendingoperations"] == {}, dump["pendingoperations"]
    names = {e["Info"]["name"] for e in dump["volumeentries"].values()}
    out = guest("gluster --mode=script volume list").stdout.strip()
    listed = set() if out.startswith("No volumes") else set(out.split())
    assert listed == names, (listed, names)
    assert "No snapshots present" in guest("gluster --mode=script snapshot list").stdout
    (device,) = dump["deviceentries"]
    expected_lvs: set[str] = set()
    clone_mounts: set[str] = set()
    for brick_id, entry in dump["brickentries"].items():
        path = entry["Info"]["path"]
        snapshot_lv = lvm.snapshot_brick_lv(path)
        if snapshot_lv is not None:
            expected_lvs.add(snapshot_lv)
            clone_mounts.add(path.rsplit("/", 1)[0])
        else:
            expected_lvs |= {lvm.lv_name(brick_id), lvm.pool_name(brick_id)}
    assert lv_names(f"vg_{device}") == expected_lvs
    mounts = guest("findmnt -rn -o TARGET").stdout.split()
    assert {m for m in mounts if m.startswith("/run/gluster/snaps/")} == clone_mounts
    examined = server.call("GET", "/internal/state/examine").json()
    assert examined["differences"] == [], examined
    return dump


def test_clone_crash_recovery_on_lvm(guest_vm: Guest, tmp_path: Path) -> None:
    """A real server, SIGKILLed at every step boundary of a clone: after the restart the
    guest holds exactly the clones the database knows (LVs, snapshot mounts, no snapshot left)
    and deleting a clone removes its LVs too."""
    server = VmServer(guest_vm, tmp_path)
    server.start()
    try:
        cluster = server.call("POST", "/clusters", {"block": False, "file": True}).json()["id"]
        body = {
            "cluster": cluster,
            "zone": 1,
            "hostnames": {"manage": [guest_vm.ip], "storage": [guest_vm.ip]},
        }
        node = server.finish(server.call("POST", "/nodes", body)).headers["location"]
        node_id = node.rsplit("/", 1)[1]
        device = {"node": node_id, "name": DATA_DISK}
        assert server.finish(server.call("POST", "/devices", device)).status_code == 204
        created = server.finish(server.call("POST", "/volumes", {"size": 1}))
        origin = created.headers["location"].rsplit("/", 1)[1]
        assert_guest_matches(server)
        for i, point in enumerate(CLONE_POINTS):
            server.stop()
            server.start(crash_at=point)
            r = server.call("POST", f"/volumes/{origin}/clone", {"name": f"clone{i}"})
            assert r.status_code == 202, r.text
            assert server.process is not None
            assert server.process.wait(timeout=600) == -9, f"not killed at {point}"
            server.start()
            answer = server.answer(r.headers["location"])
            dump = assert_guest_matches(server)
            names = {e["Info"]["name"] for e in dump["volumeentries"].values()}
            if point.split(":")[1] in ("volume-cloned", "finalized"):
                assert answer.status_code == 303, (point, answer.text)
                assert f"clone{i}" in names
                clone = answer.headers["location"]
                assert server.finish(server.call("DELETE", clone)).status_code == 204
                assert_guest_matches(server)
            else:
                assert (answer.status_code, answer.text.strip()) == (500, ROLLED_BACK), point
                assert f"clone{i}" not in names
        assert server.finish(server.call("DELETE", f"/volumes/{origin}")).status_code == 204
        dump = assert_guest_matches(server)
        (device_id,) = dump["deviceentries"]
        assert dump["deviceentries"][device_id]["Info"]["storage"]["used"] == 0
        for state in ("offline", "failed"):
            r = server.finish(server.call("POST", f"/devices/{device_id}/state", {"state": state}))
            assert r.status_code == 204, r.text
        assert server.finish(server.call("DELETE", f"/devices/{device_id}")).status_code == 204
        assert server.finish(server.call("DELETE", f"/nodes/{node_id}")).status_code == 204
    finally:
        server.stop()


def heketi_form(dump: dict[str, Any]) -> dict[str, Any]:
    """A Brickyard export as Heketi 10 writes it: without Brickyard's own fields."""
    result = json.loads(json.dumps(dump))
    for entry in result["deviceentries"].values():
        del entry["Backend"]
    for entry in result["brickentries"].values():
        del entry["SetIndex"], entry["Position"]
    return result


def test_heketi_lvm_names_drive_real_lvm(guest_vm: Guest, tmp_path: Path) -> None:
    """A database as Heketi 10 writes it drives real LVM by the names it recorded: a brick whose
    thin pool is not tp_<brick id> (renamed on the guest, recorded so in the export), and a
    clone whose LV lives in that pool. After `heketi db import` into a new server, examine
    finds no difference; deleting the origin first leaves the pool for the clone (its space
    still counted, once); deleting the clone then removes every LV and returns all the space."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = VmServer(guest_vm, tmp_path / "a")
    first.start()
    try:
        cluster = first.call("POST", "/clusters", {"block": False, "file": True}).json()["id"]
        body = {
            "cluster": cluster,
            "zone": 1,
            "hostnames": {"manage": [guest_vm.ip], "storage": [guest_vm.ip]},
        }
        node_id = first.finish(first.call("POST", "/nodes", body)).headers["location"]
        node_id = node_id.rsplit("/", 1)[1]
        device = {"node": node_id, "name": DATA_DISK}
        assert first.finish(first.call("POST", "/devices", device)).status_code == 204
        created = first.finish(first.call("POST", "/volumes", {"size": 1}))
        origin = created.headers["location"].rsplit("/", 1)[1]
        cloned = first.finish(first.call("POST", f"/volumes/{origin}/clone", {"name": "c"}))
        clone = cloned.headers["location"].rsplit("/", 1)[1]
        dump = first.dump()
    finally:
        first.stop()
    (device_id,) = dump["deviceentries"]
    vg = f"vg_{device_id}"
    (origin_brick,) = dump["volumeentries"][origin]["Bricks"]
    (clone_brick,) = dump["volumeentries"][clone]["Bricks"]
    clone_lv = dump["brickentries"][clone_brick]["LvmLv"]
    assert dump["brickentries"][clone_brick]["LvmThinPool"] == f"tp_{origin_brick}"
    renamed = f"tp_{uuid.uuid4().hex}"
    guest(f"lvrename {vg} tp_{origin_brick} {renamed}")
    export = heketi_form(dump)
    for brick in (origin_brick, clone_brick):
        export["brickentries"][brick]["LvmThinPool"] = renamed
    (tmp_path / "export.json").write_text(json.dumps(export))
    heketi = Path(sys.executable).parent / "heketi"
    database = tmp_path / "b" / "heketi.db"
    imported = subprocess.run(
        [str(heketi), "db", "import", f"--jsonfile={tmp_path}/export.json", f"--dbfile={database}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    second = VmServer(guest_vm, tmp_path / "b")
    second.start()
    try:
        examined = second.call("GET", "/internal/state/examine").json()
        assert examined["differences"] == [], examined
        used = second.dump()["deviceentries"][device_id]["Info"]["storage"]["used"]
        assert used > 0
        # the origin first: its LV goes, the renamed pool stays for the clone's LV
        assert second.finish(second.call("DELETE", f"/volumes/{origin}")).status_code == 204
        assert lv_names(vg) == {renamed, clone_lv}
        after = second.dump()
        assert after["pendingoperations"] == {}
        assert after["deviceentries"][device_id]["Info"]["storage"]["used"] == used
        examined = second.call("GET", "/internal/state/examine").json()
        assert examined["differences"] == [], examined
        # then the clone: nothing is left, all the space is back
        assert second.finish(second.call("DELETE", f"/volumes/{clone}")).status_code == 204
        assert lv_names(vg) == set()
        final = second.dump()
        assert final["deviceentries"][device_id]["Info"]["storage"]["used"] == 0
        assert "No snapshots present" in guest("gluster --mode=script snapshot list").stdout
        for state in ("offline", "failed"):
            r = second.finish(second.call("POST", f"/devices/{device_id}/state", {"state": state}))
            assert r.status_code == 204, r.text
        assert second.finish(second.call("DELETE", f"/devices/{device_id}")).status_code == 204
        assert second.finish(second.call("DELETE", f"/nodes/{node_id}")).status_code == 204
    finally:
        second.stop()
