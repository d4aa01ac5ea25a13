"""One span too large for an export request, made to fit.

A span's request can exceed ``max_export_bytes`` on its own: the SDK keeps
128 events per span, and an event may carry 64 fields of 4,096 characters,
so a step that logs bulky fields many times can make a span of megabytes.
The Collector's OTLP/gRPC receiver refuses a message over 4 MiB; sent as it
is, such a span would be lost, and the gRPC exporter would retry it for its
whole timeout while the queue behind it fills.

:func:`span_within` sends it instead without its largest events, the
fewest that make it fit: the span itself, its ids, its other events
(``step_start``, ``step_end`` with status and duration, ``step_error``) and
the trace's structure arrive. The span says what was left out:
``opslog.span_events_trimmed`` (how many) and its dropped-event count. The
events left out still reach the log channels that are on (OpenTelemetry
log records, stdlib ``logging``: each event a small record of its own).
This runs on the export thread, only for a span over the limit. A span
still over the limit without any event (its own attributes are that large)
is not sent: see :meth:`opslog.export.processor.BoundedBatchProcessor._send`.
"""

from __future__ import annotations

from typing import Any

from .. import _diagnostics
from ..otel.internals import span_with_events
from .processor import Measure

__all__ = ["TRIMMED_ATTRIBUTE", "span_within"]

#: The span attribute that counts the events left out of its export.
TRIMMED_ATTRIBUTE = "opslog.span_events_trimmed"

#: Bounds the encodings one span may cost (each is of a span of megabytes).
_MAX_MEASURES = 8


def span_within(span: Any, size: int, limit: int, measure: Measure[Any]) -> Any:
    """``span``, whose request alone is ``size`` bytes, or a copy without
    its largest events whose request alone ``measure`` finds within
    ``limit`` bytes (without any event if no fewer will do). The events are
    left out largest first, by an estimate of their encoded size, and the
    copy is measured to confirm it fits.
    """
    events = list(span.events)
    if not events or size <= limit:
        return span
    sizes = [_rough_size(event) for event in events]
    largest_first = sorted(range(len(events)), key=sizes.__getitem__, reverse=True)
    left_out: set[int] = set()
    excess = size - limit
    fitted = span
    measures = 0
    for position, index in enumerate(largest_first):
        left_out.add(index)
        excess -= sizes[index]
        last = position == len(largest_first) - 1
        if excess > 0 and not last:
            continue  # still too large by the estimate: leave out more first
        fitted = span_with_events(
            span,
            [event for n, event in enumerate(events) if n not in left_out],
            TRIMMED_ATTRIBUTE,
            len(left_out),
        )
        measures += 1
        fitted_size = measure([fitted])
        if fitted_size is None or fitted_size <= limit:
            break
        excess = fitted_size - limit
        if measures == _MAX_MEASURES:
            # The estimates keep falling short: leave out every event.
            left_out = set(range(len(events)))
            fitted = span_with_events(span, [], TRIMMED_ATTRIBUTE, len(events))
            break
    _diagnostics.report(
        _diagnostics.SPAN_EVENTS_DROPPED,
        f"span {_span_id(span)}: {len(left_out)} of its {len(events)} events left out "
        f"of its export, whose request would have been {size} bytes, over "
        f"max_export_bytes={limit} (marked {TRIMMED_ATTRIBUTE}; the events still "
        "reach the log channels that are on)",
        len(left_out),
    )
    return fitted


def _span_id(span: Any) -> str:
    """The span id in hex: what finds it in Jaeger. (Not its name: a
    third-party span's name is not opslog's to print unredacted.)"""
    try:
        return format(span.context.span_id, "016x")
    except Exception:
        return "(unknown id)"


def _rough_size(event: Any) -> int:
    """About how many bytes ``event`` adds to a request: its name, keys and
    values as UTF-8, plus a little framing per attribute."""
    total = len(event.name) + 24
    for key, value in (event.attributes or {}).items():
        total += len(key) + 8 + _value_size(value)
    return total


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8", "replace"))
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, (tuple, list)):
        return sum(_value_size(item) + 2 for item in value)
    return 10
