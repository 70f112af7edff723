"""Devices: add (prepared on the node), info, delete (torn down), state, resync, tags."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..domain.errors import (
    BrickyardError,
    Conflict,
    InvalidRequest,
    NodeUnreachable,
    NotFound,
    OperationFailed,
)
from ..domain.ids import new_id
from ..domain.model import (
    Brick,
    ChangeType,
    Device,
    EntryState,
    Node,
    OperationType,
    PendingOperation,
)
from ..store import leftovers
from .context import ServiceContext
from .evict import BrickEviction
from .jobs import Job
from .lookup import address, device_spec, require
from .nodes import check_transition
from .steps import StepLog
from .tags import apply_tag_change
from .topology_ops import device_add_detail, forget, journal

log = logging.getLogger(__name__)


@dataclass
class DeviceAddRequest:
    node_id: str
    name: str
    destroy_data: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    backend: str | None = None


@dataclass
class DeviceView:
    device: Device
    bricks: list[Brick]


class DeviceService:
    def __init__(self, ctx: ServiceContext, eviction: BrickEviction) -> None:
        self.ctx = ctx
        self.eviction = eviction

    def info(self, device_id: str) -> DeviceView:
        with self.ctx.store.read() as tx:
            device = require(tx, Device, device_id)
            return DeviceView(device, tx.device_bricks(device_id))

    def begin_add(self, request: DeviceAddRequest) -> Job:
        with self.ctx.store.read() as tx:
            node = tx.get(Node, request.node_id)
            if node is None:
                raise NotFound("Node id does not exist")
        device = Device(
            id=new_id(),
            node_id=node.id,
            name=request.name,
            tags=request.tags,
            backend=request.backend or self.ctx.settings.default_backend,
        )
        op_id = journal(
            self.ctx, OperationType.ADD_DEVICE, device.id, **device_add_detail(node, device)
        )

        async def run() -> str | None:
            try:
                report = await self.ctx.agent.device_setup(
                    address(node), device_spec(device), request.destroy_data
                )
            except BrickyardError:
                forget(self.ctx, op_id)  # the agent leaves nothing of a failed setup
                raise
            StepLog(self.ctx.store, op_id, OperationType.ADD_DEVICE).done(
                "device-set-up", f"{device.name} set up on {node.manage_host}"
            )
            device.total, device.free, device.used = report.total, report.free, report.used
            device.extent_size = report.extent_size
            device.paths, device.pv_uuid = report.paths, report.pv_uuid
            try:
                with self.ctx.store.write() as tx:
                    if tx.get(Node, node.id) is None:
                        raise NotFound("Node id does not exist")
                    tx.add(device)
                    tx.delete(PendingOperation, op_id)
            except BrickyardError:
                # The node was removed meanwhile: undo the setup so nothing is left behind.
                await self.ctx.agent.device_teardown(address(node), device_spec(device), True)
                forget(self.ctx, op_id)
                raise
            return None

        return Job(
            run, description=f"add device {request.name} on {node.manage_host}", operation_id=op_id
        )

    def begin_delete(self, device_id: str, force_forget: bool) -> Job:
        with self.ctx.store.read() as tx:
            device = require(tx, Device, device_id)
            if device.state is not EntryState.FAILED:
                raise InvalidRequest(f"device: {device_id} is not in failed state")
            if tx.device_brick_ids(device_id):
                raise Conflict(f"Unable to delete device [{device_id}] because it contains bricks")
            node = require(tx, Node, device.node_id)
        op_id = journal(self.ctx, OperationType.DELETE_DEVICE, device_id)

        async def run() -> str | None:
            dead = False
            try:
                await self.ctx.agent.device_teardown(
                    address(node), device_spec(device), force_forget
                )
            except NodeUnreachable as exc:
                # A dead node is the normal case of a delete: remember the device, tear it
                # down when the node answers again.
                log.warning("device %s left on dead node %s: %s", device_id, node.manage_host, exc)
                dead = True
            except BrickyardError:
                if not force_forget:
                    forget(self.ctx, op_id)
                    raise
                log.warning("forgetting device %s although its teardown failed", device_id)
            StepLog(self.ctx.store, op_id, OperationType.DELETE_DEVICE).done(
                "device-torn-down", f"{device.name} torn down on {node.manage_host}"
            )
            with self.ctx.store.write() as tx:
                tx.delete(PendingOperation, op_id)
                taken = bool(tx.device_brick_ids(device_id))
                if not taken:
                    tx.delete(Device, device_id)
                if not taken and dead:
                    detail = f"device {device.name}, deleted while its node was down"
                    leftovers.add(
                        tx, leftovers.of(leftovers.DEVICE, device.id, node, device, detail)
                    )
            if taken:
                raise Conflict(f"Unable to delete device [{device_id}] because it contains bricks")
            return None

        return Job(run, description=f"delete device {device_id}", operation_id=op_id)

    def begin_set_state(self, device_id: str, state: EntryState, heal_check: bool = True) -> Job:
        with self.ctx.store.read() as tx:
            current = require(tx, Device, device_id).state
        op_id = ""
        if state is EntryState.FAILED and current is EntryState.OFFLINE:
            # A remove: journaled now, so a restart answers this request from its outcome.
            op_id = self.eviction.journal_remove(
                OperationType.REMOVE_DEVICE, ChangeType.REMOVE_DEVICE, device_id, heal_check
            )

        async def run() -> str | None:
            with self.ctx.store.read() as tx:
                device = require(tx, Device, device_id)
            try:
                check_transition("Device", "device", device_id, device.state, state)
            except BrickyardError:
                if op_id:
                    self.eviction.forget(op_id)
                raise
            if state is EntryState.FAILED and device.state is not EntryState.FAILED:
                await self.eviction.remove_device(device_id, heal_check)
                return None
            with self.ctx.store.write() as tx:
                device = require(tx, Device, device_id)
                device.state = state
                tx.update(device)
            return None

        return Job(
            run,
            throttled=state is EntryState.FAILED,
            description=f"device {device_id} {state}",
            operation_id=op_id,
        )

    def begin_resync(self, device_id: str) -> Job:
        with self.ctx.store.read() as tx:
            device = require(tx, Device, device_id)
            node = require(tx, Node, device.node_id)

        async def run() -> str | None:
            with self.ctx.store.read() as tx:
                if any(b.pending_op_id for b in tx.device_bricks(device_id)):
                    raise OperationFailed("The target exists, contains other items, or is in use.")
            report = await self.ctx.agent.device_info(address(node), device_spec(device))
            with self.ctx.store.write() as tx:
                current = require(tx, Device, device_id)
                current.total, current.free, current.used = report.total, report.free, report.used
                current.extent_size = report.extent_size
                tx.update(current)
            return None

        return Job(run, description=f"resync device {device_id}")

    def set_tags(self, device_id: str, tags: dict[str, str], change_type: str) -> dict[str, str]:
        with self.ctx.store.write() as tx:
            device = require(tx, Device, device_id)
            device.tags = apply_tag_change(device.tags, tags, change_type)
            tx.update(device)
            return device.tags
