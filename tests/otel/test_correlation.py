"""Correlation id = trace id: forms, continuation, scopes, rejection."""

from __future__ import annotations

import uuid

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

import opslog
from opslog import _diagnostics
from opslog._config import get_settings
from opslog.otel import correlation
from opslog.testing import Capture

HEX = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    "value",
    [
        HEX,
        HEX.upper(),
        "4bf92f35-77b3-4da6-a3ce-929d0e0e4736",
        "{4bf92f35-77b3-4da6-a3ce-929d0e0e4736}",
        "urn:uuid:4bf92f35-77b3-4da6-a3ce-929d0e0e4736",
        uuid.UUID(HEX),
        int(HEX, 16),
        f"  {HEX}\n",
    ],
)
def test_accepted_forms_parse_to_the_same_trace_id(value: object) -> None:
    assert opslog.parse_correlation_id(value) == int(HEX, 16)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "0" * 32,
        "00000000-0000-0000-0000-000000000000",
        HEX[:-1],
        HEX + "0",
        "g" * 32,
        "4bf92f35-77b3-4da6-a3ce-929d0e0e473",
        None,
        True,
        0,
        -5,
        1 << 128,
        3.5,
        ["x"],
        "x" * 10_000,
    ],
)
def test_invalid_forms_are_rejected(value: object) -> None:
    assert opslog.parse_correlation_id(value) is None


def test_formats_round_trip() -> None:
    assert correlation.format_correlation_id(int(HEX, 16)) == HEX
    assert correlation.correlation_id_as_uuid(HEX) == "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"
    assert opslog.parse_correlation_id(correlation.correlation_id_as_uuid(HEX)) == int(HEX, 16)
    assert correlation.correlation_id_as_uuid("nope") is None


def test_with_correlation_continues_that_trace(captured: Capture) -> None:
    logger = opslog.new_operation_logger_with_correlation(
        "volume-attach", "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"
    )
    assert logger.correlation_id == HEX
    with logger.operation("volume-attach", "vol-1") as op:
        op.log_step("cloudstack-api", "attach")
    span = captured.span("volume-attach")
    assert span.context.trace_id == int(HEX, 16)
    assert span.parent is None  # a root in that trace, no phantom parent
    assert {e["correlation_id"] for e in captured.events} == {HEX}


def test_with_correlation_nests_under_an_active_span_of_that_trace(captured: Capture) -> None:
    remote = SpanContext(
        int(HEX, 16), 0x1111111111111111, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
    )
    ctx = trace.set_span_in_context(NonRecordingSpan(remote))
    logger = opslog.new_operation_logger_with_correlation("j", HEX, context=ctx)
    logger.start_operation("daemon-op").end_operation()
    span = captured.span("daemon-op")
    assert span.parent.span_id == 0x1111111111111111
    assert span.context.trace_id == int(HEX, 16)


@pytest.mark.parametrize("bad", ["", "not-a-trace-id", "0" * 32, None, "password=hunter2hunter2"])
def test_malformed_correlation_id_starts_a_fresh_trace_and_says_so(
    captured: Capture, bad: object
) -> None:
    logger = opslog.new_operation_logger_with_correlation("j", bad)
    assert opslog.parse_correlation_id(logger.correlation_id) is not None
    logger.start_operation("op").end_operation()
    start = captured.last("operation_start")
    rejected = start["opslog.rejected_correlation_id"]
    assert isinstance(rejected, str)
    assert "hunter2" not in rejected
    assert "rejected" in start.message
    assert captured.span("op").context.trace_id == int(logger.correlation_id, 16)
    assert _diagnostics.diagnostics()["rejected_correlation_id"] == 1


def test_rejected_value_is_truncated() -> None:
    with opslog.testing.capture_events() as captured:
        opslog.new_operation_logger_with_correlation("j", "z" * 5000).start_operation(
            "op"
        ).end_operation()
    assert len(captured.last("operation_start")["opslog.rejected_correlation_id"]) <= 81


def test_correlation_scope_binds_an_id_without_a_span(captured: Capture) -> None:
    assert opslog.current_correlation_id() is None
    with opslog.correlation_scope(HEX.upper()) as cid:
        assert cid == HEX
        assert opslog.current_correlation_id() == HEX
        logger = opslog.new_operation_logger("j")
        assert logger.correlation_id == HEX
        logger.start_operation("op").end_operation()
    assert opslog.current_correlation_id() is None
    assert captured.span("op").context.trace_id == int(HEX, 16)


def test_correlation_scope_with_bad_id_binds_a_fresh_one() -> None:
    with opslog.correlation_scope("bad") as cid:
        assert opslog.parse_correlation_id(cid) is not None
        assert opslog.current_correlation_id() == cid


def test_fresh_loggers_get_distinct_valid_ids() -> None:
    ids = {opslog.new_operation_logger("j").correlation_id for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 32 and int(i, 16) for i in ids)


def test_joining_a_foreign_active_span(captured: Capture) -> None:
    provider = get_settings().tracer_provider
    assert provider is not None
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("http-server") as server:
        logger = opslog.new_operation_logger("j")
        assert logger.correlation_id == format(server.get_span_context().trace_id, "032x")
        logger.start_operation("handler").end_operation()
    assert captured.span("handler").parent.span_id == server.get_span_context().span_id
