"""Nodes: add (glusterd check, peer probe), info, delete (peer detach), state, tags."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from ..domain.errors import BrickyardError, Conflict, InvalidRequest, NotFound, OperationFailed
from ..domain.ids import new_id
from ..domain.model import (
    ChangeType,
    Cluster,
    Device,
    EntryState,
    Node,
    OperationType,
    PendingOperation,
)
from .context import ServiceContext
from .evict import BrickEviction
from .jobs import Job
from .lookup import address, require
from .steps import StepLog
from .tags import apply_tag_change
from .topology_ops import forget, journal, node_detail

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
    def __init__(self, ctx: ServiceContext, eviction: BrickEviction) -> None:
        self.ctx = ctx
        self.eviction = eviction

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

        op_id = journal(self.ctx, OperationType.ADD_NODE, node.id, **node_detail(node))

        async def run() -> str | None:
            if via is not None:
                try:
                    await self.ctx.agent.peer_probe(address(via), address(node))
                except BrickyardError:
                    forget(self.ctx, op_id)
                    raise
                StepLog(self.ctx.store, op_id, OperationType.ADD_NODE).done(
                    "peer-probed", f"{node.storage_host} probed from {via.manage_host}"
                )
            try:
                with self.ctx.store.write() as tx:
                    tx.add(node)
                    tx.delete(PendingOperation, op_id)
            except IntegrityError as exc:
                forget(self.ctx, op_id)
                raise OperationFailed(f"Hostname {node.manage_host} already used") from exc
            return f"/nodes/{node.id}"

        return Job(
            run,
            description=f"add node {node.manage_host}",
            operation_id=op_id,
            resource=f"/nodes/{node.id}",
        )

    async def _working_peer(self, peers: list[Node]) -> Node:
        for peer in peers:
            try:
                await self.ctx.agent.check_glusterd(address(peer))
                return peer
            except BrickyardError as exc:
                log.warning("glusterd check on %s failed: %s", peer.manage_host, exc)
        raise InvalidRequest("None of the nodes in cluster has glusterd running")

    def begin_delete(self, node_id: str) -> Job:
        with self.ctx.store.read() as tx:
            node = require(tx, Node, node_id)
            if tx.node_device_ids(node_id):
                raise Conflict(f"Unable to delete node [{node_id}] because it contains devices")
            others = [n for n in tx.cluster_nodes(node.cluster_id) if n.id != node_id]
        op_id = journal(self.ctx, OperationType.DELETE_NODE, node_id, **node_detail(node))

        async def run() -> str | None:
            for other in others:
                try:
                    await self.ctx.agent.peer_detach(address(other), address(node))
                    break
                except BrickyardError as exc:  # Heketi logs and ignores detach failures
                    log.warning(
                        "peer detach of %s via %s: %s", node.storage_host, other.manage_host, exc
                    )
            StepLog(self.ctx.store, op_id, OperationType.DELETE_NODE).done(
                "peer-detached", f"{node.storage_host} detached"
            )
            with self.ctx.store.write() as tx:
                tx.delete(PendingOperation, op_id)
                taken = bool(tx.node_device_ids(node_id))
                if not taken:
                    tx.delete(Node, node_id)
            if taken:
                raise Conflict(f"Unable to delete node [{node_id}] because it contains devices")
            return None

        return Job(run, description=f"delete node {node.manage_host}", operation_id=op_id)

    def begin_set_state(self, node_id: str, state: EntryState, heal_check: bool = True) -> Job:
        with self.ctx.store.read() as tx:
            current = require(tx, Node, node_id).state
        op_id = ""
        if state is EntryState.FAILED and current is EntryState.OFFLINE:
            # A remove: journaled now, so a restart answers this request from its outcome.
            op_id = self.eviction.journal_remove(
                OperationType.REMOVE_NODE, ChangeType.REMOVE_NODE, node_id, heal_check
            )

        async def run() -> str | None:
            with self.ctx.store.read() as tx:
                node = require(tx, Node, node_id)
            try:
                check_transition("Node", "node", node_id, node.state, state)
            except BrickyardError:
                if op_id:
                    self.eviction.forget(op_id)
                raise
            if state is EntryState.FAILED and node.state is not EntryState.FAILED:
                await self.eviction.remove_node(node_id, heal_check)
                return None
            with self.ctx.store.write() as tx:
                node = require(tx, Node, node_id)
                node.state = state
                tx.update(node)
            return None

        return Job(
            run,
            throttled=state is EntryState.FAILED,
            description=f"node {node_id} {state}",
            operation_id=op_id,
        )

    def set_tags(self, node_id: str, tags: dict[str, str], change_type: str) -> dict[str, str]:
        with self.ctx.store.write() as tx:
            node = require(tx, Node, node_id)
            node.tags = apply_tag_change(node.tags, tags, change_type)
            tx.update(node)
            return node.tags


def check_transition(
    title: str, noun: str, entity_id: str, current: EntryState, wanted: EntryState
) -> None:
    """Heketi's state machine for nodes and devices (contract §1.5-1.6)."""
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
