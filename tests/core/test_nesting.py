"""Steps nest: sub-steps, retries and child operations under the step they run in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import opslog
from opslog.core.retry import Retry
from opslog.testing import Capture

REQUIRED = ("correlation_id", "job_id", "operation", "step", "event")


def _parent(captured: Capture, name: str) -> str:
    return format(captured.span(name).parent.span_id, "016x")  # type: ignore[union-attr]


def _span_id(captured: Capture, name: str) -> str:
    return format(captured.span(name).context.span_id, "016x")


def test_sub_steps_are_children_of_their_step_and_name_it(captured: Capture) -> None:
    with (
        opslog.new_operation_logger("job-9").operation("migrate") as op,
        op.step("copy-disks") as step,
    ):
        with step.step("copy-disk-0") as sub:
            sub.info("copying", {"bytes": 10})
            with sub.step("verify") as deeper:
                deeper.success("ok")
        explicit = step.start_step("copy-disk-1")
        explicit.end_step()
    assert _parent(captured, "copy-disk-0") == _span_id(captured, "copy-disks")
    assert _parent(captured, "verify") == _span_id(captured, "copy-disk-0")
    assert _parent(captured, "copy-disk-1") == _span_id(captured, "copy-disks")
    info = captured.last("step_info")
    assert info["step"] == "copy-disk-0" and info["parent_step"] == "copy-disks"
    assert all(isinstance(info[k], str) for k in REQUIRED)
    assert captured.last("step_success")["parent_step"] == "copy-disk-0"
    # The nesting is on every channel, so flat log queries can rebuild it.
    record = next(r for r in captured.log_records if r.log_record.body == "copying")
    assert dict(record.log_record.attributes or {})["parent_step"] == "copy-disks"
    starts = {e["step"]: e.fields.get("parent_step") for e in captured.events_named("step_start")}
    assert starts == {
        "copy-disks": None,
        "copy-disk-0": "copy-disks",
        "verify": "copy-disk-0",
        "copy-disk-1": "copy-disks",
    }


def test_json_lines_carry_parent_step(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    opslog.configure(json_path=str(path), console=False)
    with opslog.new_operation_logger("job").operation("op") as op, op.step("outer") as step:
        step.start_step("inner").end_step()
    opslog.shutdown(timeout=1)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    inner = [line for line in lines if line["step"] == "inner"]
    assert {line["parent_step"] for line in inner} == {"outer"}


def test_retry_inside_a_step_makes_attempts_children_of_that_step(captured: Capture) -> None:
    with opslog.new_operation_logger("job").operation("op") as op, op.step("vm-creation"):
        for attempt in op.retry("create", max_attempts=3, delay=0):
            with attempt:
                if attempt.number == 1:
                    raise TimeoutError("slow")
    for name in ("create-attempt-1", "create-attempt-2"):
        assert _parent(captured, name) == _span_id(captured, "vm-creation")
    warning = captured.last("step_warning")
    assert warning["step"] == "create-attempt-1" and warning["parent_step"] == "vm-creation"


def test_retry_on_a_step_and_outside_any_step(captured: Capture) -> None:
    with opslog.new_operation_logger("job").operation("op") as op:
        with op.step("attach") as step:
            for attempt in step.retry("call", delay=0):
                with attempt:
                    pass
        for attempt in op.retry("later", delay=0):
            with attempt:
                pass
    assert _parent(captured, "call-attempt-1") == _span_id(captured, "attach")
    assert _parent(captured, "later-attempt-1") == _span_id(captured, "op")


def test_a_child_operation_started_on_a_step_is_its_child(captured: Capture) -> None:
    with (
        opslog.new_operation_logger("job").operation("failover") as op,
        op.step("snapshot") as step,
    ):
        child = step.create_child_context("linstor-snapshot")
        child.log_step("discover", "found")
        child.end_operation()
    assert _parent(captured, "linstor-snapshot") == _span_id(captured, "snapshot")
    start = captured.last("child_operation_start")
    assert (start["parent_operation"], start["parent_step"], start["operation"]) == (
        "failover",
        "snapshot",
        "linstor-snapshot",
    )
    assert start["step"] == "_operation"


def test_ending_a_step_abandons_its_open_sub_steps(captured: Capture) -> None:
    with opslog.new_operation_logger("job").operation("op") as op:
        step = op.start_step("outer")
        step.start_step("left-open")
        step.create_child_context("child-left-open")
        step.end_step()
    ends = {e["step"]: e for e in captured.events_named("step_end")}
    assert ends["left-open"]["status"] == "abandoned"
    assert ends["outer"]["abandoned_steps"] == 1
    assert ends["outer"]["abandoned_child_operations"] == 1
    assert captured.last("operation_end")["abandoned_steps"] == 0


def test_a_failed_sub_step_names_itself_as_the_failure_step(captured: Capture) -> None:
    with (
        pytest.raises(ValueError),
        opslog.new_operation_logger("job").operation("op") as op,
        op.step("outer") as step,
        step.step("inner"),
    ):
        raise ValueError("bad disk")
    assert captured.last("operation_end")["failure_step"] == "inner"
    assert [e["step"] for e in captured.events_named("step_error")] == ["inner"]


def test_retry_jitter_spreads_delays_within_the_fraction(captured: Capture) -> None:
    delays: list[float] = []
    with opslog.new_operation_logger("j").operation("o") as op:
        retry = Retry(
            op, "x", max_attempts=50, delay=1.0, backoff=1.0, jitter=0.5, sleep=delays.append
        )
        for attempt in retry:
            with attempt:
                if attempt.number < 50:
                    raise ConnectionError("again")
    assert len(delays) == 49
    assert all(0.5 <= d <= 1.0 for d in delays)
    assert len({round(d, 6) for d in delays}) > 10


def test_names_that_never_shipped_are_gone() -> None:
    """No release was made: the old spellings are not kept as aliases."""
    with opslog.new_operation_logger("job").operation("op") as op:
        with pytest.raises(TypeError):
            op.retry("x", max_retries=2, delay=0)  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            Retry(op, "y", max_retries=4)  # type: ignore[call-arg]
        with op.step("s") as step:
            assert not hasattr(step, "warning") and not hasattr(step, "context")
    assert not hasattr(opslog, "STEP_INFO")  # in opslog.vocabulary
    assert not hasattr(opslog, "get_settings")  # configure() returns the settings
