"""The event table of SPEC.md section 2, on all three channels."""

from __future__ import annotations

import time

import pytest
from opentelemetry._logs import SeverityNumber

import opslog
from opslog.testing import Capture

REQUIRED = ("correlation_id", "job_id", "operation", "step", "event")


def run_every_call() -> tuple[opslog.OperationLogger, opslog.OperationContext]:
    logger = opslog.new_operation_logger("job-1")
    op = logger.start_operation("enhanced-test-failover")
    op.log_step("initialization", "init", {"vm_id": "vm-1"})
    op.log_error("vm-creation", "create failed", ValueError("boom"), {"vm_name": "x"})
    op.log_success("vm-creation", "created", {"vm_id": "vm-1"})
    op.log_duration("vm-creation", time.perf_counter())
    step = op.start_step("virtio-injection")
    step.info("injecting", {"device_path": "/dev/vdc"})
    step.warn("slow", {"seconds": 3})
    step.error("failed once", TimeoutError("t/o"), {"attempt": 1})
    step.success("injected", {"drivers_installed": ["viostor", "netkvm"]})
    step.log_duration(time.perf_counter())
    step.end_step("completed", {"extra": 1})
    child = op.create_child_context("linstor-snapshot-creation")
    child.end_operation("completed", {"snapshot_name": "s1"})
    op.end_operation("completed", {"total_steps": 6})
    return logger, op


# event -> (level, {extra field: type})
TABLE = {
    "operation_start": ("INFO", {}),
    "step_info": ("INFO", {}),
    "step_warning": ("WARNING", {}),
    "step_error": ("ERROR", {"error": str, "error_type": str, "retry_possible": bool}),
    "step_success": ("INFO", {}),
    "step_duration": ("INFO", {"duration_ms": int, "duration_str": str}),
    "step_start": ("INFO", {}),
    "step_end": ("INFO", {"status": str, "step_duration_ms": int, "step_duration_str": str}),
    "child_operation_start": ("INFO", {"parent_operation": str, "child_operation": str}),
    "operation_end": (
        "INFO",
        {"status": str, "total_duration_ms": int, "total_duration_str": str},
    ),
}


def test_every_call_emits_its_event_with_required_and_extra_fields(captured: Capture) -> None:
    run_every_call()
    events = captured.events
    names = [e.event for e in events]
    assert names == [
        "operation_start",
        "step_info",
        "step_error",
        "step_success",
        "step_duration",
        "step_start",
        "step_info",
        "step_warning",
        "step_error",
        "step_success",
        "step_duration",
        "step_end",
        "child_operation_start",
        "operation_end",
        "operation_end",
    ]
    for event in events:
        level, extras = TABLE[event.event]
        assert event.level == level, event
        for key in REQUIRED:
            assert isinstance(event.fields[key], str), (event.event, key)
        for key, kind in extras.items():
            assert isinstance(event.fields[key], kind), (event.event, key, event.fields)
        assert event.fields["message"] == event.message


def test_operation_level_events_use_the_documented_step_value(captured: Capture) -> None:
    run_every_call()
    for name in ("operation_start", "operation_end", "child_operation_start"):
        for event in captured.events_named(name):
            assert event["step"] == opslog.vocabulary.OPERATION_STEP == "_operation"
    assert captured.events_named("step_info")[0]["step"] == "initialization"
    assert captured.events_named("step_info")[1]["step"] == "virtio-injection"


def test_caller_fields_are_carried(captured: Capture) -> None:
    run_every_call()
    info = captured.events_named("step_info")[1]
    assert info["device_path"] == "/dev/vdc"
    success = captured.events_named("step_success")[1]
    assert success["drivers_installed"] == ("viostor", "netkvm")
    end = captured.events_named("operation_end")[-1]
    assert end["total_steps"] == 6
    assert captured.events_named("step_end")[0]["extra"] == 1


def test_each_event_is_a_span_event_on_its_own_span(captured: Capture) -> None:
    run_every_call()
    op_span = captured.span("enhanced-test-failover")
    step_span = captured.span("virtio-injection")
    child_span = captured.span("linstor-snapshot-creation")
    assert [e.name for e in op_span.events] == [
        "operation_start",
        "step_info",
        "step_error",
        "exception",
        "step_success",
        "step_duration",
        "operation_end",
    ]
    assert [e.name for e in step_span.events] == [
        "step_start",
        "step_info",
        "step_warning",
        "step_error",
        "exception",
        "step_success",
        "step_duration",
        "step_end",
    ]
    assert [e.name for e in child_span.events] == ["child_operation_start", "operation_end"]
    for span in (op_span, step_span, child_span):
        for event in span.events:
            if event.name == "exception":
                continue
            for key in REQUIRED:
                assert isinstance(event.attributes[key], str)
            assert event.attributes["event"] == event.name


