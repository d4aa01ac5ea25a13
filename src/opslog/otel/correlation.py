"""Correlation: the correlation id *is* the OpenTelemetry trace id.

**String form.** A correlation id is written as the trace id in the W3C
form: 32 lowercase hexadecimal digits (``4bf92f3577b34da6a3ce929d0e0e4736``),
exactly what Jaeger shows and what ``traceparent`` carries. On input opslog
also accepts uppercase digits, the UUID form with dashes
(``4bf92f35-77b3-4da6-a3ce-929d0e0e4736``, optionally in braces or with a
``urn:uuid:`` prefix), a :class:`uuid.UUID` and a positive ``int`` below
2**128. All-zero is not a valid id. Conversion is lossless both ways;
:func:`correlation_id_as_uuid` gives the UUID spelling of an id.

**Where an operation's correlation id comes from**, first match wins:

1. the span of the active opslog operation/step, or any other active valid
   span (for example a server span of auto-instrumentation, or a context
   returned by :func:`opslog.extract`): the operation joins that trace;
2. an id bound with :func:`correlation_scope`: the operation starts a new
   root span in that trace;
3. otherwise a fresh random trace id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

from opentelemetry import baggage, context, trace
from opentelemetry.context import Context

from .. import _diagnostics
from .._config import get_settings
from .providers import random_trace_id

__all__ = [
    "correlation_id_as_uuid",
    "correlation_scope",
    "current_correlation_id",
    "format_correlation_id",
    "parse_correlation_id",
]

#: Context key of the active opslog scope (operation or step).
SCOPE_KEY = context.create_key("opslog-scope")
#: Context key of a correlation id bound without a span.
CORRELATION_KEY = context.create_key("opslog-correlation-id")
#: Baggage key carrying the job id across services.
JOB_ID_BAGGAGE_KEY = "job_id"

_MAX_TRACE_ID = (1 << 128) - 1
_HEX = frozenset("0123456789abcdef")


def parse_correlation_id(value: object) -> Optional[int]:
    """The trace id for a correlation id in any accepted form, or ``None``.

    Only a non-zero 128-bit id is accepted, whatever form it comes in (an
    ``int``, a ``UUID``, or anything shaped like one: its ``.int`` is read
    once and checked like any other). Never raises.
    """
    try:
        return _parse(value)
    except Exception:  # a hostile object (a str subclass, a UUID look-alike)
        return None


def _parse(value: object) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = int.__index__(value)
    elif isinstance(value, str):
        return _parse_text(str.__str__(value))
    elif type(value).__name__ == "UUID":
        raw = getattr(value, "int", None)
        if not isinstance(raw, int) or isinstance(raw, bool):
            return None
        number = int.__index__(raw)
    else:
        return None
    return number if 0 < number <= _MAX_TRACE_ID else None


def _parse_text(value: str) -> Optional[int]:
    if len(value) > 64:
        return None
    text = value.strip().lower()
    if text.startswith("urn:uuid:"):
        text = text[9:]
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if len(text) == 36 and [len(p) for p in text.split("-")] == [8, 4, 4, 4, 12]:
        text = text.replace("-", "")
    if len(text) != 32 or not _HEX.issuperset(text):
        return None
    return int(text, 16) or None


def format_correlation_id(trace_id: int) -> str:
    """The canonical string form: 32 lowercase hex digits."""
    return format(trace_id, "032x")


def correlation_id_as_uuid(correlation_id: str) -> Optional[str]:
    """The UUID spelling (8-4-4-4-12) of a correlation id, or ``None`` if invalid."""
    if not (trace_id := parse_correlation_id(correlation_id)):
        return None
    text = format(trace_id, "032x")
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def active_context(ctx: Optional[Context] = None) -> Context:
    """``ctx`` (default: the current context) with ended opslog scopes skipped.

    A scope ended from another thread or task cannot deactivate itself
    there; its stale context must not make new work join its trace.
    """
    current: Context = context.get_current() if ctx is None else ctx
    stale = context.get_value(SCOPE_KEY, current)
    if stale is None or not getattr(stale, "ended", False):
        return current
    # Find the nearest live scope below the stale one...
    outer: Context = current
    scope: object = stale
    while scope is not None and getattr(scope, "ended", False):
        found = getattr(scope, "_outer_context", None)
        outer = found if isinstance(found, Context) else Context()
        scope = context.get_value(SCOPE_KEY, outer)
    # ...and keep everything else bound since (a correlation scope, baggage,
    # a span someone started on top), replacing only the stale scope/span.
    fixed = context.set_value(SCOPE_KEY, scope, current)
    if getattr(trace.get_current_span(current), "_scope", None) is stale:
        fixed = trace.set_span_in_context(trace.get_current_span(outer), fixed)
    return fixed


def trace_id_in(ctx: Context) -> int:
    """The trace id of the valid span in ``ctx``, else 0."""
    span_context = trace.get_current_span(ctx).get_span_context()
    return span_context.trace_id if span_context.is_valid else 0


def bound_trace_id(ctx: Context) -> int:
    value = context.get_value(CORRELATION_KEY, ctx)
    return value if isinstance(value, int) else 0


def job_id_in(ctx: Context) -> Optional[str]:
    """The job id of the active scope, else the ``job_id`` baggage entry."""
    scope = context.get_value(SCOPE_KEY, ctx)
    job_id = getattr(scope, "job_id", None)
    if isinstance(job_id, str):
        return job_id
    value = baggage.get_baggage(JOB_ID_BAGGAGE_KEY, ctx)
    return value if isinstance(value, str) else None


def with_job_baggage(ctx: Context, job_id: str, correlation_id: str) -> Context:
    """``ctx`` with the ``job_id`` and ``correlation_id`` W3C baggage entries set.

    Operations put them there so that any propagator (opslog's, or
    auto-instrumentation's) carries the job across services.
    """
    if job_id:
        ctx = baggage.set_baggage(JOB_ID_BAGGAGE_KEY, job_id, ctx)
    return baggage.set_baggage("correlation_id", correlation_id, ctx)


def current_correlation_id() -> Optional[str]:
    """The correlation id of the active operation, span or correlation scope, or ``None``.

    The Python form of Go's ``GetCorrelationFromContext``.
    """
    ctx = active_context()
    trace_id = trace_id_in(ctx) or bound_trace_id(ctx)
    return format_correlation_id(trace_id) if trace_id else None


def resolve_correlation_id(value: object) -> tuple[int, Optional[str]]:
    """``(trace_id, rejected)``: the trace id for ``value``, or a fresh one.

    ``rejected`` is the safe (redacted, truncated) text of a value that was
    not a valid correlation id, else ``None``. Never raises.
    """
    trace_id = parse_correlation_id(value)
    if trace_id:
        return trace_id, None
    coercer = get_settings().coercer
    shown = coercer.any_text(value)
    if len(shown) > 80:
        shown = shown[:80] + "…"
    _diagnostics.report(
        _diagnostics.REJECTED_CORRELATION_ID,
        f"invalid correlation id {shown!r} (want 32 hex digits or a UUID); a new trace was started",
    )
    return random_trace_id(), shown


@contextmanager
def correlation_scope(correlation_id: object) -> Iterator[str]:
    """Bind a correlation id for code that has no span.

    Operations started inside the block (``new_operation_logger``) join this
    correlation id, and :func:`current_correlation_id` returns it. An invalid
    id never raises: a fresh id is bound instead and a self-diagnostic is
    reported. Yields the id in force, in canonical form.
    """
    trace_id, _ = resolve_correlation_id(correlation_id)
    token = context.attach(context.set_value(CORRELATION_KEY, trace_id))
    try:
        yield format_correlation_id(trace_id)
    finally:
        context.detach(token)
