"""Node inventory and the pool's volume list: the command builders (exact argv), the parsers on
real-looking output, the remote agent over a scripted transport, and the simulator with its
fault helpers (leaked, lost and unmounted bricks, lost devices, dropped and foreign volumes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from brickyard.domain.errors import NodeCommandError
from brickyard.nodes.commands import fs, gluster, loopfile, lvm, parsers
from brickyard.nodes.commands.argv import Command, Outcome
from brickyard.nodes.commands.errors import OutputParseError
from brickyard.nodes.commands.settings import CommandSettings
from brickyard.nodes.port import (
    BrickSpec,
    BrickStorage,
    BrickTrace,
    DeviceReport,
    DeviceSpec,
    GlusterBrick,
    GlusterVolumeSpec,
    NodeAddress,
    collect_bricks,
)
from brickyard.nodes.remote import RemoteNodeAgent
from brickyard.nodes.sim import SimNodeAgent, SimWorld
from brickyard.nodes.transports import CommandResult

FIXTURES = Path(__file__).parent / "commands" / "fixtures"
NODE = NodeAddress("10.0.0.1", "10.0.0.1")
LVM = "/usr/sbin/lvm"
MOUNTS = "/var/lib/heketi/mounts"

# device ids (as Heketi makes them: 32 hex digits) and brick ids
DA, DB, DX = "da" * 16, "db" * 16, "dc" * 16
B1, B2, B3, B4, B5 = ("b1" * 16, "b2" * 16, "b3" * 16, "b4" * 16, "b5" * 16)


def mount_point(device_id: str, brick_id: str) -> str:
    return f"{MOUNTS}/vg_{device_id}/brick_{brick_id}"


def findmnt_json(targets: dict[str, str]) -> str:
    """findmnt --json --list output: the root, the given (target -> source) mounts, a
    snapshot brick glusterd mounted, as util-linux 2.38 prints them."""
    filesystems = [
        {"target": "/", "source": "/dev/vda", "fstype": "ext4", "options": "rw,relatime"},
        *(
            {"target": target, "source": source, "fstype": "xfs", "options": "rw,noatime"}
            for target, source in targets.items()
        ),
        {
            "target": "/run/gluster/snaps/0f1e/brick1",
            "source": "/dev/mapper/vg_x-0f1e_0",
            "fstype": "xfs",
            "options": "rw",
        },
    ]
    return json.dumps({"filesystems": filesystems}, indent=3)


def lvs_json(rows: list[tuple[str, str, str, str, str]]) -> str:
    """An lvs --units k --reportformat=json report of (vg, lv, pool_lv, size, metadata size)."""
    lv = [
        {
            "vg_name": vg,
            "lv_name": name,
            "pool_lv": pool,
            "lv_size": size,
            "lv_metadata_size": meta,
        }
        for vg, name, pool, size, meta in rows
    ]
    return json.dumps({"report": [{"lv": lv}]}, indent=2)


def vgs_json(*names: str) -> str:
    return json.dumps({"report": [{"vg": [{"vg_name": n} for n in names]}]})


FSTAB = f"""\
# /etc/fstab: static file system information.
UUID=4bd8c0f6-2c5e-4f5e-9d35-0b8a4a1e6f10 / ext4 errors=remount-ro 0 1
/dev/sdb1 /srv/data xfs defaults 0 0

