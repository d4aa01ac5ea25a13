"""opslog with no SDK, and with an SDK the application configured itself."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext

import opslog
from opslog.otel import internals

from ..helpers import run_python


def test_no_sdk_gives_valid_ids_and_working_log_channel() -> None:
    out = run_python(
        """
        import json, logging
        import opslog
        records = []
        class Keep(logging.Handler):
            def emit(self, record): records.append(record.opslog)
        logging.getLogger("opslog").addHandler(Keep())
        logging.getLogger("opslog").setLevel(logging.INFO)
        logger = opslog.new_operation_logger("job")
        op = logger.start_operation("op")
        step = op.start_step("s")
        step.info("hello")
        op_ctx, step_ctx = op.span_context, step.span_context
        inside = opslog.current_correlation_id()
        headers = {}
        opslog.inject(headers)
        step.end_step()
        op.end_operation()
        from opentelemetry import trace
        print(json.dumps({
            "cid": logger.correlation_id,
            "inside": inside,
            "op_trace": op_ctx.trace_id, "step_trace": step_ctx.trace_id,
            "op_span": op_ctx.span_id, "step_span": step_ctx.span_id,
            "events": [r["event"] for r in records],
            "cids": sorted({r["correlation_id"] for r in records}),
            "traceparent": headers.get("traceparent"),
            "provider": type(trace.get_tracer_provider()).__name__,
        }))
        """
    )
    assert out["provider"] == "ProxyTracerProvider"  # nothing was installed
    assert int(out["cid"], 16) == out["op_trace"] == out["step_trace"]
    assert out["inside"] == out["cid"]
    assert out["op_span"] and out["step_span"] and out["op_span"] != out["step_span"]
    assert out["events"] == [
        "operation_start",
        "step_start",
        "step_info",
        "step_end",
        "operation_end",
    ]
    assert out["cids"] == [out["cid"]]
    assert out["traceparent"].split("-")[1] == out["cid"]
    assert out["traceparent"].split("-")[2] == format(out["step_span"], "016x")


def test_application_sdk_is_used_and_not_replaced() -> None:
    out = run_python(
        """
        import json
        from opentelemetry import trace, _logs
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import (
            InMemoryLogRecordExporter, SimpleLogRecordProcessor)
        spans = InMemorySpanExporter()
        app_provider = TracerProvider()
        app_provider.add_span_processor(SimpleSpanProcessor(spans))
        trace.set_tracer_provider(app_provider)
        logs = InMemoryLogRecordExporter()
        app_logs = LoggerProvider()
        app_logs.add_log_record_processor(SimpleLogRecordProcessor(logs))
        _logs.set_logger_provider(app_logs)

        import opslog
        app_tracer = trace.get_tracer("app")
        with app_tracer.start_as_current_span("request") as request:
            logger = opslog.new_operation_logger("job")
            with logger.operation("op") as op:
                op.log_step("s", "hello")
                with app_tracer.start_as_current_span("http-client"):
                    pass
        # The app's other tracers keep their own ids after opslog pinned ids on its tracer.
        with app_tracer.start_as_current_span("later") as later:
            pass
        fresh = opslog.new_operation_logger("j2")
        fresh.start_operation("root").end_operation()
        finished = {s.name: s for s in spans.get_finished_spans()}
        print(json.dumps({
            "same_provider": trace.get_tracer_provider() is app_provider,
            "same_logs": _logs.get_logger_provider() is app_logs,
            "names": sorted(finished),
            "op_parent": finished["op"].parent.span_id,
            "request": request.get_span_context().span_id,
            "client_parent": finished["http-client"].parent.span_id,
            "op_span": finished["op"].context.span_id,
            "log_events": [r.log_record.event_name for r in logs.get_finished_logs()],
            "root_trace": finished["root"].context.trace_id,
            "fresh_cid": fresh.correlation_id,
            "later_trace": finished["later"].context.trace_id,
        }))
        """
    )
    assert out["same_provider"] and out["same_logs"]
    assert out["names"] == ["http-client", "later", "op", "request", "root"]
    assert out["op_parent"] == out["request"]
    assert out["client_parent"] == out["op_span"]  # instrumentation nests under the operation
    assert out["log_events"][:2] == ["operation_start", "step_info"]
    assert out["root_trace"] == int(out["fresh_cid"], 16)
    assert out["later_trace"] != out["root_trace"]


def test_channels_can_be_switched_off() -> None:
    import opslog
    from opslog.testing import capture_events

    with capture_events() as captured:
        opslog.configure(span_events=False)
        op = opslog.new_operation_logger("j").start_operation("op")
        op.log_step("s", "m")
        op.end_operation()
    assert captured.span("op").events == ()
    assert len(captured.log_records) == 3 and len(captured.logging_records) == 3
    with capture_events() as captured:
        opslog.configure(span_events=True, log_records=False, stdlib_logging=False)
        op = opslog.new_operation_logger("j").start_operation("op")
        op.log_step("s", "m")
        op.end_operation()
    assert len(captured.span("op").events) == 3
    assert captured.log_records == [] and captured.logging_records == []
    assert len(captured.events) == 3  # the capture itself sees every event


# -- span events: the ready-event path gives what the SDK's add_event gives ------------

VOLATILE = ("correlation_id", "duration_ms", "duration_str", "exception.stacktrace")


def _span_events(ready: bool, limits: Any = None) -> list[tuple[str, list[Any]]]:
    """Run one operation (all kinds of fields, an error, a failed step) and
    return each span's events as (name, attributes, dropped), volatile values
    blanked."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=limits)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    opslog.configure(tracer_provider=provider, log_records=False, stdlib_logging=False)
    saved = internals.READY_SPAN_EVENTS
    internals.READY_SPAN_EVENTS = ready
    try:
        op = opslog.new_operation_logger("job-7").start_operation("failover")
        step = op.start_step("snapshot")
        step.info(
            "working",
            {
                "vm": {"id": 42, "tags": ["a", "b"]},
                "ratio": 0.5,
                "ok": True,
                "hosts": ["db-primary-0001.example", "db-2", 7],
                "argv": ["rsync", "--partial", "/var/lib/images/vm-7.qcow2"],
            },
        )
        step.warn("slow ünïcode ✓", {"sizes": (1, 2, 3), "none": None, "big": 2**70})
        step.error("failed", ValueError("disk gone"), {"device": "/dev/vdc"})
        step.end_step("failed")
        op.log_step("cleanup", "cleaning", {"x" * 300: "y" * 5000})
        op.end_operation("failed")
    finally:
        internals.READY_SPAN_EVENTS = saved

    def blank(key: str, value: Any) -> Any:
        return "*" if key.endswith(VOLATILE) else value

    return [
        (
            span.name,
            [
                (e.name, {k: blank(k, v) for k, v in e.attributes.items()}, e.dropped_attributes)
                for e in span.events
            ],
        )
        for span in exporter.get_finished_spans()
    ]


