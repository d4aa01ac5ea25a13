"""The seed document's examples, written in Python as naturally as in Go."""

from __future__ import annotations

import time

import pytest

import opslog
from opslog.testing import Capture


class VolumeNotFound(Exception):
    pass


def execute_snapshot_step(parent: opslog.OperationContext, vm_id: str, fail: bool) -> str:
    """executeSnapshotStep: a child context for snapshot operations."""
    child = parent.create_child_context("linstor-snapshot-creation")
    child.log_step("volume-discovery", "Finding volume UUID for VM", {"vm_id": vm_id})
    if fail:
        err = VolumeNotFound(f"no volume for {vm_id}")
        child.log_error("volume-discovery", "Failed to find volume UUID", err, {"vm_id": vm_id})
        child.end_operation("failed", None)
        raise RuntimeError("volume discovery failed") from err
    child.log_success("volume-discovery", "Found volume UUID", {"volume_uuid": "babe9a3f"})
    child.end_operation("completed", {"snapshot_name": "snap-1", "volume_uuid": "babe9a3f"})
    return "snap-1"


def test_child_operation_example(captured: Capture) -> None:
    logger = opslog.new_operation_logger("job-1")
    op = logger.start_operation("enhanced-test-failover", "job-1")
    step = op.start_step("linstor-snapshot")
    with pytest.raises(RuntimeError):
        execute_snapshot_step(op, "vm-1", fail=True)
    step.error(
        "Snapshot creation failed",
        RuntimeError("volume discovery failed"),
        {"linstor_config": "cfg-1"},
    )
    step.end_step("failed", None)
    op.end_operation("failed", {"failure_step": "linstor-snapshot"})

    child_end = next(
        e
        for e in captured.events_named("operation_end")
        if e["operation"] == "linstor-snapshot-creation"
    )
    assert child_end["status"] == "failed"
    assert child_end["failure_step"] == "volume-discovery"
    child_error = captured.events_named("step_error")[0]
    assert child_error["operation"] == "linstor-snapshot-creation"
    assert child_error["error_type"] == f"{__name__}.VolumeNotFound"
    assert captured.last("operation_end")["failure_step"] == "linstor-snapshot"


def test_retry_loop_example(captured: Capture) -> None:
    op = opslog.new_operation_logger("job-2").start_operation("vm-creation")
    max_retries, retry_delay = 3, 0.001
    outcomes = [TimeoutError("t/o"), ConnectionError("reset"), None]
    for attempt in range(1, max_retries + 1):
        attempt_ctx = op.start_step(f"attempt-{attempt}")
        err = outcomes[attempt - 1]
        if err is None:
            attempt_ctx.success("Operation succeeded", {"attempt_number": attempt})
            attempt_ctx.end_step("completed", None)
            break
        if attempt < max_retries:
            attempt_ctx.warn(
                "Operation failed, retrying",
                {
                    "attempt_number": attempt,
                    "max_retries": max_retries,
                    "retry_delay": f"{retry_delay}s",
                    "error": str(err),
                },
            )
            attempt_ctx.end_step("retrying", None)
            time.sleep(retry_delay)
            continue
    op.end_operation("completed", {"attempts": attempt})
    assert [s.name for s in captured.spans] == [
        "attempt-1",
        "attempt-2",
        "attempt-3",
        "vm-creation",
    ]
    assert [e["status"] for e in captured.events_named("step_end")] == [
        "retrying",
        "retrying",
        "completed",
    ]
    assert [e["error"] for e in captured.events_named("step_warning")] == ["t/o", "reset"]


