"""traced_operation / traced_step on sync and async functions."""

from __future__ import annotations

import asyncio

import pytest

import opslog
from opslog import _diagnostics
from opslog.testing import Capture


@opslog.traced_step("snapshot")
def take_snapshot(vm_id: str) -> str:
    step = opslog.current_step()
    assert step is not None
    step.info("creating", {"vm_id": vm_id})
    return f"snap-{vm_id}"


@opslog.traced_step()
async def inject_drivers(fail: bool) -> str:
    await asyncio.sleep(0)
    step = opslog.current_step()
    assert step is not None
    step.info("injecting")
    if fail:
        raise RuntimeError("virt-v2v exited 1")
    return "ok"


@opslog.traced_operation("failover", job_id="job-9")
def failover(vm_id: str) -> str:
    return take_snapshot(vm_id)


@opslog.traced_operation("async-failover", job_id="job-10")
async def async_failover(fail: bool) -> str:
    return await inject_drivers(fail)


def test_sync_operation_with_step(captured: Capture) -> None:
    assert failover("vm-1") == "snap-vm-1"
    assert failover.__name__ == "failover"
    op_span = captured.span("failover")
    step_span = captured.span("snapshot")
    assert step_span.parent.span_id == op_span.context.span_id
    assert captured.last("operation_end")["status"] == "completed"
    assert captured.last("step_info")["vm_id"] == "vm-1"
    assert {e["job_id"] for e in captured.events} == {"job-9"}


def test_async_operation_success_and_failure(captured: Capture) -> None:
    assert asyncio.run(async_failover(False)) == "ok"
    assert captured.last("operation_end")["status"] == "completed"
    assert captured.span("inject_drivers").parent is not None
    captured.clear()
    with pytest.raises(RuntimeError, match="virt-v2v exited 1"):
        asyncio.run(async_failover(True))
    assert len(captured.events_named("step_error")) == 1
    assert captured.last("step_end")["status"] == "failed"
    end = captured.last("operation_end")
    assert end["status"] == "failed"
    assert end["failure_step"] == "inject_drivers"


def test_nested_traced_operation_is_a_child_operation(captured: Capture) -> None:
    @opslog.traced_operation("outer")
    def outer() -> None:
        inner()

    @opslog.traced_operation("inner")
    def inner() -> None:
        pass

    outer()
    assert captured.span("inner").parent.span_id == captured.span("outer").context.span_id
    assert captured.last("child_operation_start")["parent_operation"] == "outer"


def test_step_outside_an_operation_is_not_lost(captured: Capture) -> None:
    assert take_snapshot("vm-2") == "snap-vm-2"
    step_span, op_span = captured.spans  # the step ends first
    assert step_span.name == op_span.name == "snapshot"
    assert step_span.parent.span_id == op_span.context.span_id
    assert op_span.attributes["opslog.kind"] == "operation"
    assert next(e.event for e in captured.events) == "operation_start"
    assert captured.last("step_info")["vm_id"] == "vm-2"
    assert _diagnostics.diagnostics()["step_outside_operation"] == 1


def test_concurrent_async_operations_stay_separate(captured: Capture) -> None:
    @opslog.traced_operation("job")
    async def job(n: int) -> str:
        await asyncio.sleep(0.001 * (3 - n))
        op = opslog.current_operation()
        assert op is not None
        op.log_step("work", f"job {n}", {"n": n})
        return op.correlation_id

    async def main() -> list[str]:
        return await asyncio.gather(*(job(n) for n in range(3)))

    ids = asyncio.run(main())
    assert len(set(ids)) == 3
    for event in captured.events_named("step_info"):
        assert event["correlation_id"] == ids[event["n"]]


def test_traced_step_nests_under_the_current_step(captured: Capture) -> None:
    @opslog.traced_step("inject-driver")
    def inject() -> None:
        opslog.current_step().info("injected")  # type: ignore[union-attr]

    with opslog.new_operation_logger("job").operation("failover") as op:
        with op.step("virtio-injection"):
            inject()  # a sub-step of the running step
        inject()  # no step running: a step of the operation
    spans = {(s.name, s.context.span_id): s for s in captured.spans}
    by_id = {span_id: name for name, span_id in spans}
    parents = sorted(
        (name, by_id.get(s.parent.span_id if s.parent else None)) for (name, _), s in spans.items()
    )
    assert parents == [
        ("failover", None),
        ("inject-driver", "failover"),
        ("inject-driver", "virtio-injection"),
        ("virtio-injection", "failover"),
    ]
    inner = [e for e in captured.events if e.fields["event"] == "step_info"]
    assert [e.fields.get("parent_step") for e in inner] == ["virtio-injection", None]
