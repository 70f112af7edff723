"""What the server has seen of the nodes beyond its database: the last examine's drift and the
sampled heal backlog of each volume. Kept in memory by this server (it is cheap to see again)
and read by /metrics, the dashboard and `brickyard status`, so the three tell the same story.

Node reachability is the health monitor's (`services.health.NodeHealth.hosts`)."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # examine imports the context, which holds an Observations
    from .examine import ExamineReport


@dataclass(frozen=True)
class ExamineSummary:
    finished: float  # time.time() when the examine ended
    remaining: dict[str, int]  # differences not fixed, by kind ("space mismatch", ...)
    fixed: int  # differences the examine repaired (examine --fix)

    @property
    def drift(self) -> int:
        return sum(self.remaining.values())


@dataclass(frozen=True)
class HealSample:
    sampled: float  # time.time() of the sample
    entries: int | None  # entries waiting to heal over all bricks; None: gluster could not tell
    bricks_down: int  # bricks gluster did not report as connected


@dataclass(frozen=True)
class FailureRecord:
    """An operation that failed and was rolled back: its journal (and the steps in it) is gone
    once the rollback finishes, so what it had done is kept here for the dashboard."""

    op_id: str
    type_name: str  # "create-volume", ...
    description: str
    error: str
    steps: tuple[str, ...]  # the journal's steps when it failed, in order
    outcome: str  # what the rollback did
    at: float  # time.time() of the failure


RECENT_FAILURES = 20  # kept in memory, newest first


@dataclass
class Observations:
    last_examine: ExamineSummary | None = None
    heal: dict[str, HealSample] = field(default_factory=dict)  # by gluster volume name
    failures: deque[FailureRecord] = field(default_factory=lambda: deque(maxlen=RECENT_FAILURES))

    def record_failure(self, failure: FailureRecord) -> None:
        self.failures.appendleft(failure)

    def record_examine(self, report: ExamineReport) -> ExamineSummary:
        remaining = Counter(d.kind for d in report.differences if not d.fixed)
        summary = ExamineSummary(
            time.time(), dict(remaining), sum(1 for d in report.differences if d.fixed)
        )
        self.last_examine = summary
        return summary
