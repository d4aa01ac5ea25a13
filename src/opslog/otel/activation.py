"""The span opslog makes current: it never outlives its scope.

Starting an operation or step makes it current (``trace.get_current_span()``
returns it), so instrumented HTTP clients nest under the current step. A
scope may be ended from another thread or task, which cannot change the
current context of the thread that started it. So the span put into the
context is a :class:`LiveSpan`: it stands for the scope's span while the
scope runs and, once the scope has ended, for whatever was current when the
scope started. No span started afterwards, by any code, is ever parented to
an ended opslog span.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional, Protocol, Union

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanContext, Status, StatusCode
from opentelemetry.util.types import Attributes, AttributeValue

__all__ = ["LiveSpan", "Activatable", "context_with_span"]

#: How far a chain of ended scopes is followed (a safety bound, never reached
#: by real nesting).
_MAX_HOPS = 10_000


def _span_key() -> Optional[str]:
    """The key under which ``trace.set_span_in_context`` keeps the span,
    learnt through the public API (a ``Context`` is a dict): ``None`` if it
    cannot be learnt, or a context holding only that key does not give the
    span back."""
    try:
        probe = trace.NonRecordingSpan(trace.INVALID_SPAN_CONTEXT)
        made = trace.set_span_in_context(probe, Context())
        if len(made) != 1:
            return None
        key = next(iter(made))
        if not isinstance(key, str) or trace.get_current_span(Context({key: probe})) is not probe:
            return None
        return key
    except Exception:
        return None


_SPAN_KEY = _span_key()


def context_with_span(base: Context, span: Span, key: str, value: object) -> Context:
    """``base`` with ``span`` current and ``value`` under ``key``: what
    ``context.set_value(key, value, trace.set_span_in_context(span, base))``
    gives, built with one copy of ``base`` instead of two (steps start by the
    thousand)."""
    if _SPAN_KEY is None:
        return otel_context.set_value(key, value, trace.set_span_in_context(span, base))
    values = dict(base)
    values[_SPAN_KEY] = span
    values[key] = value
    return Context(values)


class Activatable(Protocol):
    """What a :class:`LiveSpan` reads of its scope."""

    ended: bool
    span: Span
    _outer_context: Context


class LiveSpan(Span):
    """The scope's span while it runs; what was current before it, once it ended."""

    __slots__ = ("_scope",)

    def __init__(self, scope: Activatable) -> None:
        self._scope = scope

    def target(self) -> Span:
        """The span this stands for now."""
        scope = self._scope
        for _ in range(_MAX_HOPS):
            if not scope.ended:
                return scope.span
            outer = trace.get_current_span(scope._outer_context)
            if not isinstance(outer, LiveSpan):
                return outer
            scope = outer._scope
        return trace.INVALID_SPAN

    # -- the Span API, delegated ------------------------------------------------
    def get_span_context(self) -> SpanContext:
        return self.target().get_span_context()

    def is_recording(self) -> bool:
        return self.target().is_recording()

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self.target().set_attributes(attributes)

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self.target().set_attribute(key, value)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: Optional[int] = None
    ) -> None:
        self.target().add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        self.target().add_link(context, attributes)

    def update_name(self, name: str) -> None:
        self.target().update_name(name)

    def set_status(
        self, status: Union[Status, StatusCode], description: Optional[str] = None
    ) -> None:
        self.target().set_status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: Optional[int] = None,
        escaped: bool = False,
    ) -> None:
        self.target().record_exception(exception, attributes, timestamp, escaped)

    def end(self, end_time: Optional[int] = None) -> None:
        # Only opslog ends its spans: ``with trace.use_span(current, end_on_exit=True)``
        # in third-party code must not end an operation behind opslog's back.
        pass

    def __repr__(self) -> str:
        return f"LiveSpan({self.target()!r})"
