"""The one home of every private OpenTelemetry name opslog uses.

Each use has a public-API fallback, taken **at call time** on any exception
(a name removed, a signature changed, a type that behaves differently),
and reported once in the self-diagnostics (``sdk_fallback``). What is used,
and why:

================================  ============================  ==========================
private name                      what for                      public fallback
================================  ============================  ==========================
``Span._add_event``, ``Event``,   hand the SDK a ready span     ``Span.add_event`` (the SDK
``Span._limits``                  event (no re-validation of    validates again: slower,
                                  attributes already valid)     same result)
``Span._events._dq.maxlen``       how many events a span holds  ``OTEL_SPAN_EVENT_COUNT_LIMIT``
                                  (to count the one about to    or 128, with the public
                                  be pushed out)                ``dropped_events``
``ReadableSpan._events``,         send a span too large for     a new ``ReadableSpan`` from
``ReadableSpan._attributes``      one request without some of   its public properties (its
                                  its events or with shorter    dropped attribute and link
                                  values (a copy that keeps     counts become 0)
                                  the dropped counts)
``Tracer.id_generator``           pin a new trace's id to the   start under a remote parent
                                  correlation id                span context in that trace
``TraceState._dict``              keep Level 2 keys the API's   ``TraceState(members)`` (keys
                                  Level 1 check would drop      it rejects are dropped)
``context._SUPPRESS_``            the export thread's own HTTP  no suppression
``INSTRUMENTATION_KEY``           calls are not instrumented
``_logs._internal.``              tell the API's placeholder    its class name
``ProxyLoggerProvider``           provider from an app's own
the OTLP exporters calling the    encode log records and spans  the SDK's encoder (also for
module name ``encode_logs`` /     several times faster, same    a batch opslog's does not
``encode_spans`` (``export``,     bytes (checked once, on a     handle)
``_translate_data``)              sample: :func:`use_encoder`)
================================  ============================  ==========================

The ready-event fast path is used only with SDK versions opslog was tested
with (:data:`FAST_PATH_SDK_VERSIONS`): a newer SDK may add logic to
``add_event`` that the fast path would bypass, so it gets the public path
until opslog is tested with it.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from types import FunctionType, MappingProxyType
from typing import Any, Callable, Optional

from opentelemetry import context as otel_context
from opentelemetry.trace import Span, TraceState
from opentelemetry.util.types import AttributeValue

from .. import _diagnostics
from .._genuine import own_function

__all__ = [
    "FAST_PATH_SDK_VERSIONS",
    "RequestSizes",
    "SpanEventAdder",
    "VERIFIED_ITEMS",
    "events_dropped",
    "is_placeholder_logger_provider",
    "log_record_with",
    "pin_id_generator",
    "span_event_adder",
    "span_with",
    "suppress_instrumentation",
    "trace_state",
    "use_encoder",
    "use_log_encoder",
    "use_span_encoder",
]

#: Adds one of opslog's events to a span: ``add(name, attributes, timestamp)``.
SpanEventAdder = Callable[[str, Mapping[str, AttributeValue], int], None]

#: SDK versions (major, minor) the ready-event path was tested with.
FAST_PATH_SDK_VERSIONS = ((1, 39), (1, 45))

#: Use the ready-event path where it applies. The tests and the benchmark
#: switch it off to compare with the public path.
READY_SPAN_EVENTS = True

_reported: set[str] = set()


def _fell_back(name: str, exc: BaseException) -> None:
    """Report, once per private name, that its public fallback is in use."""
    if name in _reported:
        return
    _reported.add(name)
    _diagnostics.report(
        _diagnostics.SDK_FALLBACK,
        f"OpenTelemetry's private {name} did not work as expected "
        f"({type(exc).__name__}); opslog uses the public API for it from now on",
    )


# -- ready span events --------------------------------------------------------------------
def _sdk_version_tested() -> bool:
    try:
        from opentelemetry.sdk.version import __version__

        major, minor = (int(part) for part in __version__.split(".")[:2])
    except Exception:
        return False
    low, high = FAST_PATH_SDK_VERSIONS
    return low <= (major, minor) <= high


_FAST_PATH_ALLOWED = _sdk_version_tested()


#: Span types already checked: type -> the SDK's ``Event`` class if it is the
#: SDK's span (the ready path applies), else ``None``. Steps start by the
#: thousand; the check and the SDK import are paid once per type.
_ready_span_types: dict[type, Optional[type]] = {}


#: The SDK's own ``Span.add_event`` as found when first looked up, or an
#: object nothing is when it was not the SDK's own by then.
_sdk_add_event: object = None


def _sdk_event_class(span_type: type) -> Optional[type]:
    """The SDK's ``Event`` class if ``span_type`` is the SDK's span and its
    ``add_event`` is the SDK's own, else None.

    A subclass that overrides ``add_event``, or an ``add_event`` wrapped on
    the SDK's ``Span`` (by an agent, with ``wrapt`` or ``functools.wraps``),
    has work of its own to do for each event: such spans get the public
    ``add_event``, never the ready path around it.
    """
    global _sdk_add_event
    import opentelemetry.sdk.trace as sdk_trace

    if _sdk_add_event is None:
        _sdk_add_event = own_function(sdk_trace.Span, "add_event", sdk_trace.__file__)
    if issubclass(span_type, sdk_trace.Span) and span_type.add_event is _sdk_add_event:
        return sdk_trace.Event
    return None


def span_event_adder(span: Span) -> SpanEventAdder:
    """How opslog adds its events to ``span``: the cheapest way that gives the same result.

    The SDK's ``Span.add_event`` validates and copies every attribute of
    every event (``BoundedAttributes``): for opslog's events, whose fields
    were all coerced to valid attribute values already, that is the largest
    single cost of an event. For an SDK span whose ``add_event`` is the
    SDK's own (see :func:`_sdk_event_class`), with the event within the
    event attribute count limit, opslog hands the SDK a ready ``Event``
    holding an immutable copy of the attributes instead, their texts cut to
    the attribute length limit if one is set (``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``,
    as the SDK cuts them, without its warning per cut value): the exported
    event is the same, field for field. An event over the count limit, any
    other span, or any failure gets the public ``add_event``.
    """
    public: SpanEventAdder = span.add_event
    if not (READY_SPAN_EVENTS and _FAST_PATH_ALLOWED) or "_add_event" in _reported:
        return public
    try:
        span_type = type(span)
        if span_type in _ready_span_types:
            event_class = _ready_span_types[span_type]
        else:
            event_class = _ready_span_types[span_type] = _sdk_event_class(span_type)
        if event_class is None or span_type.add_event is not _sdk_add_event:
            return public  # (an add_event wrapped after the type was first seen)
        add_ready = span._add_event  # type: ignore[attr-defined]
        limits = span._limits  # type: ignore[attr-defined]
        max_length = limits.max_attribute_length
        max_attributes = limits.max_event_attributes
        if not (
            (max_length is None or (type(max_length) is int and max_length >= 0))
            and (max_attributes is None or (type(max_attributes) is int and max_attributes >= 0))
        ):
            return public  # (written out: a generator here cost ~0.5 µs per span)
    except Exception as exc:
        _fell_back("_add_event", exc)
        return public

    def add_event(name: str, attributes: Mapping[str, AttributeValue], timestamp: int) -> None:
        if "_add_event" in _reported or (
            max_attributes is not None and len(attributes) > max_attributes
        ):
            public(name, attributes, timestamp)  # the SDK decides what to drop
            return
        try:
            values = dict(attributes) if max_length is None else _cut_as_sdk(attributes, max_length)
            event = event_class(name, MappingProxyType(values), timestamp)
        except Exception as exc:
            _fell_back("_add_event", exc)
            public(name, attributes, timestamp)
            return
        try:
            add_ready(event)
        except Exception as exc:
            # Nothing was added: the private method failed before the append
            # (a changed signature, a removed attribute).
            _fell_back("_add_event", exc)
            public(name, attributes, timestamp)

    return add_event


def _cut_as_sdk(attributes: Mapping[str, AttributeValue], limit: int) -> dict[str, Any]:
    """A copy of ``attributes`` with every text, alone or in a sequence, cut
    to ``limit`` characters: what the SDK's attribute cleaning does with an
    attribute length limit to values of the types opslog's events hold
    (text, numbers, booleans, tuples of those)."""
    values = dict(attributes)
    for key, value in values.items():
        if type(value) is str:
            if len(value) > limit:
                values[key] = value[:limit]
        elif type(value) is tuple:
            values[key] = tuple(
                item[:limit] if type(item) is str and len(item) > limit else item for item in value
            )
    return values


# -- events a span could not hold -------------------------------------------------------
def events_dropped(span: Span, adding: int = 0) -> int:
    """Events ``span`` could not hold, counting ``adding`` more about to be added.

    0 for a span that is not the SDK's.
    """
    try:
        events = span._events  # type: ignore[attr-defined]
        dropped = events.dropped
        queue = events._dq
        maxlen = queue.maxlen
        held = len(queue)  # the deque's own len: no Python-level __len__ per span
        if not (isinstance(dropped, int) and isinstance(maxlen, int)):
            raise TypeError("unexpected event list")
    except Exception as exc:
        if not hasattr(span, "dropped_events"):
            return 0  # not an SDK span: nothing is dropped here
        _fell_back("Span._events", exc)
        try:
            dropped = int(span.dropped_events)
            held = len(span.events)  # type: ignore[attr-defined]
        except Exception:
            return 0
        maxlen = _event_count_limit()
    if adding and held + adding > maxlen:
        dropped += held + adding - maxlen
    return dropped


def _event_count_limit() -> int:
    try:
        return int(os.environ.get("OTEL_SPAN_EVENT_COUNT_LIMIT", "128"))
    except ValueError:
        return 128


# -- a smaller copy of a span -------------------------------------------------------------
def span_with(
    span: Any,
    events: list[Any],
    attributes: Mapping[str, Any],
    events_left_out: int,
    attributes_left_out: int = 0,
) -> Any:
    """A copy of the ended span ``span`` holding only ``events`` and
    ``attributes``, with ``events_left_out`` and ``attributes_left_out``
    added to its dropped-event and dropped-attribute counts. Everything else
    is the span's own."""
    from opentelemetry.attributes import BoundedAttributes
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util import BoundedList

    if "ReadableSpan._events" not in _reported:
        try:
            kept = BoundedList.from_seq(None, events)
            kept.dropped = span.dropped_events + events_left_out
            bounded = BoundedAttributes(None, attributes, immutable=True)
            bounded.dropped = span.dropped_attributes + attributes_left_out
            clone = copy.copy(span)
            clone._events = kept
            clone._attributes = bounded
            if (
                clone.events != tuple(events)
                or clone.dropped_events != kept.dropped
                or clone.dropped_attributes != bounded.dropped
            ):
                raise TypeError("the copy does not read back")
            return clone
        except Exception as exc:
            _fell_back("ReadableSpan._events", exc)
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=tuple(events),
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


