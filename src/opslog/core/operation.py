"""Operations, their steps, and the logger that starts them.

Go's ``OperationLogger``, ``OperationContext`` and ``StepContext``, in one
module because operations and steps start each other:

* :func:`new_operation_logger` / :func:`new_operation_logger_with_correlation`
  make an :class:`OperationLogger`, which fixes the correlation id (= trace
  id, see :mod:`opslog.otel.correlation`) and the default job id;
* :meth:`OperationLogger.start_operation` starts an operation: a span that is
  the root of its own subtree (a trace root, or a child of the active or
  propagated span of the same trace);
* :meth:`~OperationContext.start_step` starts a step, a child span. Steps
  nest: a step starts sub-steps the same way, and its events carry
  ``parent_step`` (the step it runs in) besides the five required fields;
* :meth:`~OperationContext.create_child_context` starts a child operation: a
  child span (of the operation, or of the step it is called on) that is
  itself an operation, with its own ``operation`` name, the same correlation
  id and job id, and ``parent_operation`` recorded;
* :meth:`~OperationContext.retry` runs attempts as steps (see
  :mod:`opslog.core.retry`): under the step it is called on, or under the
  operation's current step.

Operation-level events (``operation_start``, ``operation_end``,
``child_operation_start``) carry ``step = "_operation"``
(:data:`opslog.vocabulary.OPERATION_STEP`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, ClassVar, Optional

from opentelemetry import context as otel_context
from opentelemetry.context import Context

from .. import _config
from .._config import get_settings
from ..channels.emit import emit
from ..otel.correlation import (
    SCOPE_KEY,
    active_context,
    bound_trace_id,
    format_correlation_id,
    job_id_in,
    resolve_correlation_id,
    trace_id_in,
)
from ..otel.providers import random_trace_id
from ..vocabulary import (
    CHILD_OPERATION_START,
    FIELD_CORRELATION_ID,
    FIELD_JOB_ID,
    FIELD_OPERATION,
    FIELD_PARENT_STEP,
    FIELD_STEP,
    OPERATION_END,
    OPERATION_START,
    OPERATION_STEP,
    STATUS_COMPLETED,
    STEP_DEBUG,
    STEP_END,
    STEP_INFO,
    STEP_START,
    STEP_SUCCESS,
    STEP_WARNING,
    Level,
)
from . import lifecycle
from .retry import Retry
from .scope import _DEBUG_LEVEL, _INFO_LEVEL, _WARN_LEVEL, Scope

__all__ = [
    "OperationContext",
    "OperationLogger",
    "StepContext",
    "current_operation",
    "current_step",
    "new_operation_logger",
    "new_operation_logger_with_correlation",
]

Fields = Optional[Mapping[Any, Any]]
_DEBUG = int(Level.DEBUG)


class OperationLogger:
    """Starts operations that share one correlation id and a default job id.

    Made by :func:`new_operation_logger` or
    :func:`new_operation_logger_with_correlation`; cheap, and safe to share
    between threads.
    """

    def __init__(
        self,
        job_id: str,
        trace_id: int,
        parent_context: Optional[Context],
        rejected_correlation_id: Optional[str] = None,
    ) -> None:
        self._job_id = job_id
        self._trace_id = trace_id
        self._correlation_id = format_correlation_id(trace_id)
        self._parent_context = parent_context
        self._rejected = rejected_correlation_id

    @property
    def correlation_id(self) -> str:
        """The correlation id (= trace id, 32 lowercase hex digits). Go's ``GetCorrelationID``."""
        return self._correlation_id

    @property
    def job_id(self) -> str:
        """The default job id of operations started by this logger. Go's ``GetJobID``."""
        return self._job_id

    def start_operation(self, operation: str, job_id: Optional[str] = None) -> OperationContext:
        """Start an operation (a span) and emit ``operation_start``.

        ``job_id`` defaults to the logger's. The operation becomes current in
        this thread/task until it ends. Use it as a context manager to end it
        automatically: ``with logger.start_operation("backup") as op:``.
        """
        coercer = get_settings().coercer
        name = coercer.name(operation)
        job = self._job_id if job_id is None else coercer.name(job_id)
        current = active_context()
        if trace_id_in(current) == self._trace_id:
            parent: Optional[Context] = current  # nest under what runs now in our trace
        else:
            parent = self._parent_context
        op = OperationContext(
            name=name,
            job_id=job,
            trace_id=self._trace_id,
            parent=None,
            parent_context=parent,
            logger=self,
        )
        fields = (
            {"opslog.rejected_correlation_id": self._rejected}
            if self._rejected is not None
            else None
        )
        message = f"operation {name} started"
        if self._rejected is not None:
            message += " (invalid correlation id rejected; new trace started)"
        emit(op, OPERATION_START, _INFO_LEVEL, message, extras=fields)
        return op

    #: ``with logger.operation("name") as op:`` reads better than start_operation.
    operation = start_operation

    def __repr__(self) -> str:
        return f"<OperationLogger job_id={self._job_id!r} correlation_id={self._correlation_id}>"


