"""Durations: measuring from a caller's start value and formatting like Go.

``log_duration(step, start)`` measures with **one clock**,
:func:`time.perf_counter` (the clock opslog itself uses for step and
operation durations). ``start`` is one of:

* a number from :func:`time.perf_counter`, in seconds (on Linux and macOS,
  and everywhere from Python 3.13, :func:`time.monotonic` reads the same
  clock and works too);
* a :class:`datetime.datetime` (a wall-clock start, as Go's ``time.Time``;
  naive ones are local time, like ``datetime.now()``);
* a :class:`datetime.timedelta`, taken as the duration itself.

Anything else, a number that is not a ``perf_counter`` reading (such as
``time.time()``: it lies in that clock's future), a start in the future or a
non-finite or absurdly distant value yields ``None``: the event is still emitted, with
``duration_ms = -1`` and ``duration_str = "unknown"``.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Optional

__all__ = ["elapsed_seconds", "format_duration"]

#: Longer than any job (about 317 years) and still exact in nanoseconds as
#: an int64: anything beyond is an unusable start value.
_LONGEST = 1e10


def elapsed_seconds(start: object) -> Optional[float]:
    """Seconds from ``start`` to now, or ``None`` when ``start`` is unusable. Never raises."""
    try:
        if isinstance(start, bool):
            return None
        if isinstance(start, _dt.timedelta):
            seconds = start.total_seconds()
        elif isinstance(start, _dt.datetime):
            now = _dt.datetime.now(start.tzinfo) if start.tzinfo else _dt.datetime.now()
            seconds = (now - start).total_seconds()
        elif isinstance(start, (int, float)):
            seconds = time.perf_counter() - float(start)
        else:
            return None
    except Exception:  # overflow, a hostile datetime subclass...
        return None
    return seconds if 0 <= seconds <= _LONGEST else None


_UNITS = ((3600, "h"), (60, "m"))


def format_duration(seconds: float) -> str:
    """Format like Go's ``time.Duration.String()``: ``1h2m3.5s``, ``5.42s``, ``150ms``.

    At most three decimals in the unit used (Go prints nine): durations in
    logs are read by people.
    """
    if seconds - seconds:  # NaN or ±inf (x - x is 0.0 for every finite x)
        return "unknown"
    if 0.001 <= seconds < 1.0:  # the usual step: milliseconds
        return _trim(seconds * 1000) + "ms"
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_trim(ns / 1_000)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_trim(ns / 1_000_000)}ms"
    parts: list[str] = []
    whole_seconds, frac_ns = divmod(ns, 1_000_000_000)
    for size, unit in _UNITS:
        count, whole_seconds = divmod(whole_seconds, size)
        if count or parts:
            parts.append(f"{count}{unit}")
    secs = f"{whole_seconds}.{frac_ns:09d}".rstrip("0").rstrip(".")
    parts.append(f"{secs}s")
    return sign + "".join(parts)


def _trim(value: float) -> str:
    """Three decimals without trailing zeros: ``1.5``, ``2``, ``12.346``."""
    return f"{value:.3f}".rstrip("0").rstrip(".")