# -- a log record with shorter values --------------------------------------------------
def log_record_with(record: Any, body: Any, attributes: Mapping[str, Any], left_out: int) -> Any:
    """A copy of the SDK log record ``record`` with ``body`` and ``attributes``
    instead of its own, ``left_out`` more attributes counted dropped;
    everything else (ids, timestamps, severity, resource, scope) is its own.

    Only public fields are used (``log_record``, its ``body`` and
    ``attributes``, ``BoundedAttributes.dropped``), the same in the SDK
    versions opslog supports; the copy is read back to confirm it. ``None``
    if the record cannot be copied this way (it is then sent as it is, or
    not at all: see :func:`opslog.export.fitting.record_within`).
    """
    from opentelemetry.attributes import BoundedAttributes

    try:
        bounded = BoundedAttributes(None, attributes, immutable=True)
        if dict(bounded) != dict(attributes):
            # An older SDK cleans log attributes as span attributes unless told.
            older: dict[str, Any] = {"extended_attributes": True}  # deprecated in newer
            bounded = BoundedAttributes(None, attributes, immutable=True, **older)
        bounded.dropped = record.dropped_attributes + left_out
        log = copy.copy(record.log_record)
        log.attributes = bounded
        log.body = body
        clone = copy.copy(record)
        clone.log_record = log
        if (
            dict(clone.log_record.attributes) != dict(attributes)
            or clone.dropped_attributes != bounded.dropped
            or clone.log_record.body is not body
        ):
            return None  # the copy does not read back
        return clone
    except Exception:
        return None


