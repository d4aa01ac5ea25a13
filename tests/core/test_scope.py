"""An ended scope is freed by reference counting, not by the cyclic GC.

A scope's context holds the scope, and a running scope holds its context.
If that cycle outlived the end, every ended span (with its events) would
wait for a full garbage collection, whose cost grows with everything in
memory: under load, with the export queue full, the caller slowed down.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from opentelemetry import context, trace

import opslog
from opslog.testing import Capture


@pytest.fixture
def no_cyclic_gc(captured: Capture) -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_ended_operations_and_steps_are_freed_without_the_cyclic_gc(
    captured: Capture, no_cyclic_gc: None
) -> None:
    refs = []
    for _ in range(3):
        op = opslog.new_operation_logger("job-1").start_operation("migrate")
        step = op.start_step("copy")
        step.info("copying", {"disk": "vda"})
        step.end_step("completed")
        with op.start_step("verify") as verify:
            child = verify.create_child_context("rescan")
            child.end_operation("completed")
        late = op.start_step("after")  # left open: ended as abandoned
        op.end_operation("completed")
        refused = op.start_step("too-late")  # refused: started after the end
        refused.end_step("completed")
        refs += [weakref.ref(s) for s in (op, step, verify, child, late, refused)]
        del op, step, verify, child, late, refused
    # Exported records keep their scope's context (and so the scope) while
    # they are held; once nothing holds them, reference counting frees all.
    captured.clear()
    assert [r() for r in refs if r() is not None] == []


def test_a_context_taken_before_the_end_still_works_after_it(captured: Capture) -> None:
    before = trace.get_current_span()
    op = opslog.new_operation_logger("job-1").start_operation("migrate")
    taken = op.otel_context
    op.end_operation("completed")
    assert op.otel_context is taken  # still in use: the same object
    token = context.attach(taken)
    try:
        # The ended span stands for what was current before it started.
        assert trace.get_current_span().get_span_context() == before.get_span_context()
        with opslog.new_operation_logger("job-2").start_operation("next") as nxt:
            assert nxt.parent_span_id == ""  # not a child of the ended span
    finally:
        context.detach(token)


def test_otel_context_after_the_end_when_nothing_holds_it(captured: Capture) -> None:
    op = opslog.new_operation_logger("job-1").start_operation("migrate")
    op.end_operation("completed")
    gc.collect()
    rebuilt = op.otel_context
    assert opslog.current_operation() is None
    token = context.attach(rebuilt)
    try:
        # Same content: this scope's LiveSpan, standing for what was before.
        assert not trace.get_current_span().get_span_context().is_valid
        child = op.start_step("late")  # refused, as for any ended scope
        child.end_step("completed")
    finally:
        context.detach(token)
    assert [s.name for s in captured.spans] == ["migrate"]
