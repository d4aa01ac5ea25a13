"""The OpenTelemetry log-record channel.

Each event is a log record with ``event_name`` set to the event name, the
severity of its level, the message as body, the event's fields as
attributes, and the trace and span ids of its operation or step (log
records are exported at once: the live view of a long operation). The
record's context is the scope's with its SDK span current: the SDK reads
only the span's ids (and baggage) from it.
"""

from __future__ import annotations

from .._config import Settings
from ..otel.providers import get_otel_logger
from .base import Event

__all__ = ["LogRecordChannel"]


class LogRecordChannel:
    name = "log record"

    def enabled(self, settings: Settings) -> bool:
        return settings.log_records

    def send(self, event: Event) -> None:
        level = event.level
        get_otel_logger().emit(
            timestamp=event.timestamp,
            context=event.source._sdk_context(),
            severity_number=level.severity_number,
            severity_text=level.severity_text,
            body=event.message,
            attributes=event.all_attributes(),
            event_name=event.name,
        )
