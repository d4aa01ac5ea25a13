"""opslog: operation/step logging carried onto OpenTelemetry.

An *operation* is a span, a *step* a child span of it, and every log call an
*event* with the five required fields (``correlation_id``, ``job_id``,
``operation``, ``step``, ``event``) on the span, as an OpenTelemetry log
record and as a stdlib ``logging`` record. The correlation id is the trace
id. ::

    import opslog

    logger = opslog.new_operation_logger("job-42")
    with logger.start_operation("enhanced-test-failover") as op:
        op.log_step("initialization", "Starting failover", {"vm_id": "vm-1"})
        with op.start_step("virtio-injection") as step:
            step.info("Injecting drivers", {"device_path": "/dev/vdc"})
            step.success("Drivers injected")

The Go-style explicit form (``op.end_operation("completed", summary)``,
``step.end_step("failed")``) works the same way; see the README.
"""

from __future__ import annotations

from ._concurrency import ContextThreadPoolExecutor, with_current_context
from ._config import Settings, get_settings
from ._correlation import (
    correlation_id_as_uuid,
    correlation_scope,
    current_correlation_id,
    format_correlation_id,
    parse_correlation_id,
)
from ._decorators import traced_operation, traced_step
from ._diagnostics import diagnostics
from ._errors import ErrorClassifier, default_classifier
from ._events import (
    CHILD_OPERATION_START,
    OPERATION_END,
    OPERATION_START,
    OPERATION_STEP,
    REQUIRED_FIELDS,
    STATUS_ABANDONED,
    STATUS_CANCELLED,
    STATUS_COMPLETED,
    STATUS_FAILED,
    STEP_DEBUG,
    STEP_DURATION,
    STEP_END,
    STEP_ERROR,
    STEP_INFO,
    STEP_START,
    STEP_SUCCESS,
    STEP_WARNING,
    Level,
)
from ._http import ASGIMiddleware, ClientCall, WSGIMiddleware, http_client_span, urlopen
from ._operation import (
    OperationContext,
    OperationLogger,
    current_operation,
    current_step,
    new_operation_logger,
    new_operation_logger_with_correlation,
)
from ._propagation import W3CTraceContextPropagator, extract, inject
from ._redaction import REDACTED
from ._setup import configure, export_stats, shutdown
from ._step import StepContext

__version__ = "0.1.0"

__all__ = [
    "ASGIMiddleware",
    "CHILD_OPERATION_START",
    "OPERATION_END",
    "OPERATION_START",
    "OPERATION_STEP",
    "REDACTED",
    "REQUIRED_FIELDS",
    "STATUS_ABANDONED",
    "STATUS_CANCELLED",
    "STATUS_COMPLETED",
    "STATUS_FAILED",
    "STEP_DEBUG",
    "STEP_DURATION",
    "STEP_END",
    "STEP_ERROR",
    "STEP_INFO",
    "STEP_START",
    "STEP_SUCCESS",
    "STEP_WARNING",
    "ClientCall",
    "ContextThreadPoolExecutor",
    "ErrorClassifier",
    "Level",
    "OperationContext",
    "OperationLogger",
    "Settings",
    "StepContext",
    "W3CTraceContextPropagator",
    "WSGIMiddleware",
    "__version__",
    "configure",
    "correlation_id_as_uuid",
    "correlation_scope",
    "current_correlation_id",
    "current_operation",
    "current_step",
    "default_classifier",
    "diagnostics",
    "export_stats",
    "extract",
    "format_correlation_id",
    "get_settings",
    "http_client_span",
    "inject",
    "new_operation_logger",
    "new_operation_logger_with_correlation",
    "parse_correlation_id",
    "shutdown",
    "traced_operation",
    "traced_step",
    "urlopen",
    "with_current_context",
]
