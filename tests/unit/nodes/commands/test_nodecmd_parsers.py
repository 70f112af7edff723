"""Parsers, on the real gluster --xml samples from the test bed (fixtures/, copied verbatim)
and on hand-made LVM/findmnt output."""

from __future__ import annotations

from pathlib import Path

import pytest

from brickyard.nodes.commands import parsers
from brickyard.nodes.commands.errors import GlusterError, GlusterOutputError, OutputParseError
from brickyard.nodes.port import GlusterBrick

FIXTURES = Path(__file__).parent / "fixtures"
TESTBED_SAMPLES = (
    "peer_status.xml",
    "pool_list.xml",
    "snapshot_list.xml",
    "volume_get_sshvol_network.ping-timeout.xml",
    "volume_heal_sshvol_info.xml",
    "volume_heal_sshvol_info_summary.xml",
    "volume_info.xml",
    "volume_info_nosuchvol.xml",
    "volume_info_sshvol.xml",
    "volume_list.xml",
    "volume_profile_sshvol_info.xml",
    "volume_quota_sshvol_list.xml",
    "volume_quota_sshvol_list_enabled.xml",
    "volume_status_all.xml",
    "volume_status_sshvol.xml",
    "volume_status_sshvol_detail.xml",
)
FAILING = {
    "snapshot_list.xml": (-1, 30800, "LVM commands not found, snapshot functionality is disabled"),
    "volume_info_nosuchvol.xml": (-1, 30806, "Volume does not exist"),
    "volume_profile_sshvol_info.xml": (-1, 30800, "Profile on Volume sshvol is not started"),
    "volume_quota_sshvol_list.xml": (-1, 30800, "Quota is disabled, please enable quota"),
}
U1 = "fba8b19a-6af9-4e79-871e-2302c0683fdd"
U2 = "21b7dd85-6418-4170-a3d7-8cc829edc824"
U3 = "3bf73ce3-d352-4fb8-a769-47d8a71f224a"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_every_testbed_sample_is_present() -> None:
    assert all((FIXTURES / name).is_file() for name in TESTBED_SAMPLES)


@pytest.mark.parametrize("name", TESTBED_SAMPLES)
def test_check_cli_output_on_every_sample(name: str) -> None:
    if name in FAILING:
        op_ret, op_errno, message = FAILING[name]
        with pytest.raises(GlusterError) as info:
            parsers.check_cli_output(fixture(name))
        assert info.value.message == message == str(info.value)
        assert info.value.op_ret == op_ret
        assert info.value.op_errno == op_errno
    else:
        assert parsers.check_cli_output(fixture(name)).tag == "cliOutput"
        assert parsers.check_cli_output(fixture(name).encode()).tag == "cliOutput"


# --- volume info ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["volume_info.xml", "volume_info_sshvol.xml"])
def test_volume_info(name: str) -> None:
    (vol,) = parsers.parse_volume_info(fixture(name))
    assert vol.name == "sshvol"
    assert vol.id == "b1b241b4-bdf7-4554-8807-95c060a456f3"
    assert vol.status == "Started"
    assert vol.type == "Replicate"
    assert (vol.brick_count, vol.dist_count, vol.replica_count) == (3, 1, 3)
    assert (vol.arbiter_count, vol.disperse_count, vol.redundancy_count) == (0, 0, 0)
    assert vol.snapshot_count == 0
    assert [b.name for b in vol.bricks] == [
        "10.200.0.1:/srv/bricks/b2/brick",
        "10.200.0.2:/srv/bricks/b2/brick",
        "10.200.0.3:/srv/bricks/b2/brick",
    ]
    assert [b.host_uuid for b in vol.bricks] == [U1, U2, U3]
    assert vol.bricks[1].host == "10.200.0.2"
    assert vol.bricks[1].path == "/srv/bricks/b2/brick"
    assert not any(b.is_arbiter for b in vol.bricks)
    assert list(vol.options.items()) == [
        ("network.ping-timeout", "5"),
        ("cluster.granular-entry-heal", "on"),
        ("storage.fips-mode-rchecksum", "on"),
        ("transport.address-family", "inet"),
        ("nfs.disable", "on"),
        ("performance.client-io-threads", "off"),
    ]
    port = vol.to_port()
    assert port.name == "sshvol"
    assert port.status == "Started"
    assert port.bricks[0] == GlusterBrick("10.200.0.1", "/srv/bricks/b2/brick")
    assert port.options["nfs.disable"] == "on"
    assert parsers.volume_info_or_none(fixture(name), "sshvol") == vol
    assert parsers.volume_info_or_none(fixture(name), "other") is None


