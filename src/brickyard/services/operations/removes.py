"""Device remove and node remove (state `failed`): evict every brick, one eviction operation
each, then mark the device or node failed.

A remove stopped by a refusal or an error leaves what was moved moved, and the device or node as
it was (offline). After a crash it is resumed: the eviction that was under way is settled first
(recovery takes evictions before removes), then the remove goes on with the bricks left."""

from __future__ import annotations

import abc
from typing import ClassVar

from ...domain.errors import NotFound, OperationFailed, PendingConflict
from ...domain.model import (
    Change,
    ChangeType,
    Device,
    EntryState,
    Node,
    OperationType,
    PendingOperation,
)
from ...store.sql import Transaction
from ..context import ServiceContext
from ..lookup import require
from ..states import check_transition
from .base import ChildRunner, Journal, Operation, Settled, Step, first_change
from .brick_evict import NO_REPLACEMENT, BrickEvict
from .run import Run


class Remove(Operation):
    """What device and node removes share: the journal entry (one per entity at a time), the
    state check, the rollback (stop: nothing to undo) and the recovery (resume)."""

    change: ClassVar[ChangeType]
    noun: ClassVar[str]

    def __init__(
        self,
        ctx: ServiceContext,
        runner: ChildRunner,
        entity_id: str,
        heal_check: bool = True,
        check_state: bool = True,
    ) -> None:
        super().__init__(ctx)
        self.runner = runner
        self.entity_id = entity_id
        self.heal_check = heal_check
        # A node remove empties its devices whatever their state; a remove request follows
        # Heketi's state machine (offline -> failed only).
        self.check_state = check_state

    @property
    def description(self) -> str:
        return f"{self.noun} {self.entity_id} failed"

    @abc.abstractmethod
    def state(self, tx: Transaction) -> EntryState | None:
        """The device's or node's state (None: it is gone)."""

    def plan(self, tx: Transaction) -> Journal:
        if self.state(tx) is None:
            raise NotFound()
        for op in tx.all(PendingOperation):
            if op.type is self.type and any(c.id == self.entity_id for c in op.changes):
                raise PendingConflict()
        detail = {"heal_check": "enable" if self.heal_check else "disable"}
        return Journal([Change(self.change, self.entity_id)], detail)

    async def execute(self, run: Run) -> str | None:
        with self.ctx.store.read() as tx:
            state = self.state(tx)
        if state is None:
            raise NotFound()
        if self.check_state:
            check_transition(
                self.noun.capitalize(), self.noun, self.entity_id, state, EntryState.FAILED
            )
        await self.empty(run)
        return None

    @abc.abstractmethod
    async def empty(self, run: Run) -> None:
        """Move every brick away (journaling the step that says so)."""

    async def roll_back(self, run: Run) -> Settled:
        with run.write() as tx:
            run.finish(tx)
        return Settled(False, "remove stopped; the bricks moved so far stay moved")

    async def recover(self, run: Run) -> Settled:
        with self.ctx.store.read() as tx:
            gone = self.state(tx) is None
        if not gone:
            self.check_state = False  # it was checked when the remove began
            await self.execute(run)
        with run.write() as tx:
            if not gone:
                self.finalize(tx)
            run.finish(tx)
        return Settled(True, "resumed and finished")

    @classmethod
    def load(cls, ctx: ServiceContext, op: PendingOperation, runner: ChildRunner) -> Operation:
        return cls(ctx, runner, first_change(op), op.detail.get("heal_check") != "disable")


class DeviceRemove(Remove):
    type = OperationType.REMOVE_DEVICE
    steps: ClassVar[tuple[Step, ...]] = (Step("device-emptied"),)
    recovery_order = 1
    change = ChangeType.REMOVE_DEVICE
    noun = "device"

    def state(self, tx: Transaction) -> EntryState | None:
        found = tx.get(Device, self.entity_id)
        return found.state if found is not None else None

    def finalize(self, tx: Transaction) -> None:
        device = require(tx, Device, self.entity_id)
        device.state = EntryState.FAILED
        tx.update(device)

    async def empty(self, run: Run) -> None:
        with self.ctx.store.read() as tx:
            device = require(tx, Device, self.entity_id)
            brick_ids = tx.device_brick_ids(self.entity_id)
        for brick_id in brick_ids:
            try:
                await self.runner.run(BrickEvict(self.ctx, brick_id, self.heal_check))
            except OperationFailed as exc:
                if exc.message.startswith(NO_REPLACEMENT):
                    raise OperationFailed(
                        f"Unable to delete device [{self.entity_id}] as no device was found to "
                        f"replace it: {exc.message}"
                    ) from exc
                raise
        run.done("device-emptied", f"{len(brick_ids)} bricks moved off {device.name}", device.id)


class NodeRemove(Remove):
    type = OperationType.REMOVE_NODE
    steps: ClassVar[tuple[Step, ...]] = (Step("node-emptied"),)
    recovery_order = 2
    change = ChangeType.REMOVE_NODE
    noun = "node"

    def state(self, tx: Transaction) -> EntryState | None:
        found = tx.get(Node, self.entity_id)
        return found.state if found is not None else None

    def finalize(self, tx: Transaction) -> None:
        node = require(tx, Node, self.entity_id)
        node.state = EntryState.FAILED
        tx.update(node)

    async def empty(self, run: Run) -> None:
        # The node is offline: none of its devices can receive a replacement meanwhile.
        with self.ctx.store.read() as tx:
            node = require(tx, Node, self.entity_id)
            devices = tx.node_devices(self.entity_id)
        for device in devices:
            await self.runner.run(
                DeviceRemove(self.ctx, self.runner, device.id, self.heal_check, False)
            )
        run.done("node-emptied", f"{len(devices)} devices of {node.manage_host} emptied", node.id)
