"""The seed's "enhanced test failover", written with opslog.

A realistic multi-step job: snapshot protection through a child operation
of the snapshot step, VirtIO driver injection (with a warning and two
sub-steps), VM creation retried with ``retry`` inside its step (the first
attempt meets a recovered, retryable error), volume attachment timed with
``log_duration``, and cleanup. It sleeps only a few milliseconds per step.
``opslog demo`` runs it with events printed to the terminal.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Optional

from ..core import operation as operations
from ..core.operation import OperationContext, StepContext
from ..integrations.http import urlopen
from ..vocabulary import STATUS_COMPLETED, STATUS_FAILED

__all__ = ["FailoverError", "run_failover"]

STEPS = ("linstor-snapshot", "virtio-injection", "vm-creation", "volume-attachment", "cleanup")


class FailoverError(RuntimeError):
    """Raised when the demo is asked to fail at a step."""

    def __init__(self, message: str, correlation_id: str = "") -> None:
        super().__init__(message)
        self.correlation_id = correlation_id


def _work(seconds: float) -> None:
    time.sleep(seconds)


def _snapshot(parent: StepContext, vm_id: str) -> str:
    """The seed's child operation: executeSnapshotStep, a child of the snapshot step."""
    child = parent.create_child_context("linstor-snapshot-creation")
    child.log_step("volume-discovery", "Finding volume UUID for VM", {"vm_id": vm_id})
    _work(0.005)
    volume_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, vm_id))
    child.log_success("volume-discovery", "Found volume UUID", {"volume_uuid": volume_uuid})
    snapshot_name = f"tfo-{vm_id[:8]}-{int(time.time())}"
    child.end_operation(
        STATUS_COMPLETED, {"snapshot_name": snapshot_name, "volume_uuid": volume_uuid}
    )
    return snapshot_name


class CloudStackTimeout(TimeoutError):
    """The demo's recovered error (a TimeoutError: retryable)."""


def _create_vm(op: OperationContext, vm_name: str) -> str:
    """The seed's retry loop as ``op.retry`` while the vm-creation step is
    current: the attempts are sub-steps of that step; the first one times out
    (retryable), the second succeeds."""
    for attempt in op.retry("vm-creation", max_attempts=3, delay=0.01):
        with attempt:
            if attempt.number == 1:
                raise CloudStackTimeout("CloudStack API did not answer within 30s")
            _work(0.002)
    return f"{vm_name}-test"


def _inject_drivers(step: StepContext) -> None:
    """Two sub-steps of the injection step."""
    for driver in ("viostor", "netkvm"):
        with step.step(f"inject-{driver}") as sub:
            _work(0.002)
            sub.success(f"{driver} injected", {"driver": driver})


def _call_daemon(url: str, path: str, body: Mapping[str, object]) -> dict[str, object]:
    """POST JSON to the volume daemon in a client span (trace context injected)."""
    response = urlopen(
        f"{url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
        timeout=10,
    )
    with response:
        result: dict[str, object] = json.loads(response.read())
    return result


def run_failover(
    vm_id: str = "4205a841-0265-f4bd-39a6-39fd92196f53",
    vm_name: str = "PGWINTESTBIOS",
    job_id: Optional[str] = None,
    fail_at: Optional[str] = None,
    volume_daemon: Optional[str] = None,
) -> str:
    """Run the failover; returns its correlation id.

    ``fail_at`` names a step of :data:`STEPS` that fails (the operation then
    ends ``failed`` and :class:`FailoverError` is raised, as in the seed).
    ``volume_daemon`` is the base URL of a volume daemon
    (:mod:`opslog.cli.services`): attachment and cleanup then call it over HTTP.
    """
    job_id = job_id or f"failover-{uuid.uuid4().hex[:12]}"
    logger = operations.new_operation_logger(job_id)
    op = logger.start_operation("enhanced-test-failover", job_id)
    op.log_step(
        "initialization",
        "Starting enhanced test failover",
        {
            "vm_id": vm_id,
            "vm_name": vm_name,
            "auto_cleanup": True,
            "skip_validation": False,
            "skip_snapshot": False,
            "skip_virtio": False,
            # Shown as [REDACTED] in every output.
            "cloudstack_api_key": "demo-secret-key-do-not-print",
        },
    )
    snapshot_name = ""
    destination = ""
    for index, name in enumerate(STEPS, start=1):
        step = op.start_step(name)
        step.info(f"Running {name}", {"step_number": index, "total_steps": len(STEPS)})
        step_start = time.perf_counter()
        if name == fail_at:
            err = FailoverError(f"{name} failed on host kvm-03")
            step.error(f"{name} failed", err, {"vm_id": vm_id})
            step.end_step(STATUS_FAILED)
            op.end_operation(STATUS_FAILED, {"failure_step": name})
            raise FailoverError(f"{name} step failed", logger.correlation_id) from err
        if name == "linstor-snapshot":
            snapshot_name = _snapshot(step, vm_id)
            step.success("Snapshot created successfully", {"snapshot_name": snapshot_name})
        elif name == "virtio-injection":
            step.warn("Driver vioscsi already present, skipping", {"driver": "vioscsi"})
            _inject_drivers(step)
            step.success(
                "VirtIO drivers injected",
                {"drivers_installed": ["viostor", "netkvm"], "device_path": "/dev/vdc"},
            )
        elif name == "vm-creation":
            destination = _create_vm(op, vm_name)
            step.success("Test VM created", {"destination_vm_id": destination})
        elif name == "volume-attachment":
            volume = {"volume_id": "babe9a3f-2746-4bfa-86cb-36830e0cd399", "vm_id": vm_id}
            if volume_daemon:
                device = _call_daemon(volume_daemon, "/attach", volume)["device_path"]
            else:
                _work(0.01)
                device = "/dev/vdc"
            step.success("Volume attached", {"device_path": device, "volume_size_gb": 110})
        else:
            if volume_daemon:
                _call_daemon(volume_daemon, "/detach", {"volume_id": "babe9a3f"})
            step.success("Cleanup scheduled", {"auto_cleanup": True})
        step.log_duration(step_start)
        step.end_step(STATUS_COMPLETED)
    op.end_operation(
        STATUS_COMPLETED,
        {
            "destination_vm_id": destination,
            "snapshot_name": snapshot_name,
            "total_steps_completed": len(STEPS),
        },
    )
    return logger.correlation_id
