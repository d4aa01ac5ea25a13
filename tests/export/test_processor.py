"""The bounded batch processor: full batches, exact counters, a caller that only appends."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from opslog.export.processor import BatchSettings, BoundedBatchProcessor


def _processor(
    export: object, queue: int = 2048, batch: int = 100, delay: float = 5.0
) -> BoundedBatchProcessor[int]:
    return BoundedBatchProcessor(
        "items",
        export,
        lambda: None,
        BatchSettings(queue, batch, delay),  # type: ignore[arg-type]
    )


def test_batches_are_full_while_the_queue_holds_enough() -> None:
    sizes: list[int] = []

    def export(batch: Sequence[int]) -> bool:
        sizes.append(len(batch))
        return True

    processor = _processor(export, batch=100, delay=5.0)  # the timer never fires here
    for n in range(1050):
        processor.add(n)
    deadline = time.monotonic() + 5
    while sum(sizes) < 1000 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sizes == [100] * 10  # the 50 left wait for more, or for the timer
    assert processor.pending == 50
    assert processor.shutdown(5)
    assert sizes == [100] * 10 + [50]  # a partial batch only at shutdown (or the timer)


def test_a_partial_batch_goes_when_the_schedule_delay_has_passed() -> None:
    sizes: list[int] = []
    processor = _processor(lambda b: sizes.append(len(b)) or True, batch=100, delay=0.2)
    for n in range(30):
        processor.add(n)
    time.sleep(0.6)
    assert sizes == [30]
    processor.shutdown(1)


def test_counters_are_exact_under_concurrent_producers_and_a_full_queue() -> None:
    exported: list[int] = []

    def slow_export(batch: Sequence[int]) -> bool:
        time.sleep(0.002)  # slower than the producers: the queue overflows
        exported.extend(batch)
        return len(exported) % 3 != 0  # and some exports fail

    processor = _processor(slow_export, queue=500, batch=50, delay=0.01)
    per_thread, threads = 50_000, 4
    workers = [
        threading.Thread(target=lambda: [processor.add(n) for n in range(per_thread)])
        for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert processor.force_flush(10)
    stats = processor.stats
    assert stats.dropped > 0 and stats.exported > 0
    total = stats.exported + stats.dropped + stats.failed + processor.pending
    assert total == per_thread * threads  # to the record
    processor.shutdown(5)
    after = processor.stats
    assert after.exported + after.dropped + after.failed + processor.pending == total


def test_items_added_after_shutdown_are_counted_as_dropped() -> None:
    processor = _processor(lambda b: True)
    processor.add(1)
    assert processor.shutdown(2)
    processor.add(2)
    stats = processor.stats
    assert (stats.exported, stats.dropped, processor.pending) == (1, 1, 0)


def test_a_stop_that_arrives_while_full_batches_drain_still_sends_the_rest() -> None:
    exported: list[int] = []

    def export(batch: Sequence[int]) -> bool:
        time.sleep(0.05)
        exported.extend(batch)
        return True

    processor = _processor(export, batch=7, delay=5.0)
    for n in range(15):
        processor.add(n)
    time.sleep(0.01)  # the worker is exporting the first full batch
    assert processor.shutdown(5)
    assert sorted(exported) == list(range(15))
    assert processor.stats.dropped == 0
