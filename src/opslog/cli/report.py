"""``opslog report``: the seed's three monitoring queries, from JSON lines.

For teams without Elasticsearch, the same answers from the same fields:

1. **operation success rate** - ``operation_end`` events counted by
   ``operation`` and ``status`` (the seed's ``terms`` on ``status`` then
   ``operation``); ``success_rate`` is completed / all;
2. **performance** - for ``operation_end`` with ``status = completed``:
   average, p95 and p99 of ``total_duration_ms`` by ``operation``.
   Percentiles are exact, by linear interpolation between the closest ranks
   (NumPy's default; Elasticsearch's t-digest approximates the same value);
3. **error patterns** - ``step_error`` events counted by ``error_type``, each
   with its counts by ``step`` and by ``operation``.

``--since``/``--until`` keep events whose ``@timestamp`` falls in the window
(the seed uses ``now-1h`` and ``now-24h``: ``--since 1h``). One pass.

**Bounded memory, whatever the file.** At most :data:`MAX_NAMES` distinct
operation names, error types and steps are told apart (later ones are
counted under ``(other)``), and at most :data:`MAX_DURATIONS` durations
are kept per operation: beyond that, a uniform random sample of that size
(reservoir sampling) stands in for them and the row says ``sampled``.
Durations that are not finite numbers are left out. ``--json`` output is
always valid JSON.
"""

from __future__ import annotations

import datetime as _dt
import math
import random
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any, Optional

from ..channels.console import one_line
from ..vocabulary import OPERATION_END, STATUS_COMPLETED, STEP_ERROR
from .logread import event_time

__all__ = ["MAX_DURATIONS", "MAX_NAMES", "Report", "percentile"]