def volume_daemon_attach(volume_id: str, vm_id: str) -> None:
    """Volume Daemon: continues the caller's correlation id."""
    correlation_id = opslog.current_correlation_id()
    logger = opslog.new_operation_logger_with_correlation("volume-attach", correlation_id)
    op = logger.start_operation("volume-attach", volume_id)
    op.log_step(
        "cloudstack-api",
        "Calling CloudStack attach volume",
        {"volume_id": volume_id, "vm_id": vm_id},
    )
    op.log_step("device-correlation", "Correlating device path", {"expected_device": "/dev/vdc"})
    op.end_operation("completed", {"device_path": "/dev/vdc", "attach_duration_ms": 12})


def cleanup_service(vm_name: str) -> None:
    """Cleanup Service: child contexts for the major cleanup steps."""
    correlation_id = opslog.current_correlation_id()
    logger = opslog.new_operation_logger_with_correlation("cleanup", correlation_id)
    op = logger.start_operation("test-failover-cleanup", vm_name)
    vm_cleanup = op.create_child_context("vm-cleanup")
    volume_cleanup = op.create_child_context("volume-cleanup")
    snapshot_cleanup = op.create_child_context("snapshot-cleanup")
    vm_cleanup.end_operation("completed")
    volume_cleanup.end_operation("completed")
    snapshot_cleanup.end_operation("completed")
    op.end_operation(
        "completed", {"vm_deleted": True, "volumes_reattached": 1, "snapshots_rolled_back": 1}
    )


def test_cross_service_correlation_example(captured: Capture) -> None:
    logger = opslog.new_operation_logger("job-3")
    op = logger.start_operation("test-failover", "job-3")
    cid = op.correlation_id
    # logging.WithContext(ctx, opCtx.GetCorrelationID()) -> correlation_scope
    with opslog.correlation_scope(cid):
        volume_daemon_attach("vol-1", "vm-1")
        cleanup_service("PGWINTESTBIOS")
    op.end_operation("completed")
    assert {e["correlation_id"] for e in captured.events} == {cid}
    assert {s.context.trace_id for s in captured.spans} == {int(cid, 16)}
    attach = captured.span("volume-attach")
    # called while the failover operation was current: a child of it
    assert attach.parent.span_id == captured.span("test-failover").context.span_id
    assert {e["job_id"] for e in captured.events if e["operation"] == "volume-attach"} == {"vol-1"}
    cleanup_children = [
        s
        for s in captured.spans
        if s.name.endswith("-cleanup") and s.name != "test-failover-cleanup"
    ]
    assert len(cleanup_children) == 3


def test_comprehensive_error_handling_example(captured: Capture) -> None:
    op = opslog.new_operation_logger("job-4").start_operation("enhanced-test-failover")
    step_ctx = op.start_step("vm-creation")
    err = ConnectionRefusedError("CloudStack API unreachable")
    error_details = {
        "error_type": "cloudstack_api_error",
        "retry_possible": True,
        "cloudstack_error_code": "431",
        "underlying_error": str(err),
    }
    step_ctx.error("Operation failed with detailed context", err, error_details)
    step_ctx.end_step("failed", error_details)
    op.end_operation("failed")
    error = captured.last("step_error")
    assert error["error_type"] == "cloudstack_api_error"  # the caller's classification
    assert error["cloudstack_error_code"] == "431"
    end = captured.last("step_end")
    assert end["status"] == "failed"
    assert end["error_type"] == "cloudstack_api_error"


def test_seed_performance_pattern_shared_base_fields(captured: Capture) -> None:
    """'Pre-build fields' from the seed: reusing a base mapping must be safe."""
    base = {"vm_id": "vm-1", "operation": "caller-op"}
    op = opslog.new_operation_logger("job-5").start_operation("op")
    step = op.start_step("s")
    fields = dict(base)
    fields["step_specific"] = 1
    step.info("Message", fields)
    step.info("Message", base)
    step.end_step()
    op.end_operation()
    assert base == {"vm_id": "vm-1", "operation": "caller-op"}
    first, second = captured.events_named("step_info")
    assert first["operation"] == second["operation"] == "op"
    assert first["fields.operation"] == "caller-op"
    assert "step_specific" not in second.fields
