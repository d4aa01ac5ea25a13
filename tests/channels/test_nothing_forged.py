"""Nothing forged: a caller can neither overwrite opslog's own keys nor break a line."""

from __future__ import annotations

import io
import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opslog
from opslog.testing import Capture

from ..conftest import five_outputs

_BIDI = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _safe_line(line: str) -> bool:
    """No control character, line or paragraph separator, or bidi control."""
    return not any(unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in _BIDI for c in line)


OWN_KEYS = [
    "@timestamp",
    "level",
    "msg",
    "message",
    "span_id",
    "parent_span_id",
    "correlation_id",
    "job_id",
    "operation",
    "step",
    "event",
]


def _json_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("key", OWN_KEYS)
def test_json_lines_keep_their_own_keys_and_the_callers_value(tmp_path: Path, key: str) -> None:
    path = tmp_path / "events.jsonl"
    opslog.configure(json_path=str(path), console=False)
    op = opslog.new_operation_logger("job").start_operation("op")
    op.log_step("s", "hello", {key: "9999999999d"})
    op.end_operation()
    opslog.shutdown(timeout=1)
    (line,) = [d for d in _json_lines(path) if d["event"] == "step_info"]
    assert line[f"fields.{key}"] == "9999999999d"
    assert line[key] != "9999999999d"
    assert line["@timestamp"].startswith("20") and line["level"] == "INFO"
    assert line["msg"] == line["message"] == "hello"


def test_a_forged_timestamp_does_not_break_report_since(tmp_path: Path) -> None:
    from opslog.cli import main

    path = tmp_path / "events.jsonl"
    opslog.configure(json_path=str(path), console=False)
    op = opslog.new_operation_logger("job").start_operation("op")
    op.log_step("s", "hello", {"@timestamp": "9999999999d"})
    op.end_operation()
    opslog.shutdown(timeout=1)
    assert main(["report", str(path), "--since", "1h"]) == 0


CONTROL = [
    "line one\nline two",
    "carriage\rreturn",
    "\x1b[31mred\x1b[0m",
    "\x1b]52;c;c2VjcmV0\x07clipboard",  # OSC 52
    "\x1b]0;title\x07",
    "tab\there",
    "nul\x00byte",
    "next line\x85",
    "line\u2028separator",
    "bidi \u202etxt.exe",
    "\x9b31mC1 CSI",
]


@pytest.mark.parametrize("text", CONTROL)
def test_console_prints_one_line_per_event_whatever_the_text(text: str) -> None:
    stream = io.StringIO()
    opslog.configure(console=stream)
    logger = opslog.new_operation_logger(text)
    op = logger.start_operation(f"op {text}")
    op.log_step(f"step {text}", text, {f"key {text}": text, "list": [text, text]})
    op.end_operation()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # operation_start, step_info, operation_end
    for line in lines:
        assert _safe_line(line), repr(line)


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_console_lines_are_printable_for_any_text(text: str) -> None:
    stream = io.StringIO()
    opslog.configure(console=stream)
    op = opslog.new_operation_logger("job").start_operation("op")
    op.log_step(text, text, {"value": text})
    op.end_operation()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert all(_safe_line(line) for line in lines)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*OWN_KEYS, "getMessage", "exc_info", "args", "vm_id"]),
        st.one_of(st.text(max_size=20), st.integers(), st.none()),
        max_size=8,
    )
)
def test_no_caller_field_changes_opslogs_own_values_on_any_output(
    fields: dict[str, object],
) -> None:
    from opslog.testing import capture_events

    with capture_events() as capture:
        op = opslog.new_operation_logger("job-7").start_operation("op")
        op.log_step("s", "hello", fields)
        op.end_operation()
    event = capture.events_named("step_info")[0]
    assert (event["job_id"], event["operation"], event["step"], event["event"]) == (
        "job-7",
        "op",
        "s",
        "step_info",
    )
    assert event.message == "hello"
    outputs = five_outputs(capture)
    assert all("hello" in text for text in outputs.values())
    lines = outputs["json lines"].split("\n")
    assert len(lines) == len(outputs["json lines"].splitlines()) == 3  # one event, one line
    document = json.loads(lines[1])
    assert document["job_id"] == "job-7" and document["msg"] == "hello"
    for key in fields:
        if key in OWN_KEYS:
            assert f"fields.{key}" in document


def test_step_info_carries_all_five_required_fields_on_every_channel(captured: Capture) -> None:
    op = opslog.new_operation_logger("job").start_operation("op")
    op.log_step("s", "hello", {"correlation_id": "forged", "event": "forged"})
    op.end_operation()
    record = next(r for r in captured.log_records if r.log_record.body == "hello")
    attributes = dict(record.log_record.attributes or {})
    assert attributes["event"] == "step_info"
    assert attributes["correlation_id"] == op.correlation_id
    assert attributes["fields.event"] == "forged"


@pytest.mark.parametrize("breaker", ["\n", "\r", "\x85", "\u2028", "\u2029", "\x0b", "\x1e"])
def test_json_lines_stay_one_line_per_event_for_any_line_breaker(
    tmp_path: Path, breaker: str
) -> None:
    path = tmp_path / "events.jsonl"
    opslog.configure(json_path=str(path), console=False)
    op = opslog.new_operation_logger(f"job{breaker}1").start_operation(f"op{breaker}x")
    op.log_step(f"s{breaker}", f"a{breaker}b", {f"k{breaker}": f"v{breaker}w"})
    op.end_operation()
    opslog.shutdown(timeout=1)
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) == 3
    assert json.loads(text.splitlines()[1])["message"] == f"a{breaker}b"
