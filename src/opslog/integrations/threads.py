"""Carrying the current operation/step into threads and executors.

``asyncio`` tasks copy the context by themselves. Threads do not: a function
handed to a ``ThreadPoolExecutor`` runs with an empty context, so its
``current_operation()`` is ``None`` and instrumented calls start new traces.
:func:`with_current_context` binds the caller's context to a function;
:class:`ContextThreadPoolExecutor` does it for every ``submit``/``map``.

Each call runs in its own copy of the captured context, so one wrapped
function may run in several threads at once.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Optional, TypeVar

__all__ = ["ContextThreadPoolExecutor", "with_current_context"]

T = TypeVar("T")


def with_current_context(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` bound to the context current now (the active operation/step)."""
    captured = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        return captured.copy().run(fn, *args, **kwargs)

    return run


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose tasks run in the submitter's context."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return super().submit(with_current_context(fn), *args, **kwargs)

    def map(
        self,
        fn: Callable[..., T],
        *iterables: Iterable[Any],
        timeout: Optional[float] = None,
        chunksize: int = 1,
        **kwargs: Any,
    ) -> Iterator[T]:
        return super().map(
            with_current_context(fn), *iterables, timeout=timeout, chunksize=chunksize, **kwargs
        )
