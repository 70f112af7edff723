"""Crash points for the crash tests (outside the services, which only call the hook they are
given): a server started with ``BRICKYARD_TEST_CRASH_AT=<operation type>:<step>:<n>`` kills
itself with SIGKILL right after that step boundary, e.g. ``create-volume:brick-made:2`` (the
second brick made). Only the crash tests set it; `services.operations.registry.crash_points`
lists every point of an operation."""

from __future__ import annotations

import logging
import os
import signal

from .services.context import CrashHook, no_crash

CRASH_ENV = "BRICKYARD_TEST_CRASH_AT"

log = logging.getLogger(__name__)


def hook_from_env(environ: dict[str, str] | None = None) -> CrashHook:
    target = (environ if environ is not None else dict(os.environ)).get(CRASH_ENV, "")
    if not target:
        return no_crash

    def kill_at(point: str) -> None:
        if point == target:
            log.critical("crash test: killing the server at %s", point)
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)

    return kill_at
