"""The one event path: every opslog call ends in :func:`emit`.

:func:`emit` builds the event once (caller fields coerced and redacted, the
event's own fields, the five required fields placed last so that no
attribute limit can evict them) and hands the same :class:`~.base.Event` to
every channel that is on (:data:`CHANNELS`): span events
(:mod:`.span_events`), OpenTelemetry log records (:mod:`.log_records`) and
stdlib ``logging`` records (:mod:`.stdlib`). A channel that raises is counted
and reported (``channel_error``); the others still run and the caller never
sees it.

Layering when keys collide, strongest first: required fields and ``message``
> the event's own fields (``status``, ``duration_ms``...) > the caller's
``fields`` > defaults such as the error classification. A caller's value
that loses to a stronger layer is kept under ``fields.<key>``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Callable, Optional

from .. import _config, _diagnostics
from .._config import Settings
from ..fields.coercion import Attributes
from ..vocabulary import FIELD_EVENT, FIELD_MESSAGE, FIELD_STEP, RESERVED_FIELDS, Level
from .base import Channel, Event, EventSource
from .log_records import LogRecordChannel
from .span_events import SpanEventChannel
from .stdlib import StdlibChannel

__all__ = ["CHANNELS", "emit", "listeners"]

#: Every output, in the order they receive an event.
CHANNELS: tuple[Channel, ...] = (SpanEventChannel(), LogRecordChannel(), StdlibChannel())

#: Called with every emitted event, whatever the channel settings: the hook
#: :mod:`opslog.testing` captures events with. Empty in production.
listeners: list[Callable[[str, Level, str, Attributes], None]] = []

#: (settings, the channels they switch on, the same without the stdlib
#: channel): recomputed when the settings change.
_active: tuple[Optional[Settings], tuple[Channel, ...], tuple[Channel, ...]] = (None, (), ())


def _channels_on(settings: Settings) -> tuple[tuple[Channel, ...], tuple[Channel, ...]]:
    """The channels ``settings`` switch on, with and without the stdlib one
    (kept in :data:`_active` until the settings change)."""
    global _active
    channels = tuple(c for c in CHANNELS if c.enabled(settings))
    without_stdlib = tuple(c for c in channels if c.name != StdlibChannel.name)
    _active = (settings, channels, without_stdlib)
    return channels, without_stdlib


FIELDS_DROPPED = "opslog.fields_dropped"
AFTER_END = "opslog.after_end"


def build_attributes(
    settings: Settings,
    scope: EventSource,
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
        out.update(scope._event_tail)
    else:
        out.update(scope._required)
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
    scope: EventSource,
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

    if listeners:
        for listener in listeners:
            try:
                listener(event, level, text, attributes)
            except Exception as exc:
                _channel_failed("listener", event, exc)
    ready = Event(scope, event, level, text, attributes, exception_attributes, timestamp)
    cached_for, channels, without_stdlib = _active
    if cached_for is not settings:
        channels, without_stdlib = _channels_on(settings)
    for channel in channels if stdlib else without_stdlib:
        try:
            channel.send(ready)
        except Exception as exc:
            _channel_failed(channel.name, event, exc)


def _exception_attributes(settings: Settings, exception: BaseException) -> Attributes:
    from ..fields.errors import exception_attributes

    coercer = settings.coercer
    return {k: coercer.any_text(v) for k, v in exception_attributes(exception).items()}


def _channel_failed(channel: str, event: str, exc: Exception) -> None:
    _diagnostics.report(
        _diagnostics.CHANNEL_ERROR,
        f"the {channel} channel raised {type(exc).__name__} on {event!r}; "
        "the other channels were unaffected",
    )
