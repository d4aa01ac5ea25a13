"""opslog's OTLP encoders write exactly the SDK's bytes, and the exporters use them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as encode_sdk_spans
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
    OTLPLogExporter as GrpcLogExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from opslog import _diagnostics
from opslog.export.encoding import encode_log_records, encode_spans
from opslog.otel import internals

from ..otlp_receiver import OtlpReceiver, attributes_of

_texts = st.text(max_size=40)  # any Unicode, empty included
_scalars = st.one_of(
    _texts,
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
)
_values = st.one_of(
    _scalars,
    st.lists(_texts, max_size=4).map(tuple),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=4).map(tuple),
    st.binary(max_size=10),
)
_records = st.lists(
    st.fixed_dictionaries(
        {
            "logger": st.sampled_from(["opslog", "other", "third"]),
            "body": _texts,
            "attributes": st.dictionaries(st.text(min_size=1, max_size=12), _values, max_size=8),
            "severity": st.sampled_from([None, SeverityNumber.INFO, SeverityNumber.ERROR]),
            "severity_text": st.one_of(st.none(), st.sampled_from(["INFO", "ERROR", ""])),
            "event_name": st.one_of(st.none(), st.sampled_from(["step_info", "", "step_é"])),
            "trace": st.sampled_from([0, 1, 2**128 - 1]),
            "timestamp": st.one_of(st.none(), st.integers(min_value=0, max_value=2**64 - 1)),
        }
    ),
    min_size=1,
    max_size=6,
)


def _emit(records: Sequence[dict[str, Any]], resource: Resource) -> list[Any]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    for record in records:
        context = None
        if record["trace"]:
            span = NonRecordingSpan(
                SpanContext(record["trace"], 7, False, TraceFlags(TraceFlags.SAMPLED))
            )
            context = set_span_in_context(span)
        provider.get_logger(record["logger"], "1.0").emit(
            timestamp=record["timestamp"],
            context=context,
            severity_number=record["severity"],
            severity_text=record["severity_text"],
            body=record["body"],
            attributes=record["attributes"],
            event_name=record["event_name"],
        )
    return list(exporter.get_finished_logs())


RESOURCE = Resource.create({"service.name": "svc", "tags": ("a", "b"), "count": 3})


@given(_records)
@settings(max_examples=300, deadline=None)
def test_the_bytes_are_the_sdks_for_any_record_the_fast_path_takes(
    records: list[dict[str, Any]],
) -> None:
    batch = _emit(records, RESOURCE)
    assert encode_log_records(batch) == encode_logs(batch).SerializeToString()


def test_opslog_records_are_encoded_like_the_sdk_encodes_them() -> None:
    import opslog
    from opslog.testing import capture_events

    with capture_events() as capture:
        for n in range(20):
            with opslog.new_operation_logger("job-1").operation("failover") as op:
                step = op.start_step("snapshot")
                step.info("working", {"vm_id": f"vm-{n}", "size_gb": n, "ok": True, "x": n / 3})
                step.end_step()
    batch = list(capture.log_records)
    assert len(batch) == 100
    assert encode_log_records(batch) == encode_logs(batch).SerializeToString()


@pytest.mark.parametrize(
    "body", [{"a": 1}, ["x", 1], None], ids=["mapping body", "list body", "no body"]
)
def test_what_only_the_sdk_writes_is_left_to_it(body: object) -> None:
    batch = _emit(
        [
            {
                "logger": "x",
                "body": body,
                "attributes": {"a": "b"},
                "severity": None,
                "severity_text": None,
                "event_name": None,
                "trace": 0,
                "timestamp": 1,
            }
        ],
        RESOURCE,
    )
    assert encode_log_records(batch) is None


def test_nan_and_negative_zero_keep_their_bits() -> None:
    records = [
        {
            "logger": "x",
            "body": "m",
            "attributes": {"v": value},
            "severity": None,
            "severity_text": None,
            "event_name": None,
            "trace": 0,
            "timestamp": 1,
        }
        for value in (0.0, -0.0, math.nan, 0.0, -0.0)
    ]
    batch = _emit(records, RESOURCE)
    assert encode_log_records(batch) == encode_logs(batch).SerializeToString()


# -- the exporter ------------------------------------------------------------------------
def _records_for(receiver: OtlpReceiver) -> list[dict[str, Any]]:
    return [
        {"body": r.body.string_value, **attributes_of(r.attributes)}
        for request in receiver.received.log_requests
        for resource_logs in request.resource_logs
        for scope_logs in resource_logs.scope_logs
        for r in scope_logs.log_records
    ]


def _batch(n: int) -> list[Any]:
    records = [
        {
            "logger": "opslog",
            "body": f"message {i}",
            "attributes": {"i": i, "vm": f"vm-{i}"},
            "severity": SeverityNumber.INFO,
            "severity_text": "INFO",
            "event_name": "step_info",
            "trace": 5,
            "timestamp": 10 + i,
        }
        for i in range(n)
    ]
    return _emit(records, RESOURCE)


def _exporter(receiver: OtlpReceiver, protocol: str) -> Any:
    if protocol == "grpc":
        return GrpcLogExporter(endpoint=f"http://127.0.0.1:{receiver.grpc_port}", insecure=True)
    return OTLPLogExporter(endpoint=f"http://127.0.0.1:{receiver.http_port}/v1/logs")


@pytest.mark.parametrize(
    ("protocol", "method"), [("http/protobuf", "export"), ("grpc", "_translate_data")]
)
def test_only_the_one_exporter_is_changed_and_it_delivers(protocol: str, method: str) -> None:
    receiver = OtlpReceiver().start_grpc().start_http()
    try:
        ours, theirs = _exporter(receiver, protocol), _exporter(receiver, protocol)
        assert internals.use_log_encoder(ours, encode_log_records)
        assert method in vars(ours) and method not in vars(theirs)
        assert ours.export(_batch(3)).name == "SUCCESS"
        assert ours.export(_batch(2)).name == "SUCCESS"  # past the one-time check
        assert theirs.export(_batch(2)).name == "SUCCESS"
        received = _records_for(receiver)
        assert received == [
            {"body": f"message {i}", "i": i, "vm": f"vm-{i}"} for i in (0, 1, 2, 0, 1, 0, 1)
        ]
    finally:
        receiver.stop()


def test_an_encoder_whose_bytes_differ_is_dropped_for_the_sdks() -> None:
    internals._reported.discard("encode_logs")
    before = _diagnostics.diagnostics().get(_diagnostics.SDK_FALLBACK, 0)
    receiver = OtlpReceiver().start_http()
    try:
        exporter = OTLPLogExporter(endpoint=f"http://127.0.0.1:{receiver.http_port}/v1/logs")
        calls: list[int] = []

        def wrong(batch: Sequence[Any]) -> bytes:
            calls.append(len(batch))
            return b"\x0a\x00"  # valid protobuf, but not these records

        assert internals.use_log_encoder(exporter, wrong)
        assert exporter.export(_batch(2)).name == "SUCCESS"
        assert exporter.export(_batch(1)).name == "SUCCESS"
        assert calls == [2]  # checked once, never used again
        assert [r["i"] for r in _records_for(receiver)] == [0, 1, 0]
        assert _diagnostics.diagnostics().get(_diagnostics.SDK_FALLBACK, 0) == before + 1
    finally:
        receiver.stop()
        internals._reported.discard("encode_logs")


@pytest.mark.parametrize("right", [True, False])
def test_a_large_first_batch_is_checked_on_a_sample(right: bool) -> None:
    """The one-time check encodes a spread sample of a large first batch with
    both encoders, not the whole batch (the SDK's encoder is the slow one);
    a difference in the sample still switches to the SDK's encoder."""
    internals._reported.discard("encode_logs")
    receiver = OtlpReceiver().start_http()
    try:
        exporter = OTLPLogExporter(endpoint=f"http://127.0.0.1:{receiver.http_port}/v1/logs")
        sizes: list[int] = []
        sampled: list[int] = []

        def counting(batch: Sequence[Any]) -> bytes:
            sizes.append(len(batch))
            if len(batch) == internals.VERIFIED_ITEMS:
                sampled.extend(r.log_record.attributes["i"] for r in batch)
            data = encode_log_records(batch)
            assert data is not None
            return data if right else b"\x0a\x00"

        assert internals.use_log_encoder(exporter, counting)
        assert exporter.export(_batch(100)).name == "SUCCESS"
        assert exporter.export(_batch(100)).name == "SUCCESS"
        n = internals.VERIFIED_ITEMS
        assert sizes == ([100, n, 100] if right else [100, n])
        assert sampled[0] == 0 and sampled[-1] > 90  # spread over the batch
        assert [r["i"] for r in _records_for(receiver)] == list(range(100)) * 2
    finally:
        receiver.stop()
        internals._reported.discard("encode_logs")


# -- spans -------------------------------------------------------------------------------
_span_specs = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.text(max_size=20),
            "kind": st.sampled_from(list(SpanKind)),
            "attributes": st.dictionaries(st.text(min_size=1, max_size=12), _values, max_size=6),
            "events": st.lists(
                st.tuples(
                    st.text(max_size=12),
                    st.dictionaries(st.text(min_size=1, max_size=8), _values, max_size=4),
                ),
                max_size=4,
            ),
            "status": st.sampled_from(
                [None, (StatusCode.OK, None), (StatusCode.ERROR, "boom"), (StatusCode.ERROR, "")]
            ),
            "parent": st.sampled_from(["none", "local", "remote"]),
            "trace_state": st.sampled_from([None, (("vendor", "a1"),), (("x", "1"), ("y", "2"))]),
        }
    ),
    min_size=1,
    max_size=5,
)


