"""opslog's stdlib records are the records ``Logger.makeRecord`` makes, field for field."""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import opslog
from opslog.channels.stdlib_records import RecordMaker
from opslog.testing import Capture

from ..helpers import run_python

TIMES = ("created", "msecs", "relativeCreated")


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    made = logging.getLogger("opslog-test-records")
    yield made
    made.__dict__.pop("makeRecord", None)


def both(maker: RecordMaker, logger: logging.Logger, level: int = logging.INFO) -> tuple[Any, Any]:
    """A record from ``maker`` and one from ``makeRecord``, at the same moment."""
    timestamp = time.time_ns()
    ours = maker.make(level, "step s started", timestamp)
    theirs = logger.makeRecord(logger.name, level, "(opslog)", 0, "step s started", (), None)
    return ours, theirs


def untimed(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in TIMES}


def templated(maker: RecordMaker, level: int) -> bool:
    """Whether ``maker`` builds ``level``'s records from its template (not makeRecord)."""
    return maker._templates.get(level) is not None


@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR])
def test_a_record_is_the_one_make_record_makes(logger: logging.Logger, level: int) -> None:
    maker = RecordMaker(logger, "(opslog)")
    ours, theirs = both(maker, logger, level)
    assert templated(maker, level)
    assert type(ours) is logging.LogRecord
    assert untimed(ours) == untimed(theirs)
    assert set(vars(ours)) == set(vars(theirs))
    assert ours.getMessage() == theirs.getMessage() == "step s started"
    assert logging.Formatter("%(levelname)s %(name)s %(module)s %(message)s").format(
        ours
    ) == logging.Formatter("%(levelname)s %(name)s %(module)s %(message)s").format(theirs)


