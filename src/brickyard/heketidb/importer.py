"""Heketi's database export (``heketi db export``, also ``GET /db/dump``) into the store.

A migration from Heketi moves the database and nothing else: the nodes keep their volume groups,
bricks and gluster volumes, named after the ids in the dump. So every id is kept, and the dump is
checked before anything is written:

* `parse_json` reads the text (a truncated or hand-edited file is reported with line and column);
* `parse_dump` turns it into domain entities, or raises `DumpError` listing every structural
  problem with its path in the dump (``volumeentries.<id>.Info.foo: unknown field``);
* `load_dump` writes them into an empty database in one transaction, so a failure leaves the
  database as it was.

Structural problems are errors: wrong types, bad ids, unknown fields, references to missing or
disagreeing entities, duplicate hostnames. Drift is not: a device whose used space differs from
its bricks is imported as it is, for ``GET /db/check`` and ``brickyard examine`` to report.
Heketi's block volumes are kept as they are and listed, not served (this version manages no
gluster-block volumes). Every brick keeps its LVM names (``LvmThinPool``/``LvmLv``), and a
thin pool shared by clone bricks is counted once (`_share_pools`).

Brickyard's own export has three extra fields Heketi does not write: ``Backend`` on devices and
``SetIndex``/``Position`` on bricks. Without them a device is ``lvm`` and the bricks of a volume
are grouped into sets in the order of the volume's ``Bricks`` list (see `_derive_sets`).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..domain.ids import is_valid_id
from ..domain.model import (
    HEKETI_JOURNAL_FORMAT,
    BlockInfo,
    BlockVolume,
    Brick,
    BrickSubType,
    Change,
    ChangeType,
    Cluster,
    Device,
    Durability,
    DurabilityType,
    EntryState,
    Node,
    OperationType,
    PendingOperation,
    Volume,
)
from ..domain.validation import (
    VOLUME_NAME,
    is_valid_device_name,
    is_valid_hostname,
    is_valid_lvm_name,
    tag_errors,
)
from ..store.errors import Duplicate
from ..store.sql import SqlStore, Transaction

__all__ = [
    "BLOCK_VOLUMES_KEPT",
    "DumpError",
    "HeketiDump",
    "ImportSummary",
    "load_dump",
    "parse_dump",
    "parse_json",
]

BLOCK_VOLUMES_KEPT = (
    "kept as Heketi recorded them and listed, but not served: this version does not create, "
    "delete or expand gluster-block volumes, and their hosting volumes cannot be deleted while "
    "they hold them"
)
# Enough to see what is wrong with a file without burying the first problem.
MAX_REPORTED = 25
_INT64_MAX = 2**63 - 1
# Heketi's defaults for a disperse volume stored without data/redundancy (SetDurability).
_DEFAULT_EC_DATA = 4
_DEFAULT_EC_REDUNDANCY = 2
_BACKENDS = ("lvm", "loopfile")
_OPERATION_STATUSES = ("", "stale", "failed")

# The entity sections every Heketi export has; the three newer ones may be missing from an
# export of an old Heketi and then count as empty.
REQUIRED_SECTIONS = (
    "clusterentries",
    "volumeentries",
    "brickentries",
    "nodeentries",
    "deviceentries",
)
OPTIONAL_SECTIONS = ("blockvolumeentries", "dbattributeentries", "pendingoperations")

# The keys of each object in Heketi's format (Go field names and json tags), plus our extras.
_KEYS: dict[str, frozenset[str]] = {
    name: frozenset(keys)
    for name, keys in {
        "cluster": {"Info"},
        "cluster.Info": {"id", "nodes", "volumes", "block", "file", "blockvolumes"},
        "node": {"State", "Info", "Devices"},
        "node.Info": {"zone", "hostnames", "cluster", "tags", "id"},
        "hostnames": {"manage", "storage"},
        "device": {"State", "Info", "Bricks", "NodeId", "ExtentSize", "Backend"},
        "device.Info": {"name", "tags", "storage", "id", "paths", "pv_uuid"},
        "storage": {"total", "free", "used"},
        "brick": {
            "Info",
            "TpSize",
            "PoolMetadataSize",
            "Pending",
            "LvmThinPool",
            "LvmLv",
            "SubType",
            "SetIndex",
            "Position",
        },
        "brick.Info": {"id", "path", "device", "node", "volume", "size"},
        "pending": {"Id"},
        "volume": {"Info", "Bricks", "GlusterVolumeOptions", "Pending"},
        "volume.Info": {
            "size",
            "clusters",
            "name",
            "durability",
            "gid",
            "glustervolumeoptions",
            "block",
            "snapshot",
            "id",
            "cluster",
            "mount",
            "blockinfo",
        },
        "durability": {"type", "replicate", "disperse"},
        "replicate": {"replica"},
        "disperse": {"data", "redundancy"},
        "snapshot": {"enable", "factor"},
        "mount": {"glusterfs"},
        "mount.glusterfs": {"hosts", "device", "options"},
        "blockinfo": {"freesize", "reservedsize", "blockvolume", "restriction"},
        "operation": {"Id", "Timestamp", "Type", "Actions", "Status"},
        "action": {"Change", "Id", "Delta"},
        "attribute": {"Key", "Value"},
        "blockvolume": {"Info", "Pending"},
        "blockvolume.Info": {
            "size",
            "clusters",
            "name",
            "hacount",
            "auth",
            "id",
            "blockvolume",
            "cluster",
            "blockhostingvolume",
            "usablesize",
        },
        "blockvolume.target": {"hosts", "iqn", "lun", "username", "password"},
    }.items()
}


class DumpError(Exception):
    """The dump cannot be imported; nothing was written. One message per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(self.describe())

    def describe(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        shown = self.problems[:MAX_REPORTED]
        lines = [f"the dump has {len(self.problems)} problems:"]
        lines += [f"  {p}" for p in shown]
        if len(self.problems) > len(shown):
            lines.append(f"  ... and {len(self.problems) - len(shown)} more")
        return "\n".join(lines)


@dataclass
class ImportSummary:
    clusters: int = 0
    nodes: int = 0
    devices: int = 0
    volumes: int = 0
    bricks: int = 0
    operations: int = 0
    block_volumes: int = 0

    def text(self) -> str:
        return (
            "Imported "
            + ", ".join(
                _count(n, noun)
                for n, noun in (
                    (self.clusters, "cluster"),
                    (self.nodes, "node"),
                    (self.devices, "device"),
                    (self.volumes, "volume"),
                    (self.bricks, "brick"),
                    (self.operations, "pending operation"),
                )
            )
            + (
                f", {_count(self.block_volumes, 'block volume')} (kept, not served)"
                if self.block_volumes
                else ""
            )
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass
class HeketiDump:
    """A checked dump, ready for `load_dump`. `warnings` say what the dump left open."""

    clusters: list[Cluster] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    bricks: list[Brick] = field(default_factory=list)
    operations: list[PendingOperation] = field(default_factory=list)
    block_volumes: list[BlockVolume] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> ImportSummary:
        return ImportSummary(
            len(self.clusters),
            len(self.nodes),
            len(self.devices),
            len(self.volumes),
            len(self.bricks),
            len(self.operations),
            len(self.block_volumes),
        )


# ------------------------------------------------------------------------------------------------
# JSON text


def parse_json(text: str) -> Any:
    """The JSON value of `text`; a DumpError names the line and column of a syntax error."""
    if not text.strip():
        raise DumpError(["the file is empty: expected the JSON object of a Heketi db export"])
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        # An unterminated string runs to the end of the text, too.
        ended = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        hint = " (the file ends early: is it truncated?)" if ended else ""
        raise DumpError(
            [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}"]
        ) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys; in a dump that would drop an entity silently.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DumpError([f"not a usable dump: the key {key!r} appears twice in one object"])
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise DumpError([f"not valid JSON: {name} is not a JSON value"])


# ------------------------------------------------------------------------------------------------
# Typed access to the dump's objects


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise DumpError(self.items)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


class _Obj:
    """One JSON object of the dump at `path`. Accessors check the type of a field and return its
    value, or report a problem and return a zero value, so that one pass finds every problem.
    As Go's decoder does, a missing field or ``null`` is the zero value unless it is required."""

    def __init__(self, problems: _Problems, path: str, data: dict[str, Any], kind: str) -> None:
        self.problems = problems
        self.path = path
        self.data = data
        for key in sorted(set(data) - _KEYS[kind]):
            problems.add(self.at(key), "unknown field")

    @classmethod
    def of(cls, problems: _Problems, path: str, value: Any, kind: str) -> _Obj | None:
        if not isinstance(value, dict):
            problems.add(path, f"expected an object, got {_type_name(value)}")
            return None
        return cls(problems, path, value, kind)

    def at(self, key: str) -> str:
        return f"{self.path}.{key}"

    def _get(self, key: str, required: bool, check: Callable[[Any], bool], expected: str) -> Any:
        """The value, or None when it is missing (reported if required) or of the wrong type."""
        value = self.data.get(key)
        if value is None:
            if required:
                self.problems.add(self.at(key), "missing")
            return None
        if not check(value):
            self.problems.add(self.at(key), f"expected {expected}, got {_type_name(value)}")
            return None
        return value

    def obj(self, key: str, kind: str, required: bool = True) -> _Obj | None:
        value = self._get(key, required, lambda v: isinstance(v, dict), "an object")
        return None if value is None else _Obj(self.problems, self.at(key), value, kind)

    def items(self, key: str) -> list[Any]:
        value = self._get(key, False, lambda v: isinstance(v, list), "a list")
        return [] if value is None else list(value)

    def string(self, key: str, required: bool = False) -> str:
        value = self._get(key, required, lambda v: isinstance(v, str), "a string")
        return "" if value is None else str(value)

    def boolean(self, key: str) -> bool:
        return bool(self._get(key, False, lambda v: isinstance(v, bool), "true or false"))

    def integer(self, key: str, required: bool = False, minimum: int = 0, default: int = 0) -> int:
        value = self._get(key, required, _is_int, "an integer")
        if value is None:
            return default
        if not minimum <= value <= _INT64_MAX:
            self.problems.add(self.at(key), f"{value} is out of range ({minimum} to {_INT64_MAX})")
            return default
        return int(value)

    def number(self, key: str, default: float) -> float:
        value = self._get(key, False, _is_number, "a number")
        return default if value is None else float(value)

    def strings(self, key: str, required: bool = False) -> list[str]:
        value = self._get(key, required, lambda v: isinstance(v, list), "a list")
        for i, item in enumerate(value or []):
            if not isinstance(item, str):
                self.problems.add(
                    f"{self.at(key)}[{i}]", f"expected a string, got {_type_name(item)}"
                )
                return []
        return list(value or [])

    def string_map(self, key: str) -> dict[str, str]:
        value = self._get(key, False, lambda v: isinstance(v, dict), "an object")
        for name, item in (value or {}).items():
            if not isinstance(item, str):
                self.problems.add(
                    f"{self.at(key)}.{name}", f"expected a string, got {_type_name(item)}"
                )
                return {}
        return dict(value or {})

    def tags(self, key: str = "tags") -> dict[str, str]:
        tags = self.string_map(key)
        problem = tag_errors(tags)
        if problem:
            self.problems.add(self.at(key), problem)
        return tags

    def entity_id(self, key: str, required: bool = True) -> str:
        value = self.string(key, required)
        if value and not is_valid_id(value):
            self.problems.add(self.at(key), f"{value!r} is not a valid id (32 hexadecimal digits)")
            return ""
        return value

    def id_list(self, key: str) -> list[str]:
        ids = self.strings(key)
        bad = [i for i in ids if not is_valid_id(i)]
        if bad:
            self.problems.add(self.at(key), f"{bad[0]!r} is not a valid id (32 hexadecimal digits)")
            return []
        return ids

    def pending_id(self) -> str:
        pending = self.obj("Pending", "pending", required=False)
        return pending.entity_id("Id", required=False) if pending else ""

    def choice(self, key: str, options: tuple[str, ...], required: bool = True) -> str:
        """One of `options`; the first when missing (reported if required) or wrong."""
        value = self.string(key, required)
        if value in options:
            return value
        if isinstance(self.data.get(key), str):
            shown = ", ".join(repr(o) for o in options)
            self.problems.add(self.at(key), f"{value!r} is not one of {shown}")
        return options[0]


def _is_int(value: Any) -> bool:
    # bool is an int in Python, never in JSON.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ------------------------------------------------------------------------------------------------
# The dump -> entities


@dataclass
class _Links:
    """The lists each entity keeps of its children, and each child's parent, as the dump has
    them; checked against each other once every entity is read."""

    cluster_nodes: dict[str, list[str]] = field(default_factory=dict)
    cluster_volumes: dict[str, list[str]] = field(default_factory=dict)
    node_devices: dict[str, list[str]] = field(default_factory=dict)
    device_bricks: dict[str, list[str]] = field(default_factory=dict)
    volume_bricks: dict[str, list[str]] = field(default_factory=dict)
    cluster_block_volumes: dict[str, list[str]] = field(default_factory=dict)
    volume_block_volumes: dict[str, list[str]] = field(default_factory=dict)
    # brick id -> whether the dump gave its SetIndex and Position (Brickyard's own export)
    brick_has_set: dict[str, bool] = field(default_factory=dict)


class _Reader:
    def __init__(self) -> None:
        self.problems = _Problems()
        self.links = _Links()
        self.dump = HeketiDump()

    # -- sections ---------------------------------------------------------------------------
    def sections(self, data: Any) -> dict[str, dict[str, Any]]:
        if not isinstance(data, dict):
            raise DumpError(
                [
                    f"the dump must be a JSON object with the sections "
                    f"{', '.join(REQUIRED_SECTIONS + OPTIONAL_SECTIONS)}; "
                    f"got {_type_name(data)}"
                ]
            )
        result: dict[str, dict[str, Any]] = {}
        for key in sorted(set(data) - set(REQUIRED_SECTIONS + OPTIONAL_SECTIONS)):
            self.problems.add(key, "unknown field")
        for name in REQUIRED_SECTIONS + OPTIONAL_SECTIONS:
            value = data.get(name)
            if value is None:
                if name in REQUIRED_SECTIONS:
                    self.problems.add(name, "missing section")
                result[name] = {}
            elif not isinstance(value, dict):
                self.problems.add(
                    name, f"expected an object of id -> entry, got {_type_name(value)}"
                )
                result[name] = {}
            else:
                result[name] = value
        self.problems.raise_if_any()
        return result

    def entries(
        self, section: str, entries: dict[str, Any], kind: str
    ) -> Iterable[tuple[str, _Obj]]:
        for key, value in entries.items():
            path = f"{section}.{key}"
            if not is_valid_id(key):
                self.problems.add(path, "the key is not a valid id (32 hexadecimal digits)")
                continue
            entry = _Obj.of(self.problems, path, value, kind)
            if entry is not None:
                yield key, entry

    def info(self, entry: _Obj, key: str, kind: str) -> _Obj | None:
        info = entry.obj("Info", kind)
        if info is None:
            return None
        info_id = info.entity_id("id")
        if info_id and info_id != key:
            self.problems.add(info.at("id"), f"{info_id} differs from the entry's key {key}")
        return info

    # -- entities ---------------------------------------------------------------------------
    def cluster(self, key: str, entry: _Obj) -> None:
        info = self.info(entry, key, "cluster.Info")
        if info is None:
            return
        self.links.cluster_nodes[key] = info.id_list("nodes")
        self.links.cluster_volumes[key] = info.id_list("volumes")
        self.links.cluster_block_volumes[key] = info.id_list("blockvolumes")
        self.dump.clusters.append(
            Cluster(key, block=info.boolean("block"), file=info.boolean("file"))
        )

    def node(self, key: str, entry: _Obj) -> None:
        state = _state(entry)
        info = self.info(entry, key, "node.Info")
        if info is None:
            return
        self.links.node_devices[key] = entry.id_list("Devices")
        hostnames = info.obj("hostnames", "hostnames")
        manage = _hostnames(hostnames, "manage")
        storage = _hostnames(hostnames, "storage")
        node = Node(
            id=key,
            cluster_id=info.entity_id("cluster"),
            zone=info.integer("zone", required=True),
            manage_hostnames=manage,
            storage_hostnames=storage,
            tags=info.tags(),
            state=state,
        )
        self.dump.nodes.append(node)

    def device(self, key: str, entry: _Obj) -> None:
        state = _state(entry)
        info = self.info(entry, key, "device.Info")
        if info is None:
            return
        self.links.device_bricks[key] = entry.id_list("Bricks")
        name = info.string("name", required=True)
        if name and not is_valid_device_name(name):
            self.problems.add(info.at("name"), f"{name!r} is not a valid device name")
        storage = info.obj("storage", "storage")
        total, free, used = (
            [storage.integer(k, required=True) for k in ("total", "free", "used")]
            if storage
            else [0, 0, 0]
        )
        device = Device(
            id=key,
            node_id=entry.entity_id("NodeId"),
            name=name,
            total=total,
            free=free,
            used=used,
            extent_size=entry.integer("ExtentSize", minimum=1, default=4096),
            tags=info.tags(),
            state=state,
            paths=info.strings("paths"),
            pv_uuid=info.string("pv_uuid"),
            backend=entry.choice("Backend", _BACKENDS, required=False) or "lvm",
        )
        self.dump.devices.append(device)

    def brick(self, key: str, entry: _Obj) -> None:
        info = self.info(entry, key, "brick.Info")
        if info is None:
            return
        brick = Brick(
            id=key,
            volume_id=info.entity_id("volume"),
            device_id=info.entity_id("device"),
            node_id=info.entity_id("node"),
            size=info.integer("size", required=True),
            tp_size=entry.integer("TpSize", required=True),
            pool_metadata_size=entry.integer("PoolMetadataSize"),
            subtype=_subtype(entry),
            pending_op_id=entry.pending_id(),
            # Every later command on the brick uses these: Heketi writes LvmThinPool on every
            # brick (not always tp_<id>) and LvmLv on clones (gluster's LV). Stored only where
            # they differ from the derived names.
            lvm_thin_pool=_lvm_name(entry, "LvmThinPool", f"tp_{key}"),
            lvm_lv=_lvm_name(entry, "LvmLv", f"brick_{key}"),
        )
        brick.path_override = self._brick_path(info, brick)
        has_set = "SetIndex" in entry.data or "Position" in entry.data
        if has_set:
            brick.set_index = entry.integer("SetIndex", required=True)
            brick.position = entry.integer("Position", required=True)
        self.links.brick_has_set[key] = has_set
        self.dump.bricks.append(brick)

    def _brick_path(self, info: _Obj, brick: Brick) -> str:
        """The brick's path override: empty where the path is the one derived from the ids,
        else the path gluster chose (snapshot clones). It reaches gluster commands, so it must
        be a plain path."""
        path = info.string("path", required=True)
        if path == brick.mount_point + "/brick":
            return ""
        if not path:
            if "path" in info.data:
                # A brick Heketi recorded but never made; Heketi has a tool to drop them.
                info.problems.add(
                    info.at("path"),
                    "the brick has no path; remove such bricks with Heketi's "
                    "`heketi db delete-bricks-with-empty-path` before exporting",
                )
            return ""
        if not is_valid_device_name(path):
            self.problems.add(info.at("path"), f"{path!r} is not a usable brick path")
        return path

    def volume(self, key: str, entry: _Obj) -> None:
        info = self.info(entry, key, "volume.Info")
        if info is None:
            return
        self.links.volume_bricks[key] = entry.id_list("Bricks")
        name = info.string("name", required=True)
        if name and not VOLUME_NAME.fullmatch(name):
            self.problems.add(info.at("name"), f"{name!r} is not a valid volume name")
        info.strings("clusters")
        _check_mount(info)
        snapshot = info.obj("snapshot", "snapshot", required=False)
        # Heketi applies the entry's GlusterVolumeOptions (Info's copy is the request's); an
        # export without them (older Heketi) has only Info's.
        info_options = info.strings("glustervolumeoptions")
        has_own = "GlusterVolumeOptions" in entry.data
        options = entry.strings("GlusterVolumeOptions") if has_own else info_options
        volume = Volume(
            id=key,
            cluster_id=info.entity_id("cluster"),
            name=name,
            size=info.integer("size", required=True),
            durability=self._durability(info),
            gid=info.integer("gid"),
            options=options,
            block=info.boolean("block"),
            snapshot_enable=snapshot.boolean("enable") if snapshot else False,
            snapshot_factor=snapshot.number("factor", 1.0) if snapshot else 1.0,
            block_info=self._block_info(info),
            pending_op_id=entry.pending_id(),
        )
        self.dump.volumes.append(volume)

    def _durability(self, info: _Obj) -> Durability:
        durability = info.obj("durability", "durability", required=False)
        if durability is None:
            return Durability()
        kind = durability.choice("type", ("none", "replicate", "disperse", ""), False) or "none"
        replicate = durability.obj("replicate", "replicate", required=False)
        disperse = durability.obj("disperse", "disperse", required=False)
        result = Durability(DurabilityType(kind))
        if replicate is not None:
            result.replica = replicate.integer("replica")
        if disperse is not None:
            result.data = disperse.integer("data")
            result.redundancy = disperse.integer("redundancy")
        if result.type is DurabilityType.DISPERSE:
            # As Heketi's import (SetDurability): an unset part takes Heketi's default.
            result.data = result.data or _DEFAULT_EC_DATA
            result.redundancy = result.redundancy or _DEFAULT_EC_REDUNDANCY
        return result

    def _block_info(self, info: _Obj) -> BlockInfo:
        block = info.obj("blockinfo", "blockinfo", required=False)
        if block is None:
            return BlockInfo()
        hosted = block.id_list("blockvolume")
        volume_id = info.data.get("id")
        if isinstance(volume_id, str):
            self.links.volume_block_volumes[volume_id] = hosted
        return BlockInfo(
            block_volumes=hosted,
            free_size=block.integer("freesize"),
            reserved_size=block.integer("reservedsize"),
            restriction=block.choice("restriction", ("", "locked", "locked-by-update"), False),
        )

    def operation(self, key: str, entry: _Obj) -> None:
        op_id = entry.entity_id("Id")
        if op_id and op_id != key:
            self.problems.add(entry.at("Id"), f"{op_id} differs from the entry's key {key}")
        op_type = _enum(entry, "Type", OperationType)
        changes: list[Change] = []
        for i, value in enumerate(entry.items("Actions")):
            action = _Obj.of(self.problems, f"{entry.at('Actions')}[{i}]", value, "action")
            if action is None:
                continue
            change = _enum(action, "Change", ChangeType)
            # Go keeps Delta as an interface{}: a number for expansions, else null.
            delta = action.integer("Delta", minimum=-_INT64_MAX)
            changes.append(Change(change, action.entity_id("Id"), delta))
        self.dump.operations.append(
            PendingOperation(
                id=key,
                type=op_type,
                timestamp=entry.integer("Timestamp"),
                changes=changes,
                status=entry.choice("Status", _OPERATION_STATUSES, required=False),
                # Recovered only when a human names it: Heketi journals no steps.
                format=HEKETI_JOURNAL_FORMAT,
            )
        )

    def block_volume(self, key: str, entry: _Obj) -> None:
        """Kept as Heketi recorded it: its Info is checked and stored whole."""
        info = self.info(entry, key, "blockvolume.Info")
        if info is None:
            return
        target = info.obj("blockvolume", "blockvolume.target", required=False)
        if target is not None:
            target.strings("hosts")
            target.string("iqn")
            target.integer("lun")
            target.string("username")
            target.string("password")
        info.strings("clusters")
        info.integer("hacount")
        info.boolean("auth")
        info.integer("usablesize")
        self.dump.block_volumes.append(
            BlockVolume(
                id=key,
                cluster_id=info.entity_id("cluster"),
                hosting_volume_id=info.entity_id("blockhostingvolume"),
                name=info.string("name", required=True),
                size=info.integer("size", required=True),
                info=dict(info.data),
                pending_op_id=entry.pending_id(),
            )
        )

    def attribute(self, key: str, value: Any) -> None:
        path = f"dbattributeentries.{key}"
        entry = _Obj.of(self.problems, path, value, "attribute")
        if entry is None:
            return
        name = entry.string("Key", required=True)
        if name and name != key:
            self.problems.add(entry.at("Key"), f"{name!r} differs from the entry's key {key!r}")
        self.dump.attributes[key] = entry.string("Value")


def _lvm_name(entry: _Obj, key: str, derived: str) -> str:
    """Heketi's LvmThinPool / LvmLv: "" when empty or the derived name, else the name, which
    must be one LVM accepts (it reaches lvremove and lvs)."""
    name = entry.string(key)
    if name == derived:
        return ""
    if name and not is_valid_lvm_name(name):
        entry.problems.add(entry.at(key), f"{name!r} is not a valid LVM name")
        return ""
    return name


def _state(entry: _Obj) -> EntryState:
    return EntryState(entry.choice("State", tuple(s.value for s in EntryState)))


def _subtype(entry: _Obj) -> BrickSubType:
    value = entry.integer("SubType")
    if value not in {s.value for s in BrickSubType}:
        entry.problems.add(entry.at("SubType"), f"{value} is not a brick subtype (0, 1 or 2)")
        return BrickSubType.UNKNOWN
    return BrickSubType(value)


E = TypeVar("E", OperationType, ChangeType)


def _enum(entry: _Obj, key: str, kind: type[E]) -> E:
    value = entry.integer(key, required=True)
    try:
        return kind(value)
    except ValueError:
        entry.problems.add(entry.at(key), f"{value} is not a known {kind.__name__} value")
        return kind(0)


def _hostnames(hostnames: _Obj | None, key: str) -> list[str]:
    if hostnames is None:
        return [""]
    names = hostnames.strings(key, required=True)
    if not names:
        if key in hostnames.data:
            hostnames.problems.add(hostnames.at(key), "cannot be empty")
        return [""]
    bad = [n for n in names if not is_valid_hostname(n)]
    if bad:
        hostnames.problems.add(hostnames.at(key), f"{bad[0]!r} is not a valid hostname")
    return names


def _check_mount(info: _Obj) -> None:
    """The mount info is recomputed from the cluster's nodes; only its shape is checked."""
    mount = info.obj("mount", "mount", required=False)
    glusterfs = mount.obj("glusterfs", "mount.glusterfs", required=False) if mount else None
    if glusterfs is not None:
        glusterfs.strings("hosts")
        glusterfs.string("device")
        glusterfs.string_map("options")


# ------------------------------------------------------------------------------------------------
# Cross references


def _check_ids_unique(dump: HeketiDump, problems: _Problems) -> None:
    """One id names one entity: the nodes name VGs, LVs and mounts after them."""
    kinds: dict[str, list[str]] = defaultdict(list)
    for kind, entities in (
        ("cluster", dump.clusters),
        ("node", dump.nodes),
        ("device", dump.devices),
        ("volume", dump.volumes),
        ("brick", dump.bricks),
        ("pending operation", dump.operations),
        ("block volume", dump.block_volumes),
    ):
        for entity in entities:
            kinds[entity.id].append(kind)
    for entity_id, used_by in sorted(kinds.items()):
        if len(used_by) > 1:
            problems.add(f"id {entity_id}", f"used by both a {used_by[0]} and a {used_by[1]}")


def _check_links(
    problems: _Problems,
    parents: tuple[str, str, dict[str, list[str]], str],
    children: tuple[str, str, dict[str, str], str],
) -> None:
    """Both sides of one parent -> children relation agree, as Heketi keeps them:
    every child a parent lists names that parent, and every child's parent lists it.
    `parents` = (kind, section, parent id -> listed child ids, path of the list);
    `children` = (kind, section, child id -> parent id, path of the parent field)."""
    parent_kind, parent_section, listed, list_path = parents
    child_kind, child_section, parent_of, parent_path = children
    for parent_id, child_ids in listed.items():
        path = f"{parent_section}.{parent_id}.{list_path}"
        for child_id, n in Counter(child_ids).items():
            if n > 1:
                problems.add(path, f"lists {child_kind} {child_id} {n} times")
            if child_id not in parent_of:
                problems.add(
                    path, f"lists {child_kind} {child_id}, which is not in {child_section}"
                )
            elif parent_of[child_id] != parent_id:
                problems.add(
                    path,
                    f"lists {child_kind} {child_id}, which belongs to {parent_kind} "
                    f"{parent_of[child_id]}",
                )
    for child_id, parent_id in parent_of.items():
        path = f"{child_section}.{child_id}.{parent_path}"
        if parent_id not in listed:
            problems.add(path, f"{parent_kind} {parent_id} is not in {parent_section}")
        elif child_id not in listed[parent_id]:
            problems.add(path, f"{parent_kind} {parent_id} does not list this {child_kind}")


def _check_references(dump: HeketiDump, links: _Links, problems: _Problems) -> None:
    _check_ids_unique(dump, problems)
    _check_links(
        problems,
        ("cluster", "clusterentries", links.cluster_nodes, "Info.nodes"),
        ("node", "nodeentries", {n.id: n.cluster_id for n in dump.nodes}, "Info.cluster"),
    )
    _check_links(
        problems,
        ("cluster", "clusterentries", links.cluster_volumes, "Info.volumes"),
        ("volume", "volumeentries", {v.id: v.cluster_id for v in dump.volumes}, "Info.cluster"),
    )
    _check_links(
        problems,
        ("node", "nodeentries", links.node_devices, "Devices"),
        ("device", "deviceentries", {d.id: d.node_id for d in dump.devices}, "NodeId"),
    )
    _check_links(
        problems,
        ("device", "deviceentries", links.device_bricks, "Bricks"),
        ("brick", "brickentries", {b.id: b.device_id for b in dump.bricks}, "Info.device"),
    )
    _check_links(
        problems,
        ("volume", "volumeentries", links.volume_bricks, "Bricks"),
        ("brick", "brickentries", {b.id: b.volume_id for b in dump.bricks}, "Info.volume"),
    )
    _check_links(
        problems,
        ("cluster", "clusterentries", links.cluster_block_volumes, "Info.blockvolumes"),
        (
            "block volume",
            "blockvolumeentries",
            {b.id: b.cluster_id for b in dump.block_volumes},
            "Info.cluster",
        ),
    )
    _check_links(
        problems,
        ("volume", "volumeentries", links.volume_block_volumes, "Info.blockinfo.blockvolume"),
        (
            "block volume",
            "blockvolumeentries",
            {b.id: b.hosting_volume_id for b in dump.block_volumes},
            "Info.blockhostingvolume",
        ),
    )
    _check_brick_places(dump, problems)


def _check_brick_places(dump: HeketiDump, problems: _Problems) -> None:
    """A brick is on its device's node, in its volume's cluster."""
    device_node = {d.id: d.node_id for d in dump.devices}
    node_cluster = {n.id: n.cluster_id for n in dump.nodes}
    volume_cluster = {v.id: v.cluster_id for v in dump.volumes}
    for b in dump.bricks:
        path = f"brickentries.{b.id}.Info"
        if b.node_id not in node_cluster:
            problems.add(f"{path}.node", f"node {b.node_id} is not in nodeentries")
            continue
        if b.device_id in device_node and device_node[b.device_id] != b.node_id:
            problems.add(
                f"{path}.node",
                f"{b.node_id} differs from the node of device {b.device_id} "
                f"({device_node[b.device_id]})",
            )
        cluster = volume_cluster.get(b.volume_id)
        if cluster is not None and node_cluster[b.node_id] != cluster:
            problems.add(
                f"{path}.node",
                f"node {b.node_id} is in cluster {node_cluster[b.node_id]}, "
                f"its volume {b.volume_id} in cluster {cluster}",
            )


def _check_unique_names(dump: HeketiDump, problems: _Problems) -> None:
    """What Heketi keeps unique: manage[0] and storage[0] across all nodes, a device name on
    its node, a volume name in its cluster."""
    _report_duplicates(
        problems,
        ((f"nodeentries.{n.id}.Info.hostnames.manage", n.manage_host) for n in dump.nodes),
        "manage hostname {} is used by two nodes",
    )
    _report_duplicates(
        problems,
        ((f"nodeentries.{n.id}.Info.hostnames.storage", n.storage_host) for n in dump.nodes),
        "storage hostname {} is used by two nodes",
    )
    _report_duplicates(
        problems,
        ((f"deviceentries.{d.id}.Info.name", (d.node_id, d.name)) for d in dump.devices),
        "device name {0[1]} is used twice on node {0[0]}",
    )
    _report_duplicates(
        problems,
        ((f"volumeentries.{v.id}.Info.name", (v.cluster_id, v.name)) for v in dump.volumes),
        "volume name {0[1]} is used twice in cluster {0[0]}",
    )


def _report_duplicates(problems: _Problems, items: Iterable[tuple[str, Any]], message: str) -> None:
    first: dict[Any, str] = {}
    for path, value in items:
        if value in first:
            problems.add(path, message.format(value) + f" (also {first[value]})")
        else:
            first[value] = path


# ------------------------------------------------------------------------------------------------
# Brick sets


def _derive_sets(dump: HeketiDump, links: _Links) -> None:
    """Give each brick of a Heketi dump its set and position.

    Heketi does not record brick sets: gluster does (``gluster volume info`` lists the bricks
    set by set), and Heketi keeps a volume's ``Bricks`` list sorted by id. The bricks are taken
    in the order the dump lists them and dealt into ``bricks_per_set``-sized sets by
    `_group_bricks`: for a list in gluster order that is exactly gluster's sets; for an
    id-sorted list it still keeps the bricks of a set on different nodes where it can, as
    Heketi placed them. For a volume of one set (the usual replica 3 or disperse volume) the
    membership is exact; with more sets it is a guess until compared with gluster, and a
    warning says so."""
    bricks = {b.id: b for b in dump.bricks}
    for volume in dump.volumes:
        ids = links.volume_bricks.get(volume.id, [])
        derived = [bricks[i] for i in ids if not links.brick_has_set.get(i, True)]
        if not derived:
            continue
        per_set = volume.durability.bricks_per_set
        for set_index, members in enumerate(_group_bricks(derived, per_set)):
            # gluster's order within a set: data bricks, then the arbiter
            members.sort(key=lambda b: b.subtype is BrickSubType.ARBITER)
            for position, brick in enumerate(members):
                brick.set_index, brick.position = set_index, position
        if len(derived) > per_set:
            dump.warnings.append(
                f"volume {volume.name} ({volume.id}): {len(derived)} bricks in sets of "
                f"{per_set}; a Heketi export does not say which bricks form a set, so they "
                "were grouped by their order in the export, on different nodes where possible. "
                f"Compare with `gluster volume info {volume.name}` (brickyard examine) before "
                "evicting a brick or removing a device"
            )


def _group_bricks(bricks: list[Brick], per_set: int) -> list[list[Brick]]:
    """Deal `bricks` in order into sets of `per_set`: each brick goes to the first set with
    room for it that has no brick of its node yet (else the first with room). Room means a
    free place, and in an arbiter volume one arbiter and `per_set` - 1 data bricks a set."""
    sets: list[list[Brick]] = [[] for _ in range(-(-len(bricks) // per_set))]
    arbiter = any(b.subtype is BrickSubType.ARBITER for b in bricks)

    def is_arbiter(brick: Brick) -> bool:
        return brick.subtype is BrickSubType.ARBITER

    def has_room(members: list[Brick], brick: Brick) -> bool:
        if len(members) >= per_set:
            return False
        if not arbiter:
            return True
        same_role = sum(is_arbiter(m) == is_arbiter(brick) for m in members)
        return same_role < (1 if is_arbiter(brick) else per_set - 1)

    for brick in bricks:
        candidates = [m for m in sets if has_room(m, brick)] or [
            m for m in sets if len(m) < per_set
        ]
        apart = [m for m in candidates if all(b.node_id != brick.node_id for b in m)]
        (apart or candidates)[0].append(brick)
    return sets


def _check_set_fields(dump: HeketiDump, links: _Links, problems: _Problems) -> None:
    """SetIndex/Position come from Brickyard's export: all bricks of a volume have them or none."""
    for volume in dump.volumes:
        flags = {links.brick_has_set.get(i, False) for i in links.volume_bricks.get(volume.id, [])}
        if len(flags) > 1:
            problems.add(
                f"volumeentries.{volume.id}.Bricks",
                "some of its bricks have SetIndex/Position and some do not",
            )


# ------------------------------------------------------------------------------------------------
# Thin pools


def _share_pools(dump: HeketiDump) -> None:
    """A thin pool's space is counted once on its device, as Heketi does: the bricks of a
    clone live in their origin's pool and carry its TpSize without consuming it. Of the bricks
    in one pool, the one with its own (derived) LV carries the space; the others are guests.
    A pool whose origin brick is gone (its volume deleted before the clone) is carried by its
    first clone brick, so the space comes back when the pool's last LV is removed."""
    pools: dict[tuple[str, str], list[Brick]] = defaultdict(list)
    for brick in dump.bricks:
        pools[(brick.device_id, brick.thin_pool)].append(brick)
    for (device_id, pool), members in sorted(pools.items()):
        if len(members) == 1 and not members[0].lvm_lv:
            continue
        owners = [b for b in members if not b.lvm_lv] or sorted(members, key=lambda b: b.id)
        carrier = owners[0]
        for brick in members:
            brick.pool_guest = brick is not carrier
        if carrier.lvm_lv:
            dump.warnings.append(
                f"thin pool {pool} on device {device_id} holds only clone bricks (its origin "
                f"brick is gone): brick {carrier.id} carries its space"
            )


# ------------------------------------------------------------------------------------------------
# Entry points


def parse_dump(data: Any) -> HeketiDump:
    """Check a decoded dump and build its entities. Raises DumpError listing every problem."""
    reader = _Reader()
    sections = reader.sections(data)
    readers: tuple[tuple[str, str, Callable[[str, _Obj], None]], ...] = (
        ("clusterentries", "cluster", reader.cluster),
        ("nodeentries", "node", reader.node),
        ("deviceentries", "device", reader.device),
        ("volumeentries", "volume", reader.volume),
        ("brickentries", "brick", reader.brick),
        ("pendingoperations", "operation", reader.operation),
        ("blockvolumeentries", "blockvolume", reader.block_volume),
    )
    for section, kind, read in readers:
        for key, entry in reader.entries(section, sections[section], kind):
            read(key, entry)
    for key, value in sections["dbattributeentries"].items():
        reader.attribute(key, value)
    # Field problems first: references between half-read entities would only add noise.
    reader.problems.raise_if_any()
    _check_references(reader.dump, reader.links, reader.problems)
    _check_unique_names(reader.dump, reader.problems)
    _check_set_fields(reader.dump, reader.links, reader.problems)
    reader.problems.raise_if_any()
    _derive_sets(reader.dump, reader.links)
    _share_pools(reader.dump)
    if reader.dump.block_volumes:
        reader.dump.warnings.append(
            f"{_count(len(reader.dump.block_volumes), 'block volume')}: {BLOCK_VOLUMES_KEPT}"
        )
    return reader.dump


_TABLES: tuple[tuple[str, str], ...] = (
    ("clusters", "cluster"),
    ("nodes", "node"),
    ("devices", "device"),
    ("volumes", "volume"),
    ("bricks", "brick"),
    ("pending_operations", "pending operation"),
    ("block_volumes", "block volume"),
    ("db_attributes", "db attribute"),
)


def _require_empty(tx: Transaction) -> None:
    held = []
    for table, noun in _TABLES:
        n = int(tx.conn.scalar(f"SELECT count(*) FROM {table}"))
        if n:
            held.append(_count(n, noun))
    if held:
        raise DumpError(
            [f"the database already holds {', '.join(held)}; import only into an empty database"]
        )


def load_dump(store: SqlStore, dump: HeketiDump) -> ImportSummary:
    """Write a checked dump into an empty database, all in one transaction."""
    try:
        with store.write() as tx:
            _require_empty(tx)
            # Parents before children: the tables have foreign keys.
            tx.add_all(dump.clusters)
            tx.add_all(dump.nodes)
            tx.add_all(dump.devices)
            tx.add_all(dump.volumes)
            tx.add_all(dump.bricks)
            tx.add_all(dump.operations)
            tx.add_all(dump.block_volumes)
            for key, value in sorted(dump.attributes.items()):
                tx.set_attribute(key, value)
    except Duplicate as exc:  # a check above missed something: say what the db refused
        raise DumpError([f"the database refused the data, nothing was imported: {exc}"]) from exc
    return dump.summary()
