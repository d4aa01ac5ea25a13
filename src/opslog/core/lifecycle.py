"""Process exit: open operations are ended and the providers flushed, in bounded time.

Root operations register here while open. At interpreter exit, each one
still open is ended with status ``abandoned`` (which ends its steps and
child operations too), then the tracer and logger providers in use are
flushed, all within ``exit_timeout`` seconds (:func:`opslog.configure`).
The exit handler is registered when the first operation starts, so it runs
*before* the exit handlers of SDK providers created earlier (``atexit`` runs
handlers last-in, first-out) and its spans are still exported.

After ``fork()`` the child starts with an empty registry: the parent's open
operations belong to the parent, and ending them twice would export
duplicate spans.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from typing import Any, Callable, Optional, Protocol

from .. import _diagnostics
from .._config import get_settings
from ..otel.providers import force_flush


class _Operation(Protocol):
    """A root operation, as far as process exit is concerned."""

    def end_operation(self, status: str = ..., summary: Any = None) -> None: ...


__all__ = ["end_open_operations", "open_operations", "register", "unregister"]

_lock = threading.Lock()
_open: dict[int, _Operation] = {}
_atexit_registered = False
#: ``opslog.shutdown``, once ``configure`` set up a pipeline.
_exit_hook: Optional[Callable[[float], object]] = None


def _ensure_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(_at_exit)


def set_exit_hook(hook: Callable[[float], object]) -> None:
    """Run ``hook(exit_timeout)`` at exit instead of the default end-and-flush."""
    global _exit_hook
    with _lock:
        _exit_hook = hook
        _ensure_atexit()


def register(operation: _Operation) -> None:
    with _lock:
        _open[id(operation)] = operation
        _ensure_atexit()


def unregister(operation: object) -> None:
    """Forget ``operation`` (an ended root operation; anything else is a no-op)."""
    with _lock:
        _open.pop(id(operation), None)


def open_operations() -> list[_Operation]:
    """The root operations not yet ended, oldest first."""
    with _lock:
        return list(_open.values())


def end_open_operations(status: str, deadline: float) -> int:
    """End every open root operation with ``status`` until ``deadline``; count them."""
    ended = 0
    for operation in open_operations():
        if time.monotonic() >= deadline:
            break
        operation.end_operation(status, {"opslog.ended_by": "shutdown"})
        ended += 1
    if ended:
        _diagnostics.report(
            _diagnostics.ABANDONED,
            f"{ended} operation(s) still open at shutdown ended as {status}",
            ended,
        )
    return ended


def _at_exit() -> None:
    try:
        timeout = get_settings().exit_timeout
        if _exit_hook is not None:
            _exit_hook(timeout)
            return
        deadline = time.monotonic() + timeout
        end_open_operations("abandoned", deadline)
        force_flush(max(0.0, deadline - time.monotonic()))
    except Exception:  # pragma: no cover - never fail interpreter exit
        pass


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    _open.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
