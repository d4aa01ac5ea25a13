"""Retries as steps: the seed's retry loop, with backoff and a deadline.

::

    for attempt in op.retry("vm-creation", max_attempts=3, delay=1.0, deadline=60):
        with attempt:
            create_vm()

Each attempt is a step ``<name>-attempt-N``: a child of the step the retry
was started on (or the operation's current step), else of the operation. When the block
succeeds the attempt ends ``completed`` (``step_success`` with
``attempt_number``) and the loop stops. When it raises, the error is
classified (:mod:`opslog.fields.errors`); if ``retry_possible`` is true, attempts
remain and the next delay still ends before the deadline, the attempt logs
``step_warning`` "Operation failed, retrying" (``attempt_number``,
``max_retries``, ``retry_delay``, ``error``, ``error_type``), ends
``retrying``, the exception is swallowed and the loop sleeps, the delay
growing by ``backoff`` up to ``max_delay``. With ``jitter`` (a fraction,
0 to 1) each sleep is drawn uniformly from ``delay * (1 - jitter)`` to
``delay``, so many jobs retrying at once do not hit the service together. Otherwise the attempt logs
``step_error`` "Operation failed permanently" with ``attempts``, the
``reason`` (``not_retryable``, ``attempts_exhausted`` or ``deadline``) and
the last error, ends ``failed``, and the exception propagates unchanged.

``max_attempts`` is the total number of attempts, as in the seed's loop
(``for attempt := 1; attempt <= maxRetries``); the events keep the seed's
field name ``max_retries`` for it. ``retry_on`` overrides the
classifier's decision: ``retry_on(exc) -> bool``. ``async for`` works the
same with ``asyncio.sleep``.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from types import TracebackType
from typing import Any, Callable, Optional, Protocol

from .._config import get_settings
from .._numbers import number, seconds, whole_number
from ..fields.durations import format_duration
from ..fields.errors import classify_error
from ..vocabulary import STATUS_CANCELLED, STATUS_COMPLETED, STATUS_FAILED, STATUS_RETRYING

__all__ = ["Attempt", "Retry"]


class _Step(Protocol):
    """What an attempt does with its step."""

    def success(self, message: object, fields: Any = None) -> None: ...

    def warn(self, message: object, fields: Any = None) -> None: ...

    def error(self, message: object, err: object = None, fields: Any = None) -> None: ...

    def end_step(self, status: str = ..., fields: Any = None) -> None: ...


class _Parent(Protocol):
    """What attempts are started from: an operation or a step."""

    def start_step(self, step_name: str) -> Any: ...


class Attempt:
    """One attempt: ``with attempt:`` runs it; ``attempt.step`` is its step."""

    def __init__(self, retry: Retry, number: int) -> None:
        self.retry = retry
        self.number = number
        #: The attempt's step.
        self.step: _Step = retry.parent.start_step(f"{retry.name}-attempt-{number}")
        #: "completed", "retrying", "failed", or None while it runs.
        self.outcome: Optional[str] = None

    def __enter__(self) -> Any:
        return self.step

    async def __aenter__(self) -> Any:
        return self.step

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool:
        return self.__exit__(exc_type, exc, tb)

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool:
        retry = self.retry
        base = {"attempt_number": self.number, "max_retries": retry.max_attempts}
        if exc is None:
            self.step.success("Operation succeeded", base)
            self.step.end_step(STATUS_COMPLETED)
            self.outcome = STATUS_COMPLETED
            return False
        if not isinstance(exc, Exception):
            self.step.end_step(STATUS_CANCELLED)
            self.outcome = STATUS_CANCELLED
            return False
        classified = classify_error(exc, get_settings().error_classifier)
        reason = retry.refusal(exc, self.number, classified)
        if reason is None:
            delay = retry.next_delay
            self.step.warn(
                "Operation failed, retrying",
                {
                    **base,
                    "retry_delay": format_duration(delay),
                    "error": str(exc) or type(exc).__name__,
                    "error_type": classified.get("error_type", type(exc).__name__),
                },
            )
            self.step.end_step(STATUS_RETRYING)
            self.outcome = STATUS_RETRYING
            return True  # swallowed: the loop goes on
        self.step.error(
            "Operation failed permanently",
            exc,
            {**base, "attempts": self.number, "reason": reason},
        )
        self.step.end_step(STATUS_FAILED)
        self.outcome = STATUS_FAILED
        return False


class Retry:
    """Attempts of one retried piece of work (see the module docstring)."""

    def __init__(
        self,
        parent: _Parent,
        name: str,
        *,
        max_attempts: int = 3,
        delay: float = 1.0,
        backoff: float = 2.0,
        max_delay: float = 30.0,
        jitter: float = 0.0,
        deadline: Optional[float] = None,
        retry_on: Optional[Callable[[BaseException], bool]] = None,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        #: The operation or step the attempts are steps of.
        self.parent = parent
        self.name = name
        #: The total number of attempts.
        self.max_attempts = whole_number(max_attempts, "retry(max_attempts)", high=10_000)
        self.next_delay = seconds(delay, "retry(delay)", allow_zero=True)
        self.backoff = number(backoff, "retry(backoff)", 1.0, 1000.0)
        self.max_delay = seconds(max_delay, "retry(max_delay)", allow_zero=True)
        self.jitter = number(jitter, "retry(jitter)", 0.0, 1.0)
        self.deadline = (
            None
            if deadline is None
            else time.monotonic() + seconds(deadline, "retry(deadline)", allow_zero=True)
        )
        self.retry_on = retry_on
        self.sleep = sleep
        self.attempts: list[Attempt] = []

    def refusal(
        self, exc: BaseException, number: int, classified: Mapping[str, object]
    ) -> Optional[str]:
        """Why no further attempt is made after ``exc`` (classified), or None to retry."""
        if self.retry_on is not None:
            try:
                retryable = bool(self.retry_on(exc))
            except Exception:
                retryable = False
        else:
            retryable = bool(classified.get("retry_possible", False))
        if not retryable:
            return "not_retryable"
        if number >= self.max_attempts:
            return "attempts_exhausted"
        if self.deadline is not None and time.monotonic() + self.next_delay >= self.deadline:
            return "deadline"
        return None

    def _advance(self) -> float:
        delay = self.next_delay
        self.next_delay = min(self.max_delay, delay * self.backoff)
        if self.jitter:
            delay *= 1.0 - self.jitter * random.random()
        return delay

    def _attempt(self) -> Attempt:
        attempt = Attempt(self, len(self.attempts) + 1)
        self.attempts.append(attempt)
        return attempt

    def _finished(self, attempt: Attempt) -> bool:
        if attempt.outcome is None:  # used without ``with``: nothing to judge
            attempt.step.end_step("abandoned")
            return True
        return attempt.outcome != STATUS_RETRYING

    def __iter__(self) -> Iterator[Attempt]:
        while True:
            attempt = self._attempt()
            yield attempt
            if self._finished(attempt):
                return
            self.sleep(self._advance())

    async def __aiter__(self) -> AsyncIterator[Attempt]:
        while True:
            attempt = self._attempt()
            yield attempt
            if self._finished(attempt):
                return
            import asyncio  # only async retries pay for importing it

            await asyncio.sleep(self._advance())