def test_ready_span_events_equal_the_sdks_own() -> None:
    ready, public = _span_events(ready=True), _span_events(ready=False)
    assert [name for name, _ in ready] == ["snapshot", "failover"]
    # snapshot: start, info, warning, error + its "exception" event, end; failover: 3
    assert sum(len(events) for _, events in ready) == 9
    assert ready == public


def test_ready_span_events_are_used_and_immutable() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    opslog.configure(tracer_provider=provider)
    op = opslog.new_operation_logger("j").start_operation("op")
    op.end_operation()
    (span,) = exporter.get_finished_spans()
    attributes = span.events[0].attributes
    assert not isinstance(attributes, BoundedAttributes)  # the ready path was taken
    with pytest.raises(TypeError):
        attributes["event"] = "changed"  # type: ignore[index]


@pytest.mark.parametrize(
    "limits",
    [
        SpanLimits(max_attribute_length=12),  # texts cut as the SDK cuts them: ready path
        SpanLimits(max_event_attributes=6),  # the SDK drops the oldest: public path
    ],
)
def test_span_limits_are_applied_as_the_sdk_does(limits: SpanLimits) -> None:
    events = _span_events(ready=True, limits=limits)
    assert events == _span_events(ready=False, limits=limits)
    flat = [attrs for _, evs in events for name, attrs, _ in evs if name != "exception"]
    if limits.max_attribute_length:
        assert all(len(v) <= 12 for attrs in flat for v in attrs.values() if isinstance(v, str))
    else:
        assert all(len(attrs) <= 6 for attrs in flat)
        assert any(dropped for _, evs in events for _, _, dropped in evs)
        assert all(attrs["event"] and attrs["step"] for attrs in flat)  # required kept


def test_an_attribute_length_limit_keeps_the_ready_path() -> None:
    """``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`` is common in production: opslog
    cuts the texts itself (as the SDK would) rather than pay the SDK's
    validation of every attribute; the result is checked equal above."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_attribute_length=12))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    opslog.configure(tracer_provider=provider)
    op = opslog.new_operation_logger("j").start_operation("op")
    op.log_step("s", "a message longer than twelve", {"paths": ["/var/lib/images", "/x"]})
    op.end_operation()
    (span,) = exporter.get_finished_spans()
    attributes = span.events[1].attributes
    assert not isinstance(attributes, BoundedAttributes)  # the ready path was taken
    assert attributes["message"] == "a message lo"
    assert attributes["paths"] == ("/var/lib/ima", "/x")


def test_a_handler_changing_record_opslog_does_not_change_the_span_event() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    opslog.configure(tracer_provider=provider, log_records=False)

    class Meddle(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            record.opslog["message"] = "rewritten"  # type: ignore[attr-defined]

    logger = logging.getLogger("opslog")
    handler = Meddle()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        op = opslog.new_operation_logger("j").start_operation("op")
        op.end_operation()
    finally:
        logger.removeHandler(handler)
    (span,) = exporter.get_finished_spans()
    assert [e.attributes["message"] for e in span.events] == [
        "operation op started",
        "operation op completed",
    ]


def test_spans_that_are_not_the_sdks_get_the_public_add_event() -> None:
    from opentelemetry.trace import NonRecordingSpan

    span = NonRecordingSpan(SpanContext(1, 2, is_remote=False))
    assert internals.span_event_adder(span) == span.add_event
