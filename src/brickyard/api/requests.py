"""Parsing and validating each request body: the Go struct shape (decode.py) and the ozzo
validation rules with Heketi's exact messages. Returns the services' request objects."""

from __future__ import annotations

from typing import Any

from ..domain.errors import InvalidRequest
from ..domain.gluster_rules import MAX_STORAGE_HOST_FOR_DEFAULT_NAMES
from ..domain.ids import is_valid_id
from ..domain.model import Durability, DurabilityType, EntryState
from ..domain.validation import (
    VOLUME_NAME,
    device_name_length_problem,
    is_valid_device_name,
    is_valid_hostname,
    tag_errors,
)
from ..services.devices import DeviceAddRequest
from ..services.nodes import NodeAddRequest
from ..services.volumes import VolumeCreateRequest
from .decode import MAP_OF_STR, Validation, decode_body

CLUSTER_SPEC = {"block": bool, "file": bool}
NODE_SPEC = {
    "zone": int,
    "hostnames": {"manage": [str], "storage": [str]},
    "cluster": str,
    "tags": MAP_OF_STR,
}
DEVICE_SPEC = {"node": str, "name": str, "destroydata": bool, "tags": MAP_OF_STR, "backend": str}
STATE_SPEC = {"state": str, "healcheck": str}
TAGS_SPEC = {"tags": MAP_OF_STR, "change_type": str}
VOLUME_SPEC = {
    "size": int,
    "name": str,
    "clusters": [str],
    "durability": {
        "type": str,
        "replicate": {"replica": int},
        "disperse": {"data": int, "redundancy": int},
    },
    "gid": int,
    "glustervolumeoptions": [str],
    "block": bool,
    "snapshot": {"enable": bool, "factor": float},
}
EXPAND_SPEC = {"expand_size": int}
CLONE_SPEC = {"name": str}
RESTRICTION_SPEC = {"restriction": str}
DELETE_DEVICE_SPEC = {"forceforget": bool}
ADMIN_SPEC = {"state": str}
LOGGING_SPEC = {"loglevel": MAP_OF_STR}
CLEANUP_SPEC = {"operations": [str]}

BACKENDS = ("lvm", "loopfile")
MAX_ZONE = 2**31 - 1  # stored as a 32-bit integer


def _fail(v: Validation) -> None:
    message = v.message()
    if message:
        raise InvalidRequest(message)


def _check_tags(v: Validation, tags: dict[str, str]) -> None:
    problem = tag_errors(tags)
    if problem:
        v.add("tags", problem)


def _check_id(v: Validation, field: str, value: str) -> None:
    if not value:
        v.add(field, "cannot be blank")
    elif not is_valid_id(value):
        v.add(field, f"{value} is not a valid UUID")


def cluster_flags(body: bytes) -> tuple[bool, bool]:
    data = decode_body(body, CLUSTER_SPEC)
    return data["block"], data["file"]


def node_add(body: bytes) -> NodeAddRequest:
    data = decode_body(body, NODE_SPEC)
    v = Validation()
    if data["zone"] == 0:
        v.add("zone", "cannot be blank")
    elif data["zone"] < 1:
        v.add("zone", "must be no less than 1")
    elif data["zone"] > MAX_ZONE:
        v.add("zone", f"must be no greater than {MAX_ZONE}")
    hostnames = Validation()
    for key in ("manage", "storage"):
        names = data["hostnames"][key]
        if not names:
            hostnames.add(key, "cannot be blank")
        elif not all(is_valid_hostname(n) for n in names):
            hostnames.add(key, f"[{' '.join(names)}] is not a valid {key} hostname")
        elif key == "storage" and len(names[0]) > MAX_STORAGE_HOST_FOR_DEFAULT_NAMES:
            # Gluster names each brick's volume file after its host: longer, no volume fits.
            hostnames.add(
                key,
                f"{names[0]} is longer than {MAX_STORAGE_HOST_FOR_DEFAULT_NAMES} characters: "
                "GlusterFS could not name the volume files of its bricks",
            )
    v.nested("hostnames", hostnames)
    _check_id(v, "cluster", data["cluster"])
    _check_tags(v, data["tags"])
    _fail(v)
    return NodeAddRequest(
        cluster_id=data["cluster"],
        zone=data["zone"],
        manage=data["hostnames"]["manage"],
        storage=data["hostnames"]["storage"],
        tags=data["tags"],
    )


