"""The JSON lines output: the seed's Elasticsearch field names, one event per line."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import opslog

from ..conftest import CANARY

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def test_json_lines_carry_event_fields_level_msg_and_timestamp(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    opslog.configure(console=False, json_path=str(path))
    op = opslog.new_operation_logger("job-1").start_operation("enhanced-test-failover")
    step = op.start_step("vm-creation")
    step.warn("slow", {"drivers": ["viostor", "netkvm"], "ratio": float("nan")})
    try:
        raise TimeoutError(f"no answer, password={CANARY}")
    except TimeoutError as exc:
        step.error("create failed", exc)
    step.end_step("failed")
    op.end_operation("failed")
    opslog.new_operation_logger_with_correlation("j", "bad")  # a diagnostic, not an event
    opslog.shutdown(timeout=1)

    text = path.read_text(encoding="utf-8")
    assert CANARY not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [d["event"] for d in lines] == [
        "operation_start",
        "step_start",
        "step_warning",
        "step_error",
        "step_end",
        "operation_end",
    ]
    for document in lines:
        for key in (
            "correlation_id",
            "job_id",
            "operation",
            "step",
            "event",
            "level",
            "msg",
            "@timestamp",
            "message",
            "span_id",
            "parent_span_id",
        ):
            assert isinstance(document[key], str), key
        assert RFC3339_UTC.match(document["@timestamp"])
        assert document["msg"] == document["message"]
    warning = lines[2]
    assert warning["level"] == "WARN"
    assert warning["drivers"] == ["viostor", "netkvm"]
    assert warning["ratio"] == "nan"
    error = lines[3]
    assert error["level"] == "ERROR"
    assert error["error_type"] == "TimeoutError"
    assert error["retry_possible"] is True
    assert "Traceback" in error["exception.stacktrace"]
    assert lines[1]["parent_span_id"] == lines[0]["span_id"]
    assert lines[0]["parent_span_id"] == ""
    end = lines[-1]
    assert end["status"] == "failed"
    assert isinstance(end["total_duration_ms"], int)


def test_console_lines_are_readable_and_plain_off_a_tty() -> None:
    stream = io.StringIO()
    opslog.configure(console=stream)
    op = opslog.new_operation_logger("job-1").start_operation("backup")
    op.log_step("upload", "uploading chunk", {"chunk": 3, "note": "two words"})
    op.end_operation()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert re.match(r"^\d{2}:\d{2}:\d{2}\.\d{3} INFO  backup/upload  uploading chunk  ", lines[1])
    assert "chunk=3" in lines[1] and "note='two words'" in lines[1]
    assert "correlation_id" not in lines[1]  # the required fields are in the prefix
    assert "\x1b[" not in stream.getvalue()


def test_console_colour_only_on_a_tty() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    opslog.configure(console=stream)
    opslog.new_operation_logger("j").start_operation("op").end_operation("failed")
    assert "\x1b[31;1mERROR" in stream.getvalue()
