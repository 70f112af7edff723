"""Hot-path instruments: what the server counts and times while it works, kept in plain Python
structures (a dict of fixed bucket arrays per histogram, ints per counter) so that recording is
a dict lookup and a few additions. prometheus_client is not imported here: api/metrics.py turns
these into metric families at scrape time (the first scrape loads it)."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field

# Seconds. An operation runs from a fraction of a second (simulator, a delete) to minutes (a
# large create on slow disks, an eviction that heals): so do its buckets.
OPERATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# One command on a node: a `gluster pool list` takes milliseconds, a `mkfs.xfs` of a large
# brick or a `gluster volume create` seconds.
NODE_COMMAND_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)

# How an operation ended (label "outcome" of brickyard_operation_duration_seconds).
SUCCEEDED = "succeeded"  # executed and recorded
ROLLED_BACK = "rolled_back"  # failed; what it had done on the nodes was undone
ROLLED_FORWARD = "rolled_forward"  # failed late; finishing it was safer, and it was finished
FAILED = "failed"  # failed and could not be undone: kept for a cleanup or a human
INTERRUPTED = "interrupted"  # stopped where it was (lease lost, server stopping)


@dataclass
class HistogramSeries:
    counts: list[int]  # per bucket, not cumulative; the last one is +Inf
    total: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.counts)


class Histogram:
    """A histogram per label tuple with fixed upper bounds (inclusive, as Prometheus' "le")."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.series: dict[tuple[str, ...], HistogramSeries] = {}

    def observe(self, labels: tuple[str, ...], seconds: float) -> None:
        found = self.series.get(labels)
        if found is None:
            found = self.series[labels] = HistogramSeries([0] * (len(self.bounds) + 1))
        found.counts[bisect_left(self.bounds, seconds)] += 1
        found.total += seconds


def node_command_histogram() -> Histogram:
    return Histogram(NODE_COMMAND_BUCKETS)


@dataclass
class OperationInstruments:
    """Operations of this server: how long they took and how they ended, which run now and
    which wait to start (accepted with 202, their job not running yet)."""

    durations: Histogram = field(default_factory=lambda: Histogram(OPERATION_BUCKETS))
    queued: dict[str, str] = field(default_factory=dict)  # op id -> type: planned, not started
    running: dict[str, str] = field(default_factory=dict)  # op id -> type: executing now

    def planned(self, op_id: str, op_type: str) -> None:
        self.queued[op_id] = op_type

    def started(self, op_id: str, op_type: str) -> None:
        self.queued.pop(op_id, None)
        self.running[op_id] = op_type

    def ended(self, op_id: str, op_type: str, outcome: str, seconds: float) -> None:
        self.running.pop(op_id, None)
        self.durations.observe((op_type, outcome), seconds)

    def by_type(self, which: dict[str, str]) -> Counter[str]:
        return Counter(which.values())