#: Distinct operation names, error types and steps told apart.
MAX_NAMES = 10_000
#: Durations kept per operation (a uniform sample beyond that).
MAX_DURATIONS = 100_000
OTHER = "(other)"


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q`` (0..100) percentile by linear interpolation between closest ranks."""
    if not sorted_values:
        return math.nan
    position = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


class Report:
    """Accumulates the three aggregations over a stream of events."""

    def __init__(
        self, since: Optional[_dt.datetime] = None, until: Optional[_dt.datetime] = None
    ) -> None:
        self.since = since
        self.until = until
        self.outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        self.durations: dict[str, array[float]] = defaultdict(lambda: array("d"))
        self.errors: Counter[str] = Counter()
        self.error_steps: dict[str, Counter[str]] = defaultdict(Counter)
        self.error_operations: dict[str, Counter[str]] = defaultdict(Counter)
        self.completed: Counter[str] = Counter()  # completed operations, sampled or not
        self.other_names = 0  # events counted under OTHER
        self._random = random.Random(0)  # reproducible samples

    def add_all(self, events: Iterable[dict[str, Any]]) -> Report:
        for event in events:
            self.add(event)
        return self

    def add(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind not in (OPERATION_END, STEP_ERROR):
            return
        if self.since is not None or self.until is not None:
            when = event_time(event)
            if when is None:
                return
            if self.since is not None and when < self.since:
                return
            if self.until is not None and when > self.until:
                return
        operation = self._name(event["operation"], self.outcomes)
        if kind == OPERATION_END:
            status = str(event.get("status", ""))[:256]
            self.outcomes[operation][self._name(status, self.outcomes[operation])] += 1
            duration = event.get("total_duration_ms")
            if (
                status == STATUS_COMPLETED
                and isinstance(duration, (int, float))
                and not isinstance(duration, bool)
                and math.isfinite(duration)
            ):
                self._add_duration(operation, float(duration))
        else:
            error_type = self._name(str(event.get("error_type", "unknown"))[:256], self.errors)
            self.errors[error_type] += 1
            steps = self.error_steps[error_type]
            steps[self._name(event["step"], steps)] += 1
            operations = self.error_operations[error_type]
            operations[self._name(operation, operations)] += 1

    def _name(self, name: str, seen: Any) -> str:
        """``name``, or :data:`OTHER` once ``seen`` holds :data:`MAX_NAMES` others."""
        if name in seen or len(seen) < MAX_NAMES:
            return name
        self.other_names += 1
        return OTHER

    def _add_duration(self, operation: str, value: float) -> None:
        self.completed[operation] += 1
        kept = self.durations[operation]
        if len(kept) < MAX_DURATIONS:
            kept.append(value)
            return
        slot = self._random.randrange(self.completed[operation])
        if slot < MAX_DURATIONS:
            kept[slot] = value

    # -- results ---------------------------------------------------------------------
    def success_rate(self) -> list[dict[str, Any]]:
        rows = []
        for operation in sorted(self.outcomes):
            statuses = self.outcomes[operation]
            total = sum(statuses.values())
            rows.append(
                {
                    "operation": operation,
                    "total": total,
                    "by_status": dict(sorted(statuses.items())),
                    "success_rate": statuses.get("completed", 0) / total if total else 0.0,
                }
            )
        return rows

    def performance(self) -> list[dict[str, Any]]:
        rows = []
        for operation in sorted(self.durations):
            values = sorted(self.durations[operation])
            rows.append(
                {
                    "operation": operation,
                    "count": self.completed[operation],
                    "sampled": self.completed[operation] > len(values),
                    "avg_duration_ms": math.fsum(values) / len(values),
                    "p95_duration_ms": percentile(values, 95),
                    "p99_duration_ms": percentile(values, 99),
                }
            )
        return rows

    def error_patterns(self) -> list[dict[str, Any]]:
        return [
            {
                "error_type": error_type,
                "count": count,
                "by_step": dict(self.error_steps[error_type].most_common()),
                "by_operation": dict(self.error_operations[error_type].most_common()),
            }
            for error_type, count in sorted(self.errors.items(), key=lambda kv: (-kv[1], kv[0]))
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "success_rate": self.success_rate(),
            "performance": self.performance(),
            "errors": self.error_patterns(),
        }

    def table(self) -> list[str]:
        """The three results as aligned text tables."""
        lines = ["Operation success rate"]
        lines += _table(
            ("operation", "total", "completed", "failed", "other", "success"),
            [
                (
                    row["operation"],
                    row["total"],
                    row["by_status"].get("completed", 0),
                    row["by_status"].get("failed", 0),
                    row["total"]
                    - row["by_status"].get("completed", 0)
                    - row["by_status"].get("failed", 0),
                    f"{row['success_rate'] * 100:.1f}%",
                )
                for row in self.success_rate()
            ],
        )
        lines += ["", "Performance of completed operations (total_duration_ms)"]
        lines += _table(
            ("operation", "count", "avg", "p95", "p99"),
            [
                (
                    row["operation"],
                    row["count"],
                    f"{row['avg_duration_ms']:.1f}",
                    f"{row['p95_duration_ms']:.1f}",
                    f"{row['p99_duration_ms']:.1f}",
                )
                for row in self.performance()
            ],
        )
        lines += ["", "Error patterns (step_error by error_type)"]
        lines += _table(
            ("error_type", "count", "steps", "operations"),
            [
                (
                    row["error_type"],
                    row["count"],
                    ", ".join(f"{k} ({v})" for k, v in row["by_step"].items()),
                    ", ".join(f"{k} ({v})" for k, v in row["by_operation"].items()),
                )
                for row in self.error_patterns()
            ],
        )
        return lines


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    if not rows:
        return ["  (none)"]
    cells = [
        tuple(one_line(str(c)) for c in header),
        *[tuple(one_line(str(c)) for c in row) for row in rows],
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        return (
            "  "
            + "  ".join(
                cell.ljust(width) if i == 0 or not cell[:1].isdigit() else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths))
            ).rstrip()
        )

    return [line(cells[0]), "  " + "  ".join("-" * w for w in widths), *map(line, cells[1:])]
