"""Threads, executors and asyncio tasks."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import opslog
from opslog.testing import Capture


def test_steps_from_worker_threads_are_children_of_their_operation(captured: Capture) -> None:
    op = opslog.new_operation_logger("j").start_operation("parallel")

    def work(n: int) -> None:
        step = op.start_step(f"volume-{n}")
        for i in range(20):
            step.info("progress", {"n": n, "i": i})
        step.end_step()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    op.end_operation()
    root = captured.span("parallel")
    for n in range(8):
        span = captured.span(f"volume-{n}")
        assert span.parent.span_id == root.context.span_id
        assert len([e for e in span.events if e.name == "step_info"]) == 20
    assert captured.last("operation_end")["abandoned_steps"] == 0
    assert len(captured.events_named("step_info")) == 160


def test_context_executor_carries_the_current_step(captured: Capture) -> None:
    with opslog.new_operation_logger("j").operation("op") as op, op.step("fan-out") as step:
        with opslog.ContextThreadPoolExecutor(max_workers=3) as pool:
            seen = list(pool.map(lambda _: opslog.current_step(), range(6)))
            futures = [pool.submit(opslog.current_correlation_id) for _ in range(3)]
        with ThreadPoolExecutor(max_workers=2) as plain:
            wrapped = plain.submit(opslog.with_current_context(opslog.current_step)).result()
            unwrapped = plain.submit(opslog.current_step).result()
    assert seen == [step] * 6
    assert [f.result() for f in futures] == [op.correlation_id] * 3
    assert wrapped is step
    assert unwrapped is None


def test_many_threads_end_the_same_operation_once(captured: Capture) -> None:
    op = opslog.new_operation_logger("j").start_operation("op")
    barrier = threading.Barrier(8)

    def end() -> None:
        barrier.wait()
        op.end_operation("completed")

    threads = [threading.Thread(target=end) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(captured.events_named("operation_end")) == 1


def test_tasks_have_their_own_current_step(captured: Capture) -> None:
    async def main() -> None:
        op = opslog.new_operation_logger("j").start_operation("op")

        async def task(name: str) -> None:
            with op.step(name) as step:
                await asyncio.sleep(0)
                assert opslog.current_step() is step
                step.info("in task")

        await asyncio.gather(task("a"), task("b"))
        op.end_operation()

    asyncio.run(main())
    assert {e["step"] for e in captured.events_named("step_info")} == {"a", "b"}
