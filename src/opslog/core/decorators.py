"""Decorators: run a function as an operation or a step, sync or async.

``@traced_operation("name")`` starts a child operation of the active
operation, or a new operation (with :func:`opslog.new_operation_logger`,
so it joins an active or propagated trace) when none is active.
``@traced_step("name")`` starts a step of the active operation; with no
operation active it starts an operation of the same name holding that one
step (reported as the ``step_outside_operation`` self-diagnostic), so the
events are never lost.

The function runs with its operation/step current: it reaches it with
:func:`opslog.current_operation` / :func:`opslog.current_step`. Normal return
ends it ``completed``; an exception ends it ``failed`` (recorded once, see
:mod:`opslog.core.scope`) and propagates unchanged. Coroutine functions are
traced around the awaited body; generator and async generator functions
around their iteration. The name defaults to the function's
``__qualname__``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable, Optional, TypeVar, Union, cast

from .. import _diagnostics
from .operation import (
    OperationContext,
    StepContext,
    current_operation,
    current_step,
    new_operation_logger,
)

__all__ = ["traced_operation", "traced_step"]

F = TypeVar("F", bound=Callable[..., Any])


def traced_operation(
    name: Optional[str] = None, *, job_id: Optional[str] = None
) -> Callable[[F], F]:
    """Decorate a function to run as an operation.

    Args:
        name: the operation name (default: the function's qualified name).
        job_id: the job id of a new (not child) operation; default: the
            active or propagated job id, else ``""``.
    """

    def decorate(fn: F) -> F:
        op_name = name or fn.__qualname__

        def begin() -> OperationContext:
            parent = current_operation()
            if parent is not None:
                return parent.create_child_context(op_name)
            return new_operation_logger(job_id).start_operation(op_name)

        return _wrap(fn, begin)

    return decorate


def traced_step(name: Optional[str] = None) -> Callable[[F], F]:
    """Decorate a function to run as a step of the active operation: a sub-step
    of the current step when one is running.

    Args:
        name: the step name (default: the function's qualified name).
    """

    def decorate(fn: F) -> F:
        step_name = name or fn.__qualname__

        @contextmanager
        def begin() -> Iterator[Union[StepContext, OperationContext]]:
            # Under the current step when there is one (a sub-step, as
            # op.retry's attempts are), else a step of the current operation.
            parent: Union[StepContext, OperationContext, None] = (
                current_step() or current_operation()
            )
            if parent is not None:
                with parent.start_step(step_name) as step:
                    yield step
                return
            _diagnostics.report(
                _diagnostics.STEP_OUTSIDE_OPERATION,
                f"step {step_name!r} started with no active operation; "
                "it runs inside a new operation of the same name",
            )
            with (
                new_operation_logger().start_operation(step_name) as op,
                op.start_step(step_name) as step,
            ):
                yield step

        return _wrap(fn, begin)

    return decorate


def _wrap(fn: F, begin: Callable[[], Any]) -> F:
    """``fn`` run inside ``with begin():`` (``begin`` returns a context manager:
    a scope, or the step-with-operation pair), keeping sync/async nature.

    For generator and async generator functions the scope spans the
    iteration (it starts at the first ``next()`` and ends when the generator
    is exhausted, raises or is closed), not the call that creates the
    generator; values sent in and exceptions thrown in are passed on.
    """
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            with begin():
                inner = fn(*args, **kwargs)
                try:
                    value = await inner.__anext__()
                    while True:
                        try:
                            sent = yield value
                        except GeneratorExit:
                            await inner.aclose()
                            raise
                        except BaseException as exc:
                            value = await inner.athrow(exc)
                        else:
                            value = await inner.asend(sent)
                except StopAsyncIteration:
                    return

        return cast(F, async_gen_wrapper)

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            with begin():
                return (yield from fn(*args, **kwargs))

        return cast(F, gen_wrapper)

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            with begin():
                return await fn(*args, **kwargs)

        return cast(F, async_wrapper)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with begin():
            return fn(*args, **kwargs)

    return cast(F, wrapper)
