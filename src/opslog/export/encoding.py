"""OTLP log records to protobuf bytes, fast, for the OTLP log exporters.

The SDK's encoder builds a protobuf object for every record, attribute and
value before it serialises them: about 37 µs per opslog log record, most of
the export thread's work, which shares the interpreter with the caller. At
a few thousand events a second the single export thread could not keep up
and the bounded queue shed records. This module writes the same
``ExportLogsServiceRequest`` wire bytes directly, remembering the encoding
of the (key, value) pairs that repeat from record to record (the required
fields, the message), several times faster.

It takes what opslog's records hold: a ``str`` body and attribute values
that are ``str``, ``bool``, ``int`` (64-bit), ``float``, ``bytes`` or
sequences of those. For anything else :func:`encode_log_records` returns
``None`` and the SDK's encoder does the batch. Its output is compared with
the SDK's, byte for byte, on a sample of the first batch an exporter sends
(:func:`opslog.otel.internals.use_log_encoder`, which switches to the SDK's
encoder for good if they ever differ: a new field in a newer SDK, say).

Records are grouped by their resource and scope objects (identity), in the
order they first appear, as the SDK groups them (it groups equal objects;
opslog's records share one provider's objects).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any, Callable, Optional

__all__ = ["encode_log_records", "encode_spans"]

_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack

#: (key, value) -> the bytes of its KeyValue field; the required fields and
#: messages repeat endlessly. Dropped whole when full.
_pair_cache: dict[tuple[str, object], bytes] = {}
_PAIR_CACHE_SIZE = 8192
#: Keys or values longer than this are not remembered (the memory is bounded).
_CACHED_TEXT = 128


class _Unsupported(Exception):
    """A value the fast path does not write: the SDK's encoder takes the batch."""


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _text(tag: bytes, text: Optional[str]) -> bytes:
    """A string field (``tag``: its key byte, field number << 3 | 2); an
    empty or missing text is not written (proto3)."""
    if not text:
        return b""
    data = text.encode("utf-8")
    return tag + _varint(len(data)) + data


def _any_value(value: Any) -> bytes:
    """The bytes of an ``AnyValue`` message (its oneof is always written)."""
    kind = type(value)
    if kind is str:
        data: bytes = value.encode("utf-8")
        return b"\x0a" + _varint(len(data)) + data
    if kind is bool:
        return b"\x10\x01" if value else b"\x10\x00"
    if kind is int:
        if not -(2**63) <= value < 2**63:
            raise _Unsupported
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    if kind is float:
        return b"\x21" + _pack_double(value)
    if kind is tuple or kind is list:
        items = b"".join([_field(1, _any_value(item)) for item in value])
        return _field(5, items)
    if kind is bytes:
        return _field(7, value)
    raise _Unsupported


def _key_value(key: str, value: Any) -> bytes:
    """A ``KeyValue`` message, length first, without its field tag (6 in a
    LogRecord, 1 in a Resource, 3 in a scope: the caller adds it)."""
    if type(key) is not str:
        raise _Unsupported
    # Only texts are remembered (a float key would confuse 0.0 and -0.0).
    cacheable = type(value) is str and len(value) <= _CACHED_TEXT and len(key) <= _CACHED_TEXT
    if cacheable:
        cache_key = (key, value)
        done = _pair_cache.get(cache_key)
        if done is not None:
            return done
    payload = _text(b"\x0a", key) + _field(2, _any_value(value))
    encoded = _varint(len(payload)) + payload
    if cacheable:
        if len(_pair_cache) >= _PAIR_CACHE_SIZE:
            _pair_cache.clear()
        _pair_cache[cache_key] = encoded
    return encoded


def _attributes(tag: bytes, attributes: Any) -> bytes:
    if not attributes:
        return b""
    return b"".join([tag + _key_value(k, v) for k, v in attributes.items()])


def _log_record(record: Any) -> bytes:
    log = record.log_record
    parts: list[bytes] = []
    timestamp = log.timestamp
    if timestamp:
        parts.append(b"\x09" + _pack_fixed64(timestamp))
    severity = getattr(log.severity_number, "value", None)
    if severity:
        parts.append(b"\x10" + _varint(severity))
    parts.append(_text(b"\x1a", log.severity_text))
    body = log.body
    if type(body) is not str:
        # SDK versions differ on a missing body (an empty AnyValue, or none).
        raise _Unsupported
    parts.append(_field(5, _any_value(body)))
    parts.append(_attributes(b"\x32", log.attributes))
    dropped = record.dropped_attributes
    if dropped:
        parts.append(b"\x38" + _varint(dropped))
    flags = int(log.trace_flags) if log.trace_flags is not None else 0
    if flags:
        parts.append(b"\x45" + _pack_fixed32(flags))
    if log.trace_id:
        parts.append(b"\x4a\x10" + log.trace_id.to_bytes(16, "big"))
    if log.span_id:
        parts.append(b"\x52\x08" + log.span_id.to_bytes(8, "big"))
    observed = log.observed_timestamp
    if observed:
        parts.append(b"\x59" + _pack_fixed64(observed))
    parts.append(_text(b"\x62", getattr(log, "event_name", None)))
    return _field(2, b"".join(parts))


