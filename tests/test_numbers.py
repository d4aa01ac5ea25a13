"""Every duration and count opslog takes, crossed with hostile numbers: a ValueError naming the
option where the value is given, never an OverflowError (or a hang) later; sane values pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import opslog
from opslog.integrations.http import ASGIMiddleware

HOSTILE: list[Any] = [float("inf"), float("-inf"), float("nan"), 1e15, 10**20, -1, True, "soon"]


def _retry(**options: Any) -> None:
    op = opslog.new_operation_logger("job").start_operation("op")
    try:
        op.retry("step", **options)
    finally:
        op.end_operation()


#: option -> (how it is given, a sane value)
OPTIONS: dict[str, tuple[Callable[[Any], object], Any]] = {
    "exit_timeout": (lambda v: opslog.configure(exit_timeout=v), 5.0),
    "timeout": (lambda v: opslog.configure(timeout=v), 10.0),
    "schedule_delay": (
        lambda v: opslog.configure(endpoint="http://127.0.0.1:9", schedule_delay=v),
        1.0,
    ),
    "max_queue_size": (
        lambda v: opslog.configure(endpoint="http://127.0.0.1:9", max_queue_size=v),
        2048,
    ),
    "max_export_batch_size": (
        lambda v: opslog.configure(endpoint="http://127.0.0.1:9", max_export_batch_size=v),
        512,
    ),
    "shutdown(timeout)": (lambda v: opslog.shutdown(timeout=v), 1.0),
    "retry(delay)": (lambda v: _retry(delay=v), 0.5),
    "retry(max_delay)": (lambda v: _retry(max_delay=v), 30.0),
    "retry(deadline)": (lambda v: _retry(deadline=v), 60.0),
    "retry(jitter)": (lambda v: _retry(jitter=v), 0.2),
    "retry(backoff)": (lambda v: _retry(backoff=v), 2.0),
    "retry(max_attempts)": (lambda v: _retry(max_attempts=v), 3),
    "ASGIMiddleware(flush_timeout)": (lambda v: ASGIMiddleware(None, flush_timeout=v), 5.0),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_a_hostile_number_is_a_value_error_naming_the_option(option: str, value: Any) -> None:
    give, _ = OPTIONS[option]
    with pytest.raises(ValueError) as raised:
        give(value)
    assert option.split("(")[-1].rstrip(")") in str(raised.value)
    assert "soon" not in str(raised.value)  # the rejected value is not repeated


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_a_sane_number_is_taken(option: str) -> None:
    give, sane = OPTIONS[option]
    give(sane)


@pytest.mark.parametrize(
    "variable",
    [
        "OTEL_BSP_SCHEDULE_DELAY",
        "OTEL_BSP_EXPORT_TIMEOUT",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ],
)
@pytest.mark.parametrize("value", ["inf", "nan", "1e15", "9" * 20, "-5", "soon"])
def test_a_hostile_variable_is_a_value_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable) as raised:
        opslog.configure(endpoint="http://127.0.0.1:9")
    assert value not in str(raised.value)  # the variable's value is not repeated
