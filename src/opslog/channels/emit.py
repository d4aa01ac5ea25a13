"""The one event path: every opslog call ends in :func:`emit`.

:func:`emit` builds the event's attributes once (caller fields coerced and
redacted, the event's own fields, the five required fields placed last so
that no attribute limit can evict them) and hands the same attributes to the
three channels:

* **span event** on the scope's span (name = the event name, e.g.
  ``step_info``; Jaeger shows it as the log field ``event``);
* **OpenTelemetry log record** with ``event_name`` = the event, severity from
  the level, body = the message, and the trace/span ids of the scope's span;
* **stdlib logging** record on the ``opslog`` logger, whose attributes are the
  event's fields (so a JSON formatter sees them; a field named like a
  ``LogRecord`` attribute, e.g. ``name``, is set as ``fields.name``), plus
  ``record.opslog``, the event's whole field dict with its original keys,
  and ``record.span_id``/``record.parent_span_id`` (16 hex digits).

Each channel can be switched off with :func:`opslog.configure`. A channel
that raises is counted and reported (``channel_error``); the others still
run and the caller never sees it.

Layering when keys collide, strongest first: required fields and ``message``
> the event's own fields (``status``, ``duration_ms``...) > the caller's
``fields`` > defaults such as the error classification. A caller's value
that loses to a stronger layer is kept under ``fields.<key>``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Optional

from .. import _config, _diagnostics
from .._config import Settings
from ..fields.coercion import Attributes
from ..otel.providers import get_otel_logger
from ..vocabulary import FIELD_EVENT, FIELD_MESSAGE, FIELD_STEP, RESERVED_FIELDS, Level

if TYPE_CHECKING:
    from ..core.scope import Scope

__all__ = ["LOGGER_NAME", "LOGRECORD_ATTRIBUTES", "emit"]

#: The stdlib logger every event is sent to.
LOGGER_NAME = "opslog"
_stdlib_logger = logging.getLogger(LOGGER_NAME)
# A library must not print through logging's last-resort handler; the
# application decides where opslog's records go.
_stdlib_logger.addHandler(logging.NullHandler())

#: Every name a ``logging.LogRecord`` has, data and methods (``msg``,
#: ``args``, ``exc_info``, ``getMessage``...) plus what formatters and opslog
#: add: a field with one of these names is set on the record as
#: ``fields.<name>``, so it can neither overwrite the record's own data nor
#: break a handler.
LOGRECORD_ATTRIBUTES = (
    frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)))
    | frozenset(dir(logging.LogRecord))
    | {"message", "asctime", "taskName", "opslog", "span_id", "parent_span_id"}
)

#: Called with every emitted event, whatever the channel settings: the hook
#: :mod:`opslog.testing` captures events with. Empty in production.
listeners: list[Callable[[str, Level, str, Attributes], None]] = []

FIELDS_DROPPED = "opslog.fields_dropped"
AFTER_END = "opslog.after_end"


def build_attributes(
    settings: Settings,
    scope: Scope,
    event: str,
    step: Optional[str],
    text: str,
    fields: object,
    extras: Optional[Mapping[str, object]],
    defaults: Optional[Mapping[str, object]],
) -> Attributes:
    """The event's attributes in layering order, required fields last.

    ``extras`` are opslog's own fields: primitives, any text in them already
    coerced by the caller in this package. ``defaults`` and ``fields`` come
    from outside and are coerced here.
    """
    coercer = settings.coercer
    out: Attributes = coercer.fields(defaults)[0] if defaults else {}
    if fields is not None:
        # The common case: plain, unreserved keys (a new dict, ours to keep).
        caller = None if out else coercer.plain_fields(fields)
        if caller is not None and (not extras or extras.keys().isdisjoint(caller)):
            out = caller
        else:
            _merge_fields(settings, out, fields, extras, event)
    if extras:
        out.update(extras)  # type: ignore[arg-type]
    if scope.ended:
        out[AFTER_END] = True
    # Required fields last: OpenTelemetry evicts the oldest attributes first.
    out[FIELD_MESSAGE] = text
    if step is None:
        out.update(scope.event_tail)
    else:
        out.update(scope.required)
        out[FIELD_STEP] = coercer.name(step)
    out[FIELD_EVENT] = event
    return out


def _merge_fields(
    settings: Settings,
    out: Attributes,
    fields: object,
    extras: Optional[Mapping[str, object]],
    event: str,
) -> None:
    """Coerce the caller's ``fields`` into ``out``; a key that a stronger layer
    owns (a reserved field, one of opslog's own) is kept as ``fields.<key>``."""
    caller, dropped = settings.coercer.fields(fields)
    for key, value in caller.items():
        if key in RESERVED_FIELDS or (extras and key in extras):
            out["fields." + key] = value
        else:
            out[key] = value
    if dropped:
        out[FIELDS_DROPPED] = dropped
        _diagnostics.report(
            _diagnostics.FIELDS_DROPPED,
            f"{dropped} field(s) beyond max_fields={settings.limits.max_fields} left out of "
            f"{event!r}",
            dropped,
        )


def emit(
    scope: Scope,
    event: str,
    level: Level,
    message: object,
    *,
    step: Optional[str] = None,
    fields: object = None,
    extras: Optional[Mapping[str, object]] = None,
    defaults: Optional[Mapping[str, object]] = None,
    exception: Optional[BaseException] = None,
    stdlib: bool = True,
) -> None:
    """Emit one event of ``scope`` on every channel that is on. Never raises.

    ``stdlib=False`` skips the stdlib channel (for events that came from a
    ``logging`` record in the first place).
    """
    try:
        settings = _config._settings
        if level < settings.level_value:
            return
        if scope.ended:
            _diagnostics.report(
                _diagnostics.CALL_AFTER_END,
                f"{event!r} logged on {scope.kind} {scope.name!r} after it ended; "
                "sent to the log channels with opslog.after_end=true",
            )
        text = settings.coercer.any_text(message)
        attributes = build_attributes(settings, scope, event, step, text, fields, extras, defaults)
        exception_attributes = (
            _exception_attributes(settings, exception) if exception is not None else None
        )
        timestamp = time.time_ns()
    except Exception as exc:  # pragma: no cover - defensive
        _diagnostics.report(
            _diagnostics.INTERNAL_ERROR, f"building {event!r}: {type(exc).__name__}"
        )
        return

    for listener in listeners:
        try:
            listener(event, level, text, attributes)
        except Exception as exc:
            _channel_failed("listener", event, exc)
    if settings.span_events and not scope.ended:
        try:
            scope.add_span_event(event, attributes, timestamp)
            if exception_attributes:
                scope.span.add_event("exception", exception_attributes, timestamp)
        except Exception as exc:
            _channel_failed("span", event, exc)
    if settings.log_records:
        try:
            get_otel_logger().emit(
                timestamp=timestamp,
                context=scope.context,
                severity_number=level.severity_number,
                severity_text=level.severity_text,
                body=text,
                attributes={**attributes, **exception_attributes}
                if exception_attributes
                else attributes,
                event_name=event,
            )
        except Exception as exc:
            _channel_failed("log record", event, exc)
    if stdlib and settings.stdlib_logging and _stdlib_logger.isEnabledFor(level):
        try:
            _stdlib_logger.handle(
                _stdlib_record(scope, level, text, attributes, exception_attributes, timestamp)
            )
        except Exception as exc:
            _channel_failed("logging", event, exc)


def _exception_attributes(settings: Settings, exception: BaseException) -> Attributes:
    from ..fields.errors import exception_attributes

    coercer = settings.coercer
    return {k: coercer.any_text(v) for k, v in exception_attributes(exception).items()}


def _stdlib_record(
    scope: Scope,
    level: Level,
    text: str,
    attributes: Attributes,
    exception_attributes: Optional[Attributes],
    timestamp: int,
) -> logging.LogRecord:
    record = _stdlib_logger.makeRecord(
        LOGGER_NAME, int(level), "(opslog)", 0, text, (), None, func=None
    )
    record.created = timestamp / 1e9
    record.msecs = (timestamp // 1_000_000) % 1000
    fields: dict[str, Any] = {}
    for key, value in attributes.items():
        if key == FIELD_MESSAGE:
            continue  # it is the record's message already
        if key in LOGRECORD_ATTRIBUTES:
            key = "fields." + key
        fields[key] = value
    record.__dict__.update(fields)
    # The event's whole field dict, original keys, message included.
    record.opslog = {**attributes, **exception_attributes} if exception_attributes else attributes
    record.span_id = scope.span_id
    record.parent_span_id = scope.parent_span_id
    if exception_attributes:
        record.__dict__.update(exception_attributes)
        # Standard formatters print exc_text: give them the redacted trace,
        # never exc_info (which they would format from the live exception).
        record.exc_text = str(exception_attributes.get("exception.stacktrace", "")) or None
    return record


def _channel_failed(channel: str, event: str, exc: Exception) -> None:
    _diagnostics.report(
        _diagnostics.CHANNEL_ERROR,
        f"the {channel} channel raised {type(exc).__name__} on {event!r}; "
        "the other channels were unaffected",
    )
