"""Per-key locks: a second operation on a busy key never runs beside the first, so a retry
from a sidecar whose deadline passed cannot start a second create. It waits for the first
only as long as its own deadline allows, then answers ABORTED (the sidecar retries)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from brickyard.csi.errors import CsiError

__all__ = ["KeyLocks"]


class KeyLocks:
    def __init__(self) -> None:
        self._guard = threading.Condition()
        self._busy: set[str] = set()

    @contextmanager
    def hold(self, key: str, what: str, wait: float = 0.0) -> Iterator[None]:
        """Hold `key` for the block. A busy key is waited for at most `wait` seconds (a
        retry that arrives while its create still runs answers as soon as that create ends,
        within the caller's deadline), then refused with ABORTED; never queued beyond."""
        with self._guard:
            if key in self._busy and wait > 0:
                self._guard.wait_for(lambda: key not in self._busy, timeout=wait)
            if key in self._busy:
                raise CsiError(
                    grpc.StatusCode.ABORTED, f"an operation on {what} is already in progress"
                )
            self._busy.add(key)
        try:
            yield
        finally:
            with self._guard:
                self._busy.discard(key)
                self._guard.notify_all()
