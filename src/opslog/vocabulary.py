"""opslog's vocabulary: event names, required fields, statuses, levels, the marker.

One namespace for every word opslog writes: ``opslog.vocabulary.STEP_INFO``,
``opslog.vocabulary.STATUS_FAILED``, ``opslog.vocabulary.REQUIRED_FIELDS``.

Every opslog call produces exactly one *event*. An event always carries the
five required fields (:data:`REQUIRED_FIELDS`), a message, a level and a
timestamp, plus the extra fields of its kind and the caller's fields. The
names here are the vocabulary of the original Go library; log pipelines and
dashboards (the seed's Elasticsearch queries) run on them, so they are part
of the public contract and never change.
"""

from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from opentelemetry._logs import SeverityNumber

__all__ = [
    "CHILD_OPERATION_START",
    "FIELD_CORRELATION_ID",
    "FIELD_EVENT",
    "FIELD_JOB_ID",
    "FIELD_MESSAGE",
    "FIELD_OPERATION",
    "FIELD_PARENT_STEP",
    "FIELD_STEP",
    "JSON_LINE_KEYS",
    "REDACTED",
    "OPERATION_END",
    "OPERATION_START",
    "OPERATION_STEP",
    "REQUIRED_FIELDS",
    "RESERVED_FIELDS",
    "STATUS_ABANDONED",
    "STATUS_CANCELLED",
    "STATUS_COMPLETED",
    "STATUS_FAILED",
    "STATUS_RETRYING",
    "STEP_DEBUG",
    "STEP_DURATION",
    "STEP_END",
    "STEP_ERROR",
    "STEP_INFO",
    "STEP_START",
    "STEP_SUCCESS",
    "STEP_WARNING",
    "Level",
]

# --- event names (the ``event`` field) --------------------------------------
OPERATION_START: Final = "operation_start"
OPERATION_END: Final = "operation_end"
CHILD_OPERATION_START: Final = "child_operation_start"
STEP_START: Final = "step_start"
STEP_END: Final = "step_end"
STEP_INFO: Final = "step_info"
STEP_DEBUG: Final = "step_debug"
STEP_WARNING: Final = "step_warning"
STEP_ERROR: Final = "step_error"
STEP_SUCCESS: Final = "step_success"
STEP_DURATION: Final = "step_duration"

#: What a secret is replaced with, everywhere (see SECURITY.md).
REDACTED: Final = "[REDACTED]"

# --- required fields ---------------------------------------------------------
FIELD_CORRELATION_ID: Final = "correlation_id"
FIELD_JOB_ID: Final = "job_id"
FIELD_OPERATION: Final = "operation"
FIELD_STEP: Final = "step"
FIELD_EVENT: Final = "event"
FIELD_MESSAGE: Final = "message"
#: Not required: on the events of a sub-step, the name of the step it runs in,
#: so flat log queries can rebuild the nesting.
FIELD_PARENT_STEP: Final = "parent_step"

#: The five fields every event carries, always as strings.
REQUIRED_FIELDS: Final = (
    FIELD_CORRELATION_ID,
    FIELD_JOB_ID,
    FIELD_OPERATION,
    FIELD_STEP,
    FIELD_EVENT,
)

#: The keys a JSON line adds to an event's fields (see :mod:`opslog.channels.jsonlines`).
JSON_LINE_KEYS: Final = ("@timestamp", "level", "msg", "span_id", "parent_span_id")

#: Keys a caller's ``fields`` may not overwrite, on any channel: the required
#: fields, ``message`` and the keys of a JSON line. A caller value under one
#: of these keys is kept, renamed to ``fields.<key>``.
RESERVED_FIELDS: Final = frozenset(
    (*REQUIRED_FIELDS, FIELD_MESSAGE, FIELD_PARENT_STEP, *JSON_LINE_KEYS)
)

#: The ``step`` value of operation-level events (``operation_start``,
#: ``operation_end``, ``child_operation_start``), which belong to no step.
#: It is a documented constant rather than an empty string so that
#: "errors by step" aggregations show where an event came from.
OPERATION_STEP: Final = "_operation"

# --- statuses ----------------------------------------------------------------
STATUS_COMPLETED: Final = "completed"
#: The one status that marks a span as Error and its end event as ERROR.
STATUS_FAILED: Final = "failed"
#: Given by opslog to steps and child operations still open when their
#: operation ends, and to everything still open at process exit.
STATUS_ABANDONED: Final = "abandoned"
#: Given by the context managers and decorators when the block is left by a
#: ``BaseException`` that is not an ``Exception`` (``KeyboardInterrupt``,
#: ``asyncio.CancelledError``, ``SystemExit``).
STATUS_CANCELLED: Final = "cancelled"
#: Given by :meth:`opslog.OperationContext.retry` to an attempt that failed
#: and is tried again.
STATUS_RETRYING: Final = "retrying"


class Level(enum.IntEnum):
    """Event levels. The values are the stdlib :mod:`logging` levels."""

    DEBUG = logging.DEBUG
    INFO = logging.INFO
    WARN = logging.WARNING
    ERROR = logging.ERROR

    @property
    def severity_number(self) -> SeverityNumber:
        """The OpenTelemetry severity number of this level."""
        table = _SEVERITY or _load_severities()
        return table[self]  # type: ignore[no-any-return]

    @property
    def severity_text(self) -> str:
        """The OpenTelemetry severity text (``DEBUG``/``INFO``/``WARN``/``ERROR``)."""
        return _SEVERITY_TEXTS[self]  # a dict read: Enum.name is slow, and read per event

    @classmethod
    def parse(cls, value: object) -> Level:
        """Turn ``"info"``, ``"WARNING"``, ``logging.INFO`` or a :class:`Level` into a Level.

        Raises:
            ValueError: for anything else (used at configuration time only).
        """
        if isinstance(value, Level):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            for level in reversed(cls):
                if value >= level:
                    return level
            return cls.DEBUG
        if isinstance(value, str):
            name = value.strip().upper()
            name = {"WARNING": "WARN", "ERR": "ERROR"}.get(name, name)
            if name in cls.__members__:
                return cls[name]
        raise ValueError(
            f"unknown level {value!r}: use one of debug, info, warn, error "
            "(or a stdlib logging level number)"
        )


#: Each level's OpenTelemetry severity text.
_SEVERITY_TEXTS: Final[dict[int, str]] = {level: level.name for level in Level}
_SEVERITY: dict[Level, Any] = {}


def _load_severities() -> dict[Level, Any]:
    """The OTel severities, imported on first use (the logs API is slow to import)."""
    from opentelemetry._logs import SeverityNumber

    _SEVERITY.update(
        {
            Level.DEBUG: SeverityNumber.DEBUG,
            Level.INFO: SeverityNumber.INFO,
            Level.WARN: SeverityNumber.WARN,
            Level.ERROR: SeverityNumber.ERROR,
        }
    )
    return _SEVERITY
