"""Brick eviction requests (POST /bricks/to-evict/<id>): one BrickEvict operation."""

from __future__ import annotations

from ..domain.errors import OperationFailed
from ..domain.model import Brick
from .context import ServiceContext
from .jobs import Job
from .lookup import require
from .operations.brick_evict import BrickEvict
from .operations.runner import OperationRunner


class EvictionService:
    def __init__(self, ctx: ServiceContext, runner: OperationRunner) -> None:
        self.ctx = ctx
        self.runner = runner

    def check_exists(self, brick_id: str) -> None:
        with self.ctx.store.read() as tx:
            require(tx, Brick, brick_id)

    def begin_evict(self, brick_id: str, heal_check: bool = True) -> Job:
        try:
            return self.runner.start(BrickEvict(self.ctx, brick_id, heal_check))
        except OperationFailed as exc:
            raise OperationFailed(f"Failed to set up brick eviction: {exc.message}") from exc
