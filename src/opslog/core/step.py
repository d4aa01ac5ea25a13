"""Steps: one unit of work inside an operation, a child span of it.

Go's ``StepContext``. Start one with :meth:`OperationContext.start_step`
(or ``with op.step(name) as step:``); every event it logs carries
``step = <step name>`` and sits on the step's span.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional

from .. import _config
from ..channels.emit import emit
from ..vocabulary import (
    FIELD_STEP,
    STATUS_COMPLETED,
    STEP_DEBUG,
    STEP_END,
    STEP_INFO,
    STEP_START,
    STEP_SUCCESS,
    STEP_WARNING,
    Level,
)
from .scope import Scope

if TYPE_CHECKING:
    from .operation import OperationContext

__all__ = ["StepContext"]

Fields = Optional[Mapping[Any, Any]]
_DEBUG = int(Level.DEBUG)


class StepContext(Scope):
    """A step of an operation. Every method is safe to call in any state."""

    __slots__ = ("operation_context",)

    kind = "step"
    _end_event = STEP_END
    _duration_fields = ("step_duration_ms", "step_duration_str")

    def __init__(self, operation: OperationContext, name: str) -> None:
        super().__init__(
            name, operation.required, name, operation, operation.context, {FIELD_STEP: name}
        )
        #: The operation this step belongs to.
        self.operation_context = operation
        emit(self, STEP_START, Level.INFO, f"step {name} started")

    def debug(self, message: object, fields: Fields = None) -> None:
        """``step_debug`` (DEBUG): emitted only when the configured level allows."""
        if _config._settings.level_value > _DEBUG:
            return  # the common case, kept as cheap as a call can be
        emit(self, STEP_DEBUG, Level.DEBUG, message, fields=fields)

    def info(self, message: object, fields: Fields = None) -> None:
        """``step_info`` (INFO)."""
        emit(self, STEP_INFO, Level.INFO, message, fields=fields)

    def warn(self, message: object, fields: Fields = None) -> None:
        """``step_warning`` (WARN)."""
        emit(self, STEP_WARNING, Level.WARN, message, fields=fields)

    warning = warn

    def error(self, message: object, err: object = None, fields: Fields = None) -> None:
        """``step_error`` (ERROR) with ``error``, ``error_type``, ``retry_possible``.

        ``err`` may be an exception, a string or ``None``. An exception also
        adds a semantic-conventions ``exception`` event to the span.
        """
        self._record_error(None, message, err, fields)

    def success(self, message: object, fields: Fields = None) -> None:
        """``step_success`` (INFO)."""
        emit(self, STEP_SUCCESS, Level.INFO, message, fields=fields)

    def log_duration(self, start: object) -> None:
        """``step_duration`` with ``duration_ms`` and ``duration_str`` since ``start``.

        ``start`` is a ``time.perf_counter()``/``monotonic()``/``time()``
        value, a ``datetime``, or a ``timedelta`` (see :mod:`opslog.fields.durations`).
        """
        self._log_duration(None, start)

    def end_step(self, status: str = STATUS_COMPLETED, fields: Fields = None) -> None:
        """End the step: ``step_end`` with ``status`` and the step's duration.

        ``"failed"`` marks the span as Error (ERROR level); any other status
        (``"completed"``, ``"retrying"``...) is kept as given. A second call
        is ignored and reported.
        """
        self._close(status, fields)

    def _end_for_exit(self, status: str) -> None:
        self.end_step(status)
