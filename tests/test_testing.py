"""opslog.testing: the capture helper users call in their own tests."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import trace

import opslog
from opslog._config import get_settings
from opslog.testing import capture_events


def test_capture_collects_all_channels_and_restores_everything() -> None:
    before = get_settings()
    level_before = logging.getLogger("opslog").level
    global_provider = trace.get_tracer_provider()
    with capture_events() as captured:
        with opslog.new_operation_logger("j").operation("op") as op:
            op.log_step("s", "hello", {"k": "v"})
        assert captured.last("step_info")["k"] == "v"
        assert captured.span("op").name == "op"
        assert len(captured.log_records) == 3
        assert [e.event for e in captured.events] == [
            "operation_start",
            "step_info",
            "operation_end",
        ]
        captured.clear()
        assert captured.events == [] and captured.spans == []
    assert get_settings() is before
    assert logging.getLogger("opslog").level == level_before
    assert trace.get_tracer_provider() is global_provider


def test_capture_helpers_fail_clearly() -> None:
    with capture_events() as captured:
        pass
    with pytest.raises(AssertionError, match="no 'step_error' event"):
        captured.last("step_error")
    with pytest.raises(AssertionError, match="0 spans named 'x'"):
        captured.span("x")
