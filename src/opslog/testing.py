"""Helpers for testing code that uses opslog.

:func:`capture_events` records everything opslog emits inside a ``with``
block, on all three channels, without touching the application's global
OpenTelemetry providers::

    from opslog.testing import capture_events

    def test_failover_logs_its_steps():
        with capture_events() as captured:
            run_failover()
        assert captured.events_named("step_error") == []
        end = captured.last("operation_end")
        assert end.fields["status"] == "completed"
        assert [s.name for s in captured.spans] == ["snapshot", "enhanced-test-failover"]

Inside the block opslog uses in-memory SDK providers (span events and log
records are real SDK objects, exported synchronously) and a handler on the
``opslog`` stdlib logger; the previous configuration is restored on exit.
The block captures events of every thread. Channels switched off before the
block stay off. Spans still open when the block ends are not captured (end
them, or use ``with`` blocks, inside it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Optional

from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ._config import configure, get_settings, restore_settings
from .channels.emit import listeners
from .channels.stdlib import LOGGER_NAME

__all__ = ["CapturedEvent", "Capture", "capture_events"]


@dataclass(frozen=True)
class CapturedEvent:
    """One event as the stdlib ``logging`` channel carried it."""

    event: str
    level: str
    message: str
    fields: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]


@dataclass
class Capture:
    """What opslog emitted inside :func:`capture_events`."""

    span_exporter: InMemorySpanExporter
    log_exporter: InMemoryLogRecordExporter
    logging_records: list[logging.LogRecord] = field(default_factory=list)
    captured: list[CapturedEvent] = field(default_factory=list)

    @property
    def events(self) -> list[CapturedEvent]:
        """Every event opslog emitted, in order, whichever channels are on.

        ``level`` is the stdlib level name (``"INFO"``, ``"WARNING"``...).
        """
        return list(self.captured)

    def _listen(self, event: str, level: Any, text: str, attributes: dict[str, Any]) -> None:
        self.captured.append(
            CapturedEvent(event, logging.getLevelName(int(level)), text, dict(attributes))
        )

    @property
    def spans(self) -> list[ReadableSpan]:
        """Finished spans, in the order they ended."""
        return list(self.span_exporter.get_finished_spans())

    @property
    def log_records(self) -> list[ReadableLogRecord]:
        """OpenTelemetry log records, in emission order."""
        return list(self.log_exporter.get_finished_logs())

    def events_named(self, event: str) -> list[CapturedEvent]:
        """The events whose ``event`` field is ``event``."""
        return [e for e in self.events if e.event == event]

    def last(self, event: str) -> CapturedEvent:
        """The last event named ``event`` (``AssertionError`` if none)."""
        found = self.events_named(event)
        assert found, f"no {event!r} event was emitted"
        return found[-1]

    def span(self, name: str) -> ReadableSpan:
        """The one finished span named ``name`` (``AssertionError`` otherwise)."""
        found = [s for s in self.spans if s.name == name]
        assert len(found) == 1, f"{len(found)} spans named {name!r}: {[s.name for s in self.spans]}"
        return found[0]

    def clear(self) -> None:
        """Forget everything captured so far."""
        self.span_exporter.clear()
        self.log_exporter.clear()
        self.logging_records.clear()
        self.captured.clear()


class _ListHandler(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def capture_events(level: Optional[object] = None) -> Iterator[Capture]:
    """Capture opslog's spans, log records and logging records in the block.

    Args:
        level: the lowest event level to capture (default: as configured).
    """
    span_exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    log_exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    capture = Capture(span_exporter, log_exporter)
    handler = _ListHandler(capture.logging_records)
    stdlib_logger = logging.getLogger(LOGGER_NAME)
    previous_level = stdlib_logger.level
    saved = get_settings()
    options: dict[str, Any] = {
        "tracer_provider": tracer_provider,
        "logger_provider": logger_provider,
    }
    if level is not None:
        options["level"] = level
    configure(**options)
    listeners.append(capture._listen)
    stdlib_logger.addHandler(handler)
    stdlib_logger.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        listeners.remove(capture._listen)
        stdlib_logger.removeHandler(handler)
        stdlib_logger.setLevel(previous_level)
        restore_settings(saved)
        tracer_provider.shutdown()
        logger_provider.shutdown()
