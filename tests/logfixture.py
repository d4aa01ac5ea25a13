"""Opslog JSON-lines fixtures, made by opslog itself and then made deterministic.

The log is produced through the real JSON-lines channel; afterwards the
values that differ from run to run (timestamps, span ids, measured
durations) are replaced by stable ones, so golden outputs can be compared
byte for byte.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import opslog

CID_A = "4bf92f3577b34da6a3ce929d0e0e4736"
CID_B = "0af7651916cd43dd8448eb211c80319c"
CID_C = "11111111111111111111111111111111"


class VolumeError(Exception):
    pass


def write_scenario(path: Path) -> opslog.OperationContext:
    """Interleaved operations, a failure, a child operation, an unfinished operation.

    Returns the unfinished operation (the caller ends it after reading).
    """
    opslog.configure(console=False, json_path=str(path))
    failover = opslog.new_operation_logger_with_correlation("job-a", CID_A).start_operation(
        "enhanced-test-failover"
    )
    backup = opslog.new_operation_logger_with_correlation("job-b", CID_B).start_operation(
        "nightly-backup"
    )
    failover.log_step("initialization", "Starting enhanced test failover", {"vm_id": "vm-1"})
    snapshot = failover.start_step("linstor-snapshot")
    upload = backup.start_step("upload")
    snapshot.info("Creating snapshot", {"volume_size_gb": 110})
    upload.info("Uploading chunk", {"chunk": 1})
    child = failover.create_child_context("linstor-snapshot-creation")
    child.log_success("volume-discovery", "Found volume UUID", {"volume_uuid": "babe9a3f"})
    child.end_operation("completed", {"snapshot_name": "snap-1"})
    snapshot.success("Snapshot created", {"snapshot_name": "snap-1"})
    snapshot.end_step("completed")
    upload.warn("Slow upload", {"throughput_mbps": 12.5})
    try:
        raise VolumeError("volume vol-9 is locked")
    except VolumeError as exc:
        upload.error("Upload failed", exc, {"chunk": 2})
    upload.end_step("failed")
    backup.end_operation("failed", {"failure_step": "upload"})
    attach = failover.start_step("volume-attachment")
    attach.info("Attaching", {"device_path": "/dev/vdc"})
    attach.end_step("completed")
    failover.end_operation("completed", {"total_steps": 2})
    running = opslog.new_operation_logger_with_correlation("job-c", CID_C).start_operation(
        "long-migration"
    )
    copy = running.start_step("copy-disks")
    copy.info("Copied 40%", {"percent": 40})
    # The file handler flushed every line; the migration stays unfinished.
    return running


def normalise(path: Path, extra_lines: list[str] = (), seed: int = 7) -> list[dict[str, Any]]:
    """Rewrite ``path`` with stable timestamps, span ids and durations."""
    rng = random.Random(seed)
    span_ids: dict[str, str] = {"": ""}
    documents = []
    for index, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        document = json.loads(line)
        document["@timestamp"] = f"2025-01-22T10:00:{index // 10:02d}.{index % 10:03d}000Z"
        for key in ("span_id", "parent_span_id"):
            value = document[key]
            if value not in span_ids:
                span_ids[value] = f"{len(span_ids):016x}"
            document[key] = span_ids[value]
        for key in ("step_duration", "total_duration", "duration"):
            if f"{key}_ms" in document:
                ms = rng.randint(5, 500)
                document[f"{key}_ms"] = ms
                document[f"{key}_str"] = f"{ms}ms"
        if "exception.stacktrace" in document:
            document["exception.stacktrace"] = "Traceback (normalised)"
        documents.append(document)
    lines = [json.dumps(d) for d in documents]
    # malformed input, in the middle: never a crash, counted as skipped
    lines[3:3] = list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return documents


MALFORMED = [
    "not json at all",
    '{"truncated": ',
    '{"event": "step_info", "message": "missing the other required fields"}',
    "[1, 2, 3]",
    "",
]