def _spans(specs: Sequence[dict[str, Any]], limits: Any = None) -> list[Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE, span_limits=limits)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("opslog", "1.0")
    for spec in specs:
        context = None
        if spec["parent"] != "none":
            state = TraceState(list(spec["trace_state"] or ()))
            parent = SpanContext(
                2**100 + 3, 99, spec["parent"] == "remote", TraceFlags(TraceFlags.SAMPLED), state
            )
            context = set_span_in_context(NonRecordingSpan(parent))
        span = tracer.start_span(
            spec["name"], context=context, kind=spec["kind"], attributes=spec["attributes"]
        )
        for name, attributes in spec["events"]:
            span.add_event(name, attributes)
        if spec["status"] is not None:
            span.set_status(Status(*spec["status"]))
        span.end()
    return list(exporter.get_finished_spans())


@given(_span_specs)
@settings(max_examples=300, deadline=None)
def test_span_bytes_are_the_sdks_for_any_span_the_fast_path_takes(
    specs: list[dict[str, Any]],
) -> None:
    batch = _spans(specs)
    assert encode_spans(batch) == encode_sdk_spans(batch).SerializeToString()


def test_dropped_counts_are_written_like_the_sdk_writes_them() -> None:
    spec = {
        "name": "s",
        "kind": SpanKind.INTERNAL,
        "attributes": {f"a{i}": i for i in range(5)},
        "events": [(f"e{i}", {f"k{j}": j for j in range(5)}) for i in range(5)],
        "status": None,
        "parent": "local",
        "trace_state": None,
    }
    limits = SpanLimits(max_span_attributes=2, max_events=3, max_event_attributes=2)
    batch = _spans([spec], limits)
    assert batch[0].dropped_attributes and batch[0].dropped_events
    assert encode_spans(batch) == encode_sdk_spans(batch).SerializeToString()


