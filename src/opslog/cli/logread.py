"""Reading opslog JSON lines back: one pass, bounded memory, bad lines counted.

Used by ``opslog tree`` and ``opslog report``. A line is an opslog event
when it is a JSON object with the five required fields as strings and an
``@timestamp``; anything else (blank lines, other programs' logs, truncated
JSON) is skipped and counted, never an error.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, Callable, Optional

from ..vocabulary import REQUIRED_FIELDS

__all__ = ["LineStats", "parse_time", "read_events"]

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Lines longer than this are skipped unread (a runaway line must not eat memory).
MAX_LINE = 1 << 20


@dataclass
class LineStats:
    events: int = 0
    skipped: int = 0


def parse_time(text: str, now: Optional[_dt.datetime] = None) -> _dt.datetime:
    """An absolute time from ISO 8601 (``2025-01-22T10:00:00Z``) or a relative
    span back from now (``30m``, ``1h``, ``24h``, ``7d``).

    Raises:
        ValueError: with the accepted forms.
    """
    now = now or _dt.datetime.now(_dt.timezone.utc)
    match = _RELATIVE.match(text[:64])
    if match:
        try:
            return now - _dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
        except (OverflowError, ValueError):
            raise ValueError(f"{text[:64]!r} reaches back before the year 1") from None
    try:
        value = _dt.datetime.fromisoformat(text[:64].strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 (2025-01-22T10:00:00Z) "
            "or a span back from now (30m, 1h, 24h, 7d)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=_dt.timezone.utc)


def event_time(document: dict[str, Any]) -> Optional[_dt.datetime]:
    """The event's ``@timestamp``, or ``None`` when it is not a usable time
    (events carry absolute times; a relative form is not one)."""
    stamp = document.get("@timestamp")
    if not isinstance(stamp, str) or _RELATIVE.match(stamp[:64]):
        return None
    try:
        return parse_time(stamp)
    except (ValueError, OverflowError):
        return None


def _is_event(document: object) -> bool:
    if not isinstance(document, dict):
        return False
    if not isinstance(document.get("@timestamp"), str):
        return False
    return all(isinstance(document.get(key), str) for key in REQUIRED_FIELDS)


def _lines(stream: IO[bytes], follow: bool, idle: Callable[[], None]) -> Iterator[bytes]:
    """The lines of ``stream``; a line longer than :data:`MAX_LINE` comes out
    as one :data:`TOO_LONG` and the rest of it is read past, never parsed."""
    pending = b""
    discarding = False
    while True:
        chunk = stream.readline(MAX_LINE + 1)
        if not chunk:
            if not follow:
                if pending:
                    yield pending
                return
            idle()
            time.sleep(0.25)
            continue
        complete = chunk.endswith(b"\n")
        if discarding:
            discarding = not complete  # still inside the over-long line
            continue
        if len(pending) + len(chunk) > MAX_LINE + 1:
            pending = b""
            discarding = not complete
            yield TOO_LONG
            continue
        if not complete:
            pending += chunk
            continue
        line, pending = pending + chunk, b""
        yield line


#: What :func:`_lines` yields for an over-long line (never valid JSON).
TOO_LONG = b"\x00too long"


def _no_constants(name: str) -> str:
    """``NaN`` and ``Infinity`` are not JSON: read them as the strings they spell."""
    return name


def read_events(
    stream: IO[bytes],
    stats: LineStats,
    follow: bool = False,
    idle: Callable[[], None] = lambda: None,
) -> Iterator[dict[str, Any]]:
    """The opslog events of ``stream``, in order. ``follow`` waits for more at EOF
    (calling ``idle`` whenever it has caught up)."""
    for raw in _lines(stream, follow, idle):
        if not raw.strip():
            continue
        try:
            document = json.loads(raw, parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError, RecursionError):
            stats.skipped += 1  # not JSON, or nested deeper than Python can read
            continue
        if not _is_event(document):
            stats.skipped += 1
            continue
        stats.events += 1
        yield document


def open_input(path: Optional[str]) -> IO[bytes]:
    """The file at ``path``, or standard input for ``None``/``-``."""
    if path is None or path == "-":
        import sys

        return sys.stdin.buffer
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    return open(path, "rb")