# -- pinned trace ids ---------------------------------------------------------------------
def pin_id_generator(tracer: Any, wrap: Callable[[Any], Any]) -> bool:
    """Replace ``tracer.id_generator`` with ``wrap(generator)``; True when the
    tracer's ids can be pinned that way (the SDK's tracer)."""
    try:
        from opentelemetry.sdk.trace.id_generator import IdGenerator

        generator = getattr(tracer, "id_generator", None)
        if getattr(generator, "opslog_pinnable", False):
            return True
        if not isinstance(generator, IdGenerator):
            return False  # not the SDK's tracer: no generator to pin
        tracer.id_generator = wrap(generator)
        return True
    except Exception as exc:
        _fell_back("Tracer.id_generator", exc)
        return False


# -- trace state -------------------------------------------------------------------------
def trace_state(members: tuple[tuple[str, str], ...]) -> TraceState:
    """A ``TraceState`` holding ``members``, validated already (Level 2 grammar).

    The API's ``TraceState`` re-validates with the Level 1 grammar and would
    drop valid Level 2 keys (``tenant@vendor`` forms); it is filled directly.
    """
    try:
        state = TraceState()
        kept = dict(members)  # a duplicated key keeps its last value
        state._dict = kept
        if list(state.items()) != list(kept.items()):
            raise TypeError("TraceState did not keep its members")
        return state
    except Exception as exc:
        _fell_back("TraceState._dict", exc)
        return TraceState(list(members))