/dev/mapper/vg_{DA}-brick_{B1} {mount_point(DA, B1)} xfs rw,inode64,noatime,nouuid 1 2
/var/lib/heketi/devices/{DB}/images/brick_{B3}.img {mount_point(DB, B3)} xfs loop,rw 0 0
#/dev/mapper/vg_{DA}-brick_{B5} {mount_point(DA, B5)} xfs rw 1 2
/dev/tb/vdb /var/lib/heketi/devices/{DB} xfs rw,inode64,noatime,nouuid 0 0
"""

# `gluster volume info --xml` with two volumes, verbatim from glusterfs 10.3 on the test bed
VOLUME_INFO_TWO = """\
<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
  <volInfo>
    <volumes>
      <volume>
        <name>foreign</name>
        <id>938d04b3-f602-44f3-8135-1967fd121816</id>
        <status>0</status>
        <statusStr>Created</statusStr>
        <snapshotCount>0</snapshotCount>
        <brickCount>2</brickCount>
        <distCount>2</distCount>
        <replicaCount>1</replicaCount>
        <arbiterCount>0</arbiterCount>
        <disperseCount>0</disperseCount>
        <redundancyCount>0</redundancyCount>
        <type>0</type>
        <typeStr>Distribute</typeStr>
        <transport>0</transport>
        <bricks>
          <brick uuid="223ab47f-b972-4e36-b7d9-a640f73340d1">10.200.0.1:/srv/b/d<name>10.200.0.1:/srv/b/d</name><hostUuid>223ab47f-b972-4e36-b7d9-a640f73340d1</hostUuid><isArbiter>0</isArbiter></brick>
          <brick uuid="3a2b52a6-3ed8-4cd2-b801-811ace41989e">10.200.0.2:/srv/b/d<name>10.200.0.2:/srv/b/d</name><hostUuid>3a2b52a6-3ed8-4cd2-b801-811ace41989e</hostUuid><isArbiter>0</isArbiter></brick>
        </bricks>
        <optCount>3</optCount>
        <options>
          <option>
            <name>storage.fips-mode-rchecksum</name>
            <value>on</value>
          </option>
          <option>
            <name>transport.address-family</name>
            <value>inet</value>
          </option>
          <option>
            <name>nfs.disable</name>
            <value>on</value>
          </option>
        </options>
      </volume>
      <volume>
        <name>vol_aaa</name>
        <id>418aac4c-b8d4-4d3e-83f8-613a67761cf9</id>
        <status>1</status>
        <statusStr>Started</statusStr>
        <snapshotCount>0</snapshotCount>
        <brickCount>3</brickCount>
        <distCount>1</distCount>
        <replicaCount>3</replicaCount>
        <arbiterCount>0</arbiterCount>
        <disperseCount>0</disperseCount>
        <redundancyCount>0</redundancyCount>
        <type>2</type>
        <typeStr>Replicate</typeStr>
        <transport>0</transport>
        <bricks>
          <brick uuid="223ab47f-b972-4e36-b7d9-a640f73340d1">10.200.0.1:/srv/b/r<name>10.200.0.1:/srv/b/r</name><hostUuid>223ab47f-b972-4e36-b7d9-a640f73340d1</hostUuid><isArbiter>0</isArbiter></brick>
          <brick uuid="3a2b52a6-3ed8-4cd2-b801-811ace41989e">10.200.0.2:/srv/b/r<name>10.200.0.2:/srv/b/r</name><hostUuid>3a2b52a6-3ed8-4cd2-b801-811ace41989e</hostUuid><isArbiter>0</isArbiter></brick>
          <brick uuid="fdfca424-dc6f-46c8-9e46-024d7b097ea4">10.200.0.3:/srv/b/r<name>10.200.0.3:/srv/b/r</name><hostUuid>fdfca424-dc6f-46c8-9e46-024d7b097ea4</hostUuid><isArbiter>0</isArbiter></brick>
        </bricks>
        <optCount>5</optCount>
        <options>
          <option>
            <name>cluster.granular-entry-heal</name>
            <value>on</value>
          </option>
          <option>
            <name>storage.fips-mode-rchecksum</name>
            <value>on</value>
          </option>
          <option>
            <name>transport.address-family</name>
            <value>inet</value>
          </option>
          <option>
            <name>nfs.disable</name>
            <value>on</value>
          </option>
          <option>
            <name>performance.client-io-threads</name>
            <value>off</value>
          </option>
        </options>
      </volume>
      <count>2</count>
    </volumes>
  </volInfo>
</cliOutput>
"""  # noqa: E501 (verbatim)

# ... and with none (glusterfs 10.3: opRet 0, an empty list; not an error)
VOLUME_INFO_NONE = """\
<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput>
  <opRet>0</opRet>
  <opErrno>0</opErrno>
  <opErrstr/>
  <volInfo>
    <volumes>
      <count>0</count>
    </volumes>
  </volInfo>
