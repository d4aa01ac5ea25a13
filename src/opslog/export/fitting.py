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

A value can be the bulk instead: one event of 64 fields of 4,096
four-byte characters makes a megabyte, over a ``max_export_bytes`` set
lower (a raised ``max_value_length`` allows more), and instrumentation may
put a whole SQL statement on its span. :func:`record_within` sends such a
log record with its longest values cut, each to the same length, the
shortest cut that makes it fit; a span's own attributes are cut the same
way when they take more than half a request (its events then share the
rest). Each cut value ends with ``…[truncated N chars]`` (as
``max_value_length`` cuts), and the item carries ``opslog.values_trimmed``
(how many values were cut; a bulky value that is not text, such as a long
sequence, is left out and counted dropped). The five required fields are
never cut, so the event still correlates, and nothing new is revealed: a
cut keeps the start of the value that would have been sent (opslog's own
values were redacted whole, before any cut).

This runs on the export thread, only for an item over the limit. An item
still over the limit after this (huge keys, thousands of attributes or
links) is not sent: see
:meth:`opslog.export.processor.BoundedBatchProcessor._send`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import _diagnostics
from ..fields.coercion import with_cut_marker
from ..otel.internals import log_record_with, span_with
from ..vocabulary import REQUIRED_FIELDS
from .processor import Measure

__all__ = ["TRIMMED_ATTRIBUTE", "VALUES_TRIMMED_ATTRIBUTE", "record_within", "span_within"]

#: The span attribute that counts the events left out of its export.
TRIMMED_ATTRIBUTE = "opslog.span_events_trimmed"

#: The attribute that counts the values cut (or left out) to fit an export.
VALUES_TRIMMED_ATTRIBUTE = "opslog.values_trimmed"

#: Bytes a cut value gains: its ``…[truncated N chars]`` (at most this).
_MARKER_BYTES = 40

#: Bounds the encodings one item may cost (each is of an item of megabytes).
_MAX_MEASURES = 8

#: Attributes a cut never touches: what correlates the event.
_NEVER_CUT = frozenset(REQUIRED_FIELDS)


