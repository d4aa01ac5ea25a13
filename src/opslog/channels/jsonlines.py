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
import os
import threading
import weakref
from typing import Any

from .. import _diagnostics

__all__ = [
    "JSON_LINES_STATS",
    "JsonLinesFileHandler",
    "JsonLinesFormatter",
    "JsonLinesStats",
    "is_event_record",
]

_LEVELS = {"WARNING": "WARN", "CRITICAL": "ERROR"}
#: Line terminators other than "\n" and "\r" (which JSON escapes anyway).
_LINE_BREAKS = {c: f"\\u{c:04x}" for c in (0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029)}


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
        line = json.dumps(document, ensure_ascii=False, allow_nan=False)
        # JSON leaves these raw inside strings, but many readers end a line on
        # them (str.splitlines, JavaScript): one event must stay one line.
        return line if line.isascii() else line.translate(_LINE_BREAKS)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


class JsonLinesFileHandler(logging.FileHandler):
    """Appends opslog events to a file as JSON lines, and survives a failing disk.

    * A write that fails (``ENOSPC``, ``EIO``, a file removed under it...) is
      counted as lost (:data:`JSON_LINES_STATS`, the ``json_lines_loss``
      self-diagnostic, ``export_stats()["json_lines"]``), never printed as a
      traceback and never raised; the file is reopened on the next event, so
      writing resumes by itself when space returns. A line cut short by the
      failure is ended first, so it stays one unreadable line that readers
      skip.
    * After ``os.fork()`` the child reopens the file instead of using the
      parent's file object, whose internal lock another thread of the parent
      may have held at the fork (a child would hang on it forever).
    """

    def __init__(self, path: str) -> None:
        # Opened now: an unwritable path fails at configure(), not later.
        super().__init__(path, mode="a", encoding="utf-8", delay=False)
        self.setFormatter(JsonLinesFormatter())
        self.addFilter(is_event_record)
        self._broken = False
        _LIVE_HANDLERS.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
            if self.stream is None:
                self.stream = self._open()
                if self._broken:
                    self.stream.write(self.terminator)  # end a line the failure cut short
                    self._broken = False
            self.stream.write(line)
            self.stream.flush()
        except Exception as exc:
            JSON_LINES_STATS.count(lost=1)
            self._broken = True
            self._drop_stream()
            _diagnostics.report(
                _diagnostics.JSON_LINES_LOSS,
                f"an event could not be written to the JSON lines file "
                f"({type(exc).__name__}: {getattr(exc, 'strerror', None) or 'write failed'}); "
                "writing resumes by itself",
            )
        else:
            JSON_LINES_STATS.count(written=1)

    def flush(self) -> None:
        try:
            super().flush()
        except Exception:
            self._broken = True
            self._drop_stream()

    def close(self) -> None:
        _LIVE_HANDLERS.discard(self)
        try:
            super().close()
        except Exception:  # a failing disk must not make configure() raise
            self.stream = None

    def _drop_stream(self) -> None:
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                stream.close()
            except Exception:
                pass

    def _after_fork_in_child(self) -> None:
        # Never touch the inherited file object (its lock may be held by a
        # thread that does not exist here): keep it referenced so that its
        # finaliser never runs, and reopen the file on the next event.
        if self.stream is not None:
            _INHERITED_STREAMS.append(self.stream)
            self.stream = None


class JsonLinesStats:
    """Events written to and lost by JSON lines files, since the process started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.written = 0
        self.lost = 0

    def count(self, written: int = 0, lost: int = 0) -> None:
        with self._lock:
            self.written += written
            self.lost += lost

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {"written": self.written, "lost": self.lost}

    def reset(self) -> None:
        """Zero the counters (for tests)."""
        with self._lock:
            self.written = self.lost = 0

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()


#: The process's JSON lines counters (``export_stats()["json_lines"]``).
JSON_LINES_STATS = JsonLinesStats()
_LIVE_HANDLERS: weakref.WeakSet[JsonLinesFileHandler] = weakref.WeakSet()
_INHERITED_STREAMS: list[Any] = []


def _after_fork_in_child() -> None:
    JSON_LINES_STATS._after_fork_in_child()
    for handler in list(_LIVE_HANDLERS):
        handler._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
