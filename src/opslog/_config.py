"""Configuration: one immutable :class:`Settings` object, swapped atomically.

:func:`configure` is idempotent and incremental: each call changes only the
options it names, so calling it twice with the same arguments leaves the
same state, and a library can switch a channel off without undoing the
application's redaction rules. Bad values fail here, at configuration time,
with a message that says what to fix; the event path never validates.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from opentelemetry.trace import TracerProvider

from ._numbers import seconds
from .fields.coercion import FieldCoercer, FieldLimits
from .fields.errors import ErrorClassifier
from .fields.redaction import Redactor
from .vocabulary import Level

if TYPE_CHECKING:
    from opentelemetry._logs import LoggerProvider

__all__ = ["Settings", "configure", "get_settings"]

_UNSET: Any = object()


@dataclass(frozen=True)
class Settings:
    """What opslog does with an event. Read with :func:`get_settings`."""

    #: Emit each event as a span event on its operation/step span.
    span_events: bool = True
    #: Emit each event as an OpenTelemetry log record.
    log_records: bool = True
    #: Emit each event as a stdlib ``logging`` record on the ``opslog`` logger.
    stdlib_logging: bool = True
    #: Events below this level are dropped before any work is done.
    level: Level = Level.INFO
    #: ``fn(err) -> Mapping | None``; see :mod:`opslog.fields.errors`.
    error_classifier: Optional[ErrorClassifier] = None
    #: Key fragments whose values are redacted whole, besides the built-in table.
    redact_keys: tuple[str, ...] = ()
    #: Keys exempt from key-based redaction.
    allow_keys: tuple[str, ...] = ()
    #: Extra regular expressions; every match is redacted.
    redact_patterns: tuple[str, ...] = ()
    #: Bounds on fields and texts.
    limits: FieldLimits = field(default_factory=FieldLimits)
    #: Providers opslog uses instead of the global ones (``None``: global).
    tracer_provider: Optional[TracerProvider] = None
    logger_provider: Optional[LoggerProvider] = None
    #: Seconds the exit handler may spend ending open operations and flushing.
    exit_timeout: float = 5.0

    redactor: Redactor = field(init=False, repr=False, compare=False)
    coercer: FieldCoercer = field(init=False, repr=False, compare=False)
    #: ``level`` as a plain int: compared on every call, cheaper than an enum.
    level_value: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        redactor = Redactor(
            redact_keys=self.redact_keys,
            allow_keys=self.allow_keys,
            extra_patterns=self.redact_patterns,
        )
        object.__setattr__(self, "redactor", redactor)
        object.__setattr__(self, "coercer", FieldCoercer(redactor, self.limits))
        object.__setattr__(self, "level_value", int(self.level))


#: The longest exit_timeout taken: the exit handler holds the process that long.
MAX_EXIT_TIMEOUT = 3600.0

_lock = threading.Lock()
_settings = Settings()


def get_settings() -> Settings:
    """The settings in force."""
    return _settings


def configure(
    *,
    span_events: bool = _UNSET,
    log_records: bool = _UNSET,
    stdlib_logging: bool = _UNSET,
    level: object = _UNSET,
    error_classifier: Optional[ErrorClassifier] = _UNSET,
    redact_keys: Iterable[str] = _UNSET,
    allow_keys: Iterable[str] = _UNSET,
    redact_patterns: Iterable[str] = _UNSET,
    max_value_length: int = _UNSET,
    max_fields: int = _UNSET,
    tracer_provider: Optional[TracerProvider] = _UNSET,
    logger_provider: Optional[LoggerProvider] = _UNSET,
    exit_timeout: float = _UNSET,
) -> Settings:
    """Configure opslog. Options not given keep their current value.

    Args:
        span_events, log_records, stdlib_logging: switch an output channel on
            or off.
        level: the lowest level emitted (``"debug"``, ``"info"``, ``"warn"``,
            ``"error"`` or a stdlib level number). Default ``"info"``.
        error_classifier: ``fn(err) -> Mapping | None`` adding or overriding
            ``error_type``, ``retry_possible``... on error events; ``None``
            restores the default.
        redact_keys: key fragments redacted *in addition to* the defaults.
        allow_keys: exact keys never redacted by key (text patterns still
            apply to their values).
        redact_patterns: regular expressions whose matches are redacted.
        max_value_length: longest string kept, in characters (>= 64).
        max_fields: most caller attributes kept per event (1..120, so the
            required fields always fit in OpenTelemetry's default limit of 128).
        tracer_provider, logger_provider: use these instead of the global
            providers (opslog never replaces a global provider itself);
            ``None`` goes back to the global ones.
        exit_timeout: seconds the exit handler may spend (> 0).

    Returns:
        The new :class:`Settings`.

    Raises:
        ValueError: an option has a value that cannot work; the message says
            which and what is accepted.
    """
    global _settings
    with _lock:
        current = _settings
        changes: dict[str, Any] = {}
        for name, value in (
            ("span_events", span_events),
            ("log_records", log_records),
            ("stdlib_logging", stdlib_logging),
        ):
            if value is not _UNSET:
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be True or False, not {value!r}")
                changes[name] = value
        if level is not _UNSET:
            changes["level"] = Level.parse(level)
        if error_classifier is not _UNSET:
            if error_classifier is not None and not callable(error_classifier):
                raise ValueError("error_classifier must be a callable fn(err) -> Mapping | None")
            changes["error_classifier"] = error_classifier
        if redact_keys is not _UNSET:
            changes["redact_keys"] = _strings("redact_keys", redact_keys)
        if allow_keys is not _UNSET:
            changes["allow_keys"] = _strings("allow_keys", allow_keys)
        if redact_patterns is not _UNSET:
            patterns = _strings("redact_patterns", redact_patterns)
            for pattern in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(
                        f"redact_patterns: {pattern!r} is not a valid regular expression ({exc})"
                    ) from None
            changes["redact_patterns"] = patterns
        limits = current.limits
        if max_value_length is not _UNSET:
            _check_int("max_value_length", max_value_length, 64, 10**8)
            limits = dataclasses.replace(limits, max_value_length=max_value_length)
        if max_fields is not _UNSET:
            _check_int("max_fields", max_fields, 1, 120)
            limits = dataclasses.replace(limits, max_fields=max_fields)
        if limits != current.limits:
            changes["limits"] = limits
        if tracer_provider is not _UNSET:
            if tracer_provider is not None and not hasattr(tracer_provider, "get_tracer"):
                raise ValueError("tracer_provider must be an OpenTelemetry TracerProvider or None")
            changes["tracer_provider"] = tracer_provider
        if logger_provider is not _UNSET:
            if logger_provider is not None and not hasattr(logger_provider, "get_logger"):
                raise ValueError("logger_provider must be an OpenTelemetry LoggerProvider or None")
            changes["logger_provider"] = logger_provider
        if exit_timeout is not _UNSET:
            changes["exit_timeout"] = seconds(exit_timeout, "exit_timeout", high=MAX_EXIT_TIMEOUT)
        if changes:
            _settings = dataclasses.replace(current, **changes)
        return _settings


def restore_settings(settings: Settings) -> None:
    """Put back a :class:`Settings` returned earlier (used by :mod:`opslog.testing`)."""
    global _settings
    with _lock:
        _settings = settings


def _strings(name: str, values: Iterable[str]) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be a list of strings, not {values!r}")
    result = tuple(values)
    for value in result:
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must contain non-empty strings, not {value!r}")
    return result


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
