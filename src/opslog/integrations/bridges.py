"""Bridges: existing ``logging`` and ``structlog`` code, correlated without changes.

**stdlib logging.** :class:`LoggingBridge` is a ``logging.Handler`` that
turns records from any library into events of the current step (or, between
steps, the current operation): DEBUG into ``step_debug``, INFO into
``step_info``, WARNING into ``step_warning``, ERROR and CRITICAL into
``step_error`` (with the exception of ``exc_info`` classified and its stack
trace redacted). The record's ``extra`` fields become event fields, plus
``logger`` (the logger name). ::

    opslog.bridges.install_logging_bridge()      # on the root logger, once

* Records of opslog's own loggers (``opslog``, ``opslog.*``) are never fed
  back: no loop.
* Outside any operation the handler does nothing; the record goes on to the
  other handlers untouched.
* The bridged event goes to the span and OpenTelemetry log-record channels
  only: the record itself is already in ``logging``, so it is not printed a
  second time by opslog's stdlib channel.

**structlog.** :func:`add_opslog_fields` is a structlog processor that adds
the five required fields (with ``event`` renamed ``opslog_event``, since
structlog's ``event`` key is the message; ``step_info``, ``step_warning``...
from the method name) and ``trace_id``/``span_id`` to
events logged inside an operation. Put it before the renderer::

    structlog.configure(processors=[opslog.bridges.add_opslog_fields, ...,
                                    structlog.processors.JSONRenderer()])
"""

from __future__ import annotations

import logging
import threading
from collections.abc import MutableMapping
from typing import Any, Optional

from .._config import get_settings
from ..channels.emit import emit
from ..channels.stdlib import LOGGER_NAME, LOGRECORD_ATTRIBUTES
from ..core.operation import _current_scope
from ..fields.errors import classify_error
from ..vocabulary import (
    FIELD_CORRELATION_ID,
    FIELD_JOB_ID,
    FIELD_OPERATION,
    FIELD_STEP,
    STEP_DEBUG,
    STEP_ERROR,
    STEP_INFO,
    STEP_WARNING,
    Level,
)

__all__ = ["LoggingBridge", "add_opslog_fields", "install_logging_bridge"]

#: Attributes every ``LogRecord`` has; anything else on a record came from ``extra``.
_STANDARD = LOGRECORD_ATTRIBUTES
_EVENTS = (
    (logging.ERROR, STEP_ERROR, Level.ERROR),
    (logging.WARNING, STEP_WARNING, Level.WARN),
    (logging.INFO, STEP_INFO, Level.INFO),
)
_guard = threading.local()
_STRUCTLOG_EVENTS = {
    "debug": STEP_DEBUG,
    "info": STEP_INFO,
    "warning": STEP_WARNING,
    "warn": STEP_WARNING,
    "error": STEP_ERROR,
    "exception": STEP_ERROR,
    "critical": STEP_ERROR,
}


class LoggingBridge(logging.Handler):
    """Feeds ``logging`` records into the current step or operation."""

    def emit(self, record: logging.LogRecord) -> None:
        name = record.name
        if name == LOGGER_NAME or name.startswith(LOGGER_NAME + "."):
            return  # opslog's own records: never fed back
        if getattr(_guard, "active", False):
            return
        scope = _current_scope()
        if scope is None:
            return  # outside any operation: untouched
        _guard.active = True
        try:
            event, level = STEP_DEBUG, Level.DEBUG
            for threshold, candidate, candidate_level in _EVENTS:
                if record.levelno >= threshold:
                    event, level = candidate, candidate_level
                    break
            try:
                message = record.getMessage()
            except Exception:
                message = str(record.msg)
            fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
            fields["logger"] = name
            exception = record.exc_info[1] if record.exc_info else None
            if event == STEP_ERROR:
                defaults = classify_error(
                    exception if exception is not None else message,
                    get_settings().error_classifier,
                )
                emit(
                    scope,
                    event,
                    level,
                    message,
                    fields=fields,
                    defaults=defaults,
                    exception=exception,
                    stdlib=False,
                )
            else:
                emit(scope, event, level, message, fields=fields, stdlib=False)
        except Exception:  # a handler must not raise
            self.handleError(record)
        finally:
            _guard.active = False


def install_logging_bridge(
    logger: Optional[logging.Logger] = None, level: int = logging.NOTSET
) -> LoggingBridge:
    """Add a :class:`LoggingBridge` to ``logger`` (default: the root logger), once."""
    target = logger if logger is not None else logging.getLogger()
    for handler in target.handlers:
        if isinstance(handler, LoggingBridge):
            return handler
    bridge = LoggingBridge(level)
    target.addHandler(bridge)
    return bridge


def add_opslog_fields(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the required fields and trace ids of the current operation."""
    scope = _current_scope()
    if scope is None:
        return event_dict
    event_dict.setdefault(FIELD_CORRELATION_ID, scope.correlation_id)
    event_dict.setdefault(FIELD_JOB_ID, scope.job_id)
    event_dict.setdefault(FIELD_OPERATION, scope.operation_name)
    event_dict.setdefault(FIELD_STEP, scope._step_field)
    event_dict.setdefault("opslog_event", _STRUCTLOG_EVENTS.get(method_name, STEP_INFO))
    event_dict.setdefault("trace_id", scope.correlation_id)
    event_dict.setdefault("span_id", scope.span_id)
    return event_dict
