"""Existing logging and structlog code, correlated without changes."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import opslog
from opslog.bridges import LoggingBridge, add_opslog_fields, install_logging_bridge
from opslog.testing import Capture

from ..conftest import CANARY, all_output


@pytest.fixture
def bridge() -> Iterator[LoggingBridge]:
    root = logging.getLogger()
    handler = install_logging_bridge()
    level = root.level
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_third_party_records_land_on_the_current_step(
    captured: Capture, bridge: LoggingBridge
) -> None:
    library = logging.getLogger("cloudstack.client")
    with opslog.new_operation_logger("job-1").operation("failover") as op:
        library.info("between steps: %s", "op-level", extra={"request_id": "r-1"})
        with op.step("attach-volume"):
            library.info("POST /attachVolume %s", "vol-1", extra={"volume_id": "vol-1"})
            library.warning("slow answer", extra={"seconds": 4.5})
            try:
                raise ConnectionError(f"reset by peer, password={CANARY}")
            except ConnectionError:
                library.exception("call failed")
    infos = captured.events_named("step_info")
    assert infos[0].message == "between steps: op-level"
    assert infos[0]["step"] == "_operation" and infos[0]["request_id"] == "r-1"
    attach = infos[1]
    assert attach.message == "POST /attachVolume vol-1"
    assert attach["step"] == "attach-volume" and attach["volume_id"] == "vol-1"
    assert attach["logger"] == "cloudstack.client"
    assert attach["operation"] == "failover" and attach["job_id"] == "job-1"
    assert captured.last("step_warning")["seconds"] == 4.5
    error = captured.last("step_error")
    assert error["error_type"] == "ConnectionError" and error["retry_possible"] is True
    step_span = captured.span("attach-volume")
    assert [e.name for e in step_span.events] == [
        "step_start",
        "step_info",
        "step_warning",
        "step_error",
        "exception",
        "step_end",
    ]
    assert step_span.events[1].attributes["volume_id"] == "vol-1"
    assert CANARY not in all_output(captured)


def test_bridged_events_are_not_printed_twice_and_opslog_is_not_fed_back(
    captured: Capture, bridge: LoggingBridge
) -> None:
    with opslog.new_operation_logger("j").operation("op") as op:
        logging.getLogger("lib").info("from a library")
        op.log_step("s", "from opslog")
    opslog_records = [r.getMessage() for r in captured.logging_records]
    assert "from a library" not in opslog_records  # the original record is enough
    assert opslog_records.count("from opslog") == 1  # no loop through the bridge
    assert [r.log_record.body for r in captured.log_records].count("from a library") == 1


def test_outside_operations_records_pass_untouched(
    captured: Capture, bridge: LoggingBridge
) -> None:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep()
    logging.getLogger().addHandler(keep)
    try:
        logging.getLogger("lib").warning("no operation here")
    finally:
        logging.getLogger().removeHandler(keep)
    assert [r.getMessage() for r in seen] == ["no operation here"]
    assert captured.events == [] and captured.log_records == []


def test_install_is_idempotent(bridge: LoggingBridge) -> None:
    assert install_logging_bridge() is bridge
    assert sum(isinstance(h, LoggingBridge) for h in logging.getLogger().handlers) == 1


def test_structlog_processor_adds_the_required_fields(captured: Capture) -> None:
    import structlog

    rendered: list[dict[str, object]] = []

    def keep(logger: object, method: str, event_dict: dict[str, object]) -> str:
        rendered.append(dict(event_dict))
        return "ok"

    structlog.configure(
        processors=[add_opslog_fields, keep], logger_factory=structlog.ReturnLoggerFactory()
    )
    try:
        log = structlog.get_logger()
        log.info("outside")
        with opslog.new_operation_logger("job-7").operation("backup") as op, op.step("upload") as s:
            log.warning("inside", chunk=3)
    finally:
        structlog.reset_defaults()
    assert "correlation_id" not in rendered[0]
    inside = rendered[1]
    assert inside["event"] == "inside" and inside["chunk"] == 3
    assert inside["correlation_id"] == op.correlation_id == inside["trace_id"]
    assert inside["job_id"] == "job-7"
    assert inside["operation"] == "backup" and inside["step"] == "upload"
    assert inside["opslog_event"] == "step_warning"
    assert inside["span_id"] == s.span_id
