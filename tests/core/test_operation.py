"""Operations, steps and child operations as spans; their lifecycle."""

from __future__ import annotations

import opslog
from opslog import _diagnostics
from opslog._config import get_settings
from opslog.testing import Capture
from opslog.vocabulary import REQUIRED_FIELDS


def test_operation_step_and_child_operation_form_one_span_tree(captured: Capture) -> None:
    logger = opslog.new_operation_logger("job-7")
    op = logger.start_operation("enhanced-test-failover")
    step = op.start_step("linstor-snapshot")
    child = op.create_child_context("linstor-snapshot-creation")
    child_step = child.start_step("volume-discovery")
    child_step.end_step()
    child.end_operation("completed")
    step.end_step()
    op.end_operation("completed")

    root = captured.span("enhanced-test-failover")
    snapshot = captured.span("linstor-snapshot")
    child_span = captured.span("linstor-snapshot-creation")
    discovery = captured.span("volume-discovery")
    assert root.parent is None
    assert snapshot.parent.span_id == root.context.span_id
    assert child_span.parent.span_id == root.context.span_id
    assert discovery.parent.span_id == child_span.context.span_id
    trace_ids = {s.context.trace_id for s in captured.spans}
    assert trace_ids == {int(logger.correlation_id, 16)}
    assert child_span.attributes["parent_operation"] == "enhanced-test-failover"

    child_events = [e for e in captured.events if e["operation"] == "linstor-snapshot-creation"]
    assert [e.event for e in child_events] == [
        "child_operation_start",
        "step_start",
        "step_end",
        "operation_end",
    ]
    start = child_events[0]
    assert start["parent_operation"] == "enhanced-test-failover"
    assert start["child_operation"] == "linstor-snapshot-creation"
    assert {e["correlation_id"] for e in captured.events} == {logger.correlation_id}
    assert {e["job_id"] for e in captured.events} == {"job-7"}
    assert child_step.correlation_id == op.correlation_id == logger.correlation_id


def test_start_operation_job_id_overrides_the_loggers(captured: Capture) -> None:
    logger = opslog.new_operation_logger_with_correlation("cleanup", None)
    op = logger.start_operation("test-failover-cleanup", "PGWINTESTBIOS")
    op.end_operation()
    assert {e["job_id"] for e in captured.events} == {"PGWINTESTBIOS"}
    assert logger.job_id == "cleanup"


def test_end_operation_abandons_open_steps_and_children(captured: Capture) -> None:
    op = opslog.new_operation_logger("j").start_operation("op")
    op.start_step("left-open")
    child = op.create_child_context("child")
    child.start_step("inner")
    done = op.start_step("done")
    done.end_step()
    op.end_operation("completed")

    end = captured.last("operation_end")
    assert end["operation"] == "op"
    assert end["abandoned_steps"] == 1
    assert end["abandoned_child_operations"] == 1
    assert captured.span("left-open").attributes["opslog.status"] == "abandoned"
    assert captured.span("inner").attributes["opslog.status"] == "abandoned"
    assert captured.span("child").attributes["opslog.status"] == "abandoned"
    assert all(s.end_time is not None for s in captured.spans)
    assert len(captured.spans) == 5
    assert _diagnostics.diagnostics()["abandoned"] >= 2


def test_double_end_keeps_the_first_status_and_is_reported(captured: Capture) -> None:
    op = opslog.new_operation_logger("j").start_operation("op")
    step = op.start_step("s")
    step.end_step("failed")
    step.end_step("completed")
    op.end_operation("failed", {"failure_step": "s"})
    op.end_operation("completed", {"total_steps": 6})  # Go's deferred EndOperation
    assert [e["status"] for e in captured.events_named("step_end")] == ["failed"]
    assert [e["status"] for e in captured.events_named("operation_end")] == ["failed"]
    assert captured.span("op").attributes["opslog.status"] == "failed"
    assert _diagnostics.diagnostics()["double_end"] == 2


def test_log_calls_after_end_reach_the_log_channels_marked(captured: Capture) -> None:
    op = opslog.new_operation_logger("j").start_operation("op")
    step = op.start_step("s")
    step.end_step()
    step.info("late", {"k": 1})
    step.error("late error", None)
    op.end_operation()
    op.log_step("x", "later still")
    late = [e for e in captured.events if e.fields.get("opslog.after_end")]
    assert [e.message for e in late] == ["late", "late error", "later still"]
    assert all(e["step"] in ("s", "x") for e in late)
    span_event_names = [e.name for e in captured.span("s").events]
    assert "step_info" not in span_event_names  # the span had ended
    assert [r.log_record.body for r in captured.log_records][-1] == "later still"
    assert _diagnostics.diagnostics()["call_after_end"] == 3


