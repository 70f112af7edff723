"""Parsers for what the node tools print: ``gluster --xml``, LVM JSON reports, ``vgdisplay -c``,
``findmnt --json``, ``df``, ``stat -f``, ``losetup -j``, ``udevadm info --query=symlink``, and
for the node inventory the brick traces in findmnt, fstab, ``lvs`` and image listings.

Gluster: ``gluster --xml`` exits 0 even when the operation failed, so every gluster parser first
runs `check_cli_output`, which raises `GlusterError` (message = ``opErrstr``) when ``opRet`` is
non-zero or ``opErrstr`` is not empty; a reply that is not a ``<cliOutput>`` document raises
`GlusterOutputError`. A missing ``opRet`` (``heal info`` on some versions) counts as 0.

Everything else raises `OutputParseError` (a ValueError) on output it cannot read.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from ..port import BrickStorage, GlusterBrick, GlusterVolumeInfo
from .errors import GlusterError, GlusterOutputError, OutputParseError
from .lvm import MOUNTS_ROOT, PV_UUID_PREFIX

__all__ = [
    "DiskSpace",
    "HealBrick",
    "HealSummaryBrick",
    "ImageFile",
    "MountEntry",
    "Peer",
    "QuotaLimit",
    "SnapshotRef",
    "StatusNode",
    "VgDisplay",
    "VolumeBrick",
    "VolumeInfo",
    "VolumeStatus",
    "brick_of_image",
    "brick_of_mount_point",
    "check_cli_output",
    "fstab_unescape",
    "is_mounted",
    "is_volume_missing",
    "lvm_kib",
    "parse_brick_mounts",
    "parse_df",
    "parse_findmnt",
    "parse_fstab_bricks",
    "parse_heal_info",
    "parse_heal_info_summary",
    "parse_image_list",
    "parse_losetup",
    "parse_lvm_report",
    "parse_peer_status",
    "parse_pool_list",
    "parse_pv_uuid",
    "parse_quota_list",
    "parse_snapshot_clone",
    "parse_snapshot_create",
    "parse_snapshot_list",
    "parse_stat_file_type",
    "parse_statfs",
    "parse_thin_bricks",
    "parse_thin_count",
    "parse_udev_symlinks",
    "parse_vg_names",
    "parse_vgdisplay",
    "parse_volume_get",
    "parse_volume_info",
    "parse_volume_list",
    "parse_volume_status",
    "split_brick_name",
    "volume_info_or_none",
]


# ============================================================================================
# gluster --xml


def _decode(text: str | bytes) -> str:
    if isinstance(text, bytes):
        return text.decode("utf-8", errors="replace")
    return text


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0][:200] if stripped else "(no output)"


def check_cli_output(text: str | bytes) -> ET.Element:
    """Parse a ``gluster --xml`` reply and return its ``<cliOutput>`` root, or raise
    `GlusterError` when the operation failed (see the module docstring)."""
    raw = _decode(text).strip()
    if not raw.startswith("<"):
        raise GlusterOutputError(f"gluster printed no XML: {_first_line(raw)}")
    if "<!DOCTYPE" in raw or "<!ENTITY" in raw:
        raise GlusterOutputError("gluster XML with a DTD is not accepted")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise GlusterOutputError(f"unreadable gluster XML: {exc}") from None
    if root.tag != "cliOutput":
        raise GlusterOutputError(f"unexpected gluster XML root <{root.tag}>")
    op_ret = _xml_int(root, "opRet", 0)
    op_errno = _xml_int(root, "opErrno", 0)
    errstr = (root.findtext("opErrstr") or "").strip()
    if op_ret != 0 or errstr:
        message = errstr or f"gluster operation failed (opRet {op_ret}, opErrno {op_errno})"
        raise GlusterError(message, op_ret=op_ret, op_errno=op_errno)
    return root


def _xml_text(element: ET.Element, path: str, default: str = "") -> str:
    value = element.findtext(path)
    return default if value is None else value.strip()


def _xml_int(element: ET.Element, path: str, default: int) -> int:
    value = _xml_text(element, path)
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise GlusterOutputError(f"<{path}> is not an integer: {value!r}") from None


def _xml_opt_int(element: ET.Element, path: str) -> int | None:
    """An integer field where ``-``, ``N/A`` or absence mean unknown (None)."""
    value = _xml_text(element, path)
    if value in ("", "-", "N/A"):
        return None
    try:
        return int(value)
    except ValueError:
        raise GlusterOutputError(f"<{path}> is not an integer: {value!r}") from None


def _require(root: ET.Element, path: str) -> ET.Element:
    found = root.find(path)
    if found is None:
        raise GlusterOutputError(f"gluster XML has no <{path}>")
    return found


def split_brick_name(name: str) -> tuple[str, str]:
    """``host:/path`` → ``(host, "/path")``; a name without ``:/`` (e.g. "information not
    available" for a down brick) gives ``("", "")``. Splits at the first ``:/``, so IPv6 hosts
    keep their colons."""
    index = name.find(":/")
    if index <= 0:
        return "", ""
    return name[:index], name[index + 1 :]


# --- volume info ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VolumeBrick:
    name: str  # "host:/path"
    host: str
    path: str
    host_uuid: str = ""
    is_arbiter: bool = False

    def to_port(self) -> GlusterBrick:
        return GlusterBrick(self.host, self.path)


@dataclass(frozen=True)
class VolumeInfo:
    name: str
    id: str
    status: str  # statusStr: "Created", "Started", "Stopped"
    type: str  # typeStr: "Distribute", "Replicate", "Distributed-Replicate", "Disperse", ...
    brick_count: int
    dist_count: int = 0
    replica_count: int = 0
    arbiter_count: int = 0
    disperse_count: int = 0
    redundancy_count: int = 0
    snapshot_count: int = 0
    bricks: tuple[VolumeBrick, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)

    def to_port(self) -> GlusterVolumeInfo:
        return GlusterVolumeInfo(
            name=self.name,
            status=self.status,
            bricks=[b.to_port() for b in self.bricks],
            options=dict(self.options),
        )


_VOLUME_STATUS = {0: "Created", 1: "Started", 2: "Stopped"}


def _volume_brick(element: ET.Element) -> VolumeBrick:
    name = _xml_text(element, "name") or (element.text or "").strip()
    host, path = split_brick_name(name)
    return VolumeBrick(
        name=name,
        host=host,
        path=path,
        host_uuid=_xml_text(element, "hostUuid") or element.get("uuid", ""),
        is_arbiter=_xml_int(element, "isArbiter", 0) == 1,
    )


def _volume(element: ET.Element) -> VolumeInfo:
    status_code = _xml_int(element, "status", -1)
    options: dict[str, str] = {}
    for option in element.iterfind("options/option"):
        options[_xml_text(option, "name")] = _xml_text(option, "value")
    return VolumeInfo(
        name=_xml_text(element, "name"),
        id=_xml_text(element, "id"),
        status=_xml_text(element, "statusStr") or _VOLUME_STATUS.get(status_code, ""),
        type=_xml_text(element, "typeStr"),
        brick_count=_xml_int(element, "brickCount", 0),
        dist_count=_xml_int(element, "distCount", 0),
        replica_count=_xml_int(element, "replicaCount", 0),
        arbiter_count=_xml_int(element, "arbiterCount", 0),
        disperse_count=_xml_int(element, "disperseCount", 0),
        redundancy_count=_xml_int(element, "redundancyCount", 0),
        snapshot_count=_xml_int(element, "snapshotCount", 0),
        bricks=tuple(_volume_brick(b) for b in element.iterfind("bricks/brick")),
        options=options,
    )


def parse_volume_info(text: str | bytes) -> list[VolumeInfo]:
    """``volume info [<name>] --xml`` → the volumes, in gluster's order."""
    root = check_cli_output(text)
    volumes = _require(root, "volInfo/volumes")
    return [_volume(v) for v in volumes.iterfind("volume")]


def is_volume_missing(error: GlusterError) -> bool:
    """Whether a gluster error means the volume does not exist."""
    return "does not exist" in error.message.lower()


def volume_info_or_none(text: str | bytes, name: str | None = None) -> VolumeInfo | None:
    """``volume info <name> --xml`` → the volume, or None when gluster says it does not exist
    (other errors propagate)."""
    try:
        volumes = parse_volume_info(text)
    except GlusterError as exc:
        if type(exc) is GlusterError and is_volume_missing(exc):
            return None
        raise
    for volume in volumes:
        if name is None or volume.name == name:
            return volume
    return None


def parse_volume_list(text: str | bytes) -> list[str]:
    """``volume list --xml`` → volume names."""
    root = check_cli_output(text)
    return [(v.text or "").strip() for v in _require(root, "volList").iterfind("volume")]


def parse_volume_get(text: str | bytes) -> dict[str, str]:
    """``volume get <name> <option|all> --xml`` → {option: value}."""
    root = check_cli_output(text)
    return {
        _xml_text(opt, "Option"): _xml_text(opt, "Value")
        for opt in _require(root, "volGetopts").iterfind("Opt")
    }


# --- peers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    uuid: str
    hostname: str
    hostnames: tuple[str, ...] = ()
    connected: bool = False
    state: int | None = None  # 3 = "Peer in Cluster"; absent for pool list's localhost
    state_str: str = ""


def parse_peer_status(text: str | bytes) -> list[Peer]:
    """``peer status --xml`` (the other peers) or ``pool list --xml`` (also ``localhost``)."""
    root = check_cli_output(text)
    peers = []
    for peer in _require(root, "peerStatus").iterfind("peer"):
        hostname = _xml_text(peer, "hostname")
        names = tuple((h.text or "").strip() for h in peer.iterfind("hostnames/hostname") if h.text)
        peers.append(
            Peer(
                uuid=_xml_text(peer, "uuid"),
                hostname=hostname,
                hostnames=names or ((hostname,) if hostname else ()),
                connected=_xml_int(peer, "connected", 0) == 1,
                state=_xml_opt_int(peer, "state"),
                state_str=_xml_text(peer, "stateStr"),
            )
        )
    return peers


parse_pool_list = parse_peer_status


# --- heal info -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HealBrick:
    name: str  # "host:/path", or "information not available" for a down brick
    host: str
    path: str
    host_uuid: str
    status: str  # "Connected", "Transport endpoint is not connected", ...
    entries: int | None  # numberOfEntries; None when gluster prints "-"


@dataclass(frozen=True)
class HealSummaryBrick:
    name: str
    host: str
    path: str
    host_uuid: str
    status: str
    total: int | None
    heal_pending: int | None
    split_brain: int | None
    possibly_healing: int | None


def _heal_bricks(text: str | bytes) -> list[ET.Element]:
    root = check_cli_output(text)
    return list(_require(root, "healInfo/bricks").iterfind("brick"))


def parse_heal_info(text: str | bytes) -> list[HealBrick]:
    """``volume heal <name> info --xml`` → per brick: name, status, numberOfEntries."""
    out = []
    for brick in _heal_bricks(text):
        name = _xml_text(brick, "name")
        host, path = split_brick_name(name)
        out.append(
            HealBrick(
                name=name,
                host=host,
                path=path,
                host_uuid=brick.get("hostUuid", ""),
                status=_xml_text(brick, "status"),
                entries=_xml_opt_int(brick, "numberOfEntries"),
            )
        )
    return out


def parse_heal_info_summary(text: str | bytes) -> list[HealSummaryBrick]:
    """``volume heal <name> info summary --xml``."""
    out = []
    for brick in _heal_bricks(text):
        name = _xml_text(brick, "name")
        host, path = split_brick_name(name)
        out.append(
            HealSummaryBrick(
                name=name,
                host=host,
                path=path,
                host_uuid=brick.get("hostUuid", ""),
                status=_xml_text(brick, "status"),
                total=_xml_opt_int(brick, "totalNumberOfEntries"),
                heal_pending=_xml_opt_int(brick, "numberOfEntriesInHealPending"),
                split_brain=_xml_opt_int(brick, "numberOfEntriesInSplitBrain"),
                possibly_healing=_xml_opt_int(brick, "numberOfEntriesPossiblyHealing"),
            )
        )
    return out


# --- volume status -------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusNode:
    """One process of ``volume status``: a brick (hostname, path) or a daemon (hostname
    "Self-heal Daemon", path = its host). The size fields only come with ``detail``."""

    hostname: str
    path: str
    peer_id: str
    online: bool
    port: int | None
    pid: int | None
    size_total: int | None = None  # bytes
    size_free: int | None = None  # bytes
    device: str = ""
    fs_name: str = ""
    mount_options: str = ""
    inodes_total: int | None = None
    inodes_free: int | None = None


@dataclass(frozen=True)
class VolumeStatus:
    name: str
    nodes: tuple[StatusNode, ...]


def parse_volume_status(text: str | bytes) -> list[VolumeStatus]:
    """``volume status [<name>|all] [detail] --xml``."""
    root = check_cli_output(text)
    out = []
    for volume in _require(root, "volStatus/volumes").iterfind("volume"):
        nodes = tuple(
            StatusNode(
                hostname=_xml_text(node, "hostname"),
                path=_xml_text(node, "path"),
                peer_id=_xml_text(node, "peerid"),
                online=_xml_int(node, "status", 0) == 1,
                port=_xml_opt_int(node, "port"),
                pid=_xml_opt_int(node, "pid"),
                size_total=_xml_opt_int(node, "sizeTotal"),
                size_free=_xml_opt_int(node, "sizeFree"),
                device=_xml_text(node, "device"),
                fs_name=_xml_text(node, "fsName"),
                mount_options=_xml_text(node, "mntOptions"),
                inodes_total=_xml_opt_int(node, "inodesTotal"),
                inodes_free=_xml_opt_int(node, "inodesFree"),
            )
            for node in volume.iterfind("node")
        )
        out.append(VolumeStatus(name=_xml_text(volume, "volName"), nodes=nodes))
    return out


# --- quota, snapshots ----------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaLimit:
    path: str
    hard_limit: int | None  # bytes
    soft_limit_percent: str
    soft_limit_value: int | None
    used_space: int | None
    avail_space: int | None
    soft_limit_exceeded: bool
    hard_limit_exceeded: bool


def parse_quota_list(text: str | bytes) -> list[QuotaLimit]:
    """``volume quota <name> list --xml`` (raises GlusterError "Quota is disabled…")."""
    root = check_cli_output(text)
    return [
        QuotaLimit(
            path=_xml_text(limit, "path"),
            hard_limit=_xml_opt_int(limit, "hard_limit"),
            soft_limit_percent=_xml_text(limit, "soft_limit_percent"),
            soft_limit_value=_xml_opt_int(limit, "soft_limit_value"),
            used_space=_xml_opt_int(limit, "used_space"),
            avail_space=_xml_opt_int(limit, "avail_space"),
            soft_limit_exceeded=_xml_text(limit, "sl_exceeded").lower() == "yes",
            hard_limit_exceeded=_xml_text(limit, "hl_exceeded").lower() == "yes",
        )
        for limit in _require(root, "volQuota").iterfind("limit")
    ]


@dataclass(frozen=True)
class SnapshotRef:
    name: str
    uuid: str


def parse_snapshot_list(text: str | bytes) -> list[str]:
    """``snapshot list [<volume>] --xml`` → snapshot names (Heketi checks ``snapList/count``)."""
    root = check_cli_output(text)
    snap_list = root.find("snapList")
    if snap_list is None:
        return []
    return [(s.text or "").strip() for s in snap_list.iterfind("snapshot") if s.text]


def parse_snapshot_create(text: str | bytes) -> SnapshotRef:
    """``--xml snapshot create …`` → the snapshot (``snapCreate/snapshot``)."""
    snapshot = _require(check_cli_output(text), "snapCreate/snapshot")
    return SnapshotRef(_xml_text(snapshot, "name"), _xml_text(snapshot, "uuid"))


def parse_snapshot_clone(text: str | bytes) -> SnapshotRef:
    """``--xml snapshot clone …`` → the new volume (``CloneCreate/volume``)."""
    volume = _require(check_cli_output(text), "CloneCreate/volume")
    return SnapshotRef(_xml_text(volume, "name"), _xml_text(volume, "uuid"))


# ============================================================================================
# LVM


def parse_lvm_report(text: str | bytes) -> dict[str, list[dict[str, str]]]:
    """An LVM ``--reportformat json`` document → ``{"pv": [...], "vg": [...], "lv": [...]}``
    (only the keys present; rows of every report concatenated)."""
    try:
        document: Any = json.loads(_decode(text))
    except json.JSONDecodeError as exc:
        raise OutputParseError(f"LVM JSON report unreadable: {exc}") from None
    reports = document.get("report") if isinstance(document, dict) else None
    if not isinstance(reports, list):
        raise OutputParseError("LVM JSON report has no 'report' list")
    out: dict[str, list[dict[str, str]]] = {}
    for report in reports:
        if not isinstance(report, dict):
            raise OutputParseError("LVM JSON report entry is not an object")
        for kind, rows in report.items():
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise OutputParseError(f"LVM JSON report '{kind}' is not a list of objects")
            out.setdefault(kind, []).extend(
                {str(k): str(v) for k, v in row.items()} for row in rows
            )
    return out


def parse_pv_uuid(text: str | bytes) -> str:
    """The PV UUID from ``pvs``/``vgs -o pv_name,pv_uuid,vg_name --reportformat=json``, as
    Heketi's parsePvsResult: exactly one report; exactly one pv row, else exactly one vg row."""
    try:
        document: Any = json.loads(_decode(text))
    except json.JSONDecodeError as exc:
        raise OutputParseError(f"LVM JSON report unreadable: {exc}") from None
    reports = document.get("report") if isinstance(document, dict) else None
    if not isinstance(reports, list) or len(reports) != 1 or not isinstance(reports[0], dict):
        raise OutputParseError("expected exactly 1 report in LVM output")
    for kind in ("pv", "vg"):
        rows = reports[0].get(kind)
        if isinstance(rows, list) and len(rows) == 1 and isinstance(rows[0], dict):
            return str(rows[0].get("pv_uuid", ""))
    raise OutputParseError("expected exactly 1 PV or 1 VG in LVM output")


def lvm_kib(value: str) -> int:
    """An LVM size printed with ``--units k`` (``"1044480.00k"``) → whole KiB (rounded down)."""
    raw = value.strip().lower().removesuffix("k")
    try:
        return int(Decimal(raw))
    except (InvalidOperation, ValueError):
        raise OutputParseError(f"not an LVM size in KiB: {value!r}") from None


@dataclass(frozen=True)
class VgDisplay:
    """``vgdisplay -c`` fields 11-15 (0-based). Sizes in KiB."""

    name: str
    size: int  # field 11, KiB
    extent_size: int  # field 12, KiB
    total_extents: int  # field 13
    allocated_extents: int  # field 14
    free_extents: int  # field 15

    @property
    def total(self) -> int:
        return self.total_extents * self.extent_size

    @property
    def free(self) -> int:
        return self.free_extents * self.extent_size

    @property
    def used(self) -> int:
        return self.allocated_extents * self.extent_size


def parse_vgdisplay(text: str | bytes) -> VgDisplay:
    """``vgdisplay -c vg_<id>``, e.g.
    ``  vg_x:r/w:772:-1:0:0:0:-1:0:1:1:1044480:4096:255:0:255:<uuid>``."""
    lines = [line.strip() for line in _decode(text).splitlines() if line.strip()]
    if not lines:
        raise OutputParseError("vgdisplay printed nothing")
    fields = lines[0].split(":")
    if len(fields) < 17:
        raise OutputParseError("vgdisplay returned an invalid string")
    try:
        size, extent, total, allocated, free = (int(fields[i]) for i in range(11, 16))
    except ValueError:
        raise OutputParseError(f"vgdisplay fields are not integers: {lines[0]!r}") from None
    if min(size, extent, total, allocated, free) < 0:
        raise OutputParseError(f"vgdisplay sizes are negative: {lines[0]!r}")
    return VgDisplay(fields[0], size, extent, total, allocated, free)


def parse_thin_count(text: str | bytes) -> int:
    """``lvs --noheadings --options=thin_count <vg>/<pool>`` → the count."""
    raw = _decode(text).strip()
    try:
        count = int(raw)
    except ValueError:
        raise OutputParseError(f"thin_count is not an integer: {raw!r}") from None
    if count < 0:
        raise OutputParseError(f"thin_count is negative: {count}")
    return count


def parse_udev_symlinks(text: str | bytes, device: str) -> list[str]:
    """``udevadm info --query=symlink --name=<dev>`` → ``/dev/<link>`` paths (Heketi's
    parseUdevPaths): ``/dev/disk/by-id/lvm-pv-uuid-*`` excluded (the UUID is kept separately),
    the device name appended when not among them."""
    paths: list[str] = []
    for word in _decode(text).split():
        path = "/dev/" + word
        if path.startswith(PV_UUID_PREFIX) or path in paths:
            continue
        paths.append(path)
    if device not in paths:
        paths.append(device)
    return paths


# ============================================================================================
# Mounts, space, loop devices


@dataclass(frozen=True)
class MountEntry:
    target: str
    source: str
    fstype: str
    options: str


def parse_findmnt(text: str | bytes) -> list[MountEntry]:
    """``findmnt --json [--list]`` → every filesystem (tree output flattened). Empty output
    (findmnt exit 1: nothing matched) → []."""
    raw = _decode(text).strip()
    if not raw:
        return []
    try:
        document: Any = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise OutputParseError(f"findmnt JSON unreadable: {exc}") from None
    filesystems = document.get("filesystems") if isinstance(document, dict) else None
    if not isinstance(filesystems, list):
        raise OutputParseError("findmnt JSON has no 'filesystems' list")
    out: list[MountEntry] = []
    stack: list[Any] = list(reversed(filesystems))
    while stack:
        entry = stack.pop()
        if not isinstance(entry, dict):
            raise OutputParseError("findmnt JSON entry is not an object")
        out.append(
            MountEntry(
                target=str(entry.get("target") or ""),
                source=str(entry.get("source") or ""),
                fstype=str(entry.get("fstype") or ""),
                options=str(entry.get("options") or ""),
            )
        )
        children = entry.get("children") or []
        if not isinstance(children, list):
            raise OutputParseError("findmnt JSON 'children' is not a list")
        stack.extend(reversed(children))
    return out


def is_mounted(findmnt_output: str | bytes, mount_point: str) -> bool:
    """Whether the findmnt output lists a filesystem mounted exactly at ``mount_point``."""
    wanted = mount_point.rstrip("/") or "/"
    return any(
        (entry.target.rstrip("/") or "/") == wanted for entry in parse_findmnt(findmnt_output)
    )


@dataclass(frozen=True)
class DiskSpace:
    """Filesystem size and space available to unprivileged users, KiB."""

    total: int
    free: int

    @property
    def used(self) -> int:
        return self.total - self.free


def parse_df(text: str | bytes) -> DiskSpace:
    """``df --output=size,avail -B1K <dir>``: a header line, then ``<size> <avail>``."""
    lines = [line.split() for line in _decode(text).splitlines() if line.strip()]
    if len(lines) < 2 or len(lines[1]) != 2:
        raise OutputParseError(f"unexpected df output: {_decode(text)[:200]!r}")
    try:
        total, free = int(lines[1][0]), int(lines[1][1])
    except ValueError:
        raise OutputParseError(f"df sizes are not integers: {lines[1]!r}") from None
    return DiskSpace(total=total, free=free)


def parse_statfs(text: str | bytes) -> DiskSpace:
    """``stat -f -c "%S %b %a" <dir>``: fundamental block size, total and available blocks."""
    words = _decode(text).split()
    if len(words) != 3:
        raise OutputParseError(f"unexpected stat -f output: {_decode(text)[:200]!r}")
    try:
        block, blocks, avail = (int(w) for w in words)
    except ValueError:
        raise OutputParseError(f"stat -f fields are not integers: {words!r}") from None
    return DiskSpace(total=block * blocks // 1024, free=block * avail // 1024)


def parse_losetup(text: str | bytes) -> list[str]:
    """``losetup -j <file>`` → loop devices, from lines like
    ``/dev/loop0: [65024]:2146562 (/path/image.img)``."""
    devices = []
    for line in _decode(text).splitlines():
        line = line.strip()
        if not line:
            continue
        device, sep, _ = line.partition(":")
        if not sep or not device.startswith("/dev/"):
            raise OutputParseError(f"unexpected losetup line: {line!r}")
        devices.append(device)
    return devices


def parse_stat_file_type(text: str | bytes) -> Literal["block", "directory", "other"]:
    """``stat -L -c %F <name>`` → "block" (block special file), "directory" or "other"."""
    kind = _decode(text).strip()
    if kind == "block special file":
        return "block"
    if kind == "directory":
        return "directory"
    return "other"


# ============================================================================================
# Node inventory: traces of Heketi's bricks

_ID = r"[A-Za-z0-9_-]+"  # as `argv.check_id`: what Brickyard ever puts into these names
_BRICK_MOUNT_RE = re.compile(rf"{re.escape(MOUNTS_ROOT)}/vg_({_ID})/brick_({_ID})/?")
_BRICK_IMAGE_RE = re.compile(rf"brick_({_ID})\.img")
_FSTAB_ESCAPE_RE = re.compile(r"\\([0-7]{3})")


def brick_of_mount_point(path: str) -> tuple[str, str] | None:
    """``/var/lib/heketi/mounts/vg_<device id>/brick_<brick id>`` → ``(device id, brick id)``;
    any other path → None."""
    found = _BRICK_MOUNT_RE.fullmatch(path)
    return (found.group(1), found.group(2)) if found else None


def brick_of_image(name: str) -> str | None:
    """``brick_<brick id>.img`` → the brick id; any other file name → None."""
    found = _BRICK_IMAGE_RE.fullmatch(name)
    return found.group(1) if found else None


def parse_brick_mounts(text: str | bytes) -> dict[str, str]:
    """``findmnt --json --list`` → {brick id: device id} for every filesystem mounted at a brick
    mount point. Other mounts (the root, snapshot bricks under /run/gluster) are ignored."""
    bricks: dict[str, str] = {}
    for entry in parse_findmnt(text):
        found = brick_of_mount_point(entry.target)
        if found is not None:
            bricks[found[1]] = found[0]
    return bricks


def fstab_unescape(field: str) -> str:
    """An fstab field as getmntent(3) reads it: octal escapes (``\\040``) decoded."""
    return _FSTAB_ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_fstab_bricks(text: str | bytes) -> dict[str, str]:
    """An fstab → {brick id: device id} for every line whose mount point (second field) is a
    brick mount point; comments, blank lines and every other line are ignored."""
    bricks: dict[str, str] = {}
    for line in _decode(text).splitlines():
        fields = line.split()
        if len(fields) < 2 or fields[0].startswith("#"):
            continue
        found = brick_of_mount_point(fstab_unescape(fields[1]))
        if found is not None:
            bricks[found[1]] = found[0]
    return bricks


def parse_vg_names(text: str | bytes) -> set[str]:
    """``vgs -o vg_name --reportformat=json`` → the VG names."""
    return {row.get("vg_name", "") for row in parse_lvm_report(text).get("vg", [])} - {""}


def _optional_kib(value: str) -> int:
    """``lv_metadata_size`` is empty for LVs that are not pools."""
    return lvm_kib(value) if value.strip() else 0


def parse_thin_bricks(
    text: str | bytes, named: Mapping[tuple[str, str], tuple[str, str]] | None = None
) -> dict[str, BrickStorage]:
    """``lvs -o vg_name,lv_name,pool_lv,lv_size,lv_metadata_size --units k --reportformat=json``
    → {brick id: BrickStorage} for Heketi's layout in ``vg_<device id>``: ``brick_<id>`` is the
    brick's LV (present), ``tp_<id>`` its thin pool, whose data + metadata size is what the
    brick holds (reserved). A pool without its LV still holds that space; an LV without its
    pool holds none of its own. Other LVs and VGs are ignored.

    `named` maps (vg, LV name) to ("brick" or "tp", brick id) for bricks whose names Heketi
    recorded (LvmLv / LvmThinPool): they are read as those bricks, never as the brick id their
    name would suggest."""
    present: dict[str, str] = {}
    pools: dict[str, tuple[str, int]] = {}
    for row in parse_lvm_report(text).get("lv", []):
        vg, lv = row.get("vg_name", ""), row.get("lv_name", "")
        if not vg.startswith("vg_"):
            continue
        device_id = vg.removeprefix("vg_")
        kind, brick_id = (named or {}).get((vg, lv)) or lv.partition("_")[::2]
        if not re.fullmatch(_ID, brick_id):
            continue
        if kind == "brick":
            present[brick_id] = device_id
        elif kind == "tp":
            size = lvm_kib(row.get("lv_size", "")) + _optional_kib(row.get("lv_metadata_size", ""))
            pools[brick_id] = (device_id, size)
    return {
        brick_id: BrickStorage(
            device_id=present.get(brick_id) or pools[brick_id][0],
            present=brick_id in present,
            reserved=pools[brick_id][1] if brick_id in pools else 0,
        )
        for brick_id in sorted({*present, *pools})
    }


@dataclass(frozen=True)
class ImageFile:
    name: str
    size: int  # apparent size, bytes


def parse_image_list(text: str | bytes) -> list[ImageFile]:
    """``find <dir> -maxdepth 1 -name *.img -printf %s\\t%f\\0`` → the images. Records are
    NUL-terminated, so any file name (even one with a newline) reads back whole."""
    images = []
    for record in _decode(text).split("\0"):
        if not record.strip():
            continue
        size, sep, name = record.partition("\t")
        if not sep or not size.isdigit():
            raise OutputParseError(f"unexpected image listing record: {record[:200]!r}")
        images.append(ImageFile(name=name, size=int(size)))
    return images
