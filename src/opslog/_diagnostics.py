"""Self-diagnostics: opslog's own problems are counted and logged, never raised.

Whatever goes wrong inside opslog (a bad argument, a misuse such as a double
``end_step``, an exporter or handler that raises) is counted under a kind
and reported on the stdlib logger ``opslog.diagnostics``. The first
occurrences of each kind are logged at WARNING, later ones at DEBUG so a
loop cannot flood the logs. :func:`diagnostics` returns the counts.

Diagnostic messages pass through the same redaction as events and quote
rejected input truncated.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter

__all__ = ["DIAGNOSTICS_LOGGER_NAME", "diagnostics", "report", "reset_diagnostics"]

DIAGNOSTICS_LOGGER_NAME = "opslog.diagnostics"

# Kinds
INTERNAL_ERROR = "internal_error"
CALL_AFTER_END = "call_after_end"
DOUBLE_END = "double_end"
REJECTED_CORRELATION_ID = "rejected_correlation_id"
REJECTED_TRACEPARENT = "rejected_traceparent"
CLASSIFIER_ERROR = "classifier_error"
CHANNEL_ERROR = "channel_error"
FIELDS_DROPPED = "fields_dropped"
SPAN_EVENTS_DROPPED = "span_events_dropped"
ABANDONED = "abandoned"
STEP_OUTSIDE_OPERATION = "step_outside_operation"
EXPORT_LOSS = "export_loss"
CONFIGURATION = "configuration"
VALUE_REPLACED = "value_replaced"
STATUS_REPLACED = "status_replaced"
JSON_LINES_LOSS = "json_lines_loss"
SDK_FALLBACK = "sdk_fallback"
EXPORT_UNSUPPORTED = "export_unsupported"
EXPORT_UNREACHABLE = "export_unreachable"
VALUES_TRIMMED = "values_trimmed"

_LOUD_REPORTS = 5  # per kind, then DEBUG

_logger = logging.getLogger(DIAGNOSTICS_LOGGER_NAME)
_lock = threading.Lock()
_counts: Counter[str] = Counter()


def report(kind: str, message: str, count: int = 1) -> None:
    """Count ``count`` occurrences of ``kind`` and log ``message``.

    ``message`` must already be safe to print (redacted, truncated).
    """
    try:
        with _lock:
            _counts[kind] += count
            seen = _counts[kind]
        level = logging.WARNING if seen - count < _LOUD_REPORTS else logging.DEBUG
        if _logger.isEnabledFor(level):
            _logger.log(level, "opslog %s: %s", kind, message)
    except Exception:  # pragma: no cover - diagnostics must never raise
        pass


def diagnostics() -> dict[str, int]:
    """A snapshot of opslog's self-diagnostic counters, by kind.

    Kinds include ``internal_error``, ``channel_error``, ``call_after_end``,
    ``double_end``, ``rejected_correlation_id``, ``rejected_traceparent``,
    ``classifier_error``,
    ``fields_dropped``, ``span_events_dropped``, ``abandoned``,
    ``step_outside_operation``, ``export_loss`` (spans/log records not
    delivered to the collector), ``configuration`` (notes from
    :func:`opslog.configure`), ``value_replaced`` (a value that could not be
    read, replaced by a placeholder in its event), ``status_replaced`` (an end
    status that could not be read) and ``json_lines_loss`` (events the JSON
    lines file could not take, e.g. a full disk) and ``sdk_fallback`` (a private
    OpenTelemetry name opslog uses did not work; the public API is used) and
    ``export_unsupported`` (the endpoint does not take a signal at all: said
    once, with the fix; that signal is no longer sent) and
    ``export_unreachable`` (the endpoint accepts no connection: said once per
    outage; items wait in the queue until it does) and ``values_trimmed``
    (values of a log record or span too large for one export request, cut
    so that it fits: see :mod:`opslog.export.fitting`).
    """
    with _lock:
        return dict(_counts)


def reset_diagnostics() -> None:
    """Zero the counters (for tests)."""
    with _lock:
        _counts.clear()


def _after_fork() -> None:
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
