"""The public API type-checks in strict mode, the way users call it."""

from __future__ import annotations

from pathlib import Path

USAGE = """
import time
import opslog
from opslog.testing import capture_events

logger = opslog.new_operation_logger("job-1")
op: opslog.OperationContext = logger.start_operation("failover", "job-1")
op.log_step("init", "starting", {"vm_id": "vm-1", "size_gb": 110, "ok": True})
step: opslog.StepContext = op.start_step("snapshot")
step.info("working", {"ratio": 0.5})
step.error("failed", ValueError("x"), {"attempt": 1})
step.log_duration(time.perf_counter())
step.end_step("completed", None)
child = op.create_child_context("child")
child.end_operation("completed", {"n": 1})
for attempt in op.retry("create", max_attempts=3):
    with attempt:
        pass
headers: dict[str, str] = {}
opslog.inject(headers)
ctx = opslog.extract(headers)
other = opslog.new_operation_logger_with_correlation("job-2", logger.correlation_id, context=ctx)
op.end_operation("completed", {"total_steps": 1})
cid: str | None = opslog.current_correlation_id()
with capture_events() as captured:
    pass
names: list[str] = [e.event for e in captured.events]
settings = opslog.configure(level="info", console=False)


@opslog.traced_operation("nightly")
def nightly(n: int) -> int:
    return n


result: int = nightly(1)
"""


def test_public_api_type_checks_strictly(tmp_path: Path) -> None:
    from mypy import api

    source = tmp_path / "usage.py"
    source.write_text(USAGE)
    stdout, stderr, status = api.run(
        [
            str(source),
            "--strict",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--python-version",
            "3.10",
        ]
    )
    assert status == 0, stdout + stderr