class _Parent(Scope):
    """What operations and steps share as parents: they start steps, retries
    and child operations under themselves."""

    __slots__ = ()

    def start_step(self, step_name: str) -> StepContext:
        """Start a step (a child span of this scope) and emit ``step_start``.

        Use it as a context manager to end it automatically:
        ``with op.start_step("snapshot") as step:`` (or ``op.step(...)``).
        On a step, this starts a sub-step.
        """
        return StepContext(self, _config._settings.coercer.name(step_name))

    def step(self, step_name: str) -> StepContext:
        """:meth:`start_step`, for ``with op.step("name") as step:``."""
        return self.start_step(step_name)

    def retry(
        self,
        name: str,
        *,
        max_attempts: Optional[int] = None,
        delay: float = 1.0,
        backoff: float = 2.0,
        max_delay: float = 30.0,
        jitter: float = 0.0,
        deadline: Optional[float] = None,
        retry_on: Optional[Callable[[BaseException], bool]] = None,
    ) -> Retry:
        """Attempts of a retried piece of work, each a step (see :mod:`opslog.core.retry`).

        On an operation whose step is current (inside ``with op.step(...)``)
        the attempts are children of that step; otherwise of this scope. ::

            for attempt in op.retry("vm-creation", max_attempts=3, delay=1.0):
                with attempt:
                    create_vm()
        """
        parent: _Parent = self
        if isinstance(self, OperationContext):
            running = current_step()
            if running is not None and running.operation_context is self and not running._closing:
                parent = running
        return Retry(
            parent,
            get_settings().coercer.name(name),
            max_attempts=3 if max_attempts is None else max_attempts,
            delay=delay,
            backoff=backoff,
            max_delay=max_delay,
            jitter=jitter,
            deadline=deadline,
            retry_on=retry_on,
        )

    def create_child_context(self, child_operation: str) -> OperationContext:
        """Start a child operation and emit ``child_operation_start`` on it.

        The child is an :class:`OperationContext` of its own (``operation``
        = ``child_operation``) in the same trace, a child span of this scope,
        with the same job id; it records ``parent_operation`` (and
        ``parent_step`` when started on a step).
        """
        owner = self.operation_context
        name = get_settings().coercer.name(child_operation)
        on_step = self is not owner
        child = OperationContext(
            name=name,
            job_id=self.job_id,
            trace_id=owner._trace_id,
            parent=self,
            parent_context=self._sdk_context(),
            logger=owner.logger,
            parent_step=self.name if on_step else None,
        )
        extras = {"parent_operation": self.operation_name, "child_operation": name}
        if on_step:
            extras[FIELD_PARENT_STEP] = self.name
        emit(
            child,
            CHILD_OPERATION_START,
            _INFO_LEVEL,
            f"child operation {name} of {self.operation_name} started",
            extras=extras,
        )
        return child

    @property
    def operation_context(self) -> OperationContext:
        """The operation this scope belongs to (itself for an operation)."""
        raise NotImplementedError


