"""JSON lines: one event per line, ready for Elasticsearch/OpenSearch or ``opslog tree``.

Each line is a JSON object whose keys are the event's fields (the five
required fields, ``message``, the event's own fields and the caller's
fields, as coerced and redacted for every channel) plus:

* ``@timestamp``: RFC 3339, UTC, microseconds (``2025-01-22T10:30:00.123456Z``);
* ``level``: ``DEBUG``, ``INFO``, ``WARN`` or ``ERROR``;
* ``msg``: the message (same as ``message``; ``msg`` is what log shippers
  and ``jq`` habits expect);
* ``span_id`` and ``parent_span_id``: 16 hex digits (empty for a root), so
  the operation/step tree can be rebuilt from the file alone.

Lists stay lists; floats that JSON cannot hold (NaN, infinities) become
strings. Only opslog events are written; other records (self-diagnostics)
are left out of the file.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
from typing import Any

__all__ = ["JsonLinesFormatter", "is_event_record"]

_LEVELS = {"WARNING": "WARN", "CRITICAL": "ERROR"}


def is_event_record(record: logging.LogRecord) -> bool:
    """True for records of the opslog event channel."""
    return isinstance(getattr(record, "opslog", None), dict)


class JsonLinesFormatter(logging.Formatter):
    """Formats an opslog event record as one JSON object (no newline)."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "opslog", None) or {}
        stamp = _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc)
        document: dict[str, Any] = {
            "@timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": _LEVELS.get(record.levelname, record.levelname),
            "msg": record.getMessage(),
        }
        for key, value in fields.items():
            document[key] = _jsonable(value)
        document["span_id"] = getattr(record, "span_id", "")
        document["parent_span_id"] = getattr(record, "parent_span_id", "")
        return json.dumps(document, ensure_ascii=False, allow_nan=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value
