"""Propagation across services: W3C ``traceparent``/``tracestate`` and ``baggage``.

:func:`inject` writes the current operation/step's trace context into a
carrier (a dict of outgoing HTTP headers) plus baggage entries ``job_id``
and ``correlation_id``; :func:`extract` reads them back into an
OpenTelemetry :class:`~opentelemetry.context.Context`. Start the receiving
side's operation from it::

    ctx = opslog.extract(request.headers)
    logger = opslog.new_operation_logger(context=ctx)   # caller's job id
    with logger.start_operation("volume-attach") as op: ...

The parsing here is OpenTelemetry's W3C propagators; neither function
raises on any input (a malformed header yields a context without a remote
span, so the receiver starts a new trace).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Optional

from opentelemetry import baggage, context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from . import _diagnostics
from ._correlation import JOB_ID_BAGGAGE_KEY, active_context, job_id_in, trace_id_in

__all__ = ["extract", "inject"]

CORRELATION_BAGGAGE_KEY = "correlation_id"

_propagator = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])


def inject(carrier: MutableMapping[str, str], context_: Optional[Context] = None) -> None:
    """Write ``traceparent``, ``tracestate`` and ``baggage`` into ``carrier``."""
    try:
        ctx = active_context(context_)
        job_id = job_id_in(ctx)
        if job_id:
            ctx = baggage.set_baggage(JOB_ID_BAGGAGE_KEY, job_id, ctx)
        trace_id = trace_id_in(ctx)
        if trace_id:
            ctx = baggage.set_baggage(CORRELATION_BAGGAGE_KEY, format(trace_id, "032x"), ctx)
        _propagator.inject(carrier, context=ctx)
    except Exception as exc:
        _diagnostics.report(_diagnostics.INTERNAL_ERROR, f"inject: {type(exc).__name__}")


def extract(carrier: Mapping[str, str], context_: Optional[Context] = None) -> Context:
    """The context carried by ``carrier`` (incoming headers), on top of ``context_``."""
    try:
        return _propagator.extract(carrier, context=context_)
    except Exception as exc:
        _diagnostics.report(_diagnostics.INTERNAL_ERROR, f"extract: {type(exc).__name__}")
        return context_ if context_ is not None else context.get_current()