def test_opslog_spans_are_encoded_like_the_sdk_encodes_them() -> None:
    import opslog
    from opslog.testing import capture_events

    with capture_events() as capture:
        for n in range(10):
            with opslog.new_operation_logger("job-1").operation("failover") as op:
                step = op.start_step("snapshot")
                step.info("working", {"vm_id": f"vm-{n}", "size_gb": n})
                step.error("failed", RuntimeError("disk"))
                step.end_step("failed")
    batch = list(capture.spans)
    assert len(batch) == 20
    assert encode_spans(batch) == encode_sdk_spans(batch).SerializeToString()


def test_spans_with_links_are_left_to_the_sdk() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    link = Link(SpanContext(5, 6, False, TraceFlags(1)))
    provider.get_tracer("x").start_span("linked", links=[link]).end()
    assert encode_spans(list(exporter.get_finished_spans())) is None


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_the_span_exporter_delivers_with_the_fast_encoder(protocol: str) -> None:
    receiver = OtlpReceiver().start_grpc().start_http()
    try:
        if protocol == "grpc":
            exporter: Any = GrpcSpanExporter(
                endpoint=f"http://127.0.0.1:{receiver.grpc_port}", insecure=True
            )
        else:
            exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{receiver.http_port}/v1/traces")
        assert internals.use_span_encoder(exporter, encode_spans)
        before = _diagnostics.diagnostics().get(_diagnostics.SDK_FALLBACK, 0)
        spec = {
            "name": "step",
            "kind": SpanKind.INTERNAL,
            "attributes": {"step": "s"},
            "events": [("step_info", {"vm": "vm-1"})],
            "status": None,
            "parent": "local",
            "trace_state": None,
        }
        for _ in range(2):  # the checked batch, then one taken on trust
            assert exporter.export(_spans([spec, spec])).name == "SUCCESS"
        assert [s.name for _, s in receiver.spans()] == ["step"] * 4
        assert _diagnostics.diagnostics().get(_diagnostics.SDK_FALLBACK, 0) == before
    finally:
        receiver.stop()


