"""Per-key try-locks: a second operation on a busy key is refused at once (ABORTED), never
queued, so a retry from a sidecar whose deadline passed cannot start a second create."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from brickyard.csi.errors import CsiError

__all__ = ["KeyLocks"]


class KeyLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._busy: set[str] = set()

    @contextmanager
    def hold(self, key: str, what: str) -> Iterator[None]:
        with self._guard:
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
