"""Go values for templates: JSON objects seen through the Go structs of Heketi's API.

``topology info --template`` templates address Go field names (``.ClusterList``,
``.DevicesInfo``, ``.Mount.GlusterFS.MountPoint``); :class:`GoStruct` maps them to the JSON
keys, supplies Go zero values for missing keys and supports embedded-field promotion.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = ["F32", "TOPOLOGY", "GoStruct", "StructType", "format_value", "wrap"]


class F32(float):
    """A Go ``float32``."""


@dataclass(frozen=True)
class Slice:
    elem: FieldType


@dataclass(frozen=True)
class Field:
    name: str
    key: str | None  # JSON key; None for an embedded struct (same JSON object)
    type: FieldType


@dataclass(frozen=True)
class StructType:
    name: str
    fields: tuple[Field, ...]

    def find(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


FieldType: TypeAlias = str | Slice | StructType  # str: "string" "int" "bool" "float32" "map"


class GoStruct:
    """A JSON object viewed as a Go struct."""

    __slots__ = ("data", "type")

    def __init__(self, type_: StructType, data: Any) -> None:
        self.type = type_
        self.data: Mapping[str, Any] = data if isinstance(data, Mapping) else {}

    def field(self, name: str) -> Any:
        """The field ``name`` (promoted through embedded structs); ``KeyError`` when absent."""
        found = self._lookup(name)
        if found is None:
            raise KeyError(name)
        return found

    def _lookup(self, name: str) -> Any | None:
        own = self.type.find(name)
        if own is not None:
            return self._value(own)
        for f in self.type.fields:
            if f.key is None and isinstance(f.type, StructType):
                promoted = GoStruct(f.type, self.data)._lookup(name)
                if promoted is not None:
                    return promoted
        return None

    def _value(self, f: Field) -> Any:
        if f.key is None:
            return wrap(self.data, f.type)
        return wrap(self.data.get(f.key), f.type)

    def values(self) -> list[Any]:
        return [self._value(f) for f in self.type.fields]


def wrap(value: Any, type_: FieldType) -> Any:
    """``value`` (decoded JSON, possibly missing) as a value of Go type ``type_``."""
    if isinstance(type_, StructType):
        return GoStruct(type_, value)
    if isinstance(type_, Slice):
        return [wrap(v, type_.elem) for v in value] if isinstance(value, list) else []
    if type_ == "map":
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}
    if type_ == "bool":
        return bool(value)
    if type_ == "int":
        return int(value) if isinstance(value, int | float) else 0
    if type_ == "float32":
        return F32(value) if isinstance(value, int | float) else F32(0)
    return "" if value is None else str(value)


def _float32_text(value: float) -> str:
    """Go ``strconv.FormatFloat(f, 'g', -1, 32)`` as ``%v`` prints it."""
    as32 = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 10):
        text = f"{as32:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == as32:
            break
    return _go_exponent(text)


def _go_exponent(text: str) -> str:
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    sign = exponent[0] if exponent[0] in "+-" else "+"
    digits = exponent.lstrip("+-").lstrip("0").rjust(2, "0")
    return f"{mantissa}e{sign}{digits}"


def format_value(value: Any) -> str:
    """Go's ``%v``."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, F32):
        return _float32_text(value)
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else _go_exponent(text)
    if isinstance(value, list | tuple):
        return "[" + " ".join(format_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = sorted(value.items())
        return "map[" + " ".join(f"{format_value(k)}:{format_value(v)}" for k, v in items) + "]"
    if isinstance(value, GoStruct):
        return "{" + " ".join(format_value(v) for v in value.values()) + "}"
    return str(value)


def _struct(name: str, *fields: tuple[str, str | None, FieldType]) -> StructType:
    return StructType(name, tuple(Field(n, k, t) for n, k, t in fields))


STRINGS = Slice("string")
BRICK = _struct(
    "api.BrickInfo",
    ("Id", "id", "string"),
    ("Path", "path", "string"),
    ("DeviceId", "device", "string"),
    ("NodeId", "node", "string"),
    ("VolumeId", "volume", "string"),
    ("Size", "size", "int"),
)
STORAGE = _struct(
    "api.StorageSize", ("Total", "total", "int"), ("Free", "free", "int"), ("Used", "used", "int")
)
DEVICE = _struct("api.Device", ("Name", "name", "string"), ("Tags", "tags", "map"))
DEVICE_INFO = _struct(
    "api.DeviceInfo",
    ("Device", None, DEVICE),
    ("Storage", "storage", STORAGE),
    ("Id", "id", "string"),
    ("Paths", "paths", STRINGS),
    ("PvUUID", "pv_uuid", "string"),
)
DEVICE_RESPONSE = _struct(
    "api.DeviceInfoResponse",
    ("DeviceInfo", None, DEVICE_INFO),
    ("State", "state", "string"),
    ("Bricks", "bricks", Slice(BRICK)),
)
HOSTS = _struct("api.HostAddresses", ("Manage", "manage", STRINGS), ("Storage", "storage", STRINGS))
NODE_ADD = _struct(
    "api.NodeAddRequest",
    ("Zone", "zone", "int"),
    ("Hostnames", "hostnames", HOSTS),
    ("ClusterId", "cluster", "string"),
    ("Tags", "tags", "map"),
)
NODE_INFO = _struct("api.NodeInfo", ("NodeAddRequest", None, NODE_ADD), ("Id", "id", "string"))
NODE_RESPONSE = _struct(
    "api.NodeInfoResponse",
    ("NodeInfo", None, NODE_INFO),
    ("State", "state", "string"),
    ("DevicesInfo", "devices", Slice(DEVICE_RESPONSE)),
)
DURABILITY = _struct(
    "api.VolumeDurabilityInfo",
    ("Type", "type", "string"),
    ("Replicate", "replicate", _struct("api.ReplicaDurability", ("Replica", "replica", "int"))),
    (
        "Disperse",
        "disperse",
        _struct(
            "api.DisperseDurability",
            ("Data", "data", "int"),
            ("Redundancy", "redundancy", "int"),
        ),
    ),
)
VOLUME_CREATE = _struct(
    "api.VolumeCreateRequest",
    ("Size", "size", "int"),
    ("Clusters", "clusters", STRINGS),
    ("Name", "name", "string"),
    ("Durability", "durability", DURABILITY),
    ("Gid", "gid", "int"),
    ("GlusterVolumeOptions", "glustervolumeoptions", STRINGS),
    ("Block", "block", "bool"),
    (
        "Snapshot",
        "snapshot",
        _struct("struct", ("Enable", "enable", "bool"), ("Factor", "factor", "float32")),
    ),
)
MOUNT = _struct(
    "struct",
    (
        "GlusterFS",
        "glusterfs",
        _struct(
            "struct",
            ("Hosts", "hosts", STRINGS),
            ("MountPoint", "device", "string"),
            ("Options", "options", "map"),
        ),
    ),
)
BLOCK_INFO = _struct(
    "struct",
    ("FreeSize", "freesize", "int"),
    ("ReservedSize", "reservedsize", "int"),
    ("BlockVolumes", "blockvolume", STRINGS),
    ("Restriction", "restriction", "string"),
)
VOLUME_INFO = _struct(
    "api.VolumeInfo",
    ("VolumeCreateRequest", None, VOLUME_CREATE),
    ("Id", "id", "string"),
    ("Cluster", "cluster", "string"),
    ("Mount", "mount", MOUNT),
    ("BlockInfo", "blockinfo", BLOCK_INFO),
)
VOLUME_RESPONSE = _struct(
    "api.VolumeInfoResponse", ("VolumeInfo", None, VOLUME_INFO), ("Bricks", "bricks", Slice(BRICK))
)
CLUSTER_FLAGS = _struct("api.ClusterFlags", ("Block", "block", "bool"), ("File", "file", "bool"))
CLUSTER = _struct(
    "api.Cluster",
    ("Volumes", "volumes", Slice(VOLUME_RESPONSE)),
    ("BlockVolumes", "blockvolumes", STRINGS),
    ("Nodes", "nodes", Slice(NODE_RESPONSE)),
    ("Id", "id", "string"),
    ("ClusterFlags", None, CLUSTER_FLAGS),
)
TOPOLOGY = _struct("api.TopologyInfoResponse", ("ClusterList", "clusters", Slice(CLUSTER)))