def test_volume_info_missing_volume() -> None:
    text = fixture("volume_info_nosuchvol.xml")
    with pytest.raises(GlusterError, match="Volume does not exist"):
        parsers.parse_volume_info(text)
    assert parsers.volume_info_or_none(text) is None
    with pytest.raises(GlusterError, match="snapshot functionality"):
        parsers.volume_info_or_none(fixture("snapshot_list.xml"))


def test_volume_info_arbiter_and_ipv6() -> None:
    (vol,) = parsers.parse_volume_info(fixture("volume_info_arbiter.xml"))
    assert vol.status == "Created"
    assert vol.type == "Distributed-Replicate"
    assert (vol.brick_count, vol.dist_count, vol.replica_count, vol.arbiter_count) == (6, 3, 3, 1)
    assert [b.is_arbiter for b in vol.bricks] == [False, False, True, False, False, True]
    assert (vol.bricks[5].host, vol.bricks[5].path) == ("fe80::1", "/b/6")
    assert vol.options == {"user.heketi.arbiter": "true"}


def test_volume_list_and_get() -> None:
    assert parsers.parse_volume_list(fixture("volume_list.xml")) == ["sshvol"]
    assert parsers.parse_volume_get(fixture("volume_get_sshvol_network.ping-timeout.xml")) == {
        "network.ping-timeout": "5"
    }


# --- peers ---------------------------------------------------------------------------------


def test_peer_status() -> None:
    peers = parsers.parse_peer_status(fixture("peer_status.xml"))
    assert [(p.uuid, p.hostname, p.connected, p.state) for p in peers] == [
        (U2, "10.200.0.2", True, 3),
        (U3, "10.200.0.3", True, 3),
    ]
    assert peers[0].state_str == "Peer in Cluster"
    assert peers[0].hostnames == ("10.200.0.2",)


def test_pool_list_includes_localhost() -> None:
    peers = parsers.parse_pool_list(fixture("pool_list.xml"))
    assert [p.hostname for p in peers] == ["10.200.0.2", "10.200.0.3", "localhost"]
    local = peers[2]
    assert local.uuid == U1
    assert local.connected
    assert local.state is None
    assert local.state_str == ""
    assert local.hostnames == ("localhost",)


# --- heal ----------------------------------------------------------------------------------


def test_heal_info() -> None:
    bricks = parsers.parse_heal_info(fixture("volume_heal_sshvol_info.xml"))
    assert [(b.host, b.path, b.host_uuid, b.status, b.entries) for b in bricks] == [
        ("10.200.0.1", "/srv/bricks/b2/brick", U1, "Connected", 0),
        ("10.200.0.2", "/srv/bricks/b2/brick", U2, "Connected", 0),
        ("10.200.0.3", "/srv/bricks/b2/brick", U3, "Connected", 0),
    ]


def test_heal_info_down_brick_and_dash() -> None:
    up, down = parsers.parse_heal_info(fixture("volume_heal_down_brick.xml"))
    assert up.entries == 22
    assert down.name == "information not available"
    assert (down.host, down.path) == ("", "")
    assert down.status == "Transport endpoint is not connected"
    assert down.entries is None


def test_heal_info_summary() -> None:
    bricks = parsers.parse_heal_info_summary(fixture("volume_heal_sshvol_info_summary.xml"))
    assert len(bricks) == 3
    first = bricks[0]
    assert first.name == "10.200.0.1:/srv/bricks/b2/brick"
    assert (first.total, first.heal_pending, first.split_brain, first.possibly_healing) == (
        0,
        0,
        0,
        0,
    )
    assert first.status == "Connected"


# --- status, quota, snapshots, profile -----------------------------------------------------


@pytest.mark.parametrize("name", ["volume_status_all.xml", "volume_status_sshvol.xml"])
def test_volume_status(name: str) -> None:
    (status,) = parsers.parse_volume_status(fixture(name))
    assert status.name == "sshvol"
    assert len(status.nodes) == 6
    brick = status.nodes[0]
    assert (brick.hostname, brick.path, brick.peer_id) == ("10.200.0.1", "/srv/bricks/b2/brick", U1)
    assert (brick.online, brick.port, brick.pid) == (True, 51993, 7809)
    assert brick.size_total is None
    shd = status.nodes[3]
    assert (shd.hostname, shd.path, shd.port, shd.pid) == (
        "Self-heal Daemon",
        "localhost",
        None,
        7826,
    )


def test_volume_status_detail() -> None:
    (status,) = parsers.parse_volume_status(fixture("volume_status_sshvol_detail.xml"))
    assert len(status.nodes) == 3
    node = status.nodes[2]
    assert node.hostname == "10.200.0.3"
    assert (node.size_total, node.size_free) == (1006632960, 965500928)
    assert node.device == "/dev/tb/vdc"
    assert node.fs_name == "xfs"
    assert node.mount_options == "rw,noatime,inode64,logbufs=8,logbsize=32k,noquota"
    assert (node.inodes_total, node.inodes_free) == (524288, 524009)