def device_add(body: bytes) -> DeviceAddRequest:
    data = decode_body(body, DEVICE_SPEC)
    v = Validation()
    _check_id(v, "node", data["node"])
    if not data["name"]:
        v.add("name", "cannot be blank")
    elif not is_valid_device_name(data["name"]):
        v.add("name", "must be in a valid format")
    elif problem := device_name_length_problem(data["name"]):
        v.add("name", problem)
    _check_tags(v, data["tags"])
    if data["backend"] and data["backend"] not in BACKENDS:
        v.add("backend", "must be a valid value")
    _fail(v)
    return DeviceAddRequest(
        node_id=data["node"],
        name=data["name"],
        destroy_data=data["destroydata"],
        tags=data["tags"],
        backend=data["backend"] or None,
    )


def state_change(body: bytes) -> tuple[EntryState, bool]:
    """The state asked for, and whether the heal check stays on (``healcheck`` is not
    ``disable``)."""
    data = decode_body(body, STATE_SPEC)
    v = Validation()
    if not data["state"]:
        v.add("state", "cannot be blank")
    elif data["state"] not in {s.value for s in EntryState}:
        v.add("state", f"{data['state']} is not valid state")
    if data["healcheck"] not in ("", "enable", "disable"):
        v.add("healcheck", f"{data['healcheck']} is not valid heal info check")
    _fail(v)
    return EntryState(data["state"]), data["healcheck"] != "disable"


def tag_change(body: bytes) -> tuple[dict[str, str], str]:
    data = decode_body(body, TAGS_SPEC)
    v = Validation()
    if not data["change_type"]:
        v.add("change_type", "cannot be blank")
    elif data["change_type"] not in ("set", "update", "delete"):
        v.add("change_type", "must be a valid value")
    _check_tags(v, data["tags"])
    _fail(v)
    return data["tags"], data["change_type"]


def volume_create(body: bytes) -> VolumeCreateRequest:
    data = decode_body(body, VOLUME_SPEC)
    v = Validation()
    if data["size"] == 0:
        v.add("size", "cannot be blank")
    elif data["size"] < 1:
        v.add("size", "must be no less than 1")
    if data["name"] and not VOLUME_NAME.fullmatch(data["name"]):
        v.add("name", "must be in a valid format")
    _fail(v)
    durability = data["durability"]
    kind = durability["type"] or "none"
    if kind not in {t.value for t in DurabilityType}:
        raise InvalidRequest("Unknown durability type")
    return VolumeCreateRequest(
        size=data["size"],
        name=data["name"],
        durability=Durability(
            type=DurabilityType(kind),
            replica=durability["replicate"]["replica"],
            data=durability["disperse"]["data"],
            redundancy=durability["disperse"]["redundancy"],
        ),
        gid=data["gid"],
        options=data["glustervolumeoptions"],
        clusters=data["clusters"],
        block=data["block"],
        snapshot_enable=data["snapshot"]["enable"],
        snapshot_factor=data["snapshot"]["factor"],
    )


def volume_expand(body: bytes) -> int:
    data = decode_body(body, EXPAND_SPEC)
    v = Validation()
    if data["expand_size"] == 0:
        v.add("expand_size", "cannot be blank")
    elif data["expand_size"] < 1:
        v.add("expand_size", "must be no less than 1")
    _fail(v)
    return int(data["expand_size"])


def volume_clone(body: bytes) -> str:
    data = decode_body(body, CLONE_SPEC)
    v = Validation()
    if data["name"] and not VOLUME_NAME.fullmatch(data["name"]):
        v.add("name", "must be in a valid format")
    _fail(v)
    return str(data["name"])


def block_restriction(body: bytes) -> str:
    data = decode_body(body, RESTRICTION_SPEC)
    v = Validation()
    if data["restriction"] not in ("", "locked"):
        v.add("restriction", "must be a valid value")
    _fail(v)
    return str(data["restriction"])


def device_delete(body: bytes) -> bool:
    if not body:
        return False
    return bool(decode_body(body, DELETE_DEVICE_SPEC)["forceforget"])


def cleanup(body: bytes) -> list[str]:
    data = decode_body(body, CLEANUP_SPEC)
    v = Validation()
    ops = data["operations"]
    if len(ops) > 32:
        v.add("operations", "the length must be no more than 32")
    elif not all(is_valid_id(o) for o in ops):
        v.add("operations", "must be in a valid format")
    _fail(v)
    return list(ops)


def raw(body: bytes, spec: dict[str, Any]) -> dict[str, Any]:
    return decode_body(body, spec)
