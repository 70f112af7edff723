"""Leftovers: bricks and devices removed from the database while their node was dead. The
node may come back with them still mounted; they are destroyed then (cleanup) and reported by
`examine` until then, so nothing is forgotten on a node."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..domain.model import Device, Node
from . import schema
from .sql import Transaction

BRICK, DEVICE = "brick", "device"

_INSERT = schema.LEFTOVERS.insert()
_DELETE = "DELETE FROM leftovers WHERE id = :leftover_id"
_ALL = f"{schema.LEFTOVERS.select} ORDER BY recorded, id"


@dataclass(frozen=True)
class Leftover:
    id: str  # brick id or device id
    kind: str  # BRICK or DEVICE
    manage_hostname: str
    storage_hostname: str
    device_id: str
    device_name: str
    backend: str
    detail: str  # what it was, for people
    recorded: float


def of(kind: str, leftover_id: str, node: Node, device: Device, detail: str) -> Leftover:
    """A leftover of `node` on `device`, recorded now."""
    return Leftover(
        id=leftover_id,
        kind=kind,
        manage_hostname=node.manage_host,
        storage_hostname=node.storage_host,
        device_id=device.id,
        device_name=device.name,
        backend=device.backend,
        detail=detail,
        recorded=time.time(),
    )


def add(tx: Transaction, leftover: Leftover) -> None:
    tx.execute(_INSERT, dict(leftover.__dict__))


def remove(tx: Transaction, leftover_id: str) -> None:
    tx.execute(_DELETE, {"leftover_id": leftover_id})


def all_leftovers(tx: Transaction) -> list[Leftover]:
    return [Leftover(*row) for row in tx.execute(_ALL).fetchall()]
