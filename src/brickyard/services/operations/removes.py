"""Device remove and node remove (state `failed`): evict every brick, one eviction operation
each, then mark the device or node failed.

A remove stopped by a refusal or an error leaves what was moved moved, and the device or node as
it was (offline). After a crash it is resumed: the eviction that was under way is settled first
(recovery takes evictions before removes), then the remove goes on with the bricks left."""

from __future__ import annotations

from typing import ClassVar

from ...domain.errors import OperationFailed, PendingConflict
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


def _heal_detail(heal_check: bool) -> dict[str, str]:
    return {"heal_check": "enable" if heal_check else "disable"}


def _journaled_remove(tx: Transaction, op_type: OperationType, entity_id: str) -> bool:
    return any(
        op.type is op_type and any(c.id == entity_id for c in op.changes)
        for op in tx.all(PendingOperation)
    )


class DeviceRemove(Operation):
    type = OperationType.REMOVE_DEVICE
    steps: ClassVar[tuple[Step, ...]] = (Step("device-emptied"),)
    recovery_order = 1

    def __init__(
        self,
        ctx: ServiceContext,
        runner: ChildRunner,
        device_id: str,
        heal_check: bool = True,
        check_state: bool = True,
    ) -> None:
        super().__init__(ctx)
        self.runner = runner
        self.device_id = device_id
        self.heal_check = heal_check
        # A node remove empties its devices whatever their state; a device remove request
        # follows Heketi's state machine (offline -> failed only).
        self.check_state = check_state

    @property
    def description(self) -> str:
        return f"device {self.device_id} failed"

    def plan(self, tx: Transaction) -> Journal:
        require(tx, Device, self.device_id)
        if _journaled_remove(tx, OperationType.REMOVE_DEVICE, self.device_id):
            raise PendingConflict()
        return Journal(
            [Change(ChangeType.REMOVE_DEVICE, self.device_id)], _heal_detail(self.heal_check)
        )

    async def execute(self, run: Run) -> str | None:
        with self.ctx.store.read() as tx:
            device = require(tx, Device, self.device_id)
            brick_ids = tx.device_brick_ids(self.device_id)
        if self.check_state:
            check_transition("Device", "device", device.id, device.state, EntryState.FAILED)
        for brick_id in brick_ids:
            try:
                await self.runner.run(BrickEvict(self.ctx, brick_id, self.heal_check))
            except OperationFailed as exc:
                if exc.message.startswith(NO_REPLACEMENT):
                    raise OperationFailed(
                        f"Unable to delete device [{self.device_id}] as no device was found to "
                        f"replace it: {exc.message}"
                    ) from exc
                raise
        run.done("device-emptied", f"{len(brick_ids)} bricks moved off {device.name}", device.id)
        return None

    def finalize(self, tx: Transaction) -> None:
        device = require(tx, Device, self.device_id)
        device.state = EntryState.FAILED
        tx.update(device)

    async def roll_back(self, run: Run) -> Settled:
        with run.write() as tx:
            run.finish(tx)
        return Settled(False, "remove stopped; the bricks moved so far stay moved")

    async def recover(self, run: Run) -> Settled:
        with self.ctx.store.read() as tx:
            gone = tx.get(Device, self.device_id) is None
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


class NodeRemove(Operation):
    type = OperationType.REMOVE_NODE
    steps: ClassVar[tuple[Step, ...]] = (Step("node-emptied"),)
    recovery_order = 2

    def __init__(
        self, ctx: ServiceContext, runner: ChildRunner, node_id: str, heal_check: bool = True
    ) -> None:
        super().__init__(ctx)
        self.runner = runner
        self.node_id = node_id
        self.heal_check = heal_check
        self.check_state = True

    @property
    def description(self) -> str:
        return f"node {self.node_id} failed"

    def plan(self, tx: Transaction) -> Journal:
        require(tx, Node, self.node_id)
        if _journaled_remove(tx, OperationType.REMOVE_NODE, self.node_id):
            raise PendingConflict()
        return Journal(
            [Change(ChangeType.REMOVE_NODE, self.node_id)], _heal_detail(self.heal_check)
        )

    async def execute(self, run: Run) -> str | None:
        # The node is offline: none of its devices can receive a replacement meanwhile.
        with self.ctx.store.read() as tx:
            node = require(tx, Node, self.node_id)
            devices = tx.node_devices(self.node_id)
        if self.check_state:
            check_transition("Node", "node", node.id, node.state, EntryState.FAILED)
        for device in devices:
            await self.runner.run(
                DeviceRemove(self.ctx, self.runner, device.id, self.heal_check, False)
            )
        run.done("node-emptied", f"{len(devices)} devices of {node.manage_host} emptied", node.id)
        return None

    def finalize(self, tx: Transaction) -> None:
        node = require(tx, Node, self.node_id)
        node.state = EntryState.FAILED
        tx.update(node)

    async def roll_back(self, run: Run) -> Settled:
        with run.write() as tx:
            run.finish(tx)
        return Settled(False, "remove stopped; the bricks moved so far stay moved")

    async def recover(self, run: Run) -> Settled:
        with self.ctx.store.read() as tx:
            gone = tx.get(Node, self.node_id) is None
        if not gone:
            self.check_state = False
            await self.execute(run)
        with run.write() as tx:
            if not gone:
                self.finalize(tx)
            run.finish(tx)
        return Settled(True, "resumed and finished")

    @classmethod
    def load(cls, ctx: ServiceContext, op: PendingOperation, runner: ChildRunner) -> Operation:
        return cls(ctx, runner, first_change(op), op.detail.get("heal_check") != "disable")
