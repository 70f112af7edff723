"""Every kind of operation, by journal type: recovery loads an entry through this table, the
crash tests enumerate it, and the operation listings name types from it."""

from __future__ import annotations

from ...domain.model import OperationType
from .base import Operation, Step
from .brick_evict import BrickEvict
from .removes import DeviceRemove, NodeRemove
from .topology import DeviceAdd, DeviceDelete, NodeAdd, NodeDelete
from .volume_clone import VolumeClone
from .volume_create import VolumeCreate
from .volume_delete import VolumeDelete
from .volume_expand import VolumeExpand

OPERATIONS: dict[OperationType, type[Operation]] = {
    cls.type: cls
    for cls in (
        VolumeCreate,
        VolumeDelete,
        VolumeExpand,
        VolumeClone,
        BrickEvict,
        DeviceRemove,
        NodeRemove,
        DeviceAdd,
        DeviceDelete,
        NodeAdd,
        NodeDelete,
    )
}


def crash_points(op_type: OperationType, bricks: int = 1) -> list[str]:
    """Every crash point of an operation that handles `bricks` bricks, in order: after its
    plan is committed, after each journaled step, after its success is committed."""
    steps = (Step("planned"), *OPERATIONS[op_type].steps, Step("finalized"))
    points = []
    for step in steps:
        for n in range(1, (bricks if step.per_brick else 1) + 1):
            points.append(f"{op_type.type_name}:{step.kind}:{n}")
    return points