# -- spans --------------------------------------------------------------------------------
def span_within(span: Any, size: int, limit: int, measure: Measure[Any]) -> Any:
    """``span``, whose request alone is ``size`` bytes, or a copy that
    ``measure`` finds within ``limit`` bytes: its own attributes cut to half
    a request if they take more, then without its largest events, the fewest
    that make it fit (without any event if no fewer will do). The events are
    left out largest first, by an estimate of their encoded size, and the
    copy is measured to confirm it fits.
    """
    if size <= limit:
        return span
    events = list(span.events)
    attributes = dict(span.attributes or {})
    sizes = _cuttable_sizes(attributes)
    own_size = sum(sizes.values())
    if own_size > limit // 2:
        shortened, left_out, _ = _values_shortened(attributes, sizes, own_size - limit // 2)
        trimmed = span_with(span, events, shortened, 0, left_out)
        _report_values(f"span {_span_id(span)}", shortened, size, limit)
        measured = measure([trimmed])
        if measured is None or measured <= limit or not events:
            return trimmed
        span, size = trimmed, measured
    if not events:
        return span  # its bulk is elsewhere (links, keys): not sent, counted
    return _events_left_out(span, events, size, limit, measure)


def _events_left_out(
    span: Any, events: list[Any], size: int, limit: int, measure: Measure[Any]
) -> Any:
    """``span`` without the fewest of its largest ``events`` that make it fit."""
    attributes = dict(span.attributes or {})
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
        fitted = span_with(
            span,
            [event for n, event in enumerate(events) if n not in left_out],
            {**attributes, TRIMMED_ATTRIBUTE: len(left_out)},
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
            fitted = span_with(
                span, [], {**attributes, TRIMMED_ATTRIBUTE: len(events)}, len(events)
            )
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


# -- log records --------------------------------------------------------------------------
#: Stands for a log record's body among its attributes while its values are cut.
_BODY = object()


def record_within(record: Any, size: int, limit: int, measure: Measure[Any]) -> Any:
    """``record`` (an SDK log record), whose request alone is ``size``
    bytes, or a copy whose longest values (its text body and attributes,
    never the required fields) are cut alike, to the longest length that
    ``measure`` finds within ``limit`` bytes. Returns ``record`` itself if
    no cut makes it fit (it is then not sent, and counted)."""
    if size <= limit:
        return record
    log = record.log_record
    values: dict[Any, Any] = dict(log.attributes or {})
    if isinstance(log.body, str):
        values[_BODY] = log.body
    sizes = _cuttable_sizes(values)  # measured once, whatever the rounds
    excess = size - limit
    for _ in range(_MAX_MEASURES):
        shortened, left_out, length = _values_shortened(values, sizes, excess)
        body = shortened.pop(_BODY, log.body)
        fitted = log_record_with(record, body, shortened, left_out)
        if fitted is None:
            return record  # cannot be copied: not sent, counted
        fitted_size = measure([fitted])
        if fitted_size is None or fitted_size <= limit:
            _report_values(f"a log record of span {_record_span_id(log)}", shortened, size, limit)
            return fitted
        if length == 0:
            return record  # cut to nothing, it does not fit: its bulk is elsewhere
        excess += fitted_size - limit
    return record  # the estimates kept falling short


def _record_span_id(log: Any) -> str:
    """The span id of the record's span, in hex (its attributes and body are
    not opslog's to print: a third-party record may hold anything)."""
    span_id = getattr(log, "span_id", None)
    return format(span_id, "016x") if isinstance(span_id, int) and span_id else "(none)"


# -- cutting values alike -------------------------------------------------------------------
def _cuttable_sizes(values: Mapping[Any, Any]) -> dict[Any, int]:
    """The size of each value a cut may touch: any but numbers, booleans
    and the required fields."""
    return {
        key: _value_size(value)
        for key, value in values.items()
        if key not in _NEVER_CUT and not isinstance(value, (bool, int, float))
    }


def _values_shortened(
    values: Mapping[Any, Any], sizes: Mapping[Any, int], excess: int
) -> tuple[dict[Any, Any], int, int]:
    """``values`` with its longest cut alike, by about ``excess`` bytes in
    all, and :data:`VALUES_TRIMMED_ATTRIBUTE` added (how many were cut or
    left out); with how many were left out (bulky values that are not text)
    and the length (in UTF-8 bytes) they were cut to. ``sizes`` is
    :func:`_cuttable_sizes` of ``values``."""
    length = _common_length(list(sizes.values()), excess)
    shortened = dict(values)
    trimmed = left_out = 0
    for key, item_size in sizes.items():
        if item_size <= length:
            continue
        trimmed += 1
        value = values[key]
        if isinstance(value, str):
            shortened[key] = _cut(value, length)
        else:
            left_out += 1
            del shortened[key]
    shortened[VALUES_TRIMMED_ATTRIBUTE] = trimmed
    return shortened, left_out, length


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
    """The first ``length`` UTF-8 bytes of ``text`` (whole characters),
    marked as ``max_value_length`` cuts are."""
    if text.isascii():
        head = text[:length]
    else:
        head = text.encode("utf-8", "replace")[:length].decode("utf-8", "ignore")
    return with_cut_marker(head, len(text) - len(head))


def _report_values(what: str, shortened: Mapping[Any, Any], size: int, limit: int) -> None:
    trimmed = shortened[VALUES_TRIMMED_ATTRIBUTE]
    _diagnostics.report(
        _diagnostics.VALUES_TRIMMED,
        f"{what}: {trimmed} of its values cut or left out of its export, whose "
        f"request would have been {size} bytes, over max_export_bytes={limit} "
        f"(marked {VALUES_TRIMMED_ATTRIBUTE})",
        trimmed,
    )


def _value_size(value: Any) -> int:
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8", "replace"))
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, (tuple, list)):
        return sum(_value_size(item) + 2 for item in value)
    return 10