# -- the export thread's own calls ------------------------------------------------------
def suppress_instrumentation() -> Optional[object]:
    """Attach a context that tells OpenTelemetry instrumentation to leave this
    thread's HTTP calls alone; returns the token (``None`` if unavailable)."""
    try:
        key = otel_context._SUPPRESS_INSTRUMENTATION_KEY
        return otel_context.attach(otel_context.set_value(key, True))
    except Exception as exc:
        _fell_back("context._SUPPRESS_INSTRUMENTATION_KEY", exc)
        return None


# -- the API's placeholder logger provider -----------------------------------------------
def is_placeholder_logger_provider(provider: object) -> bool:
    """True for the logs API's placeholder (no provider installed yet)."""
    try:
        from opentelemetry._logs._internal import ProxyLoggerProvider

        return isinstance(provider, ProxyLoggerProvider)
    except Exception as exc:
        _fell_back("_logs._internal.ProxyLoggerProvider", exc)
        return type(provider).__name__ in ("ProxyLoggerProvider", "NoOpLoggerProvider")


# -- the OTLP/HTTP log exporter's encoder -------------------------------------------------
class _Serialized:
    """Bytes already encoded, where the exporter expects a protobuf message."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def SerializeToString(self, **_: Any) -> bytes:  # protobuf's name
        return self.data

    SerializePartialToString = SerializeToString


def use_log_encoder(
    exporter: Any, encode: Callable[[Any], Optional[bytes]], sizes: Optional[RequestSizes] = None
) -> bool:
    """:func:`use_encoder` for an OTLP log exporter (``encode_logs``)."""
    return use_encoder(exporter, "encode_logs", encode, sizes)


def use_span_encoder(
    exporter: Any, encode: Callable[[Any], Optional[bytes]], sizes: Optional[RequestSizes] = None
) -> bool:
    """:func:`use_encoder` for an OTLP span exporter (``encode_spans``)."""
    return use_encoder(exporter, "encode_spans", encode, sizes)


class RequestSizes:
    """The size in bytes of the export request a batch makes, as opslog's
    ``encode`` writes it: what :class:`opslog.export.processor.BoundedBatchProcessor`
    splits a batch by before it is sent.

    The bytes of the batch measured last are kept for its export (once
    :func:`use_encoder` has given the exporter ``encode``), so the common
    case, a batch that fits, is encoded once. Where the exporter encodes
    with the SDK's encoder instead (:func:`use_encoder` fell back), measuring
    is one more encoding per batch, with opslog's faster encoder: the price
    of never sending a request the receiver refuses. A batch ``encode`` does
    not handle is measured with the SDK's encoder (once :func:`use_encoder`
    has found it); otherwise its size is unknown (``None``).
    """

    def __init__(self, encode: Callable[[Any], Optional[bytes]]) -> None:
        self._encode = encode
        #: The SDK's encoder, set by :func:`use_encoder`.
        self.sdk_encode: Optional[Callable[[Any], Any]] = None
        #: Set by :func:`use_encoder`: the exporter takes the bytes kept.
        self.keep = False
        self._kept: Optional[tuple[Any, bytes]] = None

    def measure(self, batch: Any) -> Optional[int]:
        """The encoded size of ``batch``'s request in bytes, or None if unknown."""
        self._kept = None
        try:
            data = self._encode(batch)
        except Exception:
            data = None
        if data is not None:
            if self.keep:
                self._kept = (batch, data)
            return len(data)
        if self.sdk_encode is None:
            return None
        try:
            return int(self.sdk_encode(batch).ByteSize())
        except Exception:
            return None

    def take(self, batch: Any) -> Optional[bytes]:
        """The bytes measured for this very ``batch`` object, once; else None."""
        kept = self._kept
        if kept is None or kept[0] is not batch:
            return None
        self._kept = None
        return kept[1]


#: How many items of an exporter's first batch both encoders write for the
#: byte-for-byte check (see :func:`use_encoder`).
VERIFIED_ITEMS = 32


