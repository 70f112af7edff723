"""What dead nodes kept: bricks evicted and devices deleted while their node did not answer.
They are destroyed once the node answers again (at every cleanup, and as soon as the health
monitor sees the node back)."""

from __future__ import annotations

import logging

from ..domain.errors import BrickyardError, NodeUnreachable
from ..nodes.port import BrickSpec, DeviceSpec, NodeAddress
from ..store import leftovers
from .context import ServiceContext

log = logging.getLogger(__name__)


async def destroy_leftover(ctx: ServiceContext, leftover: leftovers.Leftover) -> None:
    """Destroy on its node what a dead node kept; raises NodeUnreachable while it is dead."""
    node = NodeAddress(leftover.manage_hostname, leftover.storage_hostname)
    device = DeviceSpec(leftover.device_id, leftover.device_name, leftover.backend)
    if leftover.kind == leftovers.BRICK:
        spec = BrickSpec(leftover.id, device, 0, 0, 0)
        # Back from the dead, glusterd may have started the replaced brick again.
        await ctx.agent.release_brick(node, spec)
        await ctx.agent.brick_destroy(node, spec)
    else:
        await ctx.agent.device_teardown(node, device, forget=False)
    with ctx.store.write() as tx:
        leftovers.remove(tx, leftover.id)
    log.info("%s %s left on %s is destroyed", leftover.kind, leftover.id, node.manage)


async def clean_leftovers(ctx: ServiceContext, manage_host: str | None = None) -> int:
    """Destroy what dead nodes kept where the node answers now (only `manage_host`'s when
    given). Returns how many were destroyed."""
    async with ctx.leftover_lock:
        return await _clean(ctx, manage_host)


async def _clean(ctx: ServiceContext, manage_host: str | None) -> int:
    with ctx.store.read() as tx:
        pending = leftovers.all_leftovers(tx)
    cleaned = 0
    for leftover in pending:
        if manage_host is not None and leftover.manage_hostname != manage_host:
            continue
        try:
            await destroy_leftover(ctx, leftover)
            cleaned += 1
        except NodeUnreachable:
            log.debug(
                "%s %s: node %s still down", leftover.kind, leftover.id, leftover.manage_hostname
            )
        except BrickyardError as exc:
            log.warning(
                "cleaning %s %s on %s: %s",
                leftover.kind,
                leftover.id,
                leftover.manage_hostname,
                exc,
            )
    return cleaned