def test_each_event_is_an_otel_log_record_with_trace_context(captured: Capture) -> None:
    run_every_call()
    records = captured.log_records
    assert [r.log_record.event_name for r in records] == [e.event for e in captured.events]
    spans = {s.name: s for s in captured.spans}
    by_span_id = {s.context.span_id: s for s in spans.values()}
    for readable, event in zip(records, captured.events):
        record = readable.log_record
        assert record.body == event.message
        assert record.trace_id == int(event["correlation_id"], 16)
        owner = by_span_id[record.span_id]
        # the record belongs to the span whose events it mirrors
        assert event.event in [e.name for e in owner.events]
        for key in REQUIRED:
            assert isinstance(record.attributes[key], str)
        expected = {
            "INFO": SeverityNumber.INFO,
            "WARNING": SeverityNumber.WARN,
            "ERROR": SeverityNumber.ERROR,
        }[event.level]
        assert record.severity_number == expected
        assert record.severity_text == {"WARNING": "WARN"}.get(event.level, event.level)


def test_stdlib_records_expose_fields_as_attributes(captured: Capture) -> None:
    run_every_call()
    record = captured.logging_records[1]
    assert record.name == "opslog"
    assert record.event == "step_info"
    assert record.vm_id == "vm-1"
    assert record.step == "initialization"
    assert record.correlation_id == record.opslog["correlation_id"]


@pytest.mark.parametrize(
    "status,level",
    [("failed", "ERROR"), ("completed", "INFO"), ("retrying", "INFO"), ("abandoned", "INFO")],
)
def test_end_level_follows_status(captured: Capture, status: str, level: str) -> None:
    op = opslog.new_operation_logger("j").start_operation("op")
    op.start_step("s").end_step(status)
    op.end_operation(status)
    assert captured.last("step_end").level == level
    assert captured.last("operation_end").level == level


def test_debug_is_below_the_default_level() -> None:
    from opslog.testing import capture_events

    with capture_events() as capture:
        op = opslog.new_operation_logger("j").start_operation("op")
        step = op.start_step("s")
        step.debug("hidden")
        op.log_debug("s", "hidden too")
        step.end_step()
        op.end_operation()
    assert capture.events_named("step_debug") == []
    with capture_events(level="debug") as capture:
        op = opslog.new_operation_logger("j").start_operation("op")
        op.start_step("s").debug("shown", {"k": 1})
        op.end_operation()
    assert capture.last("step_debug")["k"] == 1
    assert capture.last("step_debug").level == "DEBUG"


def test_log_duration_measures_from_the_start_value(captured: Capture) -> None:
    import datetime

    op = opslog.new_operation_logger("j").start_operation("op")
    op.log_duration("a", time.perf_counter() - 1.5)
    op.log_duration("b", time.monotonic() - 2.0)
    op.log_duration("c", time.time() - 3.0)  # another clock: unknown, never a wrong number
    op.log_duration("d", datetime.datetime.now() - datetime.timedelta(seconds=4))
    op.log_duration(
        "e", datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    )
    op.log_duration("f", datetime.timedelta(milliseconds=250))
    op.log_duration("g", "not a time")
    op.end_operation()
    durations = {e["step"]: e for e in captured.events_named("step_duration")}
    for step, seconds in (("a", 1.5), ("b", 2.0), ("d", 4.0), ("e", 5.0)):
        assert seconds * 1000 <= durations[step]["duration_ms"] < seconds * 1000 + 5000
        assert durations[step]["duration_str"].endswith("s")
    assert durations["f"]["duration_ms"] == 250
    assert durations["f"]["duration_str"] == "250ms"
    for step in ("c", "g"):
        assert durations[step]["duration_ms"] == -1
        assert durations[step]["duration_str"] == "unknown"
        assert "perf_counter" in durations[step].message


def test_span_status_and_literal_status(captured: Capture) -> None:
    from opentelemetry.trace import StatusCode

    op = opslog.new_operation_logger("j").start_operation("op")
    step = op.start_step("s")
    step.error("it broke", RuntimeError("disk full"))
    step.end_step("failed")
    ok = op.start_step("t")
    ok.end_step("retrying")
    op.end_operation("failed")
    failed = captured.span("s")
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "disk full"
    assert failed.attributes["opslog.status"] == "failed"
    retrying = captured.span("t")
    assert retrying.status.status_code is StatusCode.UNSET
    assert retrying.attributes["opslog.status"] == "retrying"
    op_span = captured.span("op")
    assert op_span.status.status_code is StatusCode.ERROR
    assert captured.last("operation_end")["failure_step"] == "s"