def test_more_than_128_events_lose_nothing_on_the_log_channels(captured: Capture) -> None:
    op = opslog.new_operation_logger("j").start_operation("long")
    for i in range(300):
        op.log_step("poll", f"poll {i}", {"i": i})
    op.end_operation()
    polls = [e for e in captured.events if e.event == "step_info"]
    assert [e["i"] for e in polls] == list(range(300))
    assert len([r for r in captured.log_records if r.log_record.event_name == "step_info"]) == 300
    span = captured.span("long")
    assert len(span.events) == 128
    # 302 events in all (start + 300 + end), the span kept 128.
    assert span.attributes["opslog.span_events_dropped"] == 302 - 128
    assert captured.last("operation_end")["span_events_dropped"] == 302 - 128
    assert span.events[-1].name == "operation_end"  # the newest are kept


def test_context_managers_end_completed_or_failed_and_reraise(captured: Capture) -> None:
    import pytest

    logger = opslog.new_operation_logger("j")
    with logger.start_operation("ok") as op, op.step("s") as step:
        step.info("fine")
    assert captured.last("operation_end")["status"] == "completed"

    error = ValueError("disk full")
    with pytest.raises(ValueError) as raised, logger.operation("bad") as op, op.step("write"):
        raise error
    assert raised.value is error
    errors = captured.events_named("step_error")
    assert len(errors) == 1  # recorded once, by the step
    assert errors[0]["step"] == "write"
    assert errors[0]["error"] == "disk full"
    assert errors[0]["error_type"] == "ValueError"
    assert captured.last("step_end")["status"] == "failed"
    end = captured.last("operation_end")
    assert end["status"] == "failed"
    assert end["failure_step"] == "write"
    exception_events = [e for e in captured.span("write").events if e.name == "exception"]
    assert exception_events[0].attributes["exception.type"] == "ValueError"
    assert "Traceback" in exception_events[0].attributes["exception.stacktrace"]
    # The semantic-conventions event is an opslog event like the others: the five fields.
    error = next(e for e in captured.span("write").events if e.name == "step_error")
    identity = {k: error.attributes[k] for k in REQUIRED_FIELDS}
    assert {k: exception_events[0].attributes[k] for k in REQUIRED_FIELDS} == {
        **identity,
        "event": "exception",
    }


def test_context_manager_marks_keyboard_interrupt_cancelled(captured: Capture) -> None:
    import pytest

    with pytest.raises(KeyboardInterrupt), opslog.new_operation_logger("j").operation("op"):
        raise KeyboardInterrupt
    assert captured.last("operation_end")["status"] == "cancelled"


def test_explicit_end_inside_with_block_is_not_a_double_end(captured: Capture) -> None:
    with opslog.new_operation_logger("j").operation("op") as op:
        op.end_operation("failed")
    assert [e["status"] for e in captured.events_named("operation_end")] == ["failed"]
    assert "double_end" not in _diagnostics.diagnostics()


def test_started_scope_is_current_until_it_ends(captured: Capture) -> None:
    assert opslog.current_operation() is None
    op = opslog.new_operation_logger("j").start_operation("op")
    assert opslog.current_operation() is op
    assert opslog.current_correlation_id() == op.correlation_id
    step = op.start_step("s")
    assert opslog.current_step() is step
    assert opslog.current_operation() is op
    step.end_step()
    assert opslog.current_step() is None
    op.end_operation()
    assert opslog.current_operation() is None
    assert opslog.current_correlation_id() is None


def test_new_logger_inside_an_operation_joins_its_trace(captured: Capture) -> None:
    with opslog.new_operation_logger("job-a").operation("outer") as outer:
        inner_logger = opslog.new_operation_logger()
        assert inner_logger.correlation_id == outer.correlation_id
        assert inner_logger.job_id == "job-a"
        with inner_logger.operation("inner"):
            pass
    assert captured.span("inner").parent.span_id == captured.span("outer").context.span_id


def test_operation_ended_elsewhere_does_not_capture_new_work(captured: Capture) -> None:
    import threading

    op = opslog.new_operation_logger("j").start_operation("first")
    worker = threading.Thread(target=op.end_operation)
    worker.start()
    worker.join()
    # The first operation is still "current" in this thread's context, but ended:
    second = opslog.new_operation_logger("j2")
    assert second.correlation_id != op.correlation_id
    assert opslog.current_operation() is None
    assert opslog.current_correlation_id() is None
    # what is bound on top of the stale context still counts
    with opslog.correlation_scope("4bf92f3577b34da6a3ce929d0e0e4736"):
        assert opslog.current_correlation_id() == "4bf92f3577b34da6a3ce929d0e0e4736"
    tracer = get_settings().tracer_provider.get_tracer("app")  # type: ignore[union-attr]
    with tracer.start_as_current_span("foreign") as foreign:
        joined = opslog.new_operation_logger("j3")
        assert joined.correlation_id == format(foreign.get_span_context().trace_id, "032x")