def test_quota_list() -> None:
    (limit,) = parsers.parse_quota_list(fixture("volume_quota_sshvol_list_enabled.xml"))
    assert limit.path == "/"
    assert limit.hard_limit == 104857600
    assert limit.soft_limit_percent == "80%"
    assert limit.soft_limit_value == 83886080
    assert (limit.used_space, limit.avail_space) == (512, 104857088)
    assert not limit.soft_limit_exceeded and not limit.hard_limit_exceeded
    with pytest.raises(GlusterError, match="Quota is disabled"):
        parsers.parse_quota_list(fixture("volume_quota_sshvol_list.xml"))


def test_snapshots() -> None:
    with pytest.raises(GlusterError, match="LVM commands not found"):
        parsers.parse_snapshot_list(fixture("snapshot_list.xml"))
    listed = (
        "<cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/>"
        "<snapList><count>2</count><snapshot>s1</snapshot><snapshot>s2</snapshot></snapList>"
        "</cliOutput>"
    )
    assert parsers.parse_snapshot_list(listed) == ["s1", "s2"]
    created = parsers.parse_snapshot_create(fixture("snapshot_create.xml"))
    assert created == parsers.SnapshotRef(
        "tmpsnap_0d1c2b3a495867768594a3b2c1d0e0f1", "7c3b0c3e-1a5e-4f6a-9d52-2f7c0a4b1e11"
    )
    clone = parsers.parse_snapshot_clone(fixture("snapshot_clone.xml"))
    assert clone.name == "vol_clone"


def test_profile_error() -> None:
    with pytest.raises(GlusterError, match="Profile on Volume sshvol is not started"):
        parsers.check_cli_output(fixture("volume_profile_sshvol_info.xml"))


# --- malformed gluster output ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Connection failed. Please check if gluster daemon is operational.\n",
        "<cliOutput><opRet>0</opRet>",
        "<other/>",
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><cliOutput/>',
        "<cliOutput><opRet>zero</opRet></cliOutput>",
    ],
)
def test_malformed_gluster_output(text: str) -> None:
    with pytest.raises(GlusterOutputError):
        parsers.check_cli_output(text)


def test_errstr_alone_is_a_failure_and_missing_opret_is_ok() -> None:
    with pytest.raises(GlusterError, match="odd") as info:
        parsers.check_cli_output("<cliOutput><opRet>0</opRet><opErrstr>odd</opErrstr></cliOutput>")
    assert info.value.op_ret == 0
    with pytest.raises(GlusterError, match=r"opRet -1, opErrno 2"):
        parsers.check_cli_output("<cliOutput><opRet>-1</opRet><opErrno>2</opErrno></cliOutput>")
    assert parsers.check_cli_output("<cliOutput/>").tag == "cliOutput"
    with pytest.raises(GlusterOutputError):
        parsers.parse_volume_info("<cliOutput><opRet>0</opRet></cliOutput>")


def test_split_brick_name() -> None:
    assert parsers.split_brick_name("h:/p/q") == ("h", "/p/q")
    assert parsers.split_brick_name("fe80::1:/b") == ("fe80::1", "/b")
    assert parsers.split_brick_name("information not available") == ("", "")
    assert parsers.split_brick_name(":/x") == ("", "")


# --- LVM -----------------------------------------------------------------------------------


def test_pv_uuid() -> None:
    uuid = "Xh3Cz0-1bq3-RM5b-Ovv6-5jhs-Np5U-pLnq9d"
    assert parsers.parse_pv_uuid(fixture("pvs_identify.json")) == uuid
    assert parsers.parse_pv_uuid(fixture("vgs_pv_uuid.json")) == uuid
    with pytest.raises(OutputParseError):
        parsers.parse_pv_uuid(fixture("pvs_empty.json"))
    with pytest.raises(OutputParseError):
        parsers.parse_pv_uuid('{"report": []}')
    with pytest.raises(OutputParseError):
        parsers.parse_pv_uuid("  No device found for /dev/sdx.")


def test_lvm_reports() -> None:
    lvs = parsers.parse_lvm_report(fixture("lvs_units_k.json"))
    assert list(lvs) == ["lv"]
    assert [row["lv_name"][:3] for row in lvs["lv"]] == ["bri", "tp_"]
    assert parsers.lvm_kib(lvs["lv"][0]["lv_size"]) == 1048576
    vgs = parsers.parse_lvm_report(fixture("vgs_units_k.json"))
    assert parsers.lvm_kib(vgs["vg"][0]["vg_free"]) == 3125248
    assert parsers.parse_lvm_report(fixture("pvs_empty.json")) == {"pv": []}
    for bad in ("", "[]", '{"report": [1]}', '{"report": [{"pv": {}}]}'):
        with pytest.raises(OutputParseError):
            parsers.parse_lvm_report(bad)
    with pytest.raises(OutputParseError):
        parsers.lvm_kib("lots")


