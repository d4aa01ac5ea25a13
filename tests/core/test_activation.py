"""Activation never leaks: a model-based test over random start/end orders.

Two threads and an asyncio task each keep their own current context. Scopes
are started in one worker and ended in any (same or other, in any order).
After every step:

* no worker's current span is an ended opslog span, and a span that
  third-party code starts there is never parented to one;
* once every scope a worker started has ended, its current span is what it
  was before the first start; and when the worker itself did the last end
  (or has touched opslog since a scope of it ended elsewhere), its current
  context is exactly the one it had before.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, Optional

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule
from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import opslog
from opslog import OperationContext, StepContext

from ..helpers import in_memory_tracing

Scope = Any  # OperationContext | StepContext


class ThreadWorker:
    """Runs callables in one thread, which keeps its context between them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: queue.Queue[Optional[tuple[Callable[[], Any], Future[Any]]]] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, future = job
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed back to the test
                future.set_exception(exc)

    def run(self, fn: Callable[[], Any]) -> Any:
        future: Future[Any] = Future()
        self._jobs.put((fn, future))
        return future.result(timeout=30)

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)


class TaskWorker:
    """Runs callables in one asyncio task (its own context) of a loop thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run_loop, name=name, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._jobs: asyncio.Queue[Optional[tuple[Callable[[], Any], Future[Any]]]] = asyncio.Queue()
        self._task = self._loop.create_task(self._serve())
        self._ready.set()
        self._loop.run_until_complete(self._task)

    async def _serve(self) -> None:
        while (job := await self._jobs.get()) is not None:
            fn, future = job
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
            await asyncio.sleep(0)

    def run(self, fn: Callable[[], Any]) -> Any:
        future: Future[Any] = Future()
        self._loop.call_soon_threadsafe(self._jobs.put_nowait, (fn, future))
        return future.result(timeout=30)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._jobs.put_nowait, None)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture(scope="module")
def tracing() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    with in_memory_tracing() as pair:
        yield pair


class ActivationMachine(RuleBasedStateMachine):
    scopes = Bundle("scopes")

    def __init__(self) -> None:
        super().__init__()
        self.workers = [
            ThreadWorker("w-thread-1"),
            ThreadWorker("w-thread-2"),
            TaskWorker("w-task"),
        ]
        self.baseline = {w.name: w.run(context.get_current) for w in self.workers}
        self.started_in: dict[int, str] = {}  # id(scope) -> worker name
        self.scope_objects: dict[int, Scope] = {}
        self.dirty: set[str] = set()  # a scope of the worker ended elsewhere, not yet cleaned
        self.count = 0

    @initialize()
    def configure(self) -> None:
        opslog.configure(tracer_provider=PROVIDER, log_records=False, stdlib_logging=False)

    def teardown(self) -> None:
        for scope in self.scope_objects.values():
            if not scope.ended:
                _end(scope)
        for worker in self.workers:
            worker.stop()

    def _worker(self, index: int) -> Any:
        return self.workers[index % len(self.workers)]

    def _touched(self, worker: Any) -> None:
        self.dirty.discard(worker.name)

    def _start(self, where: int, prefix: str, start: Callable[[str], Scope]) -> Scope:
        worker = self._worker(where)
        self.count += 1
        name = f"{prefix}-{self.count}"
        scope = worker.run(lambda: start(name))
        self._record(scope, worker)
        return scope

    @rule(target=scopes, where=st.integers(0, 2))
    def start_operation(self, where: int) -> Scope:
        return self._start(
            where, "op", lambda name: opslog.new_operation_logger("job").start_operation(name)
        )

    @rule(target=scopes, parent=scopes, where=st.integers(0, 2))
    def start_step(self, parent: Scope, where: int) -> Scope:
        return self._start(where, "step", parent.start_step)

    @rule(target=scopes, parent=scopes, where=st.integers(0, 2))
    def start_child_operation(self, parent: Scope, where: int) -> Scope:
        return self._start(where, "child", parent.create_child_context)

    @rule(scope=scopes, where=st.integers(0, 2))
    def end(self, scope: Scope, where: int) -> None:
        worker = self._worker(where)
        open_before = {i for i, s in self.scope_objects.items() if not s.ended}
        worker.run(lambda: _end(scope))
        self._touched(worker)
        # Ending a scope ends its open children too: each one that ran in
        # another worker leaves that worker's context stale until it is cleaned.
        for key in open_before:
            owner = self.started_in.get(key)
            if self.scope_objects[key].ended and owner is not None and owner != worker.name:
                self.dirty.add(owner)

    @rule(where=st.integers(0, 2))
    def third_party_span(self, where: int) -> None:
        worker = self._worker(where)

        def start() -> tuple[Optional[int], int]:
            tracer = PROVIDER.get_tracer("third-party")
            with tracer.start_as_current_span("third-party") as span:
                parent = span.parent  # type: ignore[attr-defined]
                return (parent.span_id if parent is not None else None), span.context.trace_id

        parent_id, _ = worker.run(start)
        assert parent_id not in self._ended_span_ids(), "parented to an ended opslog span"

    def _record(self, scope: Scope, worker: Any) -> None:
        self._touched(worker)
        self.scope_objects[id(scope)] = scope
        if not scope.ended:  # a refused scope is born ended and never activated
            self.started_in[id(scope)] = worker.name

    def _ended_span_ids(self) -> set[int]:
        return {s.span_context.span_id for s in self.scope_objects.values() if s.ended}

    @invariant()
    def no_ended_span_is_current(self) -> None:
        if not hasattr(self, "workers"):
            return
        ended = self._ended_span_ids()
        for worker in self.workers:
            current = worker.run(lambda: trace.get_current_span().get_span_context())
            assert current.span_id not in ended, f"{worker.name}: an ended span is current"

    @invariant()
    def a_worker_whose_scopes_all_ended_is_back_where_it_was(self) -> None:
        if not hasattr(self, "workers"):
            return
        for worker in self.workers:
            mine = [self.scope_objects[i] for i, w in self.started_in.items() if w == worker.name]
            if not all(scope.ended for scope in mine):
                continue
            baseline = self.baseline[worker.name]
            current = worker.run(context.get_current)
            assert (
                trace.get_current_span(current).get_span_context()
                == trace.get_current_span(baseline).get_span_context()
            ), worker.name
            if worker.name not in self.dirty:
                assert current is baseline, f"{worker.name}: context not restored exactly"


def _end(scope: Scope) -> None:
    if isinstance(scope, StepContext):
        scope.end_step()
    else:
        assert isinstance(scope, OperationContext)
        scope.end_operation()


PROVIDER: TracerProvider


ActivationMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=25, deadline=None
)
TestActivation = ActivationMachine.TestCase


@pytest.fixture(autouse=True)
def _provider(tracing: tuple[TracerProvider, InMemorySpanExporter]) -> Iterator[None]:
    global PROVIDER
    PROVIDER = tracing[0]
    yield
    opslog.configure(tracer_provider=None)


# -- the cases the issue names, spelled out ----------------------------------------------
def test_two_steps_ended_out_of_order_leave_nothing_current() -> None:
    before = context.get_current()
    op = opslog.new_operation_logger("job").start_operation("op")
    first, second = op.start_step("first"), op.start_step("second")
    first.end_step()
    assert trace.get_current_span().get_span_context() == second.span_context
    second.end_step()
    op.end_operation()
    assert context.get_current() is before


def test_ending_an_operation_with_open_steps_restores_the_context() -> None:
    before = context.get_current()
    op = opslog.new_operation_logger("job").start_operation("op")
    step = op.start_step("s")
    step.start_step("sub")
    op.end_operation()
    assert context.get_current() is before


def test_an_operation_ended_in_another_thread_parents_nothing_here() -> None:
    before_span = trace.get_current_span().get_span_context()
    op = opslog.new_operation_logger("job").start_operation("op")
    worker = threading.Thread(target=op.end_operation)
    worker.start()
    worker.join()
    assert trace.get_current_span().get_span_context() == before_span
    child = PROVIDER.get_tracer("next-job").start_span("http-call")
    assert child.parent is None  # type: ignore[attr-defined]
    child.end()
    # The next opslog call here cleans the stale context up.
    opslog.new_operation_logger("job-2").start_operation("next").end_operation()
    assert opslog.current_operation() is None
