"""Entities of the topology and of volumes. Plain dataclasses: no I/O, no framework."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class EntryState(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    FAILED = "failed"


class DurabilityType(enum.StrEnum):
    NONE = "none"
    REPLICATE = "replicate"
    DISPERSE = "disperse"


DEFAULT_REPLICA = 2  # Heketi's default when a replicate request names no replica count
MOUNT_ROOT = "/var/lib/heketi/mounts"


@dataclass
class Cluster:
    id: str
    block: bool = False
    file: bool = False


@dataclass
class Node:
    id: str
    cluster_id: str
    zone: int
    manage_hostnames: list[str]
    storage_hostnames: list[str]
    tags: dict[str, str] = field(default_factory=dict)
    state: EntryState = EntryState.ONLINE

    @property
    def manage_host(self) -> str:
        """Only manage[0] is used to run commands (as in Heketi)."""
        return self.manage_hostnames[0]

    @property
    def storage_host(self) -> str:
        """Only storage[0] names bricks and mount hosts."""
        return self.storage_hostnames[0]


@dataclass
class Device:
    id: str
    node_id: str
    name: str
    total: int = 0  # KiB
    free: int = 0
    used: int = 0
    extent_size: int = 4096  # KiB
    tags: dict[str, str] = field(default_factory=dict)
    state: EntryState = EntryState.ONLINE
    paths: list[str] = field(default_factory=list)
    pv_uuid: str = ""
    backend: str = "lvm"

    @property
    def vg_name(self) -> str:
        return f"vg_{self.id}"

    def reserve(self, kib: int) -> None:
        if kib > self.free:
            raise ValueError(f"device {self.id}: cannot reserve {kib} KiB, {self.free} free")
        self.free -= kib
        self.used += kib

    def release(self, kib: int) -> None:
        if kib > self.used:
            raise ValueError(f"device {self.id}: cannot release {kib} KiB, {self.used} used")
        self.used -= kib
        self.free += kib


class BrickSubType(enum.IntEnum):
    UNKNOWN = 0
    NORMAL = 1
    ARBITER = 2


@dataclass
class Brick:
    id: str
    volume_id: str
    device_id: str
    node_id: str
    size: int  # KiB, the thin LV's virtual size
    tp_size: int  # KiB, thin-pool data size
    pool_metadata_size: int  # KiB
    set_index: int = 0  # which brick set (replica/disperse group) it belongs to
    position: int = 0  # position within its set (gluster's brick order)
    subtype: BrickSubType = BrickSubType.NORMAL
    pending_op_id: str = ""
    path_override: str = ""  # gluster-chosen path (snapshot clones)
    # LVM names other than the derived tp_<id> / brick_<id> (Heketi's LvmThinPool / LvmLv:
    # a clone's LV is gluster's, in its origin's pool). "" means the derived name.
    lvm_thin_pool: str = ""
    lvm_lv: str = ""
    # Its LV lives in a thin pool whose space another brick carries (a clone's, in its
    # origin's pool): a pool's space is counted once on its device, as Heketi does.
    pool_guest: bool = False

    @property
    def space(self) -> int:
        """KiB this brick takes from its device: its thin pool, unless another brick's row
        carries that pool."""
        return 0 if self.pool_guest else self.tp_size + self.pool_metadata_size

    @property
    def thin_pool(self) -> str:
        return self.lvm_thin_pool or f"tp_{self.id}"

    @property
    def lv(self) -> str:
        return self.lvm_lv or f"brick_{self.id}"

    @property
    def mount_point(self) -> str:
        return f"{MOUNT_ROOT}/vg_{self.device_id}/brick_{self.id}"

    @property
    def path(self) -> str:
        return self.path_override or self.mount_point + "/brick"


@dataclass
class Durability:
    """The durability as requested (Heketi echoes the request, zero fields omitted)."""

    type: DurabilityType = DurabilityType.NONE
    replica: int = 0
    data: int = 0
    redundancy: int = 0

    @property
    def bricks_per_set(self) -> int:
        if self.type is DurabilityType.REPLICATE:
            return self.replica or DEFAULT_REPLICA
        if self.type is DurabilityType.DISPERSE:
            return self.data + self.redundancy
        return 1

    @property
    def data_bricks_per_set(self) -> int:
        return self.data if self.type is DurabilityType.DISPERSE else 1


BLOCK_HOSTING_RESERVE_PERCENT = 2


@dataclass
class BlockInfo:
    """Space of a block-hosting volume, in GiB: Heketi keeps 2 % of the raw size in reserve."""

    free_size: int = 0
    reserved_size: int = 0
    restriction: str = ""
    # Block volumes it hosts (imported from Heketi; kept, not served): ids, as Heketi lists them.
    block_volumes: list[str] = field(default_factory=list)

    def with_raw_capacity(self, gib: int) -> BlockInfo:
        free = gib * (100 - BLOCK_HOSTING_RESERVE_PERCENT) // 100
        return BlockInfo(self.free_size + free, self.reserved_size + gib - free, self.restriction)


@dataclass
class Volume:
    id: str
    cluster_id: str
    name: str
    size: int  # GiB
    durability: Durability
    gid: int = 0
    options: list[str] = field(default_factory=list)
    block: bool = False
    snapshot_enable: bool = False
    snapshot_factor: float = 1.0
    block_info: BlockInfo = field(default_factory=BlockInfo)
    pending_op_id: str = ""

    @property
    def visible(self) -> bool:
        """A volume being created or deleted is hidden from lists and info (Heketi)."""
        return not self.pending_op_id


@dataclass
class BlockVolume:
    """A gluster-block volume imported from Heketi. Brickyard does not serve block volumes:
    it keeps them as Heketi recorded them (`info` is Heketi's BlockVolumeInfo, unchanged), so
    they are listed, shown, exported again, and keep their hosting volume from being deleted."""

    id: str
    cluster_id: str
    hosting_volume_id: str
    name: str
    size: int  # GiB
    info: dict[str, object] = field(default_factory=dict)
    pending_op_id: str = ""


class OperationType(enum.IntEnum):
    """Persisted values equal Heketi's, so `db dump` stays comparable."""

    UNKNOWN = 0
    CREATE_VOLUME = 1
    DELETE_VOLUME = 2
    EXPAND_VOLUME = 3
    CREATE_BLOCK_VOLUME = 4
    DELETE_BLOCK_VOLUME = 5
    REMOVE_DEVICE = 6
    CLONE_VOLUME = 7
    EVICT_BRICK = 8
    EXPAND_BLOCK_VOLUME = 9
    # Brickyard's own (Heketi does not journal these): a crash between the node command and
    # the database write would otherwise leak a volume group or a peer.
    ADD_DEVICE = 101
    DELETE_DEVICE = 102
    ADD_NODE = 103
    DELETE_NODE = 104
    REMOVE_NODE = 105  # node state failed: every device removed (resumed after a crash)

    @property
    def type_name(self) -> str:
        return self.name.lower().replace("_", "-")


class ChangeType(enum.IntEnum):
    UNKNOWN = 0
    ADD_BRICK = 1
    ADD_VOLUME = 2
    DELETE_BRICK = 3
    DELETE_VOLUME = 4
    EXPAND_VOLUME = 5
    ADD_BLOCK_VOLUME = 6
    DELETE_BLOCK_VOLUME = 7
    REMOVE_DEVICE = 8
    CLONE_VOLUME = 9
    SNAPSHOT_VOLUME = 10
    ADD_VOLUME_CLONE = 11
    CHILD_OPERATION = 12
    PARENT_OPERATION = 13
    EXPAND_BLOCK_VOLUME = 14
    ADD_DEVICE = 101
    DELETE_DEVICE = 102
    ADD_NODE = 103
    DELETE_NODE = 104
    REMOVE_NODE = 105

    @property
    def description(self) -> str:
        return self.name.replace("_", " ").capitalize()


@dataclass
class Change:
    change: ChangeType
    id: str
    delta: int = 0


# The journal format this version writes. Rows of another format are recovered only when a
# human asks for it (cleanup naming the operation): their steps may mean something else.
# 1: Brickyard before operation claims (no intent steps); 2: claims, intent steps, kinds.
JOURNAL_FORMAT = 2
HEKETI_JOURNAL_FORMAT = 0  # imported from a Heketi database: Heketi's own semantics


class OperationStatus(enum.StrEnum):
    """Heketi's values: "" new (a live worker owns it), "stale" (left by a server that is
    gone), "failed" (a rollback or cleanup could not finish; retried by cleanups)."""

    NEW = ""
    STALE = "stale"
    FAILED = "failed"


@dataclass
class PendingOperation:
    id: str
    type: OperationType
    timestamp: int
    changes: list[Change] = field(default_factory=list)
    status: str = ""  # OperationStatus
    # What recovery needs that no other table holds, e.g. the hosts of a node being added.
    detail: dict[str, str] = field(default_factory=dict)
    # The worker that holds the operation now ("" = nobody): whoever acts on an operation claims
    # it first with a conditional update of this field, so no two workers ever act on it.
    owner: str = ""
    claimed_at: float = 0.0  # when `owner` took it (seconds since the epoch)
    # Why it waits for a human ("" = it does not): recovery could not finish it and will not
    # retry on its own. Its status is "failed".
    held: str = ""
    format: int = JOURNAL_FORMAT

    @property
    def needs_human(self) -> bool:
        return bool(self.held)


@dataclass(frozen=True)
class StepRecord:
    """One journaled step of an operation: `kind` says what (``brick-made``...), `subject` on
    what (a brick id, a volume name), `text` says it for people. Kinds ending in ``-begun``
    are intents, written before a node command whose effect recovery must look for."""

    kind: str
    subject: str
    text: str
    at: float