def _resource(resource: Any) -> bytes:
    payload = _attributes(b"\x0a", resource.attributes)
    return _field(1, payload)


def _scope(scope: Any) -> bytes:
    if scope is None:
        return b"\x0a\x00"  # the SDK writes an empty scope
    payload = _text(b"\x0a", scope.name) + _text(b"\x12", scope.version)
    return _field(1, payload + _attributes(b"\x1a", scope.attributes))


def _groups(
    batch: Iterable[Any], encode: Callable[[Any], bytes]
) -> list[tuple[Any, list[tuple[Any, list[bytes]]]]]:
    """(resource, [(scope, encoded items)...]) in order of first appearance."""
    resources: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    for record in batch:
        resource = record.resource
        scope = record.instrumentation_scope or None
        entry = resources.get(id(resource))
        if entry is None:
            entry = resources[id(resource)] = (resource, {})
        scopes = entry[1]
        group = scopes.get(id(scope))
        if group is None:
            group = scopes[id(scope)] = (scope, [])
        group[1].append(encode(record))
    return [(resource, list(scopes.values())) for resource, scopes in resources.values()]


def _request(batch: Sequence[Any], encode: Callable[[Any], bytes]) -> Optional[bytes]:
    """An export request: resource groups (field 1), each with its resource,
    its scope groups (field 2: scope, items, schema URL) and schema URL."""
    try:
        out: list[bytes] = []
        for resource, scopes in _groups(batch, encode):
            scope_groups = []
            for scope, items in scopes:
                payload = _scope(scope) + b"".join(items)
                payload += _text(b"\x1a", scope.schema_url if scope is not None else None)
                scope_groups.append(_field(2, payload))
            payload = (
                _resource(resource) + b"".join(scope_groups) + _text(b"\x1a", resource.schema_url)
            )
            out.append(_field(1, payload))
        return b"".join(out)
    except _Unsupported:
        return None
    except (AttributeError, TypeError, ValueError, OverflowError, KeyError):
        return None  # an item of another shape: the SDK's encoder knows it


def encode_log_records(batch: Sequence[Any]) -> Optional[bytes]:
    """The serialised ``ExportLogsServiceRequest`` of ``batch`` (SDK
    ``ReadableLogRecord``\\ s), or ``None`` when a record holds something only
    the SDK's encoder writes."""
    return _request(batch, _log_record)


# -- spans -------------------------------------------------------------------------------
#: SpanKind value -> the OTLP enum (INTERNAL is 1: 0 is "unspecified").
_SPAN_KINDS = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5}
#: SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK, and with SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK.
_LOCAL_PARENT, _REMOTE_PARENT = (
    b"\x85\x01" + _pack_fixed32(0x100),
    b"\x85\x01" + _pack_fixed32(0x300),
)


def _span(span: Any) -> bytes:
    if span.links:
        raise _Unsupported  # rare for opslog's spans: the SDK writes them
    context = span.get_span_context()
    parts = [b"\x0a\x10" + context.trace_id.to_bytes(16, "big")]
    parts.append(b"\x12\x08" + context.span_id.to_bytes(8, "big"))
    trace_state = context.trace_state
    if trace_state is not None:
        parts.append(_text(b"\x1a", ",".join([f"{k}={v}" for k, v in trace_state.items()])))
    parent = span.parent
    if parent:
        parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
    parts.append(_text(b"\x2a", span.name))
    parts.append(b"\x30" + _varint(_SPAN_KINDS[span.kind.value]))
    if span.start_time:
        parts.append(b"\x39" + _pack_fixed64(span.start_time))
    if span.end_time:
        parts.append(b"\x41" + _pack_fixed64(span.end_time))
    parts.append(_attributes(b"\x4a", span.attributes))
    if span.dropped_attributes:
        parts.append(b"\x50" + _varint(span.dropped_attributes))
    for event in span.events:
        payload = b"\x09" + _pack_fixed64(event.timestamp) if event.timestamp else b""
        payload += _text(b"\x12", event.name) + _attributes(b"\x1a", event.attributes)
        if event.dropped_attributes:
            payload += b"\x20" + _varint(event.dropped_attributes)
        parts.append(_field(11, payload))
    if span.dropped_events:
        parts.append(b"\x60" + _varint(span.dropped_events))
    if span.dropped_links:
        parts.append(b"\x70" + _varint(span.dropped_links))
    status = span.status
    if status is not None:
        payload = _text(b"\x12", status.description)
        code = status.status_code.value
        if code:
            payload += b"\x18" + _varint(code)
        parts.append(_field(15, payload))
    parts.append(_REMOTE_PARENT if parent is not None and parent.is_remote else _LOCAL_PARENT)
    return _field(2, b"".join(parts))


def encode_spans(batch: Sequence[Any]) -> Optional[bytes]:
    """The serialised ``ExportTraceServiceRequest`` of ``batch`` (SDK
    ``ReadableSpan``\\ s), or ``None`` when a span holds something only the
    SDK's encoder writes (links, a value of another type)."""
    return _request(batch, _span)
