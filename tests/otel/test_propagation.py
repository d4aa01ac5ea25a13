"""inject/extract: carrier shapes, baggage, rejection, and round trips with plain OpenTelemetry."""

from __future__ import annotations

import email.message
import http.client
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import baggage, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import opslog
from opslog import _diagnostics
from opslog.testing import Capture

from ..helpers import diagnostic_messages, run_python

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
PID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TID}-{PID}-01"


def remote(ctx: object) -> trace.SpanContext:
    return trace.get_current_span(ctx).get_span_context()  # type: ignore[arg-type]


def http_message(pairs: list[tuple[str, str]]) -> http.client.HTTPMessage:
    raw = "".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n"
    return http.client.parse_headers(io.BytesIO(raw.encode("latin-1")))


CARRIERS = {
    "dict": {"traceparent": TRACEPARENT, "tracestate": "rojo=1", "baggage": "job_id=job-7"},
    "dict-mixed-case": {
        "TraceParent": TRACEPARENT,
        "TRACESTATE": "rojo=1",
        "Baggage": "job_id=job-7",
    },
    "wsgi-environ": {
        "HTTP_TRACEPARENT": TRACEPARENT,
        "HTTP_TRACESTATE": "rojo=1",
        "HTTP_BAGGAGE": "job_id=job-7",
        "PATH_INFO": "/attach",
    },
    "asgi-pairs": [
        (b"traceparent", TRACEPARENT.encode()),
        (b"tracestate", b"rojo=1"),
        (b"baggage", b"job_id=job-7"),
    ],
    "str-pairs": [
        ("Traceparent", TRACEPARENT),
        ("tracestate", "rojo=1"),
        ("baggage", "job_id=job-7"),
    ],
    "http-message": http_message(
        [("Traceparent", TRACEPARENT), ("Tracestate", "rojo=1"), ("Baggage", "job_id=job-7")]
    ),
    "dict-of-lists": {
        "traceparent": [TRACEPARENT],
        "tracestate": ["rojo=1"],
        "baggage": ["job_id=job-7"],
    },
}


@pytest.mark.parametrize("name", sorted(CARRIERS))
def test_extract_reads_every_common_carrier(name: str) -> None:
    ctx = opslog.extract(CARRIERS[name])
    span_context = remote(ctx)
    assert span_context.trace_id == int(TID, 16)
    assert span_context.span_id == int(PID, 16)
    assert span_context.is_remote and span_context.trace_flags.sampled
    assert span_context.trace_state.to_header() == "rojo=1"
    assert baggage.get_baggage("job_id", ctx) == "job-7"


def test_extract_reads_requests_case_insensitive_dict() -> None:
    import requests

    headers = requests.structures.CaseInsensitiveDict({"TRACEPARENT": TRACEPARENT})
    assert remote(opslog.extract(headers)).trace_id == int(TID, 16)


def test_extract_reads_an_email_message() -> None:
    message = email.message.Message()
    message["traceparent"] = TRACEPARENT
    assert remote(opslog.extract(message)).span_id == int(PID, 16)


def test_repeated_traceparent_with_different_values_restarts_the_trace() -> None:
    carrier = [
        ("traceparent", TRACEPARENT),
        ("traceparent", f"00-{TID}-{'1' * 16}-01"),
        ("tracestate", "rojo=1"),
    ]
    ctx = opslog.extract(carrier)
    assert not remote(ctx).is_valid
    assert _diagnostics.diagnostics()["rejected_traceparent"] == 1
    logger = opslog.new_operation_logger("j", context=ctx)
    assert logger.correlation_id != TID  # a fresh trace


def test_rejected_header_is_reported_once_and_truncated() -> None:
    with diagnostic_messages() as messages:
        opslog.extract({"traceparent": "00-" + "z" * 5000})
    assert len(messages) == 1
    assert len(messages[0]) < 400


def test_tracestate_is_ignored_when_traceparent_is_invalid() -> None:
    ctx = opslog.extract({"traceparent": "garbage", "tracestate": "rojo=1"})
    assert not remote(ctx).is_valid


