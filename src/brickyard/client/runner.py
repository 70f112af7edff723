"""Binding flows to a runner: one operation definition serves the sync and the async client.

An :class:`operation` wraps a flow factory ``f(*args) -> Flow[T]``. Read from a
:class:`SyncRunner` it is a method returning ``T``; read from an :class:`AsyncRunner` it is a
method returning an awaitable of ``T``. Type checkers see both signatures.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Generic, ParamSpec, TypeVar, overload

from brickyard.client.protocol import Flow

__all__ = ["AsyncRunner", "SyncRunner", "operation"]

P = ParamSpec("P")
T = TypeVar("T")


class SyncRunner:
    """Executes flows synchronously."""

    def run(self, flow: Flow[T]) -> T:
        raise NotImplementedError


class AsyncRunner:
    """Executes flows on an event loop."""

    async def run(self, flow: Flow[T]) -> T:
        raise NotImplementedError


class operation(Generic[P, T]):
    """A client method defined once by its flow factory."""

    def __init__(self, factory: Callable[P, Flow[T]]) -> None:
        self.factory = factory
        self.__doc__ = factory.__doc__
        self.__name__ = getattr(factory, "__name__", "operation")

    @overload
    def __get__(self, obj: None, objtype: type[Any] | None = None) -> operation[P, T]: ...

    @overload
    def __get__(self, obj: SyncRunner, objtype: type[Any] | None = None) -> Callable[P, T]: ...

    @overload
    def __get__(
        self, obj: AsyncRunner, objtype: type[Any] | None = None
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...

    def __get__(self, obj: object, objtype: type[Any] | None = None) -> Any:
        if obj is None:
            return self
        run = obj.run  # type: ignore[attr-defined]
        factory = self.factory

        @functools.wraps(factory)
        def bound(*args: Any, **kwargs: Any) -> Any:
            return run(factory(*args, **kwargs))

        return bound
