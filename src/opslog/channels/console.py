"""A readable one-line-per-event formatter for terminals.

``HH:MM:SS.mmm LEVEL operation/step  message  key=value ...`` where the
key/values are the caller's and the event's own fields (the required fields
are already in the prefix; a sub-step shows as ``operation/parent/step``).
Colour is used only when the stream is a TTY and ``NO_COLOR`` is not set.
Records that are not opslog events (for example self-diagnostics) are
printed as ``HH:MM:SS.mmm LEVEL name  message``.
"""

from __future__ import annotations

import logging
import os
import time
from typing import IO, Any, Optional

from ..vocabulary import (
    FIELD_MESSAGE,
    FIELD_OPERATION,
    FIELD_PARENT_STEP,
    FIELD_STEP,
    OPERATION_STEP,
    REQUIRED_FIELDS,
)

__all__ = ["ConsoleFormatter", "console_handler", "field_text", "one_line"]

_COLOURS = {
    "DEBUG": "\x1b[2m",
    "INFO": "\x1b[32m",
    "WARNING": "\x1b[33m",
    "ERROR": "\x1b[31;1m",
}
_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_HIDDEN = frozenset((*REQUIRED_FIELDS, FIELD_MESSAGE, FIELD_PARENT_STEP, "exception.stacktrace"))
_LEVEL_NAMES = {"WARNING": "WARN"}


#: Control characters (C0, DEL, C1), line and paragraph separators and bidi
#: controls, each written as an escape: one event is always one line, and
#: nothing from a message can move the cursor, recolour the terminal, set
#: its title or write to the clipboard (OSC 52).
_ESCAPES: dict[int, str] = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})
_ESCAPES.update(
    {
        c: f"\\u{c:04x}"
        for c in (0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    }
)


def one_line(text: str) -> str:
    """``text`` safe to print on a terminal as (part of) one line."""
    return text if text.isprintable() else text.translate(_ESCAPES)


def field_text(value: object, limit: int) -> str:
    """A field value as shown after ``key=``: lists joined with commas, quoted
    when empty or holding blanks, cut after ``limit`` characters, one line."""
    try:
        text = ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)
    except Exception:
        text = f"<unrepresentable {type(value).__name__}>"
    if " " in text or not text:
        text = repr(text)
    if len(text) > limit:
        text = text[:limit] + "…"
    return one_line(text)


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
            step = fields.get(FIELD_STEP, "")
            parent = fields.get(FIELD_PARENT_STEP) if step != OPERATION_STEP else None
            path = (fields.get(FIELD_OPERATION, ""), parent, step)
            where = one_line("/".join(str(part) for part in path if part is not None))
            extra = " ".join(
                f"{one_line(str(k))}={field_text(v, self.max_field_chars)}"
                for k, v in fields.items()
                if k not in _HIDDEN
            )
        else:
            where, extra = one_line(record.name), ""
        try:
            message = one_line(record.getMessage())
        except Exception:  # a foreign record whose arguments do not fit its format
            message = one_line(repr(record.msg))
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


def console_handler(stream: Optional[IO[str]] = None) -> logging.Handler:
    """A ``StreamHandler`` with :class:`ConsoleFormatter`, coloured on a TTY."""
    handler = logging.StreamHandler(stream)
    target = handler.stream
    colour = bool(getattr(target, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ
    handler.setFormatter(ConsoleFormatter(colour=colour))
    return handler