def test_its_times_are_the_event_timestamp(logger: logging.Logger) -> None:
    maker = RecordMaker(logger, "(opslog)")
    timestamp = time.time_ns() - 5_123_456_789
    record = maker.make(logging.INFO, "m", timestamp)
    reference = logger.makeRecord(logger.name, logging.INFO, "(opslog)", 0, "m", (), None)
    assert record.created == timestamp / 1e9
    assert record.msecs == (timestamp // 1_000_000) % 1000
    assert isinstance(record.msecs, float)
    # relativeCreated keeps logging's start time: the same offset as created
    expected = reference.relativeCreated - (reference.created - record.created) * 1000
    assert record.relativeCreated == pytest.approx(expected, abs=0.01)


def test_msecs_never_reads_999_when_created_rounded_up_to_the_next_second(
    logger: logging.Logger,
) -> None:
    timestamp = 1_677_903_920_999_999_900  # created rounds to ...921.0
    record = RecordMaker(logger, "(opslog)").make(logging.INFO, "m", timestamp)
    assert record.created == 1_677_903_921.0
    assert record.msecs == 0.0


def test_thread_fields_are_the_calling_threads(logger: logging.Logger) -> None:
    maker = RecordMaker(logger, "(opslog)")
    both(maker, logger)  # the template, made in this thread
    seen: list[tuple[Any, Any]] = []
    worker = threading.Thread(target=lambda: seen.append(both(maker, logger)), name="copier-7")
    worker.start()
    worker.join()
    ours, theirs = seen[0]
    assert ours.threadName == "copier-7" and ours.thread == worker.ident
    assert untimed(ours) == untimed(theirs)


def test_task_and_process_fields_follow_the_stdlib(logger: logging.Logger) -> None:
    maker = RecordMaker(logger, "(opslog)")

    async def in_task() -> tuple[Any, Any]:
        return both(maker, logger)

    async def main() -> tuple[Any, Any]:
        return await asyncio.create_task(in_task(), name="migrate-vm-3")

    ours, theirs = asyncio.run(main())
    assert templated(maker, logging.INFO)
    assert untimed(ours) == untimed(theirs)  # taskName included, on Python 3.12+
    assert getattr(ours, "taskName", "migrate-vm-3") == "migrate-vm-3"
    process = multiprocessing.current_process()
    saved = process.name
    process.name = "worker-process-2"
    try:
        ours, theirs = both(maker, logger)
    finally:
        process.name = saved
    assert ours.processName == "worker-process-2"
    assert untimed(ours) == untimed(theirs)


@pytest.mark.parametrize(
    "flag", ["logThreads", "logProcesses", "logMultiprocessing", "logAsyncioTasks"]
)
def test_logging_flags_switched_off_are_honoured(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch, flag: str
) -> None:
    maker = RecordMaker(logger, "(opslog)")
    both(maker, logger)  # the template, made with the flags on
    monkeypatch.setattr(logging, flag, False, raising=False)
    ours, theirs = both(maker, logger)
    assert templated(maker, logging.INFO)
    assert untimed(ours) == untimed(theirs)


def test_an_application_record_factory_is_called(captured: Capture) -> None:
    saved = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = saved(*args, **kwargs)
        record.request_id = "req-42"  # type: ignore[attr-defined]
        return record

    logging.setLogRecordFactory(factory)
    try:
        op = opslog.new_operation_logger("j").start_operation("op")
        op.start_step("s").end_step()
        op.end_operation()
    finally:
        logging.setLogRecordFactory(saved)
    made = list(captured.logging_records)
    assert made
    assert all(getattr(r, "request_id", None) == "req-42" for r in made)
    # back to the stdlib's factory: records without the application's field
    opslog.new_operation_logger("j").start_operation("again").end_operation()
    after = captured.logging_records[len(made) :]
    assert after and not any(hasattr(r, "request_id") for r in after)


def test_a_make_record_override_is_called(logger: logging.Logger) -> None:
    original = logger.makeRecord

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = original(*args, **kwargs)
        record.tenant = "blue"  # type: ignore[attr-defined]
        return record

    logger.makeRecord = make_record  # type: ignore[method-assign]
    maker = RecordMaker(logger, "(opslog)")
    record = maker.make(logging.INFO, "m", time.time_ns())
    assert record.tenant == "blue"  # type: ignore[attr-defined]
    assert not templated(maker, logging.INFO)

    class TenantLogger(logging.Logger):
        def makeRecord(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
            record = super().makeRecord(*args, **kwargs)
            record.tenant = "green"  # type: ignore[attr-defined]
            return record

    subclassed = RecordMaker(TenantLogger("t"), "(opslog)")
    assert subclassed.make(logging.INFO, "m", time.time_ns()).tenant == "green"  # type: ignore[attr-defined]


def test_a_record_with_fields_it_does_not_know_is_left_to_the_stdlib(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Python version whose records gain a field, or compute one differently,
    gets makeRecord's records, not a template's."""
    original = logging.LogRecord.__init__

    def with_new_field(self: logging.LogRecord, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.interpreterName = "main"  # type: ignore[attr-defined]

    monkeypatch.setattr(logging.LogRecord, "__init__", with_new_field)
    maker = RecordMaker(logger, "(opslog)")
    record = maker.make(logging.INFO, "m", time.time_ns())
    assert record.interpreterName == "main"  # type: ignore[attr-defined]
    assert not templated(maker, logging.INFO)

    def other_thread_name(self: logging.LogRecord, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.threadName = f"{self.threadName} (renamed)"

    monkeypatch.setattr(logging.LogRecord, "__init__", other_thread_name)
    maker = RecordMaker(logger, "(opslog)")
    record = maker.make(logging.INFO, "m", time.time_ns())
    assert record.threadName.endswith("(renamed)")
    assert not templated(maker, logging.INFO)


def test_opslog_records_carry_the_events_time(captured: Capture) -> None:
    op = opslog.new_operation_logger("j").start_operation("op")
    step = op.start_step("s")
    step.info("working", {"vm_id": "vm-1"})
    step.end_step()
    op.end_operation()
    record = next(r for r in captured.logging_records if r.event == "step_info")
    log_record = next(
        r.log_record for r in captured.log_records if r.log_record.event_name == "step_info"
    )
    span_event = next(e for s in captured.spans for e in s.events if e.name == "step_info")
    assert record.created == log_record.timestamp / 1e9 == span_event.timestamp / 1e9
    assert record.name == "opslog" and record.pathname == "(opslog)" and record.lineno == 0


def test_a_factory_records_times_are_the_events_whatever_it_set(logger: logging.Logger) -> None:
    saved = logging.getLogRecordFactory()

    def timeless(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = saved(*args, **kwargs)
        del record.created, record.relativeCreated  # a factory owes opslog nothing
        return record

    logging.setLogRecordFactory(timeless)
    try:
        timestamp = time.time_ns()
        record = RecordMaker(logger, "(opslog)").make(logging.WARNING, "m", timestamp)
    finally:
        logging.setLogRecordFactory(saved)
    assert record.created == timestamp / 1e9
    assert record.relativeCreated > 0


def _inject_trace_ids(record: logging.LogRecord) -> logging.LogRecord:
    record.dd_trace_id = "4bf92f3577b34da6"  # type: ignore[attr-defined]
    return record


def _events_through_the_channel(captured: Capture) -> list[logging.LogRecord]:
    before = len(captured.logging_records)
    opslog.new_operation_logger("j").start_operation("op").end_operation()
    return captured.logging_records[before:]


def test_make_record_wrapped_on_the_logger_class_like_apm_agents_is_called(
    captured: Capture,
) -> None:
    """ddtrace and SignalFx inject their ids with wrapt.wrap_function_wrapper(
    logging.Logger, "makeRecord", ...), often after the application's imports."""
    import wrapt

    assert not any(hasattr(r, "dd_trace_id") for r in _events_through_the_channel(captured))
    original = logging.Logger.__dict__["makeRecord"]

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> logging.LogRecord:
        return _inject_trace_ids(wrapped(*args, **kwargs))

    wrapt.wrap_function_wrapper(logging.Logger, "makeRecord", wrapper)
    try:
        records = _events_through_the_channel(captured)
    finally:
        logging.Logger.makeRecord = original  # type: ignore[method-assign]
    assert records and all(r.dd_trace_id == "4bf92f3577b34da6" for r in records)  # type: ignore[attr-defined]
    assert not any(hasattr(r, "dd_trace_id") for r in _events_through_the_channel(captured))


def test_make_record_or_record_init_replaced_by_a_plain_wrapper_is_called(
    captured: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = logging.Logger.makeRecord

    @functools.wraps(original)
    def make_record(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return _inject_trace_ids(original(self, *args, **kwargs))

    with monkeypatch.context() as patch:
        patch.setattr(logging.Logger, "makeRecord", make_record)
        records = _events_through_the_channel(captured)
    assert records and all(hasattr(r, "dd_trace_id") for r in records)

    original_init = logging.LogRecord.__init__

    @functools.wraps(original_init)
    def init(self: logging.LogRecord, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        _inject_trace_ids(self)

    _events_through_the_channel(captured)  # the templates exist before the patch
    monkeypatch.setattr(logging.LogRecord, "__init__", init)
    records = _events_through_the_channel(captured)
    assert records and all(hasattr(r, "dd_trace_id") for r in records)


def test_opentelemetry_logging_instrumentation_puts_its_ids_on_opslog_records(
    captured: Capture,
) -> None:
    """The real ``opentelemetry-instrumentation-logging`` installs a record
    factory that stamps each record with the current span: opslog's records
    get the ids of the step they were logged in."""
    from opentelemetry.instrumentation.logging import LoggingInstrumentor

    instrumentor = LoggingInstrumentor()
    # its ids on records; not its own handler on the root logger
    instrumentor.instrument(
        set_logging_format=False, inject_trace_context=True, enable_log_auto_instrumentation=False
    )
    try:
        op = opslog.new_operation_logger("j").start_operation("op")
        step = op.start_step("s")
        step.info("working")
        step.end_step()
        op.end_operation()
    finally:
        instrumentor.uninstrument()
    record = next(r for r in captured.logging_records if r.event == "step_info")
    assert record.otelSpanID == step.span_id  # type: ignore[attr-defined]
    assert record.otelTraceID == op.correlation_id  # type: ignore[attr-defined]
    assert not any(hasattr(r, "otelSpanID") for r in _events_through_the_channel(captured))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_childs_records_carry_the_childs_process_id() -> None:
    # In a new interpreter: forking the test process itself, with its export
    # threads, is what the stdlib warns against.
    result = run_python(
        """
        import json, logging, os
        import opslog
        from opslog.channels import stdlib

        opslog.configure(console=False)
        seen = []

        class Keep(logging.Handler):
            def emit(self, record):
                seen.append(record.process)

        logging.getLogger("opslog").setLevel(logging.INFO)
        logging.getLogger("opslog").addHandler(Keep())
        op = opslog.new_operation_logger("j").start_operation("in-parent")
        read, write = os.pipe()
        child = os.fork()
        if child == 0:
            seen.clear()
            opslog.new_operation_logger("j").start_operation("in-child").end_operation()
            os.write(write, json.dumps(seen).encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as pipe:
            child_seen = json.loads(pipe.read())
        os.waitpid(child, 0)
        op.end_operation()
        templated = stdlib._records._templates.get(logging.INFO) is not None
        print(json.dumps({"parent": os.getpid(), "parent_seen": seen, "child": child,
                          "child_seen": child_seen, "templated": templated}))
        """
    )
    assert result["templated"]  # the records were opslog's own, not makeRecord's
    assert result["parent_seen"] and set(result["parent_seen"]) == {result["parent"]}
    assert result["child_seen"] and set(result["child_seen"]) == {result["child"]}
