"""Heketi's state machine for nodes and devices (contract §1.5-1.6)."""

from __future__ import annotations

from ..domain.errors import OperationFailed
from ..domain.model import EntryState


def check_transition(
    title: str, noun: str, entity_id: str, current: EntryState, wanted: EntryState
) -> None:
    if current is wanted:
        return
    if current is EntryState.ONLINE and wanted is EntryState.FAILED:
        raise OperationFailed(
            f"{title} must be offline before remove operation is performed, {noun}:{entity_id}"
        )
    if current is EntryState.FAILED and wanted is EntryState.ONLINE:
        raise OperationFailed(f"Cannot move a failed/removed {noun} to online state")
    if current is EntryState.FAILED and wanted is EntryState.OFFLINE and noun == "node":
        raise OperationFailed("Cannot move a failed/removed node to offline state")
