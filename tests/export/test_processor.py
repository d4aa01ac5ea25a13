"""The bounded batch processor: full batches, exact counters, a caller that only appends."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Callable, Optional

from hypothesis import given
from hypothesis import strategies as st

from opslog._diagnostics import diagnostics, reset_diagnostics
from opslog.export.processor import (
    BACKOFF_FIRST,
    PROBE_BATCH,
    BatchSettings,
    BoundedBatchProcessor,
    parts_within,
)


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
    while sum(sizes) < 1032 and time.monotonic() < deadline:
        time.sleep(0.01)
    # The first batch is the probe (the endpoint has not answered yet), then
    # only full ones; the 18 left wait for more, or for the timer.
    assert sizes == [PROBE_BATCH] + [100] * 10
    assert processor.pending == 18
    assert processor.shutdown(5)
    assert sizes == [PROBE_BATCH] + [100] * 10 + [18]  # a partial one only at shutdown


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


# -- a collector that is down ----------------------------------------------------------
class _Endpoint:
    """A fake endpoint: exports fail while it is down, and ``reachable`` says so."""

    def __init__(self) -> None:
        self.up = False
        self.exports = 0  # export attempts: each would encode a whole batch
        self.delivered: list[int] = []

    def export(self, batch: Sequence[int]) -> bool:
        self.exports += 1
        if self.up:
            self.delivered.extend(batch)
        return self.up

    def reachable(self) -> bool:
        return self.up


def _processor_to(
    endpoint: _Endpoint, queue: int = 500, batch: int = 50
) -> BoundedBatchProcessor[int]:
    return BoundedBatchProcessor(
        "items",
        endpoint.export,
        lambda: None,
        BatchSettings(queue, batch, 0.05),
        reachable=endpoint.reachable,
    )


def _wait_for(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_while_the_endpoint_is_down_no_batch_is_exported_and_losses_are_exact() -> None:
    endpoint = _Endpoint()
    endpoint.up = True
    processor = _processor_to(endpoint)
    for n in range(50):
        processor.add(n)
    assert _wait_for(lambda: len(endpoint.delivered) == 50, 2)
    endpoint.up = False  # the collector goes away
    exports_before = endpoint.exports
    produced = 50
    started = time.monotonic()
    while time.monotonic() - started < 1.5:  # a caller that keeps logging
        for _ in range(200):
            processor.add(produced)
            produced += 1
        time.sleep(0.005)
    # One failed export found the endpoint down; since then nothing was
    # encoded or sent (the SDK's processor would try batch after batch).
    assert endpoint.exports == exports_before + 1
    stats = processor.stats
    assert stats.exported == 50 and stats.failed == 50  # the endpoint had answered: a full batch
    assert stats.exported + stats.dropped + stats.failed + processor.pending == produced
    processor.shutdown(2)


def test_export_resumes_within_the_longest_backoff_once_the_endpoint_is_back() -> None:
    from opslog import _diagnostics
    from opslog.export.processor import BACKOFF_MAX

    said = _diagnostics.diagnostics().get(_diagnostics.EXPORT_UNREACHABLE, 0)
    endpoint = _Endpoint()  # down from the start: never sent to, not even once
    processor = _processor_to(endpoint)
    for n in range(400):
        processor.add(n)
    time.sleep(2.5)  # the backoff grows while it stays down (checked 2-3 times)
    assert endpoint.exports == 0
    # Said once for the outage, however often it was checked.
    assert _diagnostics.diagnostics().get(_diagnostics.EXPORT_UNREACHABLE, 0) == said + 1
    endpoint.up = True
    back = time.monotonic()
    for n in range(400, 430):
        processor.add(n)
    assert _wait_for(lambda: 429 in endpoint.delivered, BACKOFF_MAX + 2)
    assert time.monotonic() - back <= BACKOFF_MAX + 1
    # What waited in the queue went too.
    assert sorted(endpoint.delivered) == list(range(430))
    stats = processor.stats
    assert stats.exported + stats.dropped + stats.failed + processor.pending == 430
    processor.shutdown(2)


class _BlackHole(_Endpoint):
    """Accepts connections, never answers: every export fails (after its timeout)."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def export(self, batch: Sequence[int]) -> bool:
        self.sizes.append(len(batch))
        return super().export(batch)

    def reachable(self) -> bool:
        return True


def test_an_endpoint_that_never_answers_gets_only_probe_batches() -> None:
    """Each try at a black-holed collector encodes and fails PROBE_BATCH
    items, not a full batch; the rest waits in the queue and goes, in full
    batches, once the collector answers."""
    endpoint = _BlackHole()
    processor = _processor_to(endpoint, queue=500, batch=100)
    for n in range(400):
        processor.add(n)
    time.sleep(2.5)  # tries at start, after 1 s, after 2 more
    assert len(endpoint.sizes) >= 2
    assert set(endpoint.sizes) == {PROBE_BATCH}
    assert processor.stats.failed == PROBE_BATCH * len(endpoint.sizes)
    endpoint.up = True
    tries = len(endpoint.sizes)
    assert _wait_for(lambda: processor.pending == 0, 8)
    # After the outage: one probe, then full batches (and what is left).
    after = endpoint.sizes[tries:]
    assert after[0] == PROBE_BATCH and after[1] == 100
    stats = processor.stats
    assert stats.exported == 400 - stats.failed
    assert stats.exported + stats.dropped + stats.failed + processor.pending == 400
    processor.shutdown(2)


