"""The one interface every output channel implements.

An :class:`Event` is built once by :func:`opslog.channels.emit.emit` (its
attributes coerced and redacted) and handed to each channel that is on. A
channel is a small object with a ``name``, a test of whether the settings
switch it on, and ``send``; adding an output is adding one module with one
such object to :data:`opslog.channels.emit.CHANNELS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Protocol

from .._config import Settings
from ..fields.coercion import Attributes
from ..vocabulary import Level

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span

__all__ = ["Channel", "Event", "EventSource"]


class EventSource(Protocol):
    """What the channels read of the operation or step an event belongs to."""

    @property
    def kind(self) -> str: ...

    name: str
    ended: bool
    span: Span
    #: The fixed required fields of its events, and those plus ``step`` (and
    #: ``parent_step`` for a sub-step): what closes each of its events.
    _required: dict[str, str]
    _event_tail: dict[str, str]

    @property
    def otel_context(self) -> Context: ...

    @property
    def span_id(self) -> str: ...

    @property
    def parent_span_id(self) -> str: ...

    def _add_span_event(self, name: str, attributes: Any, timestamp: int) -> None: ...

    def _sdk_context(self) -> Context:
        """Its context with the SDK span itself current (for the SDK's log records)."""
        ...


class Event:
    """One event, ready for the channels. Built once, read by every channel."""

    __slots__ = (
        "attributes",
        "exception_attributes",
        "level",
        "message",
        "name",
        "source",
        "timestamp",
    )

    def __init__(
        self,
        source: EventSource,
        name: str,
        level: Level,
        message: str,
        attributes: Attributes,
        exception_attributes: Optional[Attributes],
        timestamp: int,
    ) -> None:
        #: The operation or step it belongs to.
        self.source = source
        #: The event name (``step_info``...), also ``attributes["event"]``.
        self.name = name
        self.level = level
        #: The message, coerced and redacted.
        self.message = message
        #: Every field, required fields last.
        self.attributes = attributes
        #: Semantic-convention ``exception.*`` attributes, for error events.
        self.exception_attributes = exception_attributes
        #: Nanoseconds since the epoch.
        self.timestamp = timestamp

    def all_attributes(self) -> Attributes:
        """The attributes with the ``exception.*`` ones added."""
        if self.exception_attributes:
            return {**self.attributes, **self.exception_attributes}
        return self.attributes


class Channel(Protocol):
    """An output of events."""

    #: Named in the ``channel_error`` diagnostic when ``send`` raises.
    name: str

    def enabled(self, settings: Settings) -> bool:
        """Whether the settings switch this channel on."""
        ...

    def send(self, event: Event) -> None:
        """Deliver one event. May raise: the caller counts and reports it."""
        ...
