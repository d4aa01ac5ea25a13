"""The OpenTelemetry machinery behind operations: tracers, loggers, span ids.

opslog uses the providers named in :func:`opslog.configure` or else the
global ones, looked up on every start so an SDK installed after opslog was
imported is picked up. It never sets a global provider.

Two things need care:

* **Pinned trace ids.** A new operation's trace id is its correlation id,
  and that id exists before the span does (``logger.correlation_id`` is
  readable right after ``new_operation_logger``). With the SDK, opslog's own
  ``Tracer`` object gets an id generator that hands out the pinned id for
  the one ``start_span`` call that asks for it (a context variable, so it is
  thread- and task-safe) and otherwise defers to the provider's generator.
  Other tracers of the application are untouched. A tracer that is not the
  SDK's cannot be pinned: the operation is then started under a remote
  parent span context in that trace, so the trace id still equals the
  correlation id.
* **No SDK at all.** The API's no-op tracer returns spans with invalid (or
  the parent's) ids. opslog then makes a non-recording span with a random
  span id in the right trace, so correlation ids, parent/child links and the
  log channels still work without any SDK.
"""

from __future__ import annotations

import contextvars
import random
import threading
from typing import TYPE_CHECKING, Any, Callable, Optional

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span as _SdkSpan
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags
from opentelemetry.util.types import Attributes

from .. import _config
from .._config import get_settings
from .._version import __version__
from .internals import pin_id_generator

if TYPE_CHECKING:
    from opentelemetry import _logs

__all__ = [
    "bounded_call",
    "force_flush",
    "get_otel_logger",
    "start_span",
    "unrecorded_span",
]

_INSTRUMENTATION_NAME = "opslog"
_INSTRUMENTATION_VERSION = __version__

_pinned_trace_id: contextvars.ContextVar[int] = contextvars.ContextVar(
    "opslog_pinned_trace_id", default=0
)


class _PinnableIdGenerator:
    """Hands out a pinned trace id when one is set, else defers.

    Duck-typed rather than an ``IdGenerator`` subclass: span ids are the
    inner generator's bound method itself (no extra call per span), which an
    abstract base class would not accept as its implementation.
    """

    #: Marks a generator that is already opslog's (see :mod:`.internals`).
    opslog_pinnable = True

    def __init__(self, inner: IdGenerator) -> None:
        self._inner = inner
        # Span ids go straight to the inner generator: no extra call per span.
        self.generate_span_id = inner.generate_span_id

    def generate_trace_id(self) -> int:
        return _pinned_trace_id.get() or self._inner.generate_trace_id()

    def is_trace_id_random(self) -> bool:
        return bool(self._inner.is_trace_id_random())


_tracer_cache: tuple[object, trace.Tracer, bool] | None = None
_logger_cache: tuple[object, Any] | None = None


def _tracer() -> tuple[trace.Tracer, bool]:
    """opslog's tracer from the provider in force, and whether it can pin ids."""
    global _tracer_cache
    provider = _config._settings.tracer_provider or trace.get_tracer_provider()
    cached = _tracer_cache
    if cached is not None and cached[0] is provider:
        return cached[1], cached[2]
    tracer = provider.get_tracer(_INSTRUMENTATION_NAME, _INSTRUMENTATION_VERSION)
    pinnable = pin_id_generator(tracer, _PinnableIdGenerator)
    _tracer_cache = (provider, tracer, pinnable)
    return tracer, pinnable


def get_otel_logger() -> _logs.Logger:
    """opslog's OpenTelemetry logger from the provider in force."""
    global _logger_cache
    provider = get_settings().logger_provider or _global_logger_provider()
    cached = _logger_cache
    if cached is not None and cached[0] is provider:
        return cached[1]  # type: ignore[no-any-return]
    logger = provider.get_logger(_INSTRUMENTATION_NAME, _INSTRUMENTATION_VERSION)
    _logger_cache = (provider, logger)
    return logger


def _global_logger_provider() -> Any:
    # The logs API is imported on first use: programs that never emit a log
    # record (or never import opslog's log channel) do not pay for it.
    from opentelemetry import _logs

    return _logs.get_logger_provider()