def test_a_flush_or_shutdown_with_the_endpoint_down_fails_the_queue_at_once() -> None:
    endpoint = _Endpoint()
    processor = _processor_to(endpoint)
    for n in range(300):
        processor.add(n)
    started = time.monotonic()
    assert processor.force_flush(5)
    assert processor.shutdown(5)
    assert time.monotonic() - started < 1  # no retries waited out
    assert endpoint.exports == 0
    stats = processor.stats
    assert (stats.exported, stats.failed, processor.pending) == (0, 300, 0)


# -- batches within the byte limit -------------------------------------------------------
def _bytes_of(sizes: dict[int, int]) -> Callable[[Sequence[int]], Optional[int]]:
    """A measure: a request's bytes are its items' sizes plus a 10-byte header."""
    return lambda part: 10 + sum(sizes[item] for item in part)


def test_a_batch_that_fits_is_one_part_measured_once() -> None:
    measured: list[int] = []

    def measure(part: Sequence[int]) -> int:
        measured.append(len(part))
        return 10 * len(part)

    batch = list(range(100))
    parts = list(parts_within(batch, measure, limit=1000))
    assert parts == [(batch, 1000)] and parts[0][0] is batch  # the very object measured
    assert measured == [100]


@given(
    st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=300),
    st.integers(min_value=100, max_value=5000),
)
def test_parts_keep_the_order_and_stay_within_the_limit(item_sizes: list[int], limit: int) -> None:
    sizes = dict(enumerate(item_sizes))
    batch = list(sizes)
    measure = _bytes_of(sizes)
    parts = list(parts_within(batch, measure, limit))
    # nothing lost, reordered or doubled
    assert [item for part, _ in parts for item in part] == batch
    for part, size in parts:
        assert size == measure(part)  # the size given is the part's own
        # over the limit only a single item that is itself over it
        assert size <= limit or len(part) == 1


@given(
    st.lists(st.integers(min_value=1, max_value=9000), min_size=1, max_size=200),
    st.integers(min_value=100, max_value=5000),
)
def test_with_fit_every_part_fits_or_is_one_item_fit_made_smaller(
    item_sizes: list[int], limit: int
) -> None:
    """``fit`` stands each item over the limit in for one a third of its
    size (a negative number): nothing is lost or reordered, and a part over
    the limit is a single stand-in still too large."""
    sizes = dict(enumerate(item_sizes))
    batch = list(range(len(item_sizes)))

    def fit(item: int, size: int, limit: int, measure: object) -> int:
        sizes[-item - 1] = sizes[item] // 3
        return -item - 1

    parts = list(parts_within(batch, _bytes_of(sizes), limit, fit))
    assert [item if item >= 0 else -item - 1 for part, _ in parts for item in part] == batch
    for part, size in parts:
        assert size is not None and (size <= limit or (len(part) == 1 and part[0] < 0))
        if len(part) == 1 and part[0] < 0:
            assert 10 + sizes[-part[0] - 1] > limit  # fit only ever sees an item over it


def test_a_part_that_cannot_be_measured_goes_whole() -> None:
    assert list(parts_within([1, 2, 3], lambda part: None, limit=1)) == [([1, 2, 3], None)]


def test_a_batch_over_the_byte_limit_is_delivered_in_parts_and_counted_exactly() -> None:
    """A receiver refuses requests over the limit (as the Collector's gRPC
    receiver refuses messages over 4 MiB): every item still arrives."""
    item_size = 1000
    received: list[int] = []
    requests: list[int] = []

    def export(part: Sequence[int]) -> bool:
        requests.append(len(part))
        if 10 + item_size * len(part) > 50_000:
            return False  # what the receiver does
        received.extend(part)
        return True

    processor = BoundedBatchProcessor(
        "items",
        export,
        lambda: None,
        BatchSettings(1000, 200, 5.0, max_export_bytes=50_000),
        measure=lambda part: 10 + item_size * len(part),
    )
    for n in range(600):
        processor.add(n)
    assert processor.force_flush(5)
    assert received == list(range(600))
    assert max(requests) * item_size <= 50_000
    stats = processor.stats
    assert (stats.exported, stats.failed, stats.dropped, processor.pending) == (600, 0, 0, 0)
    processor.shutdown(1)


def test_when_a_part_fails_the_parts_before_it_count_as_exported_and_the_rest_failed() -> None:
    calls: list[int] = []

    def export(part: Sequence[int]) -> bool:
        calls.append(len(part))
        return len(calls) == 1  # the first part lands, then the endpoint fails

    processor = BoundedBatchProcessor(
        "items",
        export,
        lambda: None,
        BatchSettings(1000, 32, 5.0, max_export_bytes=100),
        measure=lambda part: 10 * len(part),
    )
    for n in range(32):  # one probe batch: 320 bytes, so four parts of 8
        processor.add(n)
    processor.force_flush(2)
    stats = processor.stats
    assert calls[0] == 8
    assert stats.exported == 8 and stats.failed == 24
    assert stats.exported + stats.failed + stats.dropped + processor.pending == 32
    processor.shutdown(1)


