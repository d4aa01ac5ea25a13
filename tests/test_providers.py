"""opslog with no SDK, and with an SDK the application configured itself."""

from __future__ import annotations

from .helpers import run_python


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
