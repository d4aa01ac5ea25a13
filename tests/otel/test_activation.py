"""The scope's context: the span current and the scope's value, in one copy."""

from __future__ import annotations

import pytest
from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext

from opslog.otel import activation

KEY = context.create_key("test-scope")


def _span(span_id: int) -> NonRecordingSpan:
    return NonRecordingSpan(SpanContext(trace_id=1, span_id=span_id, is_remote=False))


def _base() -> Context:
    """A context holding a span and a baggage-like value already."""
    return context.set_value("other", "kept", trace.set_span_in_context(_span(1)))


def test_the_span_key_is_learnt_from_the_public_api() -> None:
    assert activation._SPAN_KEY is not None  # this SDK: the one-copy path is used


@pytest.mark.parametrize("learnt", [True, False])
def test_context_with_span_is_what_the_two_api_calls_give(
    learnt: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One copy or the API's two, the context is the same: the new span
    current (replacing the base's), the value under its key, the rest kept,
    the base unchanged."""
    if not learnt:
        monkeypatch.setattr(activation, "_SPAN_KEY", None)
    base, span = _base(), _span(2)
    made = activation.context_with_span(base, span, KEY, "scope")
    assert isinstance(made, Context)
    assert made == context.set_value(KEY, "scope", trace.set_span_in_context(span, base))
    assert trace.get_current_span(made) is span
    assert context.get_value(KEY, made) == "scope"
    assert context.get_value("other", made) == "kept"
    assert trace.get_current_span(base).get_span_context().span_id == 1
    assert KEY not in base


def test_a_context_made_so_can_be_attached_and_restored() -> None:
    made = activation.context_with_span(_base(), _span(3), KEY, "scope")
    token = context.attach(made)
    try:
        assert trace.get_current_span().get_span_context().span_id == 3
        assert context.get_value(KEY) == "scope"
    finally:
        context.detach(token)
    assert context.get_value(KEY) is None