def random_trace_id() -> int:
    return random.getrandbits(128) or 1


def random_span_id() -> int:
    return random.getrandbits(64) or 1


def phantom_parent_span_id(trace_id: int) -> int:
    """A stable stand-in parent span id for a trace known only by its id."""
    return (trace_id & 0xFFFFFFFFFFFFFFFF) or 1


#: Span types known to be the SDK's (an ABC's ``isinstance`` costs per step).
_sdk_span_types: set[type] = set()


def start_span(
    name: str,
    parent: Optional[Context],
    *,
    pinned_trace_id: int = 0,
    attributes: Attributes = None,
    kind: SpanKind = SpanKind.INTERNAL,
    parent_span_context: Optional[SpanContext] = None,
) -> Span:
    """Start a span under ``parent`` (``None``: a new root).

    ``pinned_trace_id`` is the trace id a root span must get.
    ``parent_span_context`` is the span context of the span in ``parent``
    when the caller knows it already (it saves looking it up).
    """
    tracer, pinnable = _tracer()
    if parent is None:
        parent_context = None
    elif parent_span_context is not None:
        parent_context = parent_span_context
    else:
        parent_context = trace.get_current_span(parent).get_span_context()
    if parent_context is not None and not parent_context.is_valid:
        parent = None
        parent_context = None
    if parent is None:
        # An empty context: never inherit whatever happens to be current.
        parent = Context()
        if pinned_trace_id and not pinnable:
            remote = SpanContext(
                pinned_trace_id,
                phantom_parent_span_id(pinned_trace_id),
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
            parent = trace.set_span_in_context(NonRecordingSpan(remote), parent)
            parent_context = remote
    token = _pinned_trace_id.set(pinned_trace_id) if pinned_trace_id and pinnable else None
    try:
        span = tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
    finally:
        if token is not None:
            _pinned_trace_id.reset(token)
    span_type = type(span)
    if span_type not in _sdk_span_types and issubclass(span_type, _SdkSpan):
        _sdk_span_types.add(span_type)
    if span_type in _sdk_span_types:
        # The SDK's own (its tracer returns the subclass ``_Span``): always
        # new, valid ids; the check below costs per step.
        return span
    context = span.get_span_context()
    if not context.is_valid or (
        parent_context is not None and context.span_id == parent_context.span_id
    ):
        # No SDK: make real ids so correlation and parentage still hold.
        trace_id = (
            parent_context.trace_id
            if parent_context is not None
            else (pinned_trace_id or random_trace_id())
        )
        flags = parent_context.trace_flags if parent_context is not None else TraceFlags.DEFAULT
        span = NonRecordingSpan(
            SpanContext(trace_id, random_span_id(), is_remote=False, trace_flags=TraceFlags(flags))
        )
    return span


def unrecorded_span(parent: SpanContext) -> Span:
    """A span that records nothing, with a new span id in ``parent``'s trace."""
    return NonRecordingSpan(
        SpanContext(
            parent.trace_id, random_span_id(), is_remote=False, trace_flags=parent.trace_flags
        )
    )


def force_flush(timeout_seconds: float) -> None:
    """Flush the providers in force, if they can be flushed, within the timeout."""
    settings = get_settings()
    millis = max(1, int(timeout_seconds * 1000))
    flushes = [
        flush
        for provider in (
            settings.tracer_provider or trace.get_tracer_provider(),
            settings.logger_provider or _global_logger_provider(),
        )
        if callable(flush := getattr(provider, "force_flush", None))
    ]
    # The SDK's batch processors ignore the flush timeout: bound it ourselves.
    bounded_call(lambda: [flush(millis) for flush in flushes], timeout_seconds, "opslog-flush")


def bounded_call(fn: Callable[[], Any], timeout: float, name: str) -> bool:
    """Run ``fn`` in a daemon thread and wait at most ``timeout``; True if it finished."""
    thread = threading.Thread(target=_quietly, args=(fn,), name=name, daemon=True)
    thread.start()
    thread.join(max(0.0, timeout))
    return not thread.is_alive()


def _quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:
        pass