def test_a_measure_that_raises_sends_the_batch_whole() -> None:
    def broken(part: Sequence[int]) -> int:
        raise RuntimeError("cannot measure")

    assert list(parts_within([1, 2, 3], broken, limit=1)) == [([1, 2, 3], None)]


# -- a single item over the limit ------------------------------------------------------
def test_a_single_item_over_the_limit_is_given_to_fit_and_measured_again() -> None:
    """An item too large even alone is replaced by what ``fit`` makes of it;
    the size yielded is that of the part yielded (the bytes sent are those
    measured last)."""
    sizes = {1: 50, 2: 5000, 3: 50, -2: 400}
    measure = _bytes_of(sizes)
    fitted: list[tuple[int, int, int]] = []

    def fit(item: int, size: int, limit: int, measure: object) -> int:
        fitted.append((item, size, limit))
        return -item  # the smaller stand-in

    parts = list(parts_within([1, 2, 3], measure, 1000, fit))
    assert fitted == [(2, 5010, 1000)]
    assert [(list(part), size) for part, size in parts] == [([1], 60), ([-2], 410), ([3], 60)]


def test_a_fit_that_raises_leaves_the_item_as_it_is() -> None:
    def fit(item: int, size: int, limit: int, measure: object) -> int:
        raise RuntimeError("cannot fit")

    parts = list(parts_within([7], lambda part: 5000, 1000, fit))
    assert [(list(part), size) for part, size in parts] == [([7], 5000)]


def test_an_item_still_over_the_limit_is_not_sent_and_the_rest_of_its_batch_is() -> None:
    """The receiver would refuse it (and the gRPC exporter retry it for its
    whole timeout): it is counted failed and reported once, with its cause;
    the items around it are delivered and the endpoint is not backed off."""
    sizes = {n: 10 for n in range(20)}
    sizes[7] = 5000
    sent: list[int] = []

    def export(part: Sequence[int]) -> bool:
        assert 7 not in part
        sent.extend(part)
        return True

    reset_diagnostics()
    processor = BoundedBatchProcessor(
        "items",
        export,
        lambda: None,
        BatchSettings(1000, 32, 5.0, max_export_bytes=1000),
        measure=_bytes_of(sizes),
    )
    for n in range(20):
        processor.add(n)
    assert processor.force_flush(2)
    started = time.monotonic()
    for n in range(20, 25):
        sizes[n] = 10
        processor.add(n)
    assert processor.force_flush(2)
    assert time.monotonic() - started < BACKOFF_FIRST  # at once: no backoff was started
    assert sent == [n for n in range(25) if n != 7]
    stats = processor.stats
    assert (stats.exported, stats.failed, stats.dropped, processor.pending) == (24, 1, 0, 0)
    assert diagnostics().get("export_loss") == 1
    processor.shutdown(1)


class _Fault(RuntimeError):
    """A bug of opslog's own in the export thread (stands for any)."""


def _failing_send(processor: BoundedBatchProcessor[int], times: int) -> None:
    """Make the processor's next ``times`` rounds fail inside, while a batch is taken."""
    real_send = processor._send
    faults = [_Fault() for _ in range(times)]

    def send(batch: list[int]) -> int:
        if faults:
            raise faults.pop()
        return real_send(batch)

    processor._send = send  # type: ignore[method-assign]


def test_an_internal_error_in_the_export_thread_costs_its_batch_not_the_rest() -> None:
    """The worker survives a fault of its own: the batch it held is counted
    failed, the fault reported, and everything after it is delivered."""
    sent: list[int] = []

    def export(batch: Sequence[int]) -> bool:
        sent.extend(batch)
        return True

    reset_diagnostics()
    processor = _processor(export, batch=10, delay=60)
    _failing_send(processor, 1)
    for n in range(10):
        processor.add(n)  # a full batch: wakes the worker, whose round fails
    deadline = time.monotonic() + 5
    while processor.stats.failed == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    for n in range(10, 25):
        processor.add(n)
    assert processor.force_flush(5)
    assert processor._worker.is_alive()
    assert sent == list(range(10, 25))
    stats = processor.stats
    assert (stats.exported, stats.failed, stats.dropped, processor.pending) == (15, 10, 0, 0)
    assert diagnostics().get("internal_error") == 1
    assert processor.shutdown(2)


def test_a_fault_at_every_round_still_lets_shutdown_finish_with_exact_counts() -> None:
    processor = _processor(lambda batch: True, batch=10, delay=60)
    _failing_send(processor, 1_000)
    for n in range(25):
        processor.add(n)
    started = time.monotonic()
    assert processor.shutdown(5)
    assert time.monotonic() - started < 2  # no backoff waited out at shutdown
    stats = processor.stats
    assert stats.exported == 0 and stats.failed + stats.dropped == 25
    assert processor.pending == 0
