"""No input hurts the caller: hostile objects never raise and never drop an event."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import pytest

import opslog
from opslog import _diagnostics
from opslog.testing import Capture

from ..conftest import five_outputs


class Boom(Exception):
    pass


class HostileStr(str):
    """A str whose own methods all raise."""

    def __hash__(self) -> int:
        raise Boom("hash")

    def __eq__(self, other: object) -> bool:
        raise Boom("eq")

    def __str__(self) -> str:
        raise Boom("str")

    def __repr__(self) -> str:
        raise Boom("repr")

    def isascii(self) -> bool:
        raise Boom("isascii")

    def isidentifier(self) -> bool:
        raise Boom("isidentifier")


class HostileList(list):  # type: ignore[type-arg]
    def __iter__(self) -> Iterator[Any]:
        raise Boom("iter")

    def __len__(self) -> int:
        raise Boom("len")


class Pairs(Mapping[Any, Any]):
    """A mapping that never hashes its keys (so a hostile key can be in it)."""

    def __init__(self, *pairs: tuple[Any, Any]) -> None:
        self._pairs = pairs

    def __getitem__(self, key: Any) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[Any]:
        return (k for k, _ in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def items(self) -> Any:
        return list(self._pairs)


class Unprintable:
    def __str__(self) -> str:
        raise Boom("str")

    def __repr__(self) -> str:
        raise Boom("repr")


class FakeUUID:
    """Looks like a UUID; its ``int`` is whatever the test says."""

    def __init__(self, value: Any) -> None:
        self._value = value

    @property
    def int(self) -> Any:
        if isinstance(self._value, BaseException):
            raise self._value
        return self._value


FakeUUID.__name__ = "UUID"


def test_hostile_strings_everywhere_still_emit_every_event(captured: Capture) -> None:
    hostile = HostileStr("hostile-value")
    logger = opslog.new_operation_logger(hostile)
    op = logger.start_operation(hostile, hostile)
    op.log_step(hostile, hostile, Pairs((hostile, hostile), ("plain", hostile)))
    step = op.start_step(hostile)
    step.info(hostile, {"list": HostileList([1, 2]), "obj": Unprintable()})
    step.warn(hostile, Pairs((hostile, HostileList())))
    step.error(hostile, Boom(hostile), {"nested": Pairs((hostile, [hostile]))})
    step.end_step(hostile)
    op.end_operation(hostile, Pairs((hostile, hostile)))
    names = [e.event for e in captured.events]
    assert names == [
        "operation_start",
        "step_info",
        "step_start",
        "step_info",
        "step_warning",
        "step_error",
        "step_end",
        "operation_end",
    ]
    event = captured.last("step_info")
    assert event["job_id"] == "hostile-value" and event["step"] == "hostile-value"
    assert event["list"].startswith("<unrepresentable")
    assert event["obj"].startswith("<unrepresentable")
    assert _diagnostics.diagnostics().get("value_replaced", 0) >= 2
    assert {s.name for s in captured.spans} == {"hostile-value"}
    assert all(five_outputs(captured).values())


def test_a_status_that_cannot_be_read_still_ends_and_exports_the_span(captured: Capture) -> None:
    op = opslog.new_operation_logger("job").start_operation("op")
    op.end_operation(Unprintable())  # type: ignore[arg-type]
    (span,) = captured.spans
    assert span.attributes is not None
    assert str(span.attributes["opslog.status"]).startswith("<unrepresentable")
    assert captured.last("operation_end")["status"].startswith("<unrepresentable")
    assert _diagnostics.diagnostics()["status_replaced"] == 1


@pytest.mark.parametrize(
    "value",
    [-5, 0, 2**128, 2**200, FakeUUID(-5), FakeUUID(2**200), FakeUUID(Boom("int")), FakeUUID("x")],
)
def test_only_non_zero_128_bit_correlation_ids_are_accepted(value: object) -> None:
    assert opslog.parse_correlation_id(value) is None
    logger = opslog.new_operation_logger_with_correlation("job", value)
    assert len(logger.correlation_id) == 32
    assert _diagnostics.diagnostics()["rejected_correlation_id"] == 1


def test_a_uuid_look_alike_in_range_is_accepted() -> None:
    assert opslog.parse_correlation_id(FakeUUID(42)) == 42


def test_a_step_started_on_an_ended_operation_is_refused_not_left_dangling(
    captured: Capture,
) -> None:
    op = opslog.new_operation_logger("job").start_operation("op")
    op.end_operation()
    late = op.start_step("late")
    late.info("still logged")
    late.end_step()
    assert [s.name for s in captured.spans] == ["op"]  # no span for the refused step
    event = captured.last("step_info")
    assert event["step"] == "late" and event["opslog.after_end"] is True
    assert len(captured.log_records) == len(captured.events)
    assert _diagnostics.diagnostics()["call_after_end"] >= 1


@pytest.mark.parametrize(
    "name",
    [
        "getMessage",
        "msg",
        "args",
        "exc_info",
        "exc_text",
        "name",
        "levelname",
        "levelno",
        "message",
        "asctime",
        "stack_info",
        "getMessage",
        "__dict__",
        "__class__",
        "opslog",
        "span_id",
        "created",
    ],
)
def test_a_field_named_like_a_log_record_attribute_never_removes_the_event(
    captured: Capture, name: str
) -> None:
    handler_output: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            handler_output.append(self.format(record))

    handler = Collect()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logging.getLogger("opslog").addHandler(handler)
    try:
        op = opslog.new_operation_logger("job").start_operation("op")
        op.log_step("s", "hello", {name: "forged"})
        op.end_operation()
    finally:
        logging.getLogger("opslog").removeHandler(handler)
    assert "INFO opslog hello" in handler_output
    outputs = five_outputs(captured)
    assert all("hello" in text for text in outputs.values()), outputs.keys()


def test_traced_step_on_a_generator_spans_the_iteration(captured: Capture) -> None:
    @opslog.traced_step("produce")
    def produce(n: int) -> Iterator[int]:
        for i in range(n):
            opslog.current_step().info(f"item {i}")  # type: ignore[union-attr]
            yield i

    with opslog.new_operation_logger("job").start_operation("op"):
        items = produce(3)
        assert [e.event for e in captured.events] == ["operation_start"]  # not started yet
        assert list(items) == [0, 1, 2]
    step_events = [e for e in captured.events if e["step"] == "produce"]
    assert [e.event for e in step_events] == [
        "step_start",
        "step_info",
        "step_info",
        "step_info",
        "step_end",
    ]
    assert captured.last("step_end")["status"] == "completed"


def test_a_generator_stopped_early_ends_completed_and_one_that_raises_ends_failed(
    captured: Capture,
) -> None:
    @opslog.traced_operation("stream")
    def stream() -> Iterator[int]:
        yield 1
        yield 2
        raise Boom("broken")

    gen = stream()
    assert next(gen) == 1
    gen.close()
    with pytest.raises(Boom):
        list(stream())
    ends = captured.events_named("operation_end")
    assert [e["status"] for e in ends] == ["completed", "failed"]


def test_traced_operation_on_an_async_generator_spans_the_iteration(captured: Capture) -> None:
    @opslog.traced_operation("agen")
    async def agen() -> AsyncIterator[int]:
        for i in range(2):
            await asyncio.sleep(0)
            yield i

    async def main() -> list[int]:
        return [i async for i in agen()]

    assert asyncio.run(main()) == [0, 1]
    assert captured.last("operation_end")["status"] == "completed"
    assert captured.span("agen") is not None
