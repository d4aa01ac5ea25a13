"""Durations: measuring from a caller's start value and formatting like Go.

``log_duration(step, start)`` accepts what Python code naturally holds as a
start time, and works out which clock it came from:

* a ``float`` from :func:`time.perf_counter`, :func:`time.monotonic` or
  :func:`time.time` (the clock giving the smallest non-negative elapsed time
  is taken: the three clocks are far apart, so this is unambiguous in
  practice);
* an ``int`` from ``perf_counter_ns``/``monotonic_ns``/``time_ns`` (same rule);
* a :class:`datetime.datetime` (naive ones are local time, like
  ``datetime.now()``);
* a :class:`datetime.timedelta`, taken as the duration itself.

Anything else (or a start in the future) yields ``None``: the event is still
emitted, with ``duration_ms = -1`` and ``duration_str = "unknown"``.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Optional

__all__ = ["elapsed_seconds", "format_duration"]

_NS_THRESHOLD = 10**12  # ints above this are nanoseconds


def elapsed_seconds(start: object) -> Optional[float]:
    """Seconds from ``start`` to now, or ``None`` when ``start`` is unusable."""
    if isinstance(start, bool):
        return None
    if isinstance(start, _dt.timedelta):
        seconds = start.total_seconds()
        return seconds if seconds >= 0 else None
    if isinstance(start, _dt.datetime):
        try:
            now = _dt.datetime.now(start.tzinfo) if start.tzinfo else _dt.datetime.now()
            seconds = (now - start).total_seconds()
        except Exception:
            return None
        return seconds if seconds >= 0 else None
    if isinstance(start, int) and start > _NS_THRESHOLD:
        candidates = (time.perf_counter_ns(), time.monotonic_ns(), time.time_ns())
        return _closest(float(start), [float(c) for c in candidates], scale=1e-9)
    if isinstance(start, (int, float)):
        value = float(start)
        if value != value:  # NaN
            return None
        return _closest(value, [time.perf_counter(), time.monotonic(), time.time()], scale=1.0)
    return None


def _closest(start: float, nows: list[float], scale: float) -> Optional[float]:
    elapsed = [now - start for now in nows if now >= start]
    if not elapsed:
        return None
    return min(elapsed) * scale


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