def test_vgdisplay() -> None:
    line = "  vg_x:r/w:772:-1:0:0:0:-1:0:1:1:1044480:4096:255:10:245:rJ0bIG-3XNc-NoS0-fkKm\n"
    vg = parsers.parse_vgdisplay(line)
    assert vg.name == "vg_x"
    assert (vg.size, vg.extent_size) == (1044480, 4096)
    assert (vg.total_extents, vg.allocated_extents, vg.free_extents) == (255, 10, 245)
    assert (vg.total, vg.used, vg.free) == (255 * 4096, 10 * 4096, 245 * 4096)
    for bad in ("", "vg:r/w:1", "a:b:c:d:e:f:g:h:i:j:k:l:x:n:o:p:q"):
        with pytest.raises(OutputParseError):
            parsers.parse_vgdisplay(bad)


def test_thin_count() -> None:
    assert parsers.parse_thin_count("    0\n") == 0
    assert parsers.parse_thin_count("  2") == 2
    for bad in ("", "  x", "-1"):
        with pytest.raises(OutputParseError):
            parsers.parse_thin_count(bad)


def test_udev_symlinks() -> None:
    out = (
        "disk/by-id/ata-QEMU_HARDDISK_QM00002 disk/by-path/pci-0000:00:01.1-ata-1\n"
        "disk/by-id/lvm-pv-uuid-Xh3Cz0-1bq3-RM5b-Ovv6-5jhs-Np5U-pLnq9d\n"
    )
    assert parsers.parse_udev_symlinks(out, "/dev/sdb") == [
        "/dev/disk/by-id/ata-QEMU_HARDDISK_QM00002",
        "/dev/disk/by-path/pci-0000:00:01.1-ata-1",
        "/dev/sdb",
    ]
    assert parsers.parse_udev_symlinks("", "/dev/sdb") == ["/dev/sdb"]
    assert parsers.parse_udev_symlinks("sdb mapper/x", "/dev/sdb") == ["/dev/sdb", "/dev/mapper/x"]


# --- mounts, space, loops -------------------------------------------------------------------


def test_findmnt_list() -> None:
    (entry,) = parsers.parse_findmnt(fixture("findmnt_list.json"))
    assert entry.fstype == "xfs"
    assert entry.source.startswith("/dev/mapper/vg_")
    assert parsers.is_mounted(fixture("findmnt_list.json"), entry.target)
    assert parsers.is_mounted(fixture("findmnt_list.json"), entry.target + "/")
    assert not parsers.is_mounted(fixture("findmnt_list.json"), entry.target[:-1])
    assert parsers.parse_findmnt("") == []
    assert not parsers.is_mounted("", "/x")


def test_findmnt_tree_is_flattened() -> None:
    entries = parsers.parse_findmnt(fixture("findmnt_tree.json"))
    assert [e.target for e in entries] == ["/", "/proc", "/srv", "/srv/bricks/b1"]
    assert parsers.is_mounted(fixture("findmnt_tree.json"), "/srv/bricks/b1")
    assert parsers.is_mounted(fixture("findmnt_tree.json"), "/")
    for bad in ("{", "[]", '{"filesystems": [1]}', '{"filesystems": [{"children": 3}]}'):
        with pytest.raises(OutputParseError):
            parsers.parse_findmnt(bad)


def test_df_and_statfs() -> None:
    space = parsers.parse_df("1K-blocks    Avail\n 264212084 82553860\n")
    assert (space.total, space.free, space.used) == (264212084, 82553860, 264212084 - 82553860)
    for bad in ("", "1K-blocks Avail\n", "1K-blocks Avail\n1 x\n", "h\n1 2 3\n"):
        with pytest.raises(OutputParseError):
            parsers.parse_df(bad)
    fs = parsers.parse_statfs("4096 66053021 20638465\n")
    assert (fs.total, fs.free) == (66053021 * 4, 20638465 * 4)
    for bad in ("", "4096 1", "a b c"):
        with pytest.raises(OutputParseError):
            parsers.parse_statfs(bad)


def test_losetup() -> None:
    out = "/dev/loop0: [65024]:2146562 (/tmp/a.img)\n/dev/loop7: []: (/tmp/a.img)\n"
    assert parsers.parse_losetup(out) == ["/dev/loop0", "/dev/loop7"]
    assert parsers.parse_losetup("") == []
    with pytest.raises(OutputParseError):
        parsers.parse_losetup("losetup: /tmp/a.img: failed")


def test_stat_file_type() -> None:
    assert parsers.parse_stat_file_type("block special file\n") == "block"
    assert parsers.parse_stat_file_type("directory\n") == "directory"
    assert parsers.parse_stat_file_type("regular file\n") == "other"
