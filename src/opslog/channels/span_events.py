"""The span-event channel: each event on its operation's or step's span.

The span event's name is the event name (``step_info``...): Jaeger shows it
as the log field ``event``. Error events with an exception also get a
semantic-conventions ``exception`` event. Span events are exported when their
span ends; an event logged after its span ended goes to the other channels
only.
"""

from __future__ import annotations

from .._config import Settings
from .base import Event

__all__ = ["SpanEventChannel"]


class SpanEventChannel:
    name = "span"

    def enabled(self, settings: Settings) -> bool:
        return settings.span_events

    def send(self, event: Event) -> None:
        source = event.source
        if source.ended:
            return
        source._add_span_event(event.name, event.attributes, event.timestamp)
        if event.exception_attributes:
            source.span.add_event("exception", event.exception_attributes, event.timestamp)
