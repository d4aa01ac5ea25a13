"""One span or log record too large for an export request, made to fit.

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
log records, stdlib ``logging``: each event a record of its own).

One event can be too large alone: 64 fields of 4,096 four-byte characters
make a megabyte, over a ``max_export_bytes`` set lower, and a raised
``max_value_length`` allows more. :func:`record_within` sends such a log
record with its longest values cut, each to the same length, the shortest
cut that makes it fit; each cut value ends with ``…[truncated N chars]``
(as ``max_value_length`` cuts) and the record carries
``opslog.values_trimmed`` (how many values were cut). The five required
fields are never cut, so the event still correlates, and nothing is
revealed: a cut keeps the start of a value already redacted.

This runs on the export thread, only for an item over the limit. An item
still over the limit after this (a span whose own attributes are that
large, a record with thousands of attributes) is not sent: see
:meth:`opslog.export.processor.BoundedBatchProcessor._send`.
"""

from __future__ import annotations

from typing import Any, Optional

from .. import _diagnostics
from ..otel.internals import log_record_with, span_with_events
from ..vocabulary import REQUIRED_FIELDS
from .processor import Measure

__all__ = ["TRIMMED_ATTRIBUTE", "VALUES_TRIMMED_ATTRIBUTE", "record_within", "span_within"]

#: The span attribute that counts the events left out of its export.
TRIMMED_ATTRIBUTE = "opslog.span_events_trimmed"

#: The log record attribute that counts the values cut to fit its export.
VALUES_TRIMMED_ATTRIBUTE = "opslog.values_trimmed"

#: Bytes a cut value gains: its ``…[truncated N chars]`` (at most this).
_MARKER_BYTES = 40

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


def record_within(record: Any, size: int, limit: int, measure: Measure[Any]) -> Any:
    """``record`` (an SDK log record), whose request alone is ``size``
    bytes, or a copy whose longest values (its text body and text
    attributes, never the required fields) are cut to one length, the
    longest that ``measure`` finds within ``limit`` bytes. Other bulky
    values (sequences, bytes) longer than that length are left out, counted
    as dropped attributes. Returns ``record`` itself if no cut makes it fit
    (it is then not sent, and counted)."""
    if size <= limit:
        return record
    log = record.log_record
    attributes = dict(log.attributes or {})
    body = log.body
    # (key, byte size) of what may be cut or left out; None stands for the body.
    bulky: list[tuple[Optional[str], int]] = [
        (key, _value_size(value))
        for key, value in attributes.items()
        if key not in _NEVER_CUT and not isinstance(value, (bool, int, float))
    ]
    if isinstance(body, str):
        bulky.append((None, _value_size(body)))
    excess = size - limit
    for _ in range(_MAX_MEASURES):
        length = _common_length([item_size for _, item_size in bulky], excess)
        new_attributes = dict(attributes)
        new_body = body
        cut = left_out = 0
        for key, item_size in bulky:
            if item_size <= length:
                continue
            value = body if key is None else attributes[key]
            if not isinstance(value, str):
                left_out += 1
                del new_attributes[key]
            elif key is None:
                cut += 1
                new_body = _cut(value, length)
            else:
                cut += 1
                new_attributes[key] = _cut(value, length)
        new_attributes[VALUES_TRIMMED_ATTRIBUTE] = cut + left_out
        fitted = log_record_with(record, new_body, new_attributes, left_out)
        if fitted is None:
            return record  # cannot be copied: not sent, counted
        fitted_size = measure([fitted])
        if fitted_size is None or fitted_size <= limit:
            break
        if length == 0:
            return record  # its bulk is elsewhere (keys, thousands of attributes)
        excess += fitted_size - limit
    else:
        return record  # the estimates kept falling short
    _diagnostics.report(
        _diagnostics.VALUES_TRIMMED,
        f"a log record of span {_record_span_id(log)}: {cut + left_out} of its values cut "
        f"or left out of its export, whose request would have been {size} bytes, over "
        f"max_export_bytes={limit} (marked {VALUES_TRIMMED_ATTRIBUTE})",
        cut + left_out,
    )
    return fitted


#: Attributes a cut never touches: what correlates the event.
_NEVER_CUT = frozenset(REQUIRED_FIELDS)


def _common_length(sizes: list[int], excess: int) -> int:
    """The largest length ``L`` such that cutting every size over ``L`` to
    ``L`` (plus its marker) saves at least ``excess`` bytes; 0 if none does."""
    ordered = sorted(sizes, reverse=True)
    total = 0
    for count, item_size in enumerate(ordered, start=1):
        total += item_size
        # Cutting the ``count`` largest to L saves total - count * (L + marker).
        length = (total - excess) // count - _MARKER_BYTES
        below = ordered[count] if count < len(ordered) else 0
        if length >= below:
            return max(length, 0)
    return 0


def _cut(text: str, length: int) -> str:
    """The first ``length`` UTF-8 bytes of ``text`` (whole characters), marked."""
    if text.isascii():
        head = text[:length]
    else:
        head = text.encode("utf-8", "replace")[:length].decode("utf-8", "ignore")
    return f"{head}…[truncated {len(text) - len(head)} chars]"


def _record_span_id(log: Any) -> str:
    """The span id of the record's span, in hex (its attributes and body are
    not opslog's to print: a third-party record may hold anything)."""
    span_id = getattr(log, "span_id", None)
    return format(span_id, "016x") if isinstance(span_id, int) and span_id else "(none)"
