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

from typing import TYPE_CHECKING, Any

from . import vocabulary
from ._diagnostics import diagnostics
from ._version import __version__
from .core.decorators import traced_operation, traced_step
from .core.operation import (
    OperationContext,
    OperationLogger,
    StepContext,
    current_operation,
    current_step,
    new_operation_logger,
    new_operation_logger_with_correlation,
)
from .core.retry import Retry
from .otel.correlation import correlation_scope, current_correlation_id, parse_correlation_id
from .vocabulary import REDACTED, Level

if TYPE_CHECKING:
    from .export.setup import configure, export_stats, shutdown
    from .integrations.http import ASGIMiddleware, WSGIMiddleware, http_client_span, urlopen
    from .integrations.threads import ContextThreadPoolExecutor, with_current_context
    from .otel.propagation import W3CTraceContextPropagator, extract, inject

# Imported on first use, so that ``import opslog`` stays cheap: the export
# pipeline (the SDK's logs, exporters), HTTP (urllib, ssl, email) and the
# propagators are loaded only by programs that use them.
_LAZY = {
    "ContextThreadPoolExecutor": ".integrations.threads",
    "with_current_context": ".integrations.threads",
    "ASGIMiddleware": ".integrations.http",
    "WSGIMiddleware": ".integrations.http",
    "http_client_span": ".integrations.http",
    "urlopen": ".integrations.http",
    "W3CTraceContextPropagator": ".otel.propagation",
    "extract": ".otel.propagation",
    "inject": ".otel.propagation",
    "configure": ".export.setup",
    "export_stats": ".export.setup",
    "shutdown": ".export.setup",
}


def __getattr__(name: str) -> Any:
    import importlib

    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'opslog' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ASGIMiddleware",
    "ContextThreadPoolExecutor",
    "Level",
    "OperationContext",
    "OperationLogger",
    "REDACTED",
    "Retry",
    "StepContext",
    "W3CTraceContextPropagator",
    "WSGIMiddleware",
    "__version__",
    "configure",
    "correlation_scope",
    "current_correlation_id",
    "current_operation",
    "current_step",
    "diagnostics",
    "export_stats",
    "extract",
    "http_client_span",
    "inject",
    "new_operation_logger",
    "new_operation_logger_with_correlation",
    "parse_correlation_id",
    "shutdown",
    "traced_operation",
    "traced_step",
    "urlopen",
    "vocabulary",
    "with_current_context",
]
