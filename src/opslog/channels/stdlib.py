"""The stdlib ``logging`` channel: each event as a record on the ``opslog`` logger.

The record is the one ``Logger.makeRecord`` would make (an application's
record factory is called; see :mod:`.stdlib_records`), timed at the event's
timestamp. Its message is the event's message; its attributes are the
event's fields, so a JSON formatter sees them. A field named like anything
a ``LogRecord`` has (``name``, ``msg``, ``args``, ``getMessage``...) is set as
``fields.<name>``, so it can neither overwrite the record's own data nor
break a handler. ``record.opslog`` holds the event's whole field dict with
its original keys; ``record.span_id``/``record.parent_span_id`` are 16 hex
digits. For error events the redacted stack trace is in ``exc_text``; the
live exception is never attached (standard formatters would print it
unredacted). The console and JSON-lines outputs (:mod:`.console`,
:mod:`.jsonlines`) format these records.
"""

from __future__ import annotations

import logging
from typing import Any

from .._config import Settings
from ..fields.coercion import Attributes
from ..vocabulary import FIELD_MESSAGE
from .base import Event
from .stdlib_records import RecordMaker

__all__ = ["LOGGER_NAME", "LOGRECORD_ATTRIBUTES", "StdlibChannel"]

#: The stdlib logger every event is sent to.
LOGGER_NAME = "opslog"
_stdlib_logger = logging.getLogger(LOGGER_NAME)
# A library must not print through logging's last-resort handler; the
# application decides where opslog's records go.
_stdlib_logger.addHandler(logging.NullHandler())
_records = RecordMaker(_stdlib_logger, "(opslog)")

#: Every name a ``logging.LogRecord`` has, data and methods, plus what
#: formatters and opslog add.
LOGRECORD_ATTRIBUTES = (
    frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
    | frozenset(dir(logging.LogRecord))
    | {"message", "asctime", "taskName", "opslog", "span_id", "parent_span_id"}
)


#: The names a field may not take on a record (the message is dropped, not renamed).
_CLASHING = LOGRECORD_ATTRIBUTES - {FIELD_MESSAGE}


class StdlibChannel:
    name = "logging"

    def enabled(self, settings: Settings) -> bool:
        return settings.stdlib_logging

    def send(self, event: Event) -> None:
        level = event.level
        if not _stdlib_logger.isEnabledFor(level):
            return  # no handler wants it: no record is built
        # With a handler attached this runs for every event (see .stdlib_records).
        record = _records.make(int(level), event.message, event.timestamp)
        attributes = event.attributes
        data = record.__dict__
        if _CLASHING.isdisjoint(attributes):
            # The common case, in C: no field is named like the record's own data.
            data.update(attributes)
            data.pop(FIELD_MESSAGE, None)  # it is the record's message already
        else:
            data.update(_renamed(attributes))
        source = event.source
        # The event's whole field dict, original keys, message included.
        data["opslog"] = event.all_attributes()
        data["span_id"] = source.span_id
        data["parent_span_id"] = source.parent_span_id
        exception_attributes = event.exception_attributes
        if exception_attributes:
            data.update(exception_attributes)
            # Standard formatters print exc_text: give them the redacted trace,
            # never exc_info (which they would format from the live exception).
            record.exc_text = str(exception_attributes.get("exception.stacktrace", "")) or None
        _stdlib_logger.handle(record)


def _renamed(attributes: Attributes) -> dict[str, Any]:
    """The fields as record attributes: a name the record has is prefixed
    ``fields.``; the message is left out (it is the record's message)."""
    fields: dict[str, Any] = {}
    for key, value in attributes.items():
        if key == FIELD_MESSAGE:
            continue
        if key in LOGRECORD_ATTRIBUTES:
            key = "fields." + key
        fields[key] = value
    return fields