def test_receiving_side_continues_the_callers_trace_and_job(captured: Capture) -> None:
    ctx = opslog.extract(CARRIERS["dict"])
    logger = opslog.new_operation_logger(context=ctx)
    assert logger.correlation_id == TID
    assert logger.job_id == "job-7"
    with logger.start_operation("volume-attach") as op:
        op.log_step("cloudstack-api", "attach")
        headers: dict[str, str] = {}
        opslog.inject(headers)
    span = captured.span("volume-attach")
    assert span.parent.span_id == int(PID, 16)
    assert span.parent.is_remote
    assert {e["job_id"] for e in captured.events} == {"job-7"}
    # passed on downstream: our span as parent, tracestate unchanged, the job in baggage
    assert headers["traceparent"] == f"00-{TID}-{span.context.span_id:016x}-01"
    assert headers["tracestate"] == "rojo=1"
    assert "job_id=job-7" in headers["baggage"]
    assert f"correlation_id={TID}" in headers["baggage"]


def test_level2_tracestate_keys_survive_unchanged(captured: Capture) -> None:
    state = "1abc=x,tenant@vendor=  y,rojo=00f067aa0ba902b7"  # Level 1 would drop two
    ctx = opslog.extract({"traceparent": TRACEPARENT, "tracestate": state})
    with opslog.new_operation_logger(context=ctx).start_operation("op"):
        headers: dict[str, str] = {}
        opslog.inject(headers)
    assert headers["tracestate"] == state


def test_inject_without_anything_active_writes_nothing() -> None:
    headers: dict[str, str] = {}
    opslog.inject(headers)
    assert headers == {}


def _sdk() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


PLAIN_OTEL = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])


def test_round_trip_plain_otel_caller_to_opslog(captured: Capture) -> None:
    provider, _ = _sdk()
    tracer = provider.get_tracer("plain-service")
    with tracer.start_as_current_span("client-call") as client:
        headers: dict[str, str] = {}
        PLAIN_OTEL.inject(headers)
    ctx = opslog.extract(headers)
    opslog.new_operation_logger("j", context=ctx).start_operation("opslog-side").end_operation()
    server = captured.span("opslog-side")
    assert server.context.trace_id == client.get_span_context().trace_id
    assert server.parent.span_id == client.get_span_context().span_id


def test_round_trip_opslog_caller_to_plain_otel(captured: Capture) -> None:
    provider, exporter = _sdk()
    with opslog.new_operation_logger("job-3").operation("failover") as op, op.step("attach"):
        headers: dict[str, str] = {}
        opslog.inject(headers)
        step_span = opslog.current_step().span_context  # type: ignore[union-attr]
    ctx = PLAIN_OTEL.extract(headers)
    with provider.get_tracer("plain-service").start_as_current_span("handler", context=ctx):
        job = baggage.get_baggage("job_id", ctx)
    (handler,) = exporter.get_finished_spans()
    assert handler.context.trace_id == int(op.correlation_id, 16)
    assert handler.parent.span_id == step_span.span_id
    assert job == "job-3"


def test_selectable_through_otel_propagators() -> None:
    out = run_python(
        """
        import json, os
        os.environ["OTEL_PROPAGATORS"] = "opslog_tracecontext,baggage"
        from opentelemetry import propagate
        names = [type(p).__name__ for p in propagate.get_global_textmap()._propagators]
        print(json.dumps(names))
        """
    )
    assert out == ["W3CTraceContextPropagator", "W3CBaggagePropagator"]
    from opentelemetry.propagators.textmap import TextMapPropagator

    assert issubclass(opslog.W3CTraceContextPropagator, TextMapPropagator)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["traceparent", "Traceparent", "tracestate", "baggage", "other"]),
            st.one_of(st.binary(max_size=80), st.text(max_size=80)),
        ),
        max_size=5,
    )
)
def test_fuzz_extract_never_raises_or_accepts_an_invalid_id(
    pairs: list[tuple[str, object]],
) -> None:
    ctx = opslog.extract(pairs)
    span_context = remote(ctx)
    if span_context.is_valid:
        assert 0 < span_context.trace_id < 2**128
        assert 0 < span_context.span_id < 2**64
    logger = opslog.new_operation_logger(context=ctx)
    assert opslog.parse_correlation_id(logger.correlation_id) is not None


@pytest.mark.parametrize("job_id", [None, ""])
def test_an_empty_job_id_means_none_given_so_the_callers_applies(job_id: object) -> None:
    ctx = opslog.extract({"traceparent": TRACEPARENT, "baggage": "job_id=job-from-caller"})
    logger = opslog.new_operation_logger(job_id, context=ctx)  # type: ignore[arg-type]
    assert logger.job_id == "job-from-caller"
    assert opslog.new_operation_logger("mine", context=ctx).job_id == "mine"
