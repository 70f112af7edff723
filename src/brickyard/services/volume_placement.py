"""Choosing the cluster of a new volume and placing its bricks there (internals §2.1), shared by
the create operation and the dry run."""

from __future__ import annotations

import logging

from ..domain.errors import NoSpace, OperationFailed, PlacementError
from ..domain.model import Cluster, Volume
from ..domain.policy import PlacementPolicy, placement_policy
from ..store.sql import Transaction
from .allocation import (
    AllocationFailure,
    NoDevices,
    NoNodes,
    TooManyBricks,
    allocate,
    describe_cluster_failures,
)
from .context import ServiceContext
from .lookup import require
from .plan_report import ClusterChoice

log = logging.getLogger(__name__)


def policy(ctx: ServiceContext, volume: Volume) -> PlacementPolicy:
    settings = ctx.settings
    return placement_policy(volume.options, settings.strict_zones, settings.average_file_size_kb)


def choose(
    ctx: ServiceContext,
    tx: Transaction,
    volume: Volume,
    requested_clusters: list[str],
    op_id: str,
    explain: bool = False,
) -> ClusterChoice:
    """Pick the cluster and place the bricks: clusters in order, the first that can hold the
    volume wins. Raises OperationFailed saying why none could, unless `explain` (the dry run),
    which returns the failure in the choice instead."""
    choice = ClusterChoice()
    cluster_ids = requested_clusters or tx.cluster_ids()
    eligible = []
    for cluster_id in cluster_ids:
        reason = _ineligible(ctx, tx, cluster_id, volume)
        if reason:
            choice.results[cluster_id] = reason
        else:
            eligible.append(cluster_id)
    errors: dict[str, Exception] = {}
    if not eligible:
        if len(cluster_ids) == 1:
            error = OperationFailed(choice.results[cluster_ids[0]])
        else:
            lines = "".join(f"\nCluster {cid}: {why}" for cid, why in choice.results.items())
            error = OperationFailed("No eligible cluster for volume" + lines)
        return choice.fail(error, explain)
    rules = policy(ctx, volume)
    for cluster_id in sorted(eligible):  # one lock order for every server: no deadlock
        tx.lock_placement(cluster_id)
    for cluster_id in eligible:
        volume.cluster_id = cluster_id
        failure = AllocationFailure()
        choice.failures[cluster_id] = failure
        try:
            allocation = allocate(
                tx,
                volume,
                volume.size,
                ctx.settings.limits,
                rules,
                ctx.placer,
                ctx.placement,
                op_id,
                failure=failure,
                explain=explain,
            )
        except (NoNodes, NoDevices) as exc:
            errors[cluster_id] = exc
        except TooManyBricks as exc:
            errors[cluster_id] = NoSpace(exc.detail)
        except PlacementError as exc:
            errors[cluster_id] = exc
        else:
            choice.results[cluster_id] = "placed"
            choice.cluster_id = cluster_id
            choice.allocation = allocation
            return choice
        choice.results[cluster_id] = str(errors[cluster_id])
        log.info(
            "cluster %s cannot hold volume %s: %s", cluster_id, volume.name, errors[cluster_id]
        )
    return choice.fail(describe_cluster_failures(errors), explain)


def _ineligible(ctx: ServiceContext, tx: Transaction, cluster_id: str, volume: Volume) -> str:
    cluster = require(tx, Cluster, cluster_id)
    if not cluster.block and not cluster.file:
        return "Cluster has disabled all volume types"
    if (volume.block and not cluster.block) or (not volume.block and not cluster.file):
        return "Cluster does not support requested volume type"
    if tx.volume_named(cluster_id, volume.name) is not None:
        return f"Volume name '{volume.name}' already in use"
    limit = ctx.settings.volume_limit
    if limit is not None and tx.cluster_has_volumes(cluster_id, limit):
        return f"Cluster has {tx.cluster_volume_count(cluster_id)} volumes and limit is {limit}"
    return ""
