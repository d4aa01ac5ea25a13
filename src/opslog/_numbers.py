"""The numbers opslog takes from callers and the environment: durations and counts.

Every timeout, delay, deadline and size goes through one of these two checks,
so a value that would overflow a clock or a queue later (``inf``, ``nan``,
``1e15``, a 20-digit integer) is refused where it is given, with a
``ValueError`` that names the option and its range. The rejected value is not
repeated: an environment variable may hold anything, a secret included.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["MAX_COUNT", "MAX_SECONDS", "number", "seconds", "whole_number"]

#: The longest duration opslog accepts: a day. No timeout, delay or deadline
#: of a log call's machinery is meant to be longer, and every clock and
#: ``time_t`` holds it.
MAX_SECONDS: Final = 86_400.0
#: The largest count (queue sizes, batch sizes) opslog accepts.
MAX_COUNT: Final = 10_000_000


def seconds(
    value: object,
    where: str,
    *,
    unit: float = 1.0,
    allow_zero: bool = False,
    high: float = MAX_SECONDS,
) -> float:
    """``value`` (in ``unit`` seconds: 0.001 for milliseconds) as seconds: a
    finite number above zero (or zero, with ``allow_zero``) and at most
    ``high`` seconds. A ``ValueError`` naming ``where`` otherwise."""
    what = "milliseconds" if unit == 0.001 else "seconds"
    most = high / unit
    limit = f"{most:.0f} {what}" if most.is_integer() else f"{most:g} {what}"
    if isinstance(value, bool):
        raise ValueError(f"{where}: a number of {what} is needed, not True or False")
    try:
        number = float(value) * unit  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{where}: a number of {what} is needed, up to {limit}") from None
    low_ok = number >= 0 if allow_zero else number > 0
    if not math.isfinite(number) or not low_ok or number > high:
        floor = "0 or more" if allow_zero else "more than 0"
        raise ValueError(f"{where}: must be {floor} and at most {limit}")
    return number


def number(value: object, where: str, low: float, high: float) -> float:
    """``value`` as a finite ``float`` from ``low`` to ``high`` (a ratio, a
    factor). A ``ValueError`` naming ``where`` otherwise."""
    if not isinstance(value, bool):
        try:
            result = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            result = math.nan
        if math.isfinite(result) and low <= result <= high:
            return result
    raise ValueError(f"{where}: must be a number from {low:g} to {high:g}")


def whole_number(value: object, where: str, low: int = 1, high: int = MAX_COUNT) -> int:
    """``value`` as an ``int`` from ``low`` to ``high`` (a text of digits
    too, as the environment gives it). A ``ValueError`` naming ``where``
    otherwise."""
    if isinstance(value, str):
        text = value.strip()
        if not (text.isdigit() and len(text) <= len(str(high))):
            raise ValueError(f"{where}: must be a whole number from {low} to {high}")
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{where}: must be a whole number from {low} to {high}")
    return value
