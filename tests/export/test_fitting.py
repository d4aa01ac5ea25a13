"""An item too large for one export request, made to fit: a span without
its largest events, a log record with its longest values cut."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Optional

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode

from opslog._diagnostics import diagnostics
from opslog.export import fitting
from opslog.export.fitting import (
    TRIMMED_ATTRIBUTE,
    VALUES_TRIMMED_ATTRIBUTE,
    record_within,
    span_within,
)
from opslog.otel import internals

from ..conftest import CANARY
from ..helpers import diagnostic_messages, in_memory_tracing

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
    with in_memory_tracing() as tracing:
        yield tracing


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


def _statement_span(finished: Finished, statement: Any, bulky_events: int = 0) -> ReadableSpan:
    """A database client span as instrumentation makes it: the whole statement
    on the span, a few small events (and ``bulky_events`` large ones)."""
    provider, exporter = finished
    span = provider.get_tracer("sqlalchemy").start_span(
        "INSERT vm_disks",
        attributes={"db.statement": statement, "db.system": "postgresql", "step": "copy"},
    )
    for n in range(5):
        span.add_event("retry", {"n": n})
    for n in range(bulky_events):
        span.add_event("dump", {"blob": "b" * BIG, "n": n})
    span.end()
    return exporter.get_finished_spans()[-1]


def test_a_span_whose_own_attributes_are_the_bulk_goes_with_them_cut_to_half(
    finished: Finished,
) -> None:
    """A 300 kB statement on a span, over a 100 kB limit: the statement is cut
    to about half a request, marked; the events are all kept."""
    statement = "INSERT INTO vm_disks VALUES " + "(1, 'vda'), " * 25_000
    span = _statement_span(finished, statement)
    fitted = span_within(span, _size(span), 100_000, request_bytes)

    size = request_bytes([fitted])
    assert size is not None and 40_000 < size <= 60_000
    attributes = _attributes(fitted)
    head, marker = attributes["db.statement"].split("…[truncated ")
    assert statement.startswith(head) and marker == f"{len(statement) - len(head)} chars]"
    assert attributes[VALUES_TRIMMED_ATTRIBUTE] == 1
    assert (attributes["db.system"], attributes["step"]) == ("postgresql", "copy")
    assert [event.attributes["n"] for event in fitted.events] == list(range(5))
    assert TRIMMED_ATTRIBUTE not in attributes
    assert diagnostics().get("values_trimmed") == 1
    assert "span_events_dropped" not in diagnostics()


def test_a_span_with_bulky_attributes_and_events_gets_both_made_smaller(
    finished: Finished,
) -> None:
    span = _statement_span(finished, "x" * 300_000, bulky_events=10)
    fitted = span_within(span, _size(span), 100_000, request_bytes)
    size = request_bytes([fitted])
    assert size is not None and size <= 100_000
    attributes = _attributes(fitted)
    assert attributes[VALUES_TRIMMED_ATTRIBUTE] == 1
    assert 0 < attributes[TRIMMED_ATTRIBUTE] <= 10  # only bulky events: the small ones stay
    retries = [event.attributes["n"] for event in fitted.events if event.name == "retry"]
    assert retries == list(range(5))


def test_a_bulky_attribute_that_is_not_text_is_left_out_and_counted_dropped(
    finished: Finished,
) -> None:
    span = _statement_span(finished, tuple("row" * 100 for _ in range(1_000)))
    fitted = span_within(span, _size(span), 100_000, request_bytes)
    assert "db.statement" not in _attributes(fitted)
    assert fitted.dropped_attributes == span.dropped_attributes + 1
    assert len(fitted.events) == 5


# -- log records --------------------------------------------------------------------------
class _Kept(LogRecordProcessor):
    """Keeps what the SDK hands a log processor (what opslog's processor queues)."""

    def __init__(self) -> None:
        self.records: list[Any] = []

    def on_emit(self, log_record: Any) -> None:
        self.records.append(log_record)

    emit = on_emit  # the name in older SDKs

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


REQUIRED = {
    "correlation_id": "0af7651916cd43dd8448eb211c80319c",
    "job_id": "job-" + "j" * 5_000,  # long, but never cut: it correlates the event
    "operation": "backup",
    "step": "dump",
    "event": "step_info",
}


def _record(body: Any, attributes: dict[str, Any]) -> Any:
    kept = _Kept()
    provider = LoggerProvider()
    provider.add_log_record_processor(kept)
    with TracerProvider().get_tracer("test").start_as_current_span("dump"):
        provider.get_logger("test").emit(
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body=body,
            attributes=attributes,
        )
    (record,) = kept.records
    return record


def log_request_bytes(part: Sequence[Any]) -> Optional[int]:
    return len(encode_logs(part).SerializeToString())


def _sent(record: Any) -> tuple[Any, dict[str, Any]]:
    """The record as a receiver decodes it, with its attributes as Python values."""
    request = ExportLogsServiceRequest.FromString(encode_logs([record]).SerializeToString())
    (sent,) = request.resource_logs[0].scope_logs[0].log_records
    values: dict[str, Any] = {}
    for pair in sent.attributes:
        kind = pair.value.WhichOneof("value")
        value = getattr(pair.value, kind)
        values[pair.key] = list(value.values) if kind == "array_value" else value
    return sent, values


def test_a_record_over_the_limit_arrives_with_its_longest_values_cut_alike() -> None:
    """Two long values and a long body are cut to one length, the longest that
    fits; short values, numbers and the required fields arrive whole."""
    record = _record(
        "é" * 30_000,
        {
            **REQUIRED,
            "dump": "d" * 40_000,
            "trace": "t" * 25_000,
            "path": "/var/lib/vm-7",
            "size": 4096,
            "ok": True,
        },
    )
    size = log_request_bytes([record])
    assert size is not None
    fitted = record_within(record, size, 65_536, log_request_bytes)

    fitted_size = log_request_bytes([fitted])
    assert fitted_size is not None and 60_000 < fitted_size <= 65_536  # cut no more than needed
    sent, values = _sent(fitted)
    assert {key: values[key] for key in REQUIRED} == REQUIRED
    assert (values["path"], values["size"], values["ok"]) == ("/var/lib/vm-7", 4096, True)
    assert values[VALUES_TRIMMED_ATTRIBUTE] == 3
    heads = {}
    for key, text in (
        ("dump", values["dump"]),
        ("trace", values["trace"]),
        ("body", sent.body.string_value),
    ):
        head, marker = text.split("…[truncated ")
        heads[key] = head
        original = {"dump": 40_000, "trace": 25_000, "body": 30_000}[key]
        assert marker == f"{original - len(head)} chars]"
    assert (
        set(heads["dump"]) == {"d"} and set(heads["trace"]) == {"t"} and set(heads["body"]) == {"é"}
    )
    # one length in bytes for all three, whole characters (é is two bytes)
    assert len(heads["dump"]) == len(heads["trace"])
    assert 0 <= len(heads["dump"]) - len(heads["body"].encode()) <= 1
    # everything else is the record's own
    for name in ("timestamp", "observed_timestamp", "trace_id", "span_id", "severity_number"):
        assert getattr(fitted.log_record, name) == getattr(record.log_record, name)
    assert fitted.resource is record.resource
    assert record.log_record.body == "é" * 30_000  # the record itself is untouched
    assert diagnostics().get("values_trimmed") == 3


def test_bulky_values_that_are_not_text_are_left_out_and_counted_dropped() -> None:
    """A long sequence goes; a small map value (log records take any value) stays."""
    record = _record(
        "ok",
        {**REQUIRED, "chunks": tuple("c" * 1_000 for _ in range(100)), "meta": {"disk": "vda"}},
    )
    size = log_request_bytes([record])
    assert size is not None
    fitted = record_within(record, size, 65_536, log_request_bytes)
    sent, values = _sent(fitted)
    assert "chunks" not in values and values[VALUES_TRIMMED_ATTRIBUTE] == 1
    assert values["meta"].values[0].key == "disk"
    assert sent.dropped_attributes_count == record.dropped_attributes + 1
    assert sent.body.string_value == "ok"


def test_a_record_within_the_limit_is_the_record_itself() -> None:
    record = _record("x" * 1_000, dict(REQUIRED))
    assert record_within(record, 2_000, 65_536, log_request_bytes) is record


def test_a_record_whose_bulk_cannot_be_cut_is_returned_as_it_is() -> None:
    """Its required fields alone are over the limit: nothing may be cut, so
    it is not made to fit (the processor counts and reports it, unsent)."""
    record = _record("x", {**REQUIRED, "job_id": "j" * 100_000})
    size = log_request_bytes([record])
    assert size is not None
    assert record_within(record, size, 65_536, log_request_bytes) is record
    assert "values_trimmed" not in diagnostics()


def test_the_record_report_names_its_span_never_its_values() -> None:
    record = _record(f"token={CANARY}" + "x" * 100_000, {**REQUIRED, "note": CANARY})
    size = log_request_bytes([record])
    assert size is not None
    with diagnostic_messages() as messages:
        record_within(record, size, 65_536, log_request_bytes)
    (message,) = messages
    assert format(record.log_record.span_id, "016x") in message
    assert CANARY not in message and "token" not in message


def test_a_span_over_the_limit_with_nothing_to_leave_out_is_returned_as_it_is(
    finished: Finished,
) -> None:
    """Its bulk is its name, no events, its attributes under half a request:
    nothing opslog may make smaller (the processor counts it, unsent), and
    nothing is reported."""
    provider, exporter = finished
    provider.get_tracer("test").start_span("n" * 5_000, attributes={"note": "short"}).end()
    (span,) = exporter.get_finished_spans()
    assert span_within(span, _size(span), 2_000, request_bytes) is span
    assert diagnostics() == {}


def test_a_cut_never_leaves_half_a_redaction_marker() -> None:
    """As ``max_value_length`` cuts: a cut through ``[REDACTED]`` leaves it out whole."""
    value = "a" * 39_990 + "[REDACTED]" + "b" * 40_000
    record = _record("ok", {**REQUIRED, "dump": value})
    size = log_request_bytes([record])
    assert size is not None
    heads = []
    # Limits whose common cut length falls just before, in and after the marker.
    for limit in range(size - 39_970, size - 39_930):
        fitted = record_within(record, size, limit, log_request_bytes)
        heads.append(dict(fitted.log_record.attributes)["dump"].split("…[truncated ")[0])
    assert {len(head) for head in heads} >= {39_990, 40_000}  # the cuts went through it
    assert all(
        "[" not in head or head.endswith("[REDACTED]") or "[REDACTED]b" in head for head in heads
    )
