"""Process exit ends what is still open; fork does not duplicate it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EXPORTER = """
import json, os, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

class FileExporter(SpanExporter):
    def __init__(self, path):
        self.path = path
    def export(self, spans):
        with open(self.path, "a") as f:
            for s in spans:
                f.write(json.dumps({"pid": os.getpid(), "name": s.name,
                                    "status": s.attributes.get("opslog.status")}) + "\\n")
        return SpanExportResult.SUCCESS

provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(FileExporter(sys.argv[1])))
trace.set_tracer_provider(provider)
import opslog
"""


def run(code: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(EXPORTER) + textwrap.dedent(code), str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def spans(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_open_operations_are_ended_as_abandoned_at_exit(tmp_path: Path) -> None:
    out = tmp_path / "spans.jsonl"
    result = run(
        """
        op = opslog.new_operation_logger("j").start_operation("left-open")
        op.start_step("step-open")
        op.create_child_context("child-open")
        done = opslog.new_operation_logger("j").start_operation("done")
        done.end_operation()
        """,
        out,
    )
    assert result.returncode == 0, result.stderr
    by_name = {s["name"]: s["status"] for s in spans(out)}
    assert by_name == {
        "done": "completed",
        "step-open": "abandoned",
        "child-open": "abandoned",
        "left-open": "abandoned",
    }


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_does_not_end_the_parents_operations(tmp_path: Path) -> None:
    out = tmp_path / "spans.jsonl"
    result = run(
        """
        op = opslog.new_operation_logger("j").start_operation("parent-op")
        pid = os.fork()
        if pid == 0:
            child_op = opslog.new_operation_logger("j").start_operation("in-child")
            child_op.end_operation()
            sys.exit(0)  # normal exit: atexit handlers run in the child
        os.waitpid(pid, 0)
        op.end_operation()
        """,
        out,
    )
    assert result.returncode == 0, result.stderr
    records = spans(out)
    assert sorted(r["name"] for r in records) == ["in-child", "parent-op"]
    parent = next(r for r in records if r["name"] == "parent-op")
    child = next(r for r in records if r["name"] == "in-child")
    assert parent["pid"] != child["pid"]
    assert parent["status"] == "completed"
