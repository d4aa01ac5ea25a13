"""The span-event channel: each event on its operation's or step's span.

The span event's name is the event name (``step_info``...): Jaeger shows it
as the log field ``event``. Error events with an exception also get a
semantic-conventions ``exception`` event, which carries the five required
fields too (its ``event`` is ``exception``, as Jaeger names it), so that no
event on an opslog span lacks them. Span events are exported when their
span ends; an event logged after its span ended goes to the other channels
only.
"""

from __future__ import annotations

from .._config import Settings
from ..vocabulary import FIELD_EVENT, FIELD_PARENT_STEP, REQUIRED_FIELDS
from .base import Event

__all__ = ["EXCEPTION_EVENT", "SpanEventChannel"]

#: The semantic conventions' name for the event that records an exception.
EXCEPTION_EVENT = "exception"
_IDENTITY = (*REQUIRED_FIELDS, FIELD_PARENT_STEP)


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
            attributes = event.attributes
            identity = {k: attributes[k] for k in _IDENTITY if k in attributes}
            identity[FIELD_EVENT] = EXCEPTION_EVENT
            source.span.add_event(
                EXCEPTION_EVENT, {**event.exception_attributes, **identity}, event.timestamp
            )
