"""Nodes: add (glusterd check, peer probe), info, delete (peer detach), state, tags."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..domain.errors import BrickyardError, Conflict, InvalidRequest, NotFound
from ..domain.ids import new_id
from ..domain.model import Cluster, Device, EntryState, Node
from .context import ServiceContext
from .jobs import Job
from .lookup import address, require
from .operations.removes import NodeRemove
from .operations.runner import OperationRunner
from .operations.topology import NodeAdd, NodeDelete
from .states import check_transition
from .tags import apply_tag_change

log = logging.getLogger(__name__)


@dataclass
class NodeAddRequest:
    cluster_id: str
    zone: int
    manage: list[str]
    storage: list[str]
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class NodeView:
    node: Node
    devices: list[Device]


class NodeService:
    def __init__(self, ctx: ServiceContext, runner: OperationRunner) -> None:
        self.ctx = ctx
        self.runner = runner

    def info(self, node_id: str) -> NodeView:
        with self.ctx.store.read() as tx:
            node = require(tx, Node, node_id)
            return NodeView(node, tx.node_devices(node_id))

    def _check_hostnames_free(self, manage: str, storage: str) -> None:
        with self.ctx.store.read() as tx:
            for found, host in (
                (tx.node_with_hostname(manage=manage), manage),
                (tx.node_with_hostname(storage=storage), storage),
            ):
                if found is not None:
                    # Heketi's message ends in a newline of its own (the body ends "\n\n").
                    raise Conflict(f"Hostname {host} already used by node with id {found.id}\n")

    async def begin_add(self, request: NodeAddRequest) -> Job:
        with self.ctx.store.read() as tx:
            if tx.get(Cluster, request.cluster_id) is None:
                raise NotFound("Cluster id does not exist")
            peers = [
                n for n in tx.cluster_nodes(request.cluster_id) if n.state is EntryState.ONLINE
            ]
        self._check_hostnames_free(request.manage[0], request.storage[0])
        node = Node(
            id=new_id(),
            cluster_id=request.cluster_id,
            zone=request.zone,
            manage_hostnames=request.manage,
            storage_hostnames=request.storage,
            tags=request.tags,
        )
        via = await self._working_peer(peers) if peers else None
        if not peers:
            try:
                await self.ctx.agent.check_glusterd(address(node))
            except BrickyardError as exc:
                log.warning("node add %s: %s", node.manage_host, exc)
                raise InvalidRequest("New Node doesn't have glusterd running") from exc
        return self.runner.start(NodeAdd(self.ctx, node, via))

    async def _working_peer(self, peers: list[Node]) -> Node:
        for peer in peers:
            try:
                await self.ctx.agent.check_glusterd(address(peer))
                return peer
            except BrickyardError as exc:
                log.warning("glusterd check on %s failed: %s", peer.manage_host, exc)
        raise InvalidRequest("None of the nodes in cluster has glusterd running")

    def begin_delete(self, node_id: str) -> Job:
        return self.runner.start(NodeDelete(self.ctx, node_id))

    def begin_set_state(self, node_id: str, state: EntryState, heal_check: bool = True) -> Job:
        with self.ctx.store.read() as tx:
            current = require(tx, Node, node_id).state
        if state is EntryState.FAILED and current is EntryState.OFFLINE:
            # A remove: journaled now, so a restart answers this request from its outcome.
            return self.runner.start(NodeRemove(self.ctx, self.runner, node_id, heal_check))

        async def run() -> str | None:
            with self.ctx.store.write() as tx:
                node = require(tx, Node, node_id)
                check_transition("Node", "node", node_id, node.state, state)
                node.state = state
                tx.update(node)
            return None

        return Job(run, throttled=state is EntryState.FAILED, description=f"node {node_id} {state}")

    def set_tags(self, node_id: str, tags: dict[str, str], change_type: str) -> dict[str, str]:
        with self.ctx.store.write() as tx:
            node = require(tx, Node, node_id)
            node.tags = apply_tag_change(node.tags, tags, change_type)
            tx.update(node)
            return node.tags