class OperationContext(_Parent):
    """An operation: its span, its steps and child operations, its events.

    Every method is safe to call in any state: after ``end_operation`` the
    events still reach the log channels, marked ``opslog.after_end``.
    """

    __slots__ = {
        "_trace_id": None,
        "logger": "The OperationLogger that started it (its root's, for a child operation).",
    }

    kind = "operation"
    _carries_job_baggage = True
    _end_event = OPERATION_END
    _duration_fields = ("total_duration_ms", "total_duration_str")

    def __init__(
        self,
        *,
        name: str,
        job_id: str,
        trace_id: int,
        parent: Optional[Scope],
        parent_context: Optional[Context],
        logger: OperationLogger,
        parent_step: Optional[str] = None,
    ) -> None:
        required = {
            FIELD_CORRELATION_ID: format_correlation_id(trace_id),
            FIELD_JOB_ID: job_id,
            FIELD_OPERATION: name,
        }
        span_attributes: Optional[dict[str, Any]] = None
        if parent is not None:
            span_attributes = {"parent_operation": parent.operation_name}
            if parent_step is not None:
                span_attributes[FIELD_PARENT_STEP] = parent_step
        super().__init__(
            name,
            required,
            OPERATION_STEP,
            parent,
            parent_context,
            span_attributes,
            trace_id if parent_context is None else 0,
        )
        self.logger = logger
        self._trace_id = trace_id
        if parent is None:
            lifecycle.register(self)

    @property
    def operation_context(self) -> OperationContext:
        return self

    # -- logging ------------------------------------------------------------
    def log_step(self, step: str, message: object, fields: Fields = None) -> None:
        """``step_info`` (INFO) for ``step``, on the operation's span. Go's ``LogStep``."""
        emit(self, STEP_INFO, _INFO_LEVEL, message, step=step, fields=fields)

    def log_debug(self, step: str, message: object, fields: Fields = None) -> None:
        """``step_debug`` (DEBUG): emitted only when the configured level allows."""
        if _config._settings.level_value > _DEBUG:
            return
        emit(self, STEP_DEBUG, _DEBUG_LEVEL, message, step=step, fields=fields)

    def log_warning(self, step: str, message: object, fields: Fields = None) -> None:
        """``step_warning`` (WARN) for ``step``, on the operation's span."""
        emit(self, STEP_WARNING, _WARN_LEVEL, message, step=step, fields=fields)

    def log_error(
        self, step: str, message: object, err: object = None, fields: Fields = None
    ) -> None:
        """``step_error`` (ERROR) for ``step`` with the error classification.

        ``err`` may be an exception, a string or ``None``; see
        :mod:`opslog.fields.errors` for the fields it yields. The step becomes
        the operation's ``failure_step`` if it later ends ``failed``.
        """
        self._record_error(step, message, err, fields)

    def log_success(self, step: str, message: object, fields: Fields = None) -> None:
        """``step_success`` (INFO) for ``step``."""
        emit(self, STEP_SUCCESS, _INFO_LEVEL, message, step=step, fields=fields)

    def log_duration(self, step: str, start: object) -> None:
        """``step_duration`` for ``step``: ``duration_ms`` and ``duration_str`` since
        ``start`` (see :mod:`opslog.fields.durations` for the accepted values)."""
        self._log_duration(step, start)

    # -- ending -----------------------------------------------------------------
    def end_operation(self, status: str = STATUS_COMPLETED, summary: Fields = None) -> None:
        """End the operation: ``operation_end`` with ``status``, the total duration
        and the ``summary`` fields.

        Steps and child operations still open are ended first with status
        ``abandoned``; their numbers are reported as ``abandoned_steps`` and
        ``abandoned_child_operations``. ``"failed"`` marks the span as Error and
        adds ``failure_step`` (the step of the last error) unless the summary
        names one. A second call is ignored and reported.
        """
        self._close(status, summary)

    # An operation's end always reports both counts, zero included.
    _no_abandoned_extras: ClassVar[dict[str, object]] = {
        "abandoned_steps": 0,
        "abandoned_child_operations": 0,
    }

    def _end_extras(self, abandoned: list[Scope]) -> dict[str, object]:
        return {**self._no_abandoned_extras, **super()._end_extras(abandoned)}

    def _end_for_exit(self, status: str) -> None:
        self.end_operation(status)


class StepContext(_Parent):
    """A step of an operation (or a sub-step of a step). Every method is safe
    to call in any state."""

    __slots__ = ("_operation",)

    kind = "step"
    _end_event = STEP_END
    _duration_fields = ("step_duration_ms", "step_duration_str")

    def __init__(self, parent: _Parent, name: str) -> None:
        operation = parent.operation_context
        parent_step = None if parent is operation else parent.name
        attributes: dict[str, Any] = {FIELD_STEP: name}
        if parent_step is not None:
            attributes[FIELD_PARENT_STEP] = parent_step
        super().__init__(
            name,
            operation._required,
            name,
            parent,
            parent._sdk_context(),
            attributes,
            parent_step=parent_step,
        )
        self._operation = operation
        emit(self, STEP_START, _INFO_LEVEL, f"step {name} started")

    @property
    def operation_context(self) -> OperationContext:
        """The operation this step belongs to."""
        return self._operation

    @property
    def parent_step(self) -> Optional[str]:
        """The name of the step this sub-step runs in, or ``None`` for a step of
        the operation itself."""
        return self._event_tail.get(FIELD_PARENT_STEP)

    def debug(self, message: object, fields: Fields = None) -> None:
        """``step_debug`` (DEBUG): emitted only when the configured level allows."""
        if _config._settings.level_value > _DEBUG:
            return  # the common case, kept as cheap as a call can be
        emit(self, STEP_DEBUG, _DEBUG_LEVEL, message, fields=fields)

    def info(self, message: object, fields: Fields = None) -> None:
        """``step_info`` (INFO)."""
        emit(self, STEP_INFO, _INFO_LEVEL, message, fields=fields)

    def warn(self, message: object, fields: Fields = None) -> None:
        """``step_warning`` (WARN). Go's ``Warn``."""
        emit(self, STEP_WARNING, _WARN_LEVEL, message, fields=fields)

    def error(self, message: object, err: object = None, fields: Fields = None) -> None:
        """``step_error`` (ERROR) with ``error``, ``error_type``, ``retry_possible``.

        ``err`` may be an exception, a string or ``None``. An exception also
        adds a semantic-conventions ``exception`` event to the span.
        """
        self._record_error(None, message, err, fields)

    def success(self, message: object, fields: Fields = None) -> None:
        """``step_success`` (INFO)."""
        emit(self, STEP_SUCCESS, _INFO_LEVEL, message, fields=fields)

    def log_duration(self, start: object) -> None:
        """``step_duration`` with ``duration_ms`` and ``duration_str`` since ``start``
        (see :mod:`opslog.fields.durations` for the accepted values)."""
        self._log_duration(None, start)

    def end_step(self, status: str = STATUS_COMPLETED, fields: Fields = None) -> None:
        """End the step: ``step_end`` with ``status`` and the step's duration.

        Sub-steps and child operations still open are ended first with status
        ``abandoned`` (counted in ``abandoned_steps`` and
        ``abandoned_child_operations``). ``"failed"`` marks the span as Error
        (ERROR level); any other status (``"completed"``, ``"retrying"``...)
        is kept as given. A second call is ignored and reported.
        """
        self._close(status, fields)

    def _end_for_exit(self, status: str) -> None:
        self.end_step(status)


