"""The step lines of an operation that fails (docs/logging.md): each attempt's failure and
rollback, and one `end` whose outcome is the metrics' (rolled-back: nothing left behind)."""

from __future__ import annotations

import logging

import pytest

from brickyard.logs import StepEntry

from .conftest import Harness, Topology


def _steps(caplog: pytest.LogCaptureFixture) -> list[StepEntry]:
    return [r.msg for r in caplog.records if isinstance(r.msg, StepEntry)]


async def test_a_failing_create_logs_its_attempts_rollbacks_and_one_end(
    harness: Harness, topology: Topology, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="brickyard.operations")
    for node in topology.nodes:
        harness.world.fail(topology.manage[node], "brick_create", "disk on fire", times=100)
    message = await harness.failed(await harness.post("/volumes", {"size": 1}))
    assert "disk on fire" in message
    steps = _steps(caplog)
    assert {s.op_type for s in steps} == {"create-volume"}
    assert len({s.op_id for s in steps}) == 1  # retries keep the journal id
    failures = [s for s in steps if (s.step, s.outcome) == ("execute", "failed")]
    rollbacks = [s for s in steps if (s.step, s.outcome) == ("rollback", "ok")]
    assert failures and len(failures) == len(rollbacks)
    assert all("disk on fire" in s.detail for s in failures)
    ends = [s for s in steps if s.step == "end"]
    assert [e.outcome for e in ends] == ["rolled-back"]
    assert steps[-1] is ends[0]
    warned = [r for r in caplog.records if r.msg in failures]
    assert all(r.levelno == logging.WARNING for r in warned)
