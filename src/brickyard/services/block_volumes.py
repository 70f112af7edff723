"""Block volumes imported from Heketi: kept as Heketi recorded them, listed and shown, never
created, deleted or expanded (this version manages no gluster-block volumes)."""

from __future__ import annotations

from ..domain.errors import NotFound
from ..domain.model import BlockVolume
from .context import ServiceContext


class BlockVolumeService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def list(self) -> list[BlockVolume]:
        """Sorted by id; those a Heketi operation left pending are hidden, as Heketi hides them."""
        with self.ctx.store.read() as tx:
            kept = tx.all(BlockVolume)
        return sorted((b for b in kept if not b.pending_op_id), key=lambda b: b.id)

    def get(self, block_volume_id: str) -> BlockVolume:
        with self.ctx.store.read() as tx:
            found = tx.get(BlockVolume, block_volume_id)
        if found is None or found.pending_op_id:
            raise NotFound()
        return found