@pytest.mark.parametrize("when", ["before", "after"])
def test_an_export_wrapped_on_the_exporter_class_is_never_gone_around(
    when: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent's wrapper on the exporter class's ``export`` (wrapt, as agents
    patch) runs for every batch, whether it came before opslog changed the
    exporter's encoder or after; the data still arrives."""
    import wrapt

    internals._reported.discard("encode_logs")
    receiver = OtlpReceiver().start_http()
    batches: list[int] = []

    def timing(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        batches.append(len(args[0]))
        return wrapped(*args, **kwargs)

    try:
        exporter = OTLPLogExporter(endpoint=f"http://127.0.0.1:{receiver.http_port}/v1/logs")
        with monkeypatch.context() as mp:
            mp.setattr(OTLPLogExporter, "export", OTLPLogExporter.export)  # restored on exit
            if when == "before":
                wrapt.wrap_function_wrapper(OTLPLogExporter, "export", timing)
                assert not internals.use_log_encoder(exporter, encode_log_records)
            else:
                assert internals.use_log_encoder(exporter, encode_log_records)
                assert exporter.export(_batch(1)).name == "SUCCESS"  # before the wrapper
                wrapt.wrap_function_wrapper(OTLPLogExporter, "export", timing)
            assert exporter.export(_batch(2)).name == "SUCCESS"
            assert exporter.export(_batch(3)).name == "SUCCESS"
        assert batches == [2, 3]
        expected = ([0] if when == "after" else []) + [0, 1, 0, 1, 2]
        assert [r["i"] for r in _records_for(receiver)] == expected
    finally:
        receiver.stop()
        internals._reported.discard("encode_logs")


def test_a_batch_measured_for_its_size_is_not_encoded_again_for_its_export() -> None:
    receiver = OtlpReceiver().start_http()
    encoded: list[int] = []

    def counting(batch: Sequence[Any]) -> Optional[bytes]:
        encoded.append(len(batch))
        return encode_log_records(batch)

    try:
        exporter = OTLPLogExporter(endpoint=f"http://127.0.0.1:{receiver.http_port}/v1/logs")
        sizes = internals.RequestSizes(counting)
        assert internals.use_log_encoder(exporter, counting, sizes)
        for n in (3, 2):
            batch = _batch(n)
            assert sizes.measure(batch) == len(encode_log_records(batch))
            assert exporter.export(batch).name == "SUCCESS"
        assert encoded == [3, 2]  # once each: the export took the measured bytes
        other = _batch(4)
        sizes.measure(_batch(1))  # another batch measured last: its bytes are not taken
        assert exporter.export(other).name == "SUCCESS"
        assert encoded == [3, 2, 1, 4]
        assert [r["i"] for r in _records_for(receiver)] == [0, 1, 2, 0, 1, 0, 1, 2, 3]
    finally:
        receiver.stop()


def test_a_batch_opslogs_encoder_leaves_to_the_sdk_is_measured_by_the_sdks() -> None:
    exporter = OTLPLogExporter(endpoint="http://127.0.0.1:9/v1/logs")
    sizes = internals.RequestSizes(lambda batch: None)  # handles nothing
    assert sizes.measure(_batch(2)) is None  # no SDK encoder known yet
    assert internals.use_log_encoder(exporter, encode_log_records, sizes)
    batch = _batch(2)
    assert sizes.measure(batch) == len(encode_logs(batch).SerializeToString())
