"""Long operations run in the background: a Job is what is left to do after the synchronous
checks and the journaled plan succeeded. Its result is the path of the resource to redirect to
(303), or None when there is nothing to show (204)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class Job:
    run: Callable[[], Awaitable[str | None]]
    throttled: bool = False
    description: str = ""
    operation_id: str = ""  # the journal entry this job executes, if any
    # Where success redirects, when known before the job runs: a result the crash of the
    # server kept from being written is then still known after the restart.
    resource: str = ""
