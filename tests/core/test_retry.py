"""The retry helper: attempts as steps, classifier-driven, backoff and deadline."""

from __future__ import annotations

import asyncio

import pytest

import opslog
from opslog.core.retry import Retry
from opslog.testing import Capture


def flaky(failures: list[BaseException]):  # type: ignore[no-untyped-def]
    def call() -> str:
        if failures:
            raise failures.pop(0)
        return "vm-1"

    return call


def test_retries_retryable_errors_then_succeeds(captured: Capture) -> None:
    sleeps: list[float] = []
    call = flaky([TimeoutError("t/o"), ConnectionError("reset")])
    with opslog.new_operation_logger("j").operation("failover") as op:
        retry = Retry(
            op, "vm-creation", max_attempts=4, delay=0.5, backoff=2.0, sleep=sleeps.append
        )
        for attempt in retry:
            with attempt:
                result = call()
    assert result == "vm-1"
    assert sleeps == [0.5, 1.0]
    spans = [s for s in captured.spans if s.name.startswith("vm-creation-attempt")]
    assert [(s.name, s.attributes["opslog.status"]) for s in spans] == [
        ("vm-creation-attempt-1", "retrying"),
        ("vm-creation-attempt-2", "retrying"),
        ("vm-creation-attempt-3", "completed"),
    ]
    warnings = captured.events_named("step_warning")
    assert [w["attempt_number"] for w in warnings] == [1, 2]
    assert warnings[0]["max_retries"] == 4
    assert warnings[0]["retry_delay"] == "500ms" and warnings[1]["retry_delay"] == "1s"
    assert warnings[0]["error"] == "t/o" and warnings[1]["error_type"] == "ConnectionError"
    assert captured.last("step_success")["attempt_number"] == 3


def test_final_failure_carries_attempts_and_the_last_error(captured: Capture) -> None:
    errors = [TimeoutError("first"), TimeoutError("second"), TimeoutError("last")]
    with (
        pytest.raises(TimeoutError, match="last"),
        opslog.new_operation_logger("j").operation("failover") as op,
    ):
        for attempt in Retry(op, "attach", max_attempts=3, delay=0, sleep=lambda s: None):
            with attempt:
                flaky(errors)()
    final = captured.last("step_error")
    assert final["attempts"] == 3 and final["reason"] == "attempts_exhausted"
    assert final["error"] == "last"
    assert captured.last("step_end")["status"] == "failed"
    assert captured.last("operation_end")["status"] == "failed"


def test_non_retryable_error_fails_at_once(captured: Capture) -> None:
    with pytest.raises(ValueError), opslog.new_operation_logger("j").operation("op") as op:
        for attempt in op.retry("create", max_attempts=5, delay=0):
            with attempt:
                raise ValueError("bad request")
    assert captured.last("step_error")["reason"] == "not_retryable"
    assert len([s for s in captured.spans if "attempt" in s.name]) == 1


def test_retry_on_and_the_deadline(captured: Capture) -> None:
    with pytest.raises(KeyError), opslog.new_operation_logger("j").operation("op") as op:
        retry = Retry(
            op,
            "poll",
            max_attempts=10,
            delay=5.0,
            deadline=1.0,
            retry_on=lambda e: isinstance(e, KeyError),
            sleep=lambda s: None,
        )
        for attempt in retry:
            with attempt:
                raise KeyError("not yet")
    assert captured.last("step_error")["reason"] == "deadline"


def test_classifier_decides_what_is_retryable(captured: Capture) -> None:
    opslog.configure(error_classifier=lambda e: {"retry_possible": "quota" in str(e)})
    calls = flaky([RuntimeError("quota exceeded")])
    with opslog.new_operation_logger("j").operation("op") as op:
        for attempt in Retry(op, "create", delay=0, sleep=lambda s: None):
            with attempt:
                calls()
    assert [e["status"] for e in captured.events_named("step_end")] == ["retrying", "completed"]


def test_async_retry(captured: Capture) -> None:
    async def main() -> int:
        calls = flaky([TimeoutError("t/o")])
        with opslog.new_operation_logger("j").operation("op") as op:
            count = 0
            async for attempt in op.retry("fetch", delay=0.001):
                async with attempt:
                    count += 1
                    calls()
            return count

    assert asyncio.run(main()) == 2
