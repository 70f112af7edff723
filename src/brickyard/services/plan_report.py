"""The dry run's answer: which cluster, which devices for which bricks and why, which devices
were skipped and why, and the layouts tried (POST /volumes/plan, `volume create --dry-run`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..domain.errors import OperationFailed
from ..domain.model import Volume
from ..domain.placement import DeviceIndex
from .allocation import Allocation, AllocationFailure

MAX_SKIPPED_EXAMPLES = 50


@dataclass
class ClusterChoice:
    cluster_id: str = ""
    allocation: Allocation | None = None
    results: dict[str, str] = field(default_factory=dict)  # cluster -> "placed" or why not
    failures: dict[str, AllocationFailure] = field(default_factory=dict)
    error: str = ""

    def fail(self, error: OperationFailed, keep: bool) -> ClusterChoice:
        """Raise, or (for the dry run) remember the error and return the choice."""
        if not keep:
            raise error
        self.error = error.message
        return self


@dataclass
class PlanReport:
    body: dict[str, Any]

    @classmethod
    def of(cls, volume: Volume, choice: ClusterChoice, index: DeviceIndex | None) -> PlanReport:
        durability = volume.durability
        body: dict[str, Any] = {"ok": choice.allocation is not None}
        if choice.error:
            body["error"] = choice.error
        body["cluster"] = choice.cluster_id
        body["size"] = volume.size
        body["durability"] = _durability(volume)
        failure = choice.failures.get(choice.cluster_id) or (
            list(choice.failures.values())[-1] if choice.failures else AllocationFailure()
        )
        attempts = choice.allocation.attempts if choice.allocation else failure.attempts
        last = attempts[-1] if attempts else None
        body["sets"] = last.sets if last else 0
        body["bricks_per_set"] = durability.bricks_per_set
        body["brick_size"] = last.brick_size if last else 0
        body["brick_sets"] = _brick_sets(choice, index)
        skipped: list[dict[str, Any]] = []
        counts: dict[str, int] = {}
        explanation = failure.explanation
        if explanation is not None:
            used = {p.device_id for p in choice.allocation.placed} if choice.allocation else set()
            for device_id in used:
                explanation.forget(device_id)
            counts = dict(explanation.counts())
            for candidate, _kind, detail in list(explanation.skipped.values())[
                :MAX_SKIPPED_EXAMPLES
            ]:
                skipped.append(
                    {
                        "device": candidate.device_id,
                        "device_name": candidate.device_name,
                        "node": candidate.node_id,
                        "hostname": candidate.hostname,
                        "reason": detail,
                    }
                )
        body["skipped"] = skipped
        body["skipped_counts"] = counts
        body["attempts"] = [
            {"sets": a.sets, "brick_size": a.brick_size, "result": a.result} for a in attempts
        ]
        body["clusters"] = [{"id": cid, "result": why} for cid, why in choice.results.items()]
        return cls(body)


def _durability(volume: Volume) -> dict[str, Any]:
    d = volume.durability
    replicate = {"replica": d.replica} if d.replica else {}
    disperse: dict[str, int] = {}
    if d.data:
        disperse["data"] = d.data
    if d.redundancy:
        disperse["redundancy"] = d.redundancy
    return {"type": d.type.value, "replicate": replicate, "disperse": disperse}


def _brick_sets(choice: ClusterChoice, index: DeviceIndex | None) -> list[dict[str, Any]]:
    if choice.allocation is None:
        return []
    sets: dict[int, list[dict[str, Any]]] = {}
    for placed in choice.allocation.placed:
        candidate = index.get(placed.device_id) if index is not None else None
        sets.setdefault(placed.set_index, []).append(
            {
                "position": placed.position,
                "device": placed.device_id,
                "device_name": candidate.device_name if candidate else "",
                "node": placed.node_id,
                "hostname": candidate.hostname if candidate else "",
                "zone": candidate.zone if candidate else 0,
                "size": placed.space.brick_size,
                "space": placed.space.total,
                "arbiter": placed.arbiter,
                "reason": placed.reason,
            }
        )
    return [{"set": s, "bricks": bricks} for s, bricks in sorted(sets.items())]