def _verification_sample(batch: Any) -> Any:
    """``batch`` itself when it is small, else :data:`VERIFIED_ITEMS` of its
    items spread evenly over it."""
    items = list(batch)
    if len(items) <= VERIFIED_ITEMS:
        return batch
    return items[:: len(items) // VERIFIED_ITEMS][:VERIFIED_ITEMS]


def _request_parser(name: str) -> Callable[[bytes], Any]:
    if name == "encode_logs":
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceRequest,
        )

        return ExportLogsServiceRequest.FromString  # type: ignore[no-any-return]
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    return ExportTraceServiceRequest.FromString  # type: ignore[no-any-return]


def use_encoder(
    exporter: Any,
    name: str,
    encode: Callable[[Any], Optional[bytes]],
    sizes: Optional[RequestSizes] = None,
) -> bool:
    """Make this one OTLP ``exporter`` (HTTP or gRPC) serialise its batches
    with ``encode`` instead of the SDK's encoder function ``name``
    (``encode_logs`` or ``encode_spans``); True if done.

    The HTTP exporters' ``export`` calls that module-level name and then
    ``SerializeToString()`` (or ``SerializePartialToString()``); the gRPC
    exporters' ``_translate_data`` returns its result, a message they send.
    This instance gets a copy of that function whose globals map the name to
    ``encode`` (any other exporter, the application's included, is
    untouched): retries, headers, compression and timeouts stay the SDK's.
    Only the SDK's own function is copied: one wrapped on the exporter's
    class (an agent timing exports, with ``wrapt`` or ``functools.wraps``)
    is left alone, and when such a wrapper arrives later, each call goes to
    it (and the SDK's encoder) instead of the copy.
    For gRPC the bytes are parsed back into the request message (in C, a
    fraction of the SDK's encoding cost). ``encode`` may return ``None`` for
    a batch it does not handle: the SDK's encoder does that batch. Of the
    first batch ``encode`` handles, up to :data:`VERIFIED_ITEMS` items spread
    over it are encoded by both and the two compared byte for byte: if they
    differ, the SDK's encoder is used from then on (reported as
    ``sdk_fallback``). A sample, not the whole batch: the SDK's encoder is
    three to four times slower, and a first batch of 2048 spans took ~0.3 s of
    the interpreter, which a short job's caller felt. With ``sizes``, a batch
    whose bytes it kept when it measured them is not encoded again.
    """
    try:
        method = "export"
        function = type(exporter).export
        if name not in function.__code__.co_names:
            method = "_translate_data"
            function = type(exporter)._translate_data
        if name not in function.__code__.co_names:
            raise LookupError(f"neither export nor _translate_data calls {name}")
        if type(function) is not FunctionType:
            raise LookupError(f"{method} is wrapped")  # a wrapt wrapper proxies __code__
        sdk_encode = function.__globals__[name]
        if sizes is not None:
            sizes.sdk_encode = sdk_encode
        ready: Callable[[bytes], Any] = _Serialized if method == "export" else _request_parser(name)
    except Exception as exc:
        _fell_back(name, exc)
        return False
    verified: list[bool] = []  # [] until the first comparison, then [result]

    def checked_encode(batch: Any) -> Any:
        if verified == [False]:
            return sdk_encode(batch)
        try:
            data = sizes.take(batch) if sizes is not None else None
            if data is None:
                data = encode(batch)
            if not verified:
                sample = _verification_sample(batch)
                mine = data if sample is batch or data is None else encode(sample)
        except Exception:
            data = None
        if data is None or (not verified and mine is None):
            return sdk_encode(batch)
        if not verified:
            verified.append(sdk_encode(sample).SerializeToString() == mine)
            if not verified[0]:
                _fell_back(name, ValueError("opslog's encoding differs from the SDK's"))
                if sizes is not None:
                    sizes.keep = False  # nothing will take them
                return sdk_encode(batch)
        return ready(data)

    try:
        scope = dict(function.__globals__)
        scope[name] = checked_encode
        patched = FunctionType(
            function.__code__, scope, function.__name__, function.__defaults__, function.__closure__
        )
        patched.__kwdefaults__ = function.__kwdefaults__
        exporter_type = type(exporter)

        def call(*args: Any, **kwargs: Any) -> Any:
            current = getattr(exporter_type, method)
            if current is not function:  # wrapped on the class since: the wrapper runs
                return current(exporter, *args, **kwargs)
            return patched(exporter, *args, **kwargs)

        setattr(exporter, method, call)
    except Exception as exc:
        _fell_back(name, exc)
        return False
    if sizes is not None:
        sizes.keep = True
    return True
