"""Devices: add (prepared on the node), info, delete (torn down), state, resync, tags."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..domain.errors import NotFound, OperationFailed
from ..domain.ids import new_id
from ..domain.model import Brick, Device, EntryState, Node
from .context import ServiceContext
from .jobs import Job
from .lookup import address, device_spec, require
from .operations.removes import DeviceRemove
from .operations.runner import OperationRunner
from .operations.topology import DeviceAdd, DeviceDelete
from .states import check_transition
from .tags import apply_tag_change


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
    def __init__(self, ctx: ServiceContext, runner: OperationRunner) -> None:
        self.ctx = ctx
        self.runner = runner

    def info(self, device_id: str) -> DeviceView:
        with self.ctx.store.read() as tx:
            device = require(tx, Device, device_id)
            return DeviceView(device, tx.device_bricks(device_id))

    def begin_add(self, request: DeviceAddRequest) -> Job:
        with self.ctx.store.read() as tx:
            if tx.get(Node, request.node_id) is None:
                raise NotFound("Node id does not exist")
        device = Device(
            id=new_id(),
            node_id=request.node_id,
            name=request.name,
            tags=request.tags,
            backend=request.backend or self.ctx.settings.default_backend,
        )
        return self.runner.start(DeviceAdd(self.ctx, device, request.destroy_data))

    def begin_delete(self, device_id: str, force_forget: bool) -> Job:
        return self.runner.start(DeviceDelete(self.ctx, device_id, force_forget))

    def begin_set_state(self, device_id: str, state: EntryState, heal_check: bool = True) -> Job:
        with self.ctx.store.read() as tx:
            current = require(tx, Device, device_id).state
        if state is EntryState.FAILED and current is EntryState.OFFLINE:
            # A remove: journaled now, so a restart answers this request from its outcome.
            return self.runner.start(DeviceRemove(self.ctx, self.runner, device_id, heal_check))

        async def run() -> str | None:
            with self.ctx.store.write() as tx:
                device = require(tx, Device, device_id)
                check_transition("Device", "device", device_id, device.state, state)
                device.state = state
                tx.update(device)
            return None

        return Job(
            run, throttled=state is EntryState.FAILED, description=f"device {device_id} {state}"
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
