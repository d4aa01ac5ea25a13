"""Propagation across services: ``traceparent``/``tracestate`` and ``baggage``.

:func:`inject` writes the current operation/step's trace context into
outgoing headers: ``traceparent`` and ``tracestate`` (W3C Trace Context
Level 2, :mod:`opslog.otel.tracecontext`) and ``baggage`` with ``job_id`` and
``correlation_id`` (W3C Baggage; OpenTelemetry caps it at 8192 bytes and
180 entries). :func:`extract` reads them back into an OpenTelemetry
:class:`~opentelemetry.context.Context`; start the receiving side from it::

    ctx = opslog.extract(request_headers)
    logger = opslog.new_operation_logger(context=ctx)   # the caller's job id
    with logger.start_operation("volume-attach") as op: ...

The operation is then a child of the caller's span in the caller's trace.
A malformed header never raises and is never half-accepted: the context
gets no remote span (a fresh trace starts) and a ``rejected_traceparent``
self-diagnostic quotes it, truncated.

Headers may come in the forms frameworks hand over: a ``dict`` (any header
case), a case-insensitive mapping, an ``http.client``/``email`` message,
a WSGI ``environ`` (``HTTP_TRACEPARENT``), or a list of ``(name, value)``
pairs with repeated names (ASGI's ``scope["headers"]``, bytes or str).

:class:`W3CTraceContextPropagator` is an OpenTelemetry ``TextMapPropagator``;
applications can select it with ``OTEL_PROPAGATORS=opslog_tracecontext,baggage``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Optional

from opentelemetry import context, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from .. import _diagnostics
from .._config import get_settings
from .correlation import active_context
from .internals import trace_state
from .tracecontext import format_traceparent, parse_traceparent, parse_tracestate

__all__ = ["HeaderGetter", "W3CTraceContextPropagator", "extract", "inject"]

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_SHOWN_CHARS = 120


class HeaderGetter(Getter[Any]):
    """Reads a header, all its occurrences, from any common carrier shape."""

    def get(self, carrier: Any, key: str) -> Optional[list[str]]:
        values = _header_values(carrier, key.lower())
        return values or None

    def keys(self, carrier: Any) -> list[str]:
        try:
            if isinstance(carrier, Mapping):
                return [_text(k) for k in carrier]
            return [_text(pair[0]) for pair in carrier]
        except Exception:
            return []


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)


def _header_values(carrier: Any, name: str) -> list[str]:
    found: list[str] = []
    try:
        get_all = getattr(carrier, "get_all", None)  # http.client / email messages
        if callable(get_all) and not isinstance(carrier, dict):
            return [_text(v) for v in (get_all(name) or [])]
        pairs: Iterable[Any] = carrier.items() if isinstance(carrier, Mapping) else carrier
        environ_key = "HTTP_" + name.upper().replace("-", "_")
        for pair in pairs:
            key, value = pair[0], pair[1]
            key_text = _text(key)
            if key_text.lower() == name or key_text == environ_key:
                if isinstance(value, (list, tuple)):
                    found.extend(_text(v) for v in value)
                else:
                    found.append(_text(value))
    except Exception:
        return []
    return found


def _shown(value: object) -> str:
    """A rejected header value as a diagnostic may quote it: redacted first,
    then cut, one line."""
    text = get_settings().coercer.text(value if isinstance(value, str) else repr(value))
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "…"
    return repr(text)


class _QuoteSafely(logging.Filter):
    """Redacts and cuts the arguments of OpenTelemetry's propagator warnings.

    OpenTelemetry's baggage and trace-context propagators quote rejected
    header values raw (``Invalid baggage entry: `...```, a whole over-long
    header): a hostile or careless caller's secret would reach the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if isinstance(record.args, tuple):
                record.args = tuple(_keys_only(a) if isinstance(a, str) else a for a in record.args)
        except Exception:
            record.args = ()
            record.msg = "a propagation header was rejected (its text is withheld)"
        return True


def _keys_only(text: str) -> str:
    """A rejected header as a warning may show it: the names of its first
    members (redacted, cut), never a value; a member with no name is withheld."""
    shown = []
    for member in text.split(",")[:3]:
        name, equals, _ = member.partition("=")
        shown.append(f"{_shown(name.strip())[1:-1][:64]}=…" if equals else f"<{len(member)} chars>")
    more = ", …" if text.count(",") >= 3 else ""
    return ", ".join(shown) + more


for _name in ("opentelemetry.baggage.propagation", "opentelemetry.trace.propagation.tracecontext"):
    logging.getLogger(_name).addFilter(_QuoteSafely())


class W3CTraceContextPropagator(TextMapPropagator):
    """``traceparent``/``tracestate`` exactly as W3C Trace Context Level 2 says."""

    def extract(
        self,
        carrier: CarrierT,
        context: Optional[Context] = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        if context is None:
            context = Context()
        try:
            values = getter.get(carrier, TRACEPARENT) or []
            parent, problem = parse_traceparent(values)
            if parent is None:
                if problem is not None:
                    shown = ", ".join(_shown(v) for v in values[:3])
                    _diagnostics.report(
                        _diagnostics.REJECTED_TRACEPARENT,
                        f"traceparent rejected ({problem}): {shown}; a new trace starts",
                    )
                return context
            state = parse_tracestate(getter.get(carrier, TRACESTATE) or [])
            span_context = SpanContext(
                trace_id=parent.trace_id,
                span_id=parent.parent_id,
                is_remote=True,
                trace_flags=TraceFlags(parent.flags),
                trace_state=trace_state(state.members),
            )
            return trace.set_span_in_context(NonRecordingSpan(span_context), context)
        except Exception as exc:  # pragma: no cover - defensive
            _diagnostics.report(_diagnostics.INTERNAL_ERROR, f"extract: {type(exc).__name__}")
            return context

    def inject(
        self,
        carrier: CarrierT,
        context: Optional[Context] = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        span_context = trace.get_current_span(context).get_span_context()
        if not span_context.is_valid:
            return
        setter.set(
            carrier,
            TRACEPARENT,
            format_traceparent(
                span_context.trace_id, span_context.span_id, span_context.trace_flags
            ),
        )
        if span_context.trace_state:
            setter.set(carrier, TRACESTATE, span_context.trace_state.to_header())

    @property
    def fields(self) -> set[str]:
        return {TRACEPARENT, TRACESTATE}


_propagator = CompositePropagator([W3CTraceContextPropagator(), W3CBaggagePropagator()])
_getter = HeaderGetter()


def inject(carrier: MutableMapping[str, str], context_: Optional[Context] = None) -> None:
    """Write ``traceparent``, ``tracestate`` and ``baggage`` for the current step/operation.

    ``context_`` defaults to the current context. Never raises.
    """
    try:
        _propagator.inject(carrier, context=active_context(context_))
    except Exception as exc:
        _diagnostics.report(_diagnostics.INTERNAL_ERROR, f"inject: {type(exc).__name__}")


def extract(carrier: Any, context_: Optional[Context] = None) -> Context:
    """The context the incoming headers ``carrier`` carry, on top of ``context_``.

    ``context_`` defaults to an empty context (a request starts clean).
    Never raises.
    """
    try:
        return _propagator.extract(carrier, context=context_ or Context(), getter=_getter)
    except Exception as exc:
        _diagnostics.report(_diagnostics.INTERNAL_ERROR, f"extract: {type(exc).__name__}")
        return context_ if context_ is not None else context.get_current()
