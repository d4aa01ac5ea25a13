"""A readable one-line-per-event formatter for terminals.

``HH:MM:SS.mmm LEVEL operation/step  message  key=value ...`` where the
key/values are the caller's and the event's own fields (the required fields
are already in the prefix). Colour is used only when the stream is a TTY
and ``NO_COLOR`` is not set. Records that are not opslog events (for example
self-diagnostics) are printed as ``HH:MM:SS.mmm LEVEL name  message``.
"""

from __future__ import annotations

import logging
import os
import time
from typing import IO, Any, Optional

from ..vocabulary import FIELD_MESSAGE, REQUIRED_FIELDS

__all__ = ["ConsoleFormatter", "console_handler"]

_COLOURS = {
    "DEBUG": "\x1b[2m",
    "INFO": "\x1b[32m",
    "WARNING": "\x1b[33m",
    "ERROR": "\x1b[31;1m",
}
_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_HIDDEN = frozenset((*REQUIRED_FIELDS, FIELD_MESSAGE, "exception.stacktrace"))
_LEVEL_NAMES = {"WARNING": "WARN"}


class ConsoleFormatter(logging.Formatter):
    """Formats opslog records as one readable line each."""

    def __init__(self, colour: bool = False, max_field_chars: int = 120) -> None:
        super().__init__()
        self.colour = colour
        self.max_field_chars = max_field_chars

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        stamp = f"{stamp}.{int(record.msecs):03d}"
        level = _LEVEL_NAMES.get(record.levelname, record.levelname)
        fields: Optional[dict[str, Any]] = getattr(record, "opslog", None)
        if isinstance(fields, dict):
            where = f"{fields.get('operation', '')}/{fields.get('step', '')}"
            extra = " ".join(f"{k}={self._value(v)}" for k, v in fields.items() if k not in _HIDDEN)
        else:
            where, extra = record.name, ""
        message = record.getMessage()
        if self.colour:
            colour = _COLOURS.get(record.levelname, "")
            line = f"{_DIM}{stamp}{_RESET} {colour}{level:<5}{_RESET} {where}  {message}"
            if extra:
                line += f"  {_DIM}{extra}{_RESET}"
        else:
            line = f"{stamp} {level:<5} {where}  {message}"
            if extra:
                line += f"  {extra}"
        return line

    def _value(self, value: object) -> str:
        text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        if " " in text or not text:
            text = repr(text)
        if len(text) > self.max_field_chars:
            text = text[: self.max_field_chars] + "…"
        return text


def console_handler(stream: Optional[IO[str]] = None) -> logging.Handler:
    """A ``StreamHandler`` with :class:`ConsoleFormatter`, coloured on a TTY."""
    handler = logging.StreamHandler(stream)
    target = handler.stream
    colour = bool(getattr(target, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ
    handler.setFormatter(ConsoleFormatter(colour=colour))
    return handler
