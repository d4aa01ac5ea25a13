"""A span too large for one export request: sent without its largest events."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Optional

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode

from opslog._diagnostics import diagnostics
from opslog.export import fitting
from opslog.export.fitting import TRIMMED_ATTRIBUTE, span_within
from opslog.otel import internals

from ..conftest import CANARY
from ..helpers import diagnostic_messages

BIG = 20_000  # characters of one bulky field value


def request_bytes(part: Sequence[Any]) -> Optional[int]:
    """The SDK's own encoding of the request (it writes links too)."""
    return len(sdk_encode(part).SerializeToString())


def _size(span: ReadableSpan) -> int:
    size = request_bytes([span])
    assert size is not None
    return size


@pytest.fixture
def finished() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


Finished = tuple[TracerProvider, InMemorySpanExporter]


def _bulky_span(finished: Finished) -> ReadableSpan:
    """A step whose 10 bulky events (BIG characters each) sit among 30 small ones."""
    provider, exporter = finished
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("linked") as other:
        pass
    span = tracer.start_span(
        "copy-disk",
        attributes={"step": "copy-disk", "job_id": "job-7"},
        links=[Link(other.get_span_context(), {"why": "retry of"})],
    )
    for n in range(40):
        if n % 4 == 1:
            span.add_event("step_info", {"dump": chr(ord("a") + n % 26) * BIG, "n": n})
        else:
            span.add_event("step_info", {"offset": n * 4096, "n": n})
    span.add_event("step_end", {"status": "failed"})
    span.set_status(Status(StatusCode.ERROR, "disk full"))
    span.end()
    return exporter.get_finished_spans()[-1]


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_a_span_over_the_limit_goes_without_the_fewest_largest_events(
    finished: Finished,
) -> None:
    span = _bulky_span(finished)
    limit = 100_000  # room for four of the ten bulky events, not five
    fitted = span_within(span, _size(span), limit, request_bytes)

    size = request_bytes([fitted])
    assert size is not None and size <= limit
    kept = [event.attributes["n"] for event in fitted.events if event.name == "step_info"]
    bulky = [n for n in range(40) if n % 4 == 1]
    assert [n for n in kept if n not in bulky] == [n for n in range(40) if n not in bulky]
    assert len(bulky) - len([n for n in kept if n in bulky]) == 6  # the fewest that fit
    assert kept == sorted(kept)  # the order is kept
    assert fitted.events[-1].name == "step_end"
    assert _attributes(fitted) == {**_attributes(span), TRIMMED_ATTRIBUTE: 6}
    assert fitted.dropped_events == span.dropped_events + 6
    # everything else is the span's own
    for name in ("name", "context", "parent", "kind", "start_time", "end_time", "resource"):
        assert getattr(fitted, name) == getattr(span, name)
    assert fitted.status.status_code is StatusCode.ERROR
    assert fitted.status.description == "disk full"
    assert [link.context for link in fitted.links] == [link.context for link in span.links]
    assert len(span.events) == 41  # the span itself is untouched
    assert diagnostics().get("span_events_dropped") == 6


def test_the_request_the_fitted_span_makes_decodes_with_the_trim_on_it(
    finished: Finished,
) -> None:
    span = _bulky_span(finished)
    fitted = span_within(span, _size(span), 100_000, request_bytes)
    request = ExportTraceServiceRequest.FromString(sdk_encode([fitted]).SerializeToString())
    (sent,) = request.resource_spans[0].scope_spans[0].spans
    attributes = {a.key: a.value for a in sent.attributes}
    assert attributes[TRIMMED_ATTRIBUTE].int_value == 6
    assert sent.dropped_events_count == 6
    assert len(sent.events) == 35


def test_a_span_within_the_limit_is_the_span_itself(finished: Finished) -> None:
    span = _bulky_span(finished)
    assert span_within(span, _size(span), 10_000_000, request_bytes) is span
    assert "span_events_dropped" not in diagnostics()


def test_without_its_private_names_the_copy_is_made_through_the_public_constructor(
    finished: Finished, monkeypatch: pytest.MonkeyPatch
) -> None:
    span = _bulky_span(finished)

    def broken(cls: object, maxlen: object, seq: object) -> None:
        raise AttributeError("from_seq")

    monkeypatch.setattr("opentelemetry.sdk.util.BoundedList.from_seq", classmethod(broken))
    monkeypatch.setattr(internals, "_reported", set())
    fitted = span_within(span, _size(span), 100_000, request_bytes)
    size = request_bytes([fitted])
    assert size is not None and size <= 100_000
    assert _attributes(fitted)[TRIMMED_ATTRIBUTE] == 6
    assert fitted.context == span.context and fitted.status.status_code is StatusCode.ERROR
    assert diagnostics().get("sdk_fallback") == 1


def test_when_the_estimates_keep_falling_short_every_event_is_left_out(
    finished: Finished,
) -> None:
    """A measure that never finds the span within the limit (its attributes
    alone are too large, say): a bounded number of encodings, then the span
    goes without any event (the processor decides whether to send it)."""
    span = _bulky_span(finished)
    measured: list[int] = []

    def always_over(part: Sequence[Any]) -> int:
        measured.append(len(part[0].events))
        return 10_000_000

    fitted = span_within(span, 10_000_000, 1_000, always_over)
    assert len(measured) <= fitting._MAX_MEASURES
    assert fitted.events == () and _attributes(fitted)[TRIMMED_ATTRIBUTE] == 41


def test_the_report_names_the_span_by_its_id_never_by_its_name(finished: Finished) -> None:
    """A third-party span's name may hold anything: the report does not print it."""
    provider, exporter = finished
    with provider.get_tracer("test").start_as_current_span(f"GET /?token={CANARY}") as span:
        for n in range(5):
            span.add_event("dump", {"blob": "z" * BIG, "n": n})
    (finished_span,) = exporter.get_finished_spans()
    with diagnostic_messages() as messages:
        fitted = span_within(finished_span, _size(finished_span), 50_000, request_bytes)
    assert len(fitted.events) == 2
    (message,) = messages
    assert format(finished_span.context.span_id, "016x") in message
    assert CANARY not in message and "token" not in message