</cliOutput>
"""


# ============================================================================================
# Command builders


def test_findmnt_and_fstab_read_argv() -> None:
    listing = fs.findmnt_all(300)
    assert listing.argv == (
        "findmnt", "--json", "--list", "--output", "TARGET,SOURCE,FSTYPE,OPTIONS",
    )  # fmt: skip
    read = fs.fstab_read(CommandSettings(fstab="/etc/fstab.d/heketi"), 300)
    assert read.argv == ("cat", "/etc/fstab.d/heketi")
    # a missing fstab reads as empty: brick create's `tee -a` would make it
    assert read.outcome(1, "cat: /etc/fstab.d/heketi: No such file or directory") is (
        Outcome.TOLERATED
    )
    assert read.outcome(1, "cat: /etc/fstab.d/heketi: Permission denied") is Outcome.FAILED


def test_lvm_inventory_argv_with_and_without_wrapper() -> None:
    assert lvm.vg_names(CommandSettings()).argv == (
        LVM,
        "vgs",
        "-o",
        "vg_name",
        "--reportformat=json",
    )
    lvs = lvm.lvs_bricks(CommandSettings(), [DA, DB])
    assert lvs.argv == (
        LVM, "lvs", "-o", "vg_name,lv_name,pool_lv,lv_size,lv_metadata_size",
        "--units", "k", "--reportformat=json", f"vg_{DA}", f"vg_{DB}",
    )  # fmt: skip
    wrapped = CommandSettings(lvm_wrapper="nsenter --mount=/proc/1/ns/mnt --")
    prefix = ("nsenter", "--mount=/proc/1/ns/mnt", "--", LVM)
    assert lvm.vg_names(wrapped).argv[:5] == (*prefix, "vgs")
    assert lvm.lvs_bricks(wrapped, [DA]).argv[:5] == (*prefix, "lvs")
    with pytest.raises(ValueError):
        lvm.lvs_bricks(CommandSettings(), [])
    with pytest.raises(ValueError):
        lvm.lvs_bricks(CommandSettings(), ["-x; rm"])


def test_image_listing_argv_and_what_counts_as_a_missing_device() -> None:
    device = DeviceSpec(DB, "/dev/tb/vdb", "loopfile")
    images = f"/var/lib/heketi/devices/{DB}/images"
    command = loopfile.list_images(device)
    assert command.argv == (
        "find", images, "-maxdepth", "1", "-name", "*.img", "-printf", "%s\\t%f\\0",
    )  # fmt: skip
    # the images dir itself missing (C and UTF-8 locale quotes): the device is not there
    for quoted in (f"'{images}'", f"\u2018{images}\u2019"):
        stderr = f"find: {quoted}: No such file or directory"
        assert command.outcome(1, stderr) is Outcome.TOLERATED
    # an image vanishing during the listing is not a missing device
    vanished = f"find: '{images}/brick_{B3}.img': No such file or directory"
    assert command.outcome(1, vanished) is Outcome.FAILED
    directory = loopfile.list_images(DeviceSpec(DB, "/srv/devices/d1/", "loopfile"))
    assert directory.argv[1] == "/srv/devices/d1/images"


def test_volume_list_is_volume_info_without_a_name() -> None:
    assert gluster.volume_info(CommandSettings()).argv == (
        "gluster", "--mode=script", "--timeout=600", "volume", "info", "--xml",
    )  # fmt: skip


# ============================================================================================
# Parsers


def test_brick_mounts_from_findmnt() -> None:
    text = findmnt_json(
        {
            mount_point(DA, B1): f"/dev/mapper/vg_{DA}-brick_{B1}",
            mount_point(DB, B3) + "/": "/dev/loop3",
            f"{MOUNTS}/vg_{DA}/not_a_brick": "/dev/loop4",
            "/var/lib/heketi/devices/" + DB: "/dev/tb/vdb",
        }
    )
    assert parsers.parse_brick_mounts(text) == {B1: DA, B3: DB}
    assert parsers.parse_brick_mounts("") == {}
    with pytest.raises(OutputParseError):
        parsers.parse_brick_mounts("{not json")


def test_brick_mounts_from_the_findmnt_fixture() -> None:
    text = (FIXTURES / "findmnt_list.json").read_text()
    assert parsers.parse_brick_mounts(text) == {
        "a1b2c3d4e5f60718293a4b5c6d7e8f90": "3f5d6c0e8b2a4f1c9d7e6b5a4c3d2e1f"
    }


def test_brick_lines_from_fstab() -> None:
    assert parsers.parse_fstab_bricks(FSTAB) == {B1: DA, B3: DB}
    escaped = rf"/srv/my\040disk/images/brick_{B2}.img {MOUNTS}/vg_{DA}/brick_{B2} xfs loop 0 0"
    assert parsers.parse_fstab_bricks(escaped) == {B2: DA}
    assert parsers.fstab_unescape(r"/srv/my\040disk\011x\134") == "/srv/my disk\tx\\"
    assert parsers.parse_fstab_bricks("") == {}


def test_brick_of_paths() -> None:
    assert parsers.brick_of_mount_point(mount_point(DA, B1)) == (DA, B1)
    assert parsers.brick_of_mount_point(mount_point(DA, B1) + "/brick") is None
    assert parsers.brick_of_mount_point(f"/run/gluster/snaps/x/vg_{DA}/brick_{B1}") is None
    assert parsers.brick_of_image(f"brick_{B1}.img") == B1
    for other in (f"brick_{B1}.img.save", "lost.img", f"brick_{B1}"):
        assert parsers.brick_of_image(other) is None


def test_thin_bricks_from_lvs() -> None:
    text = lvs_json(
        [
            # a brick: its LV and its pool (data 1 GiB + metadata 8 MiB)
            (f"vg_{DA}", f"brick_{B1}", f"tp_{B1}", "1048576.00k", ""),
            (f"vg_{DA}", f"tp_{B1}", "", "1048576.00k", "8192.00k"),
            # a pool whose LV is gone (destroy could not remove the pool): it still holds space
            (f"vg_{DA}", f"tp_{B2}", "", "2097152.00k", "12288.00k"),
            # snapshot factor 1.5: the pool is larger than the LV's virtual size
            (f"vg_{DB}", f"brick_{B3}", f"tp_{B3}", "1048576.00k", ""),
            (f"vg_{DB}", f"tp_{B3}", "", "1572864.00k", "8192.00k"),
            # not Heketi's
            (f"vg_{DA}", "lvol0", "", "4096.00k", ""),
            ("vg_system", f"brick_{B4}", "", "4096.00k", ""),
            ("rootvg", "root", "", "20971520.00k", ""),
        ]
    )
    assert parsers.parse_thin_bricks(text) == {
        B1: BrickStorage(DA, present=True, reserved=1056768),
        B2: BrickStorage(DA, present=False, reserved=2109440),
        B3: BrickStorage(DB, present=True, reserved=1581056),
        B4: BrickStorage("system", present=True, reserved=0),
    }


def test_thin_bricks_from_the_lvs_fixture() -> None:
    text = (FIXTURES / "lvs_units_k.json").read_text()  # no lv_metadata_size column there
    brick = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    assert parsers.parse_thin_bricks(text) == {
        brick: BrickStorage("3f5d6c0e8b2a4f1c9d7e6b5a4c3d2e1f", present=True, reserved=1048576)
    }
    with pytest.raises(OutputParseError):
        parsers.parse_thin_bricks(lvs_json([(f"vg_{DA}", f"tp_{B1}", "", "lots", "")]))


def test_vg_names() -> None:
    assert parsers.parse_vg_names(vgs_json(f"vg_{DA}", "rootvg")) == {f"vg_{DA}", "rootvg"}
    assert parsers.parse_vg_names('{"report": [{"vg": []}]}') == set()
    with pytest.raises(OutputParseError):
        parsers.parse_vg_names("  No volume groups found\n")


def test_image_listing() -> None:
    text = f"1082130432\tbrick_{B3}.img\x001073741824\tstray\nname.img\x00"
    assert parsers.parse_image_list(text) == [
        parsers.ImageFile(f"brick_{B3}.img", 1082130432),
        parsers.ImageFile("stray\nname.img", 1073741824),
    ]
    assert parsers.parse_image_list("") == []
    with pytest.raises(OutputParseError):
        parsers.parse_image_list("1082130432 brick.img\n")


def test_volume_info_of_the_whole_pool() -> None:
    volumes = [v.to_port() for v in parsers.parse_volume_info(VOLUME_INFO_TWO)]
    assert [(v.name, v.status, len(v.bricks)) for v in volumes] == [
        ("foreign", "Created", 2),
        ("vol_aaa", "Started", 3),
    ]
    assert volumes[1].bricks[2] == GlusterBrick("10.200.0.3", "/srv/b/r")
    assert parsers.parse_volume_info(VOLUME_INFO_NONE) == []


def test_collect_bricks_merges_traces() -> None:
    bricks = collect_bricks(
        mounted={B1: DA, B3: DX},
        in_fstab={B1: DA, B2: DA},
        storage={B1: BrickStorage(DA, True, 100), B3: BrickStorage(DB, True, 50)},
    )
    assert bricks == {
        B1: BrickTrace(B1, DA, mounted=True, fstab=True, storage=True, reserved=100),
        B2: BrickTrace(B2, DA, mounted=False, fstab=True, storage=False, reserved=0),
        # the storage's device wins over the one a path names
        B3: BrickTrace(B3, DB, mounted=True, fstab=False, storage=True, reserved=50),
    }


# ============================================================================================
# The remote agent over a scripted transport

Answer = Callable[[Command], CommandResult]


class ScriptedTransport:
    """Answers each command by the first rule whose argv prefix matches; records every
    command. A command no rule matches fails the test: inventory must stay read-only."""

    def __init__(self, rules: list[tuple[tuple[str, ...], Answer]]) -> None:
        self.rules = rules
        self.ran: list[tuple[str, ...]] = []

    async def run(self, host: str, command: Command) -> CommandResult:
        self.ran.append(command.argv)
        for prefix, answer in self.rules:
            if command.argv[: len(prefix)] == prefix:
                return answer(command)
        raise AssertionError(f"unexpected command {command.argv}")

    async def close(self) -> None:
        return None


def ok(stdout: str = "") -> Answer:
    return lambda _: CommandResult(0, stdout, "")


def fail(stderr: str, code: int = 1) -> Answer:
    return lambda _: CommandResult(code, "", stderr)


def unreachable(command: Command) -> CommandResult:
    raise NodeCommandError(f"ssh root@{NODE.manage}:22: [Errno 113] No route to host")


LOOP_A = DeviceSpec(DA, "/srv/devices/d1", "loopfile")
LOOP_B = DeviceSpec(DB, "/dev/tb/vdb", "loopfile")
DF = "1K-blocks    Avail\n 4182016  4149012\n"  # 4182016 KiB: 1021 extents of 4 MiB


async def test_remote_inventory_of_loopfile_devices() -> None:
    listing = f"1082130432\tbrick_{B1}.img\x001082130432\tbrick_{B2}.img\x00"
    transport = ScriptedTransport(
        [
            (("findmnt",), ok(findmnt_json({mount_point(DA, B1): "/dev/loop3"}))),
            (("cat", "/etc/fstab"), ok(FSTAB)),
            (("find", "/srv/devices/d1/images"), ok(listing)),
            (
                ("find", f"/var/lib/heketi/devices/{DB}/images"),
                fail(f"find: '/var/lib/heketi/devices/{DB}/images': No such file or directory"),
            ),
            (("df",), ok(DF)),
        ]
    )
    inventory = await RemoteNodeAgent(transport, CommandSettings()).inventory(
        NODE, [LOOP_A, LOOP_B]
    )

    # read-only, and a handful of commands: nothing per brick, no LVM for loop-file devices
    assert transport.ran == [
        ("findmnt", "--json", "--list", "--output", "TARGET,SOURCE,FSTYPE,OPTIONS"),
        ("cat", "/etc/fstab"),
        loopfile.list_images(LOOP_A).argv,
        ("df", "--output=size,avail", "-B1K", "/srv/devices/d1"),
        loopfile.list_images(LOOP_B).argv,
    ]
    total = 4182016 - 4182016 % 4096
    assert inventory.devices == {
        DA: DeviceReport(
            total=total,
            free=total - 2 * 1056768,
            used=2 * 1056768,
            extent_size=4096,
            paths=["/srv/devices/d1"],
        ),
        DB: None,
    }
    assert inventory.bricks == {
        B1: BrickTrace(B1, DA, mounted=True, fstab=True, storage=True, reserved=1056768),
        # image, no mount, no fstab line: half made or half destroyed
        B2: BrickTrace(B2, DA, mounted=False, fstab=False, storage=True, reserved=1056768),
        # only an fstab line, naming the missing device
        B3: BrickTrace(B3, DB, mounted=False, fstab=True, storage=False, reserved=0),
    }


async def test_remote_device_info_reads_the_same_listing() -> None:
    listing = f"1082130432\tbrick_{B1}.img\x00"
    transport = ScriptedTransport([(("find",), ok(listing)), (("df",), ok(DF))])
    agent = RemoteNodeAgent(transport, CommandSettings())
    report = await agent.device_info(NODE, LOOP_A)
    inventory = await RemoteNodeAgent(
        ScriptedTransport(
            [
                (("findmnt",), ok(findmnt_json({}))),
                (("cat",), ok("")),
                (("find",), ok(listing)),
                (("df",), ok(DF)),
            ]
        ),
        CommandSettings(),
    ).inventory(NODE, [LOOP_A])
    assert inventory.devices[DA] == report
    assert report.used == 1056768

    gone = f"find: '{loopfile.images_dir(LOOP_A)}': No such file or directory"
    missing = ScriptedTransport([(("find",), fail(gone))])
    with pytest.raises(NodeCommandError, match="No such file or directory"):
        await RemoteNodeAgent(missing, CommandSettings()).device_info(NODE, LOOP_A)


LVM_A = DeviceSpec(DA, "/dev/sdb")
LVM_B = DeviceSpec(DB, "/dev/sdc")
VGDISPLAY_A = f"  vg_{DA}:r/w:772:-1:0:2:2:-1:0:1:1:10481664:4096:2559:516:2043:rJ0bIG-3XNc\n"


async def test_remote_inventory_of_lvm_devices() -> None:
    lvs = lvs_json(
        [
            (f"vg_{DA}", f"brick_{B1}", f"tp_{B1}", "1048576.00k", ""),
            (f"vg_{DA}", f"tp_{B1}", "", "1048576.00k", "8192.00k"),
            (f"vg_{DA}", f"brick_{B2}", f"tp_{B2}", "1048576.00k", ""),
            (f"vg_{DA}", f"tp_{B2}", "", "1048576.00k", "8192.00k"),
        ]
    )
    mounts = {
        mount_point(DA, B1): f"/dev/mapper/vg_{DA}-brick_{B1}",
        mount_point(DX, B4): f"/dev/mapper/vg_{DX}-brick_{B4}",  # a device the db lacks
    }
    transport = ScriptedTransport(
        [
            (("findmnt",), ok(findmnt_json(mounts))),
            (("cat", "/etc/fstab"), ok(FSTAB)),
            ((LVM, "vgs"), ok(vgs_json(f"vg_{DA}", "rootvg"))),
            ((LVM, "lvs"), ok(lvs)),
            ((LVM, "pvs"), ok((FIXTURES / "pvs_identify.json").read_text())),
            (("/usr/bin/udevadm",), ok("disk/by-id/wwn-0x5000c500a1b2c3d4\n")),
            ((LVM, "vgdisplay"), ok(VGDISPLAY_A)),
        ]
    )
    inventory = await RemoteNodeAgent(transport, CommandSettings()).inventory(NODE, [LVM_A, LVM_B])

    assert transport.ran == [
        ("findmnt", "--json", "--list", "--output", "TARGET,SOURCE,FSTYPE,OPTIONS"),
        ("cat", "/etc/fstab"),
        (LVM, "vgs", "-o", "vg_name", "--reportformat=json"),
        # only the VGs that exist: lvs fails on a missing one
        lvm.lvs_bricks(CommandSettings(), [DA]).argv,
        # device_info's own commands for the device that is there
        lvm.pvs_identify(CommandSettings(), "/dev/sdb").argv,
        lvm.udev_symlinks(CommandSettings(), "/dev/sdb").argv,
        lvm.vgdisplay(CommandSettings(), DA).argv,
    ]
    assert inventory.devices == {
        DA: DeviceReport(
            total=2559 * 4096,
            free=2043 * 4096,
            used=516 * 4096,
            extent_size=4096,
            paths=["/dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "/dev/sdb"],
            pv_uuid="Xh3Cz0-1bq3-RM5b-Ovv6-5jhs-Np5U-pLnq9d",
        ),
        DB: None,
    }
    assert inventory.bricks == {
        B1: BrickTrace(B1, DA, mounted=True, fstab=True, storage=True, reserved=1056768),
        B2: BrickTrace(B2, DA, mounted=False, fstab=False, storage=True, reserved=1056768),
        B3: BrickTrace(B3, DB, mounted=False, fstab=True, storage=False, reserved=0),
        B4: BrickTrace(B4, DX, mounted=True, fstab=False, storage=False, reserved=0),
    }


async def test_remote_inventory_with_no_vg_runs_no_lvs() -> None:
    transport = ScriptedTransport(
        [
            (("findmnt",), ok(findmnt_json({}))),
            (("cat",), fail("cat: /etc/fstab: No such file or directory")),
            ((LVM, "vgs"), ok(vgs_json())),
        ]
    )
    inventory = await RemoteNodeAgent(transport, CommandSettings()).inventory(NODE, [LVM_A])
    assert inventory.devices == {DA: None} and inventory.bricks == {}
    assert [argv[1] for argv in transport.ran if argv[0] == LVM] == ["vgs"]


async def test_remote_inventory_failures_are_node_command_errors() -> None:
    agent = RemoteNodeAgent(ScriptedTransport([((), unreachable)]), CommandSettings())
    with pytest.raises(NodeCommandError, match="No route to host"):
        await agent.inventory(NODE, [LOOP_A])
    with pytest.raises(NodeCommandError, match="No route to host"):
        await agent.volume_list(NODE)

    denied = ScriptedTransport(
        [
            (("findmnt",), ok(findmnt_json({}))),
            (("cat",), ok("")),
            ((LVM, "vgs"), fail("  WARNING: Running as a non-root user. Permission denied", 5)),
        ]
    )
    with pytest.raises(NodeCommandError, match=r"vgs .* on 10\.0\.0\.1: .*Permission denied"):
        await RemoteNodeAgent(denied, CommandSettings()).inventory(NODE, [LVM_A])

    garbled = ScriptedTransport([(("findmnt",), ok("findmnt: bad usage")), (("cat",), ok(""))])
    with pytest.raises(NodeCommandError, match=r"reading mounts on 10\.0\.0\.1"):
        await RemoteNodeAgent(garbled, CommandSettings()).inventory(NODE, [])


async def test_remote_volume_list() -> None:
    transport = ScriptedTransport([(("gluster",), ok(VOLUME_INFO_TWO))])
    agent = RemoteNodeAgent(transport, CommandSettings())
    volumes = await agent.volume_list(NODE)
    assert transport.ran == [gluster.volume_info(CommandSettings()).argv]
    assert [(v.name, v.status) for v in volumes] == [("foreign", "Created"), ("vol_aaa", "Started")]
    assert [str(b) for b in volumes[1].bricks] == [
        "10.200.0.1:/srv/b/r",
        "10.200.0.2:/srv/b/r",
        "10.200.0.3:/srv/b/r",
    ]
    assert volumes[0].options["nfs.disable"] == "on"

    transport.rules = [(("gluster",), ok(VOLUME_INFO_NONE))]
    assert await agent.volume_list(NODE) == []

    # gluster --xml exits 0 on errors: opRet decides
    transport.rules = [(("gluster",), ok((FIXTURES / "volume_info_nosuchvol.xml").read_text()))]
    with pytest.raises(NodeCommandError, match=r"on 10\.0\.0\.1"):
        await agent.volume_list(NODE)


# ============================================================================================
# The simulator

A = NodeAddress("node-a", "10.0.0.1")
B = NodeAddress("node-b", "10.0.0.2")
SIM_A = DeviceSpec(DA, "/dev/sdb")
SIM_B = DeviceSpec(DB, "/dev/sdb")


def sim_brick(brick_id: str, device: DeviceSpec) -> BrickSpec:
    return BrickSpec(brick_id, device, 1048576, 1048576, 8192)


@pytest.fixture
async def sim() -> SimNodeAgent:
    """Two peered nodes, one device each, and a replica-2 volume over one brick each."""
    agent = SimNodeAgent(SimWorld(device_size_gb=10))
    await agent.device_setup(A, SIM_A, False)
    await agent.device_setup(B, SIM_B, False)
    await agent.peer_probe(A, B)
    await agent.brick_create(A, sim_brick(B1, SIM_A))
    await agent.brick_create(B, sim_brick(B2, SIM_B))
    bricks = [
        GlusterBrick(A.storage, sim_brick(B1, SIM_A).path),
        GlusterBrick(B.storage, sim_brick(B2, SIM_B).path),
    ]
    await agent.volume_create(A, GlusterVolumeSpec("vol1", bricks, replica=2))
    return agent


async def test_sim_inventory_reads_the_node_state(sim: SimNodeAgent) -> None:
    inventory = await sim.inventory(A, [SIM_A])
    assert inventory.bricks == {
        B1: BrickTrace(B1, DA, mounted=True, fstab=True, storage=True, reserved=1056768)
    }
    assert inventory.devices == {DA: await sim.device_info(A, SIM_A)}
    assert inventory.devices[DA] is not None
    assert inventory.devices[DA].free == 10 * 1048576 - 1056768
    volumes = await sim.volume_list(B)
    assert [(v.name, v.status, len(v.bricks)) for v in volumes] == [("vol1", "Started", 2)]


async def test_sim_leaked_and_lost_bricks(sim: SimNodeAgent) -> None:
    world = sim.world
    world.leak_brick("node-a", DA, B3, 2 * 1048576)
    inventory = await sim.inventory(A, [SIM_A])
    assert inventory.bricks[B3] == BrickTrace(B3, DA, True, True, True, 2 * 1048576)
    report = inventory.devices[DA]
    assert report is not None and report.used == 1056768 + 2 * 1048576
    with pytest.raises(ValueError):
        world.leak_brick("node-a", DA, B4, 100 * 1048576)  # no room
    with pytest.raises(ValueError):
        world.leak_brick("node-a", DX, B4, 1048576)  # no such device

    world.lose_brick("node-a", B1)
    inventory = await sim.inventory(A, [SIM_A])
    assert set(inventory.bricks) == {B3}
    # gluster still lists the lost brick: examine sees a volume brick without its node half
    (volume,) = await sim.volume_list(A)
    assert GlusterBrick(A.storage, sim_brick(B1, SIM_A).path) in volume.bricks


async def test_sim_unmounted_brick_and_lost_device(sim: SimNodeAgent) -> None:
    world = sim.world
    world.unmount_brick("node-b", B2)
    inventory = await sim.inventory(B, [SIM_B])
    assert inventory.bricks[B2] == BrickTrace(B2, DB, False, True, True, 1056768)

    # a thin pool whose LV is gone still holds its space
    world.nodes["node-b"].volume_groups[SIM_B.vg_name].pools[f"tp_{B2}"].lvs.clear()
    inventory = await sim.inventory(B, [SIM_B])
    assert inventory.bricks[B2] == BrickTrace(B2, DB, False, True, False, 1056768)

    world.lose_device("node-a", DA)
    inventory = await sim.inventory(A, [SIM_A])
    assert inventory.devices == {DA: None}
    assert inventory.bricks == {B1: BrickTrace(B1, DA, True, True, False, 0)}


async def test_sim_dropped_and_foreign_volumes(sim: SimNodeAgent) -> None:
    world = sim.world
    world.drop_volume("vol1")
    assert await sim.volume_list(A) == []
    world.add_foreign_volume("node-b", "foreign", [GlusterBrick(B.storage, "/srv/b/d")], "Created")
    (foreign,) = await sim.volume_list(A)  # the same trusted pool
    assert (foreign.name, foreign.status, foreign.bricks) == (
        "foreign",
        "Created",
        [GlusterBrick(B.storage, "/srv/b/d")],
    )
    with pytest.raises(ValueError):
        world.add_foreign_volume("node-a", "foreign", [])


async def test_sim_unreachable_node_and_injected_failure(sim: SimNodeAgent) -> None:
    sim.world.fail("node-a", "inventory", "findmnt: timed out")
    with pytest.raises(NodeCommandError, match="timed out"):
        await sim.inventory(A, [SIM_A])
    assert (await sim.inventory(A, [SIM_A])).bricks  # failed once only
    sim.world.nodes["node-a"].reachable = False
    with pytest.raises(NodeCommandError, match="no route to host"):
        await sim.inventory(A, [SIM_A])
    with pytest.raises(NodeCommandError, match="no route to host"):
        await sim.volume_list(A)


def test_thin_bricks_under_recorded_names() -> None:
    """Heketi's pools are not always tp_<brick id>, and a clone's LV is gluster's: with the
    names the database recorded, each is read as its brick, never as the id in its name."""
    other = "71" * 16  # the id in the pool's name, no brick of ours
    clone, snap_lv = "c1" * 16, "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99_0"
    text = lvs_json(
        [
            (f"vg_{DA}", f"brick_{B1}", f"tp_{other}", "1048576.00k", ""),
            (f"vg_{DA}", snap_lv, f"tp_{other}", "1048576.00k", ""),
            (f"vg_{DA}", f"tp_{other}", "", "1048576.00k", "8192.00k"),
        ]
    )
    named = {
        (f"vg_{DA}", f"tp_{other}"): ("tp", B1),
        (f"vg_{DA}", snap_lv): ("brick", clone),
    }
    assert parsers.parse_thin_bricks(text, named) == {
        B1: BrickStorage(DA, present=True, reserved=1056768),
        clone: BrickStorage(DA, present=True, reserved=0),
    }
    # without the names, the pool reads as a brick of its own id, holding B1's space
    assert parsers.parse_thin_bricks(text)[other] == BrickStorage(
        DA, present=False, reserved=1056768
    )