def new_operation_logger(
    job_id: Optional[str] = None, *, context: Optional[Context] = None
) -> OperationLogger:
    """An operation logger for ``job_id``. Go's ``NewOperationLogger``.

    Joins the active trace (an opslog operation, any valid span, or a
    context from :func:`opslog.extract` passed as ``context``) or the id of a
    :func:`opslog.correlation_scope`; otherwise starts a new trace.
    ``job_id`` defaults to the active operation's job id, else the
    ``job_id`` baggage entry, else ``""``; an empty string counts as not
    given (Go callers write ``NewOperationLogger("")`` for that).
    """
    ctx = active_context(context)
    coercer = get_settings().coercer
    # A job id from baggage is as untrusted as any other input.
    # Go callers write NewOperationLogger("") for "none given": the caller's
    # job id (active operation, else W3C baggage) applies, as for None.
    given = None if job_id is None or (type(job_id) is str and not job_id) else job_id
    job = coercer.name(job_id_in(ctx) or "" if given is None else given)
    trace_id = trace_id_in(ctx)
    if trace_id:
        return OperationLogger(job or "", trace_id, ctx)
    return OperationLogger(job or "", bound_trace_id(ctx) or random_trace_id(), None)


def new_operation_logger_with_correlation(
    job_id: Optional[str], correlation_id: object, *, context: Optional[Context] = None
) -> OperationLogger:
    """An operation logger continuing trace ``correlation_id``. Go's
    ``NewOperationLoggerWithCorrelation``.

    ``correlation_id`` is 32 hex digits or a UUID (see
    :mod:`opslog.otel.correlation`). When the active context (or ``context``) is
    in that same trace, operations become children of its span; otherwise
    they start as new roots in that trace. A malformed or empty id never
    raises: the logger starts a fresh trace, reports a self-diagnostic, and
    its first ``operation_start`` carries ``opslog.rejected_correlation_id``
    (redacted, truncated).
    """
    trace_id, rejected = resolve_correlation_id(correlation_id)
    ctx = active_context(context)
    coercer = get_settings().coercer
    # A job id from baggage is as untrusted as any other input.
    # Go callers write NewOperationLogger("") for "none given": the caller's
    # job id (active operation, else W3C baggage) applies, as for None.
    given = None if job_id is None or (type(job_id) is str and not job_id) else job_id
    job = coercer.name(job_id_in(ctx) or "" if given is None else given)
    parent = ctx if trace_id_in(ctx) == trace_id else None
    return OperationLogger(job or "", trace_id, parent, rejected)


def _current_scope() -> Optional[Scope]:
    scope = otel_context.get_value(SCOPE_KEY, active_context())
    return scope if isinstance(scope, Scope) else None


def current_operation() -> Optional[OperationContext]:
    """The operation active in this thread/task (a step's operation), or ``None``."""
    scope = _current_scope()
    return scope.operation_context if isinstance(scope, _Parent) else None


def current_step() -> Optional[StepContext]:
    """The step active in this thread/task, or ``None``."""
    scope = _current_scope()
    return scope if isinstance(scope, StepContext) else None
